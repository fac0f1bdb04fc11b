package dev.jnce.backend.cpu;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.NllKernels;
import dev.jnce.bindings.JnceNative;
import dev.jnce.internal.NativeCodes;
import dev.jnce.internal.NativeStatus;
import dev.jnce.Reduction;

import java.lang.foreign.MemorySegment;

/** Negative log-likelihood on the native kernel of nll.c. */
final class CpuNll implements NllKernels {
    static final CpuNll INSTANCE = new CpuNll();

    private CpuNll() {
    }

    @Override
    public void nll(Tensor input, Tensor targets, Tensor weight, long ignoreIndex, Reduction reduction,
                    boolean fromProbabilities, boolean zeroWhenNoWeight, Tensor loss, Tensor grad) {
        int flags = (fromProbabilities ? JnceNative.JNCE_NLL_FROM_PROBS() : 0)
                | (zeroWhenNoWeight ? JnceNative.JNCE_NLL_ZERO_IF_NO_WEIGHT() : 0);
        int status = JnceNative.jnce_nll_fwd_bwd(input.segment(), targets.segment(),
                targets.dtype() == DType.INT64 ? JnceNative.JNCE_DTYPE_INT64() : JnceNative.JNCE_DTYPE_INT32(),
                weight == null ? MemorySegment.NULL : weight.segment(), input.size(0), input.size(1), ignoreIndex,
                NativeCodes.reduction(reduction), flags, loss.segment(), grad == null ? MemorySegment.NULL : grad.segment());
        NativeStatus.checkValues(status, "nll_fwd_bwd", "input", input, "targets", targets);
    }
}
