package dev.jnce.backend.cuda;

import dev.jnce.Tensor;
import dev.jnce.backend.CrossEntropyCall;
import dev.jnce.backend.CrossEntropyKernels;
import dev.jnce.bindings.JnceNative;
import dev.jnce.DType;
import dev.jnce.Device;
import dev.jnce.internal.HostCrossEntropy;
import dev.jnce.internal.NativeCodes;

import java.lang.foreign.MemorySegment;

/**
 * jnce_cuda_cross_entropy_fwd_bwd: the fused kernel of src/cuda/cross_entropy.cu on device tensors.
 * The kernels check the call's values (weights, class targets, probability rows) and report
 * them at the next wait, so every call waits for the stream: bad values throw here, with the
 * CPU kernel's message, as the interface promises (one wait, where a host-side scan of the
 * targets used to copy them back).
 */
final class CudaCrossEntropy implements CrossEntropyKernels {
    private final CudaContext context;

    CudaCrossEntropy(CudaContext context) {
        this.context = context;
    }

    @Override
    public void crossEntropy(CrossEntropyCall c) {
        int status = JnceNative.jnce_cuda_cross_entropy_fwd_bwd(context.handle(), c.n(), c.c(), c.logits().segment(),
                NativeCodes.segmentOrNull(c.targets()),
                c.targets() != null && c.targets().dtype() == DType.INT32 ? JnceNative.JNCE_DTYPE_INT32() : JnceNative.JNCE_DTYPE_INT64(),
                NativeCodes.segmentOrNull(c.probs()), NativeCodes.segmentOrNull(c.rowMask()), NativeCodes.segmentOrNull(c.weight()),
                c.ignoreIndex(), c.labelSmoothing(), c.zLoss(), NativeCodes.reduction(c.reduction()), c.zeroIfEmpty() ? 1 : 0,
                c.loss().segment(), NativeCodes.segmentOrNull(c.grad()), NativeCodes.segmentOrNull(c.lse()));
        CudaLibrary.check(status, "cross_entropy_fwd_bwd", "logits", c.logits(), "targets",
                c.targets() != null ? c.targets() : c.probs());
        status = JnceNative.jnce_cuda_synchronize(context.handle());
        if (status == JnceNative.JNCE_ERR_INVALID_ARG()) throw new IllegalArgumentException(CudaLibrary.lastError());
        CudaLibrary.check(status, "synchronize");
    }

    @Override
    public void perplexity(Tensor meanLoss, Tensor perplexity, Tensor grad) {
        int status = JnceNative.jnce_cuda_cross_entropy_perplexity_fwd_bwd(context.handle(), meanLoss.segment(),
                grad == null ? 0 : grad.numel(), perplexity.segment(), grad == null ? MemorySegment.NULL : grad.segment());
        CudaLibrary.check(status, "cross_entropy_perplexity_fwd_bwd", "meanLoss", meanLoss);
    }

    /** On host copies of the targets and weights (one transfer and a wait): N + C values. */
    @Override
    public double[] classTargetTotals(Tensor targets, Tensor weight, long ignoreIndex, long classes) {
        try (Tensor t = targets.to(Device.HOST); Tensor w = weight == null ? null : weight.to(Device.HOST)) {
            return HostCrossEntropy.classTargetTotals(t, w, ignoreIndex, classes);
        }
    }

    @Override
    public void softcap(Tensor s, float cap) {
        CudaLibrary.check(JnceNative.jnce_cuda_softcap(context.handle(), s.segment(), s.numel(), cap), "softcap", "s", s);
    }

    @Override
    public void softcapBackward(Tensor capped, Tensor grad, float cap) {
        CudaLibrary.check(JnceNative.jnce_cuda_softcap_bwd(context.handle(), capped.segment(), grad.segment(), grad.numel(), cap),
                "softcap_bwd", "capped", capped, "grad", grad);
    }
}
