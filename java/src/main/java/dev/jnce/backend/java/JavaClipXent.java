package dev.jnce.backend.java;

import dev.jnce.Tensor;
import dev.jnce.internal.Parallel;
import dev.jnce.Reduction;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * {@link dev.jnce.backend.ContrastiveKernels#clipCrossEntropy} in Java: the meaning of
 * native/src/cpu/clip_xent.c, a simpler schedule. Row statistics row by row ({@link RowOps},
 * SIMD where present); column statistics in two sweeps over slices of rows (the maxima, then the
 * sums of exp(x - max), in float folded into double every {@link #FOLD} rows), merged across
 * slices; then each row of the gradient from a copy of its logits: the row softmax term, the
 * column term added, the pair's own entry recomputed in double.
 */
final class JavaClipXent {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final int FOLD = 64;

    private JavaClipXent() {
    }

    static void run(RowOps ops, Tensor s, Reduction reduction, Tensor loss, Tensor grad) {
        int n = Math.toIntExact(s.size(0));
        long ld = s.size(1);
        MemorySegment x = s.segment();
        float[] rmax = new float[n];
        double[] rsum = new double[n];
        boolean[] rbad = new boolean[n];
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
        float[] cmax = new float[n];
        Arrays.fill(cmax, Float.NEGATIVE_INFINITY);
        Parallel.forRange(n, 64, (begin, end) -> {
            float[] m = new float[n];
            Arrays.fill(m, Float.NEGATIVE_INFINITY);
            for (long i = begin; i < end; i++) ops.maxInto(x, 4 * i * ld, 0, n, m);
            synchronized (cmax) {
                for (int j = 0; j < n; j++) cmax[j] = Math.max(cmax[j], m[j]);
            }
        });
        boolean[] cbad = new boolean[n];
        for (int j = 0; j < n; j++) cbad[j] = !(cmax[j] <= Float.MAX_VALUE); // NaN or +Inf in the column
        double[] csum = new double[n];
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

        double w = reduction == Reduction.MEAN ? 1.0 / n : 1.0, total = 0;
        double[] rlse = new double[n], clse = new double[n];
        float[] rcoef = new float[n], ccoef = new float[n];
        MemorySegment out = loss.segment();
        for (int i = 0; i < n; i++) {
            rlse[i] = rmax[i] + Math.log(rsum[i]);
            clse[i] = cmax[i] + Math.log(csum[i]);
            rcoef[i] = (float) (0.5 * w / rsum[i]);
            ccoef[i] = (float) (0.5 * w / csum[i]);
            double li = rbad[i] || cbad[i] ? Double.NaN : 0.5 * (rlse[i] + clse[i]) - x.getAtIndex(F, i * ld + i);
            if (reduction == Reduction.NONE) out.setAtIndex(F, i, (float) li);
            total += li;
        }
        if (reduction != Reduction.NONE) out.setAtIndex(F, 0, (float) (reduction == Reduction.MEAN ? total / n : total));
        if (grad == null) return;

        MemorySegment g = grad.segment();
        long gld = grad.size(1);
        Parallel.forRange(n, JavaSimilarity.rowsPerSlice(n), (begin, end) -> {
            float[] row = new float[n];
            MemorySegment copy = MemorySegment.ofArray(row);
            for (int i = (int) begin; i < end; i++) {
                long at = 4 * i * gld;
                if (rbad[i]) {
                    for (int j = 0; j < n; j++) g.setAtIndex(F, i * gld + j, Float.NaN);
                    continue;
                }
                MemorySegment.copy(x, F, 4 * i * ld, row, 0, n); // g may be s
                ops.expScaledMinus(copy, 0, n, rmax[i], rcoef[i], 0f, null, g, at);
                ops.addExpScaled(copy, 0, 0, n, cmax, ccoef, g, at);
                double d = row[i];
                g.setAtIndex(F, i * gld + i, (float) (0.5 * w * (Math.exp(d - rlse[i]) + Math.exp(d - clse[i])) - w));
            }
        });
        for (int j = 0; j < n; j++) {
            if (cbad[j]) for (int i = 0; i < n; i++) g.setAtIndex(F, i * gld + j, Float.NaN);
        }
    }
}
