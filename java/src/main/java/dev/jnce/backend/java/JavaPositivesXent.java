package dev.jnce.backend.java;

import dev.jnce.Tensor;
import dev.jnce.backend.ContrastiveKernels;
import dev.jnce.backend.ContrastiveKernels.PositiveTargets;
import dev.jnce.backend.ContrastiveKernels.PositivesOutcome;
import dev.jnce.internal.Parallel;
import dev.jnce.Reduction;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Map;

/**
 * {@link dev.jnce.backend.ContrastiveKernels#positivesCrossEntropy} in Java, the same meaning and
 * schedule as native/src/cpu/positives_xent.c: every row's positive count first (a row without
 * positive is reported before anything is written), then each row in one visit — softmax
 * statistics around the excluded column ({@link RowOps}, SIMD where present), the positives'
 * mean, the gradient in place, the positives' share subtracted.
 */
final class JavaPositivesXent {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final int[] NONE = new int[0];

    private JavaPositivesXent() {
    }

    static PositivesOutcome run(RowOps ops, Tensor s, PositiveTargets t, Tensor loss, Tensor grad) {
        int n = Math.toIntExact(s.size(0)), m = Math.toIntExact(s.size(1));
        long self = t.selfOffset();
        int[][] positives = t.mask() != null ? byMask(t.mask().segment(), n, m, self)
                : byLabels(t.queryLabels().toLongArray(), t.keyLabels().toLongArray(), self);
        int counted = 0;
        for (int i = 0; i < n; i++) {
            if (positives[i].length > 0) counted++;
            else if (!t.skipEmpty()) return new PositivesOutcome(0, i);
        }
        double w = t.reduction() == Reduction.MEAN ? 1.0 / Math.max(counted, 1) : 1.0;
        double[] rowLoss = new double[n];
        MemorySegment x = s.segment(), g = grad == null ? null : grad.segment();
        Parallel.forRange(n, JavaSimilarity.rowsPerSlice(m), (begin, end) -> {
            for (long i = begin; i < end; i++) {
                rowLoss[(int) i] = row(ops, x, g, m, (int) i, positives[(int) i], selfColumn(i, self, m), w);
            }
        });
        MemorySegment out = loss.segment();
        if (t.reduction() == Reduction.NONE) {
            for (int i = 0; i < n; i++) out.setAtIndex(F, i, (float) rowLoss[i]);
            return new PositivesOutcome(counted, -1);
        }
        double total = 0;
        for (double l : rowLoss) total += l;
        if (t.reduction() == Reduction.MEAN) total = counted == 0 ? Double.NaN : total / counted;
        out.setAtIndex(F, 0, (float) total);
        return new PositivesOutcome(counted, -1);
    }

    /** Row i's loss; its gradient row into g when g is not null. self: the column left out, or -1. */
    private static double row(RowOps ops, MemorySegment x, MemorySegment g, int m, int i, int[] positives, int self, double w) {
        long off = 4L * i * m;
        if (positives.length == 0) {
            if (g != null) g.asSlice(off, 4L * m).fill((byte) 0);
            return 0;
        }
        RowOps.Stats st = self < 0 ? ops.stats(x, off, m)
                : merge(self > 0 ? ops.stats(x, off, self) : null, self + 1 < m ? ops.stats(x, off + 4L * (self + 1), m - self - 1) : null);
        double positive = 0;
        for (int j : positives) positive += x.get(F, off + 4L * j);
        positive /= positives.length;
        double loss = st.lse() - positive; // NaN for a row that met NaN or +Inf
        if (g == null) return loss;
        if (st.bad()) {
            for (int j = 0; j < m; j++) g.set(F, off + 4L * j, Float.NaN);
            return loss;
        }
        ops.expScaledMinus(x, off, m, st.max(), (float) (w / st.sum()), 0f, null, g, off);
        if (self >= 0) g.set(F, off + 4L * self, 0f);
        float share = (float) (w / positives.length);
        for (int j : positives) g.set(F, off + 4L * j, g.get(F, off + 4L * j) - share);
        return loss;
    }

    /** Row i's own column (i + selfOffset), or -1. */
    private static int selfColumn(long i, long selfOffset, int m) {
        return selfOffset >= 0 && i + selfOffset < m ? (int) (i + selfOffset) : -1;
    }

    /** The statistics of a row from those of its two parts (either may be null). */
    private static RowOps.Stats merge(RowOps.Stats a, RowOps.Stats b) {
        if (a == null) return b;
        if (b == null) return a;
        float max = Math.max(a.max(), b.max());
        double sum = (a.sum() > 0 ? a.sum() * Math.exp((double) a.max() - max) : 0)
                + (b.sum() > 0 ? b.sum() * Math.exp((double) b.max() - max) : 0);
        return new RowOps.Stats(max, sum, a.bad() || b.bad());
    }

    /** Each query's positive keys: those with its label, less its own column. */
    private static int[][] byLabels(long[] queryLabels, long[] keyLabels, long selfOffset) {
        Map<Long, int[]> groups = Labels.indicesByLabel(keyLabels);
        int[][] out = new int[queryLabels.length][];
        for (int i = 0; i < queryLabels.length; i++) {
            int[] group = groups.getOrDefault(queryLabels[i], NONE);
            int self = selfColumn(i, selfOffset, keyLabels.length);
            out[i] = self >= 0 && keyLabels[self] == queryLabels[i] ? Arrays.stream(group).filter(j -> j != self).toArray() : group;
        }
        return out;
    }

    /** Each row's positive keys: the nonzero entries of its mask row, less its own column. */
    private static int[][] byMask(MemorySegment mask, int n, int m, long selfOffset) {
        int[][] out = new int[n][];
        Parallel.forRange(n, 64, (begin, end) -> {
            int[] buf = new int[m];
            for (long i = begin; i < end; i++) {
                int count = 0, self = selfColumn(i, selfOffset, m);
                for (int j = 0; j < m; j++) {
                    if (mask.getAtIndex(ValueLayout.JAVA_INT, i * m + j) != 0 && j != self) buf[count++] = j;
                }
                out[(int) i] = Arrays.copyOf(buf, count);
            }
        });
        return out;
    }
}
