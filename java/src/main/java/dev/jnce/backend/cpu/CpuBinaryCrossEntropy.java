package dev.jnce.backend.cpu;

import dev.jnce.Tensor;
import dev.jnce.backend.BinaryCrossEntropyKernels;
import dev.jnce.bindings.JnceNative;
import dev.jnce.internal.NativeStatus;
import dev.jnce.loss.Reduction;

import java.lang.foreign.MemorySegment;

/** Binary cross-entropy on native/src/cpu/binary_cross_entropy.c. */
final class CpuBinaryCrossEntropy implements BinaryCrossEntropyKernels {
    static final CpuBinaryCrossEntropy INSTANCE = new CpuBinaryCrossEntropy();

    private CpuBinaryCrossEntropy() {
    }

    @Override
    public void binaryCrossEntropy(Tensor input, Tensor target, Tensor weight, Reduction reduction, Tensor loss,
                                   Tensor gradInput, Tensor gradTarget) {
        int status = JnceNative.jnce_bce_fwd_bwd(input.segment(), target.segment(), input.numel(), segment(weight),
                length(weight), reduction(reduction), loss.segment(), segment(gradInput), segment(gradTarget));
        NativeStatus.check(status, "bce_fwd_bwd", "input", input, "target", target);
    }

    @Override
    public void binaryCrossEntropyWithLogits(Tensor input, Tensor target, Tensor weight, Tensor posWeight,
                                             Reduction reduction, Tensor loss, Tensor gradInput, Tensor gradTarget) {
        int status = JnceNative.jnce_bce_logits_fwd_bwd(input.segment(), target.segment(), input.numel(),
                segment(weight), length(weight), segment(posWeight), length(posWeight), reduction(reduction),
                loss.segment(), segment(gradInput), segment(gradTarget));
        NativeStatus.check(status, "bce_logits_fwd_bwd", "input", input, "target", target);
    }

    /** The tensor's memory, or NULL for an absent optional tensor. */
    static MemorySegment segment(Tensor t) {
        return t == null ? MemorySegment.NULL : t.segment();
    }

    private static long length(Tensor t) {
        return t == null ? 0 : t.numel();
    }

    /** jnce.h's JNCE_REDUCTION_* code. */
    static int reduction(Reduction r) {
        return switch (r) {
            case NONE -> JnceNative.JNCE_REDUCTION_NONE();
            case MEAN -> JnceNative.JNCE_REDUCTION_MEAN();
            case SUM -> JnceNative.JNCE_REDUCTION_SUM();
        };
    }
}
