package dev.jnce.backend.java;

import dev.jnce.Backends;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.backend.SimilarityKernels;
import dev.jnce.internal.Parallel;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * {@link dev.jnce.backend.ContrastiveKernels#clipCrossEntropy} in Java: the meaning of
 * native/src/cpu/clip_xent.c, a simpler schedule. With the Vector API, where every row's and
 * column's maximum lies within 10 of the others, the statistics take one exponential an entry at
 * one shift ({@link JavaClipTiles#sums}); otherwise row statistics row by row ({@link RowOps},
 * SIMD where present) and column statistics in two sweeps over slices of rows (the maxima, then
 * the sums of exp(x - max), in float folded into double every {@link #FOLD} rows), merged across
 * slices. Then each row of the gradient from a copy of its logits: the row softmax term, the
 * column term added, the pair's own entry recomputed in double. {@link #gradient}: the same
 * statistics and loss, then the towers' gradients with G formed a block at a time and multiplied
 * there ({@link JavaClipTiles}) where the Vector API is present and no row or column met NaN or
 * +Inf.
 */
final class JavaClipXent {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final int FOLD = 64;

    private JavaClipXent() {
    }

    /**
     * The statistics of s's rows and columns and what the gradient takes from them: maxima m_i,
     * m'_j; whether the row or column met NaN or +Inf; lse_i = m_i + log s_i and lse'_j; the
     * coefficients w / (2 s_i) and w / (2 s'_j); w = 1/N (MEAN) or 1; and whether any row or
     * column met NaN or +Inf.
     */
    record Stats(float[] rmax, float[] cmax, boolean[] rbad, boolean[] cbad, double[] rlse, double[] clse, float[] rcoef,
                 float[] ccoef, double w, boolean anyBad) {
    }

    static void run(RowOps ops, Tensor s, Reduction reduction, Tensor loss, Tensor grad) {
        Stats st = statistics(ops, s, reduction, loss);
        if (grad != null) rows(ops, s, st, grad);
    }

    /**
     * The loss as {@link #run} gives it, and the towers' gradients da = alpha G b, db = alpha Gᵀ a
     * from G = d loss / d s: formed and multiplied a block at a time where it can
     * ({@link JavaClipTiles}), else written into s and multiplied by sim's GEMM.
     */
    static void gradient(RowOps ops, Tensor s, Reduction reduction, Tensor loss, Tensor a, Tensor b, float alpha, Tensor da,
                         Tensor db, SimilarityKernels sim) {
        Stats st = statistics(ops, s, reduction, loss);
        int n = Math.toIntExact(s.size(0));
        long d = a.size(1);
        // one (D, N) float accumulator a thread: at most an eighth of the heap, as the one-tensor form's;
        // and only where the blocks pay for the accumulators, N >= 8 threads D, as cpu's tiles
        int threads = Math.max(1, Backends.threads());
        long heapShare = Runtime.getRuntime().maxMemory() / 8 / threads;
        if (ops != RowOps.SCALAR && !st.anyBad() && JavaClipTiles.takes() && n >= 8L * threads * d && 4L * n * d <= heapShare
                && (long) n * d <= Integer.MAX_VALUE - 64) {
            JavaClipTiles.run(s.segment(), s.size(1), n, st, alpha, a.segment(), b.segment(), (int) d, da.segment(), db.segment());
            return;
        }
        rows(ops, s, st, s);
        sim.gemm(false, false, alpha, s, b, 0f, da);
        sim.gemm(true, false, alpha, s, a, 0f, db);
    }

    /** The rows' and columns' statistics of s, and the loss written. */
    private static Stats statistics(RowOps ops, Tensor s, Reduction reduction, Tensor loss) {
        int n = Math.toIntExact(s.size(0));
        long ld = s.size(1);
        MemorySegment x = s.segment();
        float[] rmax, cmax;
        double[] rsum, csum;
        boolean[] rbad = new boolean[n], cbad = new boolean[n];
        JavaClipTiles.Sums shared = ops == RowOps.SCALAR ? null : JavaClipTiles.sums(x, ld, n);
        if (shared != null) {
            rmax = shared.rmax();
            rsum = shared.rsum();
            cmax = shared.cmax();
            csum = shared.csum();
        } else {
            rmax = new float[n];
            rsum = new double[n];
            cmax = new float[n];
            csum = new double[n];
            sweeps(ops, x, ld, n, rmax, rsum, rbad, cmax, csum, cbad);
        }
        double w = reduction == Reduction.MEAN ? 1.0 / n : 1.0, total = 0;
        double[] rlse = new double[n], clse = new double[n];
        float[] rcoef = new float[n], ccoef = new float[n];
        boolean anyBad = false;
        MemorySegment out = loss.segment();
        for (int i = 0; i < n; i++) {
            rlse[i] = rmax[i] + Math.log(rsum[i]);
            clse[i] = cmax[i] + Math.log(csum[i]);
            rcoef[i] = (float) (0.5 * w / rsum[i]);
            ccoef[i] = (float) (0.5 * w / csum[i]);
            anyBad |= rbad[i] || cbad[i];
            double li = rbad[i] || cbad[i] ? Double.NaN : 0.5 * (rlse[i] + clse[i]) - x.getAtIndex(F, i * ld + i);
            if (reduction == Reduction.NONE) out.setAtIndex(F, i, (float) li);
            total += li;
        }
        if (reduction != Reduction.NONE) out.setAtIndex(F, 0, (float) (reduction == Reduction.MEAN ? total / n : total));
        return new Stats(rmax, cmax, rbad, cbad, rlse, clse, rcoef, ccoef, w, anyBad);
    }

    /**
     * The rows' statistics row by row, the columns' maxima and then their sums of exp(x - max)
     * in sweeps over slices of rows: each at its own maxima, NaN and +Inf marked.
     */
    private static void sweeps(RowOps ops, MemorySegment x, long ld, int n, float[] rmax, double[] rsum, boolean[] rbad,
                               float[] cmax, double[] csum, boolean[] cbad) {
        // slices of about 32K logits, as the other row passes: a small call (32 rows of 32) stays on its
        // thread (split in two, its caller spent half the call waiting for the other thread)
        Parallel.forRange(n, JavaSimilarity.rowsPerSlice(n), (begin, end) -> {
            for (int i = (int) begin; i < end; i++) {
                RowOps.Stats st = ops.stats(x, 4 * i * ld, n);
                rmax[i] = st.max();
                rsum[i] = st.sum();
                rbad[i] = st.bad();
            }
        });
        Arrays.fill(cmax, Float.NEGATIVE_INFINITY);
        Parallel.forRange(n, 64, (begin, end) -> {
            float[] m = new float[n];
            Arrays.fill(m, Float.NEGATIVE_INFINITY);
            for (long i = begin; i < end; i++) ops.maxInto(x, 4 * i * ld, 0, n, m);
            synchronized (cmax) {
                for (int j = 0; j < n; j++) cmax[j] = Math.max(cmax[j], m[j]);
            }
        });
        for (int j = 0; j < n; j++) cbad[j] = !(cmax[j] <= Float.MAX_VALUE); // NaN or +Inf in the column
        Parallel.forRange(n, 64, (begin, end) -> {
            float[] acc = new float[n];
            double[] part = new double[n];
            for (long i = begin; i < end; i++) {
                ops.sumExpInto(x, 4 * i * ld, 0, n, cmax, acc);
                if ((i - begin + 1) % FOLD == 0 || i + 1 == end) {
                    for (int j = 0; j < n; j++) part[j] += acc[j];
                    Arrays.fill(acc, 0f);
                }
            }
            synchronized (csum) {
                for (int j = 0; j < n; j++) csum[j] += part[j];
            }
        });
    }

    /** G into grad (which may be s) row by row. */
    private static void rows(RowOps ops, Tensor s, Stats st, Tensor grad) {
        int n = Math.toIntExact(s.size(0));
        long ld = s.size(1);
        MemorySegment x = s.segment(), g = grad.segment();
        long gld = grad.size(1);
        double w = st.w();
        Parallel.forRange(n, JavaSimilarity.rowsPerSlice(n), (begin, end) -> {
            float[] row = new float[n];
            MemorySegment copy = MemorySegment.ofArray(row);
            for (int i = (int) begin; i < end; i++) {
                long at = 4 * i * gld;
                if (st.rbad()[i]) {
                    for (int j = 0; j < n; j++) g.setAtIndex(F, i * gld + j, Float.NaN);
                    continue;
                }
                MemorySegment.copy(x, F, 4 * i * ld, row, 0, n); // g may be s
                ops.expScaledMinus(copy, 0, n, st.rmax()[i], st.rcoef()[i], 0f, null, g, at);
                ops.addExpScaled(copy, 0, 0, n, st.cmax(), st.ccoef(), g, at);
                double d = row[i];
                g.setAtIndex(F, i * gld + i, (float) (0.5 * w * (Math.exp(d - st.rlse()[i]) + Math.exp(d - st.clse()[i])) - w));
            }
        });
        for (int j = 0; j < n; j++) {
            if (st.cbad()[j]) for (int i = 0; i < n; i++) g.setAtIndex(F, i * gld + j, Float.NaN);
        }
    }
}
