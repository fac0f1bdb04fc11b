package dev.jnce.backend.cpu;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.FocalKernels;
import dev.jnce.bindings.JnceNative;
import dev.jnce.internal.NativeCodes;
import dev.jnce.internal.NativeStatus;
import dev.jnce.Reduction;

/** Focal losses on native/src/cpu/focal.c. */
final class CpuFocal implements FocalKernels {
    static final CpuFocal INSTANCE = new CpuFocal();

    private CpuFocal() {
    }

    @Override
    public void sigmoidFocal(Tensor input, Tensor target, float alpha, float gamma, Reduction reduction, Tensor loss,
                             Tensor gradInput, Tensor gradTarget) {
        int status = JnceNative.jnce_sigmoid_focal_fwd_bwd(input.segment(), target.segment(), input.numel(), alpha,
                gamma, NativeCodes.reduction(reduction), loss.segment(), NativeCodes.segmentOrNull(gradInput), NativeCodes.segmentOrNull(gradTarget));
        NativeStatus.check(status, "sigmoid_focal_fwd_bwd", "input", input, "target", target);
    }

    @Override
    public void softmaxFocal(Tensor logits, Tensor targets, Tensor alpha, float gamma, Reduction reduction,
                             Tensor loss, Tensor grad) {
        int status = JnceNative.jnce_softmax_focal_fwd_bwd(logits.segment(), targets.segment(),
                targets.dtype() == DType.INT64 ? JnceNative.JNCE_DTYPE_INT64() : JnceNative.JNCE_DTYPE_INT32(),
                logits.size(0), logits.size(1), NativeCodes.segmentOrNull(alpha), gamma, NativeCodes.reduction(reduction), loss.segment(),
                NativeCodes.segmentOrNull(grad));
        NativeStatus.check(status, "softmax_focal_fwd_bwd", "logits", logits, "targets", targets);
    }
}
