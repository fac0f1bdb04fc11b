package dev.jnce.internal;

import dev.jnce.Tensor;
import dev.jnce.bindings.JnceNative;
import dev.jnce.Reduction;

import java.lang.foreign.MemorySegment;

/** How Java values are passed to jnce.h: reduction codes, and NULL for an absent optional tensor. */
public final class NativeCodes {
    private NativeCodes() {
    }

    /** jnce.h's code for a reduction. */
    public static int reduction(Reduction r) {
        return switch (r) {
            case NONE -> JnceNative.JNCE_REDUCTION_NONE();
            case MEAN -> JnceNative.JNCE_REDUCTION_MEAN();
            case SUM -> JnceNative.JNCE_REDUCTION_SUM();
            case BATCHMEAN -> JnceNative.JNCE_REDUCTION_BATCHMEAN();
        };
    }

    /** The tensor's segment, or NULL for a missing optional tensor. */
    public static MemorySegment segmentOrNull(Tensor t) {
        return t == null ? MemorySegment.NULL : t.segment();
    }
}
