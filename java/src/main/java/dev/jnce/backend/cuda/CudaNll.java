package dev.jnce.backend.cuda;

import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.backend.NllKernels;
import dev.jnce.bindings.JnceNative;
import dev.jnce.internal.NativeCodes;

/**
 * jnce_cuda_nll_fwd_bwd (native/src/cuda/nll.cu) on device tensors. The kernels check the call's
 * values (weights, targets, probabilities at the targets) and report them at the next wait, so
 * every call waits for the stream: bad values throw here, with the CPU kernel's message, as the
 * interface promises.
 */
final class CudaNll implements NllKernels {
    private final CudaContext context;

    CudaNll(CudaContext context) {
        this.context = context;
    }

    @Override
    public void nll(Tensor input, Tensor targets, Tensor weight, long ignoreIndex, Reduction reduction,
                    boolean fromProbabilities, boolean zeroWhenNoWeight, Tensor loss, Tensor grad) {
        int flags = (fromProbabilities ? JnceNative.JNCE_NLL_FROM_PROBS() : 0)
                | (zeroWhenNoWeight ? JnceNative.JNCE_NLL_ZERO_IF_NO_WEIGHT() : 0);
        int status = JnceNative.jnce_cuda_nll_fwd_bwd(context.handle(), input.segment(), targets.segment(),
                targets.dtype() == DType.INT64 ? JnceNative.JNCE_DTYPE_INT64() : JnceNative.JNCE_DTYPE_INT32(),
                NativeCodes.segmentOrNull(weight), input.size(0), input.size(1), ignoreIndex,
                NativeCodes.reduction(reduction), flags, loss.segment(), NativeCodes.segmentOrNull(grad));
        CudaLibrary.check(status, "nll_fwd_bwd", "input", input, "targets", targets);
        status = JnceNative.jnce_cuda_synchronize(context.handle());
        if (status == JnceNative.JNCE_ERR_INVALID_ARG()) throw new IllegalArgumentException(CudaLibrary.lastError());
        CudaLibrary.check(status, "synchronize");
    }
}
