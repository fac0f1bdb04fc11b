package dev.jnce.internal;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.CrossEntropyKernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The O(N) and element-wise steps of the linear cross-entropy's row-block sweep
 * ({@link CrossEntropyKernels#classTargetTotals}, {@link CrossEntropyKernels#softcap},
 * {@link CrossEntropyKernels#softcapBackward}) on host memory, for the cpu and java backends.
 * The totals touch N values beside an O(N·V·D) sweep; the soft-cap is one pass over each block
 * (rows in parallel), asked for only with a cap.
 */
public final class HostCrossEntropy {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    private HostCrossEntropy() {
    }

    public static double[] classTargetTotals(Tensor targets, Tensor weight, long ignoreIndex, long classes) {
        MemorySegment t = targets.segment(), w = weight == null ? null : weight.segment();
        boolean wide = targets.dtype() == DType.INT64;
        double counted = 0, denom = 0;
        for (long i = 0, n = targets.numel(); i < n; i++) {
            long y = wide ? t.getAtIndex(ValueLayout.JAVA_LONG, i) : t.getAtIndex(ValueLayout.JAVA_INT, i);
            if (y == ignoreIndex) continue;
            if (y < 0 || y >= classes) {
                throw new IllegalArgumentException("targets[" + i + "] = " + y + " is outside [0, " + classes
                        + ") and is not the ignore index " + ignoreIndex);
            }
            counted++;
            denom += w == null ? 1.0 : w.getAtIndex(F, y);
        }
        return new double[] {counted, denom};
    }

    public static void softcap(Tensor s, float cap) {
        MemorySegment x = s.segment();
        long cols = s.size(-1);
        double c = cap;
        Parallel.forRange(s.numel() / cols, Math.max(1, 65536 / cols), (begin, end) -> {
            for (long i = begin * cols; i < end * cols; i++) x.setAtIndex(F, i, (float) (c * Math.tanh(x.getAtIndex(F, i) / c)));
        });
    }

    public static void softcapBackward(Tensor capped, Tensor grad, float cap) {
        MemorySegment x = capped.segment(), g = grad.segment();
        long cols = grad.size(-1);
        double c = cap;
        Parallel.forRange(grad.numel() / cols, Math.max(1, 65536 / cols), (begin, end) -> {
            for (long i = begin * cols; i < end * cols; i++) {
                double t = x.getAtIndex(F, i) / c;
                g.setAtIndex(F, i, (float) (g.getAtIndex(F, i) * (1.0 - t * t)));
            }
        });
    }
}
