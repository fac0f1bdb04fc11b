package dev.jnce.internal;

import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.backend.ContrastiveKernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * The O(N) steps of the InfoNCE row-block sweep ({@link ContrastiveKernels#diagonalTargets},
 * {@link ContrastiveKernels#excludeLogits}, {@link ContrastiveKernels#reduceRows},
 * {@link ContrastiveKernels#firstUnsharedLabel}) on host memory, for the cpu and java backends:
 * each touches N values (or N log N for the label check), far below the O(N·M) pass beside it,
 * so a native version would not be faster.
 */
public final class HostContrastive {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final ValueLayout.OfLong L = ValueLayout.JAVA_LONG;

    private HostContrastive() {
    }

    public static void diagonalTargets(long offset, long modulus, Tensor targets) {
        MemorySegment t = targets.segment();
        long n = targets.numel(), c = offset % modulus;
        for (long i = 0; i < n; i++) {
            t.setAtIndex(L, i, c);
            if (++c == modulus) c = 0;
        }
    }

    public static void excludeLogits(Tensor s, long selfColumn, long positiveColumn, long positiveStep, Tensor positives) {
        MemorySegment x = s.segment();
        long rows = s.size(0), m = s.size(1);
        if (selfColumn >= 0) {
            for (long i = 0; i < rows && selfColumn + i < m; i++) x.setAtIndex(F, i * m + selfColumn + i, ContrastiveKernels.EXCLUDED);
        }
        if (positives == null) return;
        MemorySegment p = positives.segment();
        for (long i = 0; i < rows; i++) {
            long at = i * m + Math.floorMod(positiveColumn + i * positiveStep, m);
            p.setAtIndex(F, i, x.getAtIndex(F, at));
            x.setAtIndex(F, at, ContrastiveKernels.EXCLUDED);
        }
    }

    public static void reduceRows(Tensor rows, Tensor minus, Reduction reduction, long counted, Tensor loss) {
        MemorySegment r = rows.segment(), m = minus == null ? null : minus.segment(), out = loss.segment();
        long n = rows.numel();
        double total = 0;
        for (long i = 0; i < n; i++) {
            double l = m == null ? r.getAtIndex(F, i) : (double) r.getAtIndex(F, i) - m.getAtIndex(F, i);
            if (reduction == Reduction.NONE) out.setAtIndex(F, i, (float) l);
            total += l;
        }
        if (reduction == Reduction.SUM) out.setAtIndex(F, 0, (float) total);
        if (reduction == Reduction.MEAN) out.setAtIndex(F, 0, counted == 0 ? Float.NaN : (float) (total / counted));
    }

    public static long firstUnsharedLabel(Tensor labels) {
        MemorySegment s = labels.segment();
        int n = Math.toIntExact(labels.numel());
        boolean wide = labels.dtype() == DType.INT64;
        long[] sorted = new long[n];
        for (int i = 0; i < n; i++) sorted[i] = wide ? s.getAtIndex(L, i) : s.getAtIndex(ValueLayout.JAVA_INT, i);
        long[] values = sorted.clone();
        Arrays.sort(sorted);
        for (int i = 0; i < n; i++) {
            int at = Arrays.binarySearch(sorted, values[i]); // any copy of the value; its neighbours tell
            boolean shared = (at > 0 && sorted[at - 1] == values[i]) || (at + 1 < n && sorted[at + 1] == values[i]);
            if (!shared) return i;
        }
        return -1;
    }
}
