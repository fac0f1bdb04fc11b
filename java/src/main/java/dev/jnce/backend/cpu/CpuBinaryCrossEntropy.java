package dev.jnce.backend.cpu;

import dev.jnce.Tensor;
import dev.jnce.backend.BinaryCrossEntropyKernels;
import dev.jnce.bindings.JnceNative;
import dev.jnce.internal.NativeCodes;
import dev.jnce.internal.NativeStatus;
import dev.jnce.Reduction;

/** Binary cross-entropy on native/src/cpu/binary_cross_entropy.c. */
final class CpuBinaryCrossEntropy implements BinaryCrossEntropyKernels {
    static final CpuBinaryCrossEntropy INSTANCE = new CpuBinaryCrossEntropy();

    private CpuBinaryCrossEntropy() {
    }

    @Override
    public void binaryCrossEntropy(Tensor input, Tensor target, Tensor weight, Reduction reduction, Tensor loss,
                                   Tensor gradInput, Tensor gradTarget) {
        int status = JnceNative.jnce_bce_fwd_bwd(input.segment(), target.segment(), input.numel(), NativeCodes.segmentOrNull(weight),
                length(weight), NativeCodes.reduction(reduction), loss.segment(), NativeCodes.segmentOrNull(gradInput), NativeCodes.segmentOrNull(gradTarget));
        NativeStatus.check(status, "bce_fwd_bwd", "input", input, "target", target);
    }

    @Override
    public void binaryCrossEntropyWithLogits(Tensor input, Tensor target, Tensor weight, Tensor posWeight,
                                             Reduction reduction, Tensor loss, Tensor gradInput, Tensor gradTarget) {
        int status = JnceNative.jnce_bce_logits_fwd_bwd(input.segment(), target.segment(), input.numel(),
                NativeCodes.segmentOrNull(weight), length(weight), NativeCodes.segmentOrNull(posWeight), length(posWeight), NativeCodes.reduction(reduction),
                loss.segment(), NativeCodes.segmentOrNull(gradInput), NativeCodes.segmentOrNull(gradTarget));
        NativeStatus.check(status, "bce_logits_fwd_bwd", "input", input, "target", target);
    }

    private static long length(Tensor t) {
        return t == null ? 0 : t.numel();
    }
}
