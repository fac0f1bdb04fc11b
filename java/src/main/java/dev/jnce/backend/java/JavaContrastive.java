package dev.jnce.backend.java;

import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.backend.ContrastiveKernels;
import dev.jnce.backend.SimilarityKernels;
import dev.jnce.internal.HostContrastive;
import dev.jnce.internal.HostRetrieval;
import dev.jnce.internal.Parallel;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The contrastive family in Java, the same meanings as native/src/cpu/symmetric_xent.c,
 * positives_xent.c, clip_xent.c, siglip.c, negatives.c and bpr.c ({@link JavaSymmetricXent},
 * {@link JavaPositivesXent}, {@link JavaClipXent}, {@link RowOps#sigmoidPairs}, the batched
 * dots and BPR's pass below); the sweep's O(N) steps are {@link HostContrastive}'s.
 */
final class JavaContrastive implements ContrastiveKernels {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final JavaContrastive SCALAR = new JavaContrastive(RowOps.SCALAR);

    private final RowOps rows;

    private JavaContrastive(RowOps rows) {
        this.rows = rows;
    }

    /** Holds the SIMD instance, made only when first asked for. */
    private static final class Vector {
        static final JavaContrastive INSTANCE = vector();

        private static JavaContrastive vector() {
            RowOps rows = VectorSupport.rowOps();
            return new JavaContrastive(rows != null ? rows : RowOps.SCALAR);
        }
    }

    static JavaContrastive of(boolean vector) {
        return vector ? Vector.INSTANCE : SCALAR;
    }

    @Override
    public void symmetricCrossEntropy(Tensor s, SymmetricTargets targets, Tensor loss, Tensor grad) {
        JavaSymmetricXent.run(rows, s, targets, loss, grad);
    }

    /**
     * With the Vector API: the loss and df = alpha (g + gᵀ) f in one pass that forms g + gᵀ a block
     * at a time and multiplies it there (s is only read); otherwise g + gᵀ over s and one GEMM.
     */
    @Override
    public void symmetricGradient(Tensor s, SymmetricTargets targets, Tensor loss, float alpha, Tensor f, Tensor df,
                                  SimilarityKernels sim) {
        if (!JavaSymmetricXent.gradient(rows, s, targets, loss, alpha, f, df)) {
            ContrastiveKernels.super.symmetricGradient(s, targets, loss, alpha, f, df, sim);
        }
    }

    @Override
    public PositivesOutcome positivesCrossEntropy(Tensor s, PositiveTargets targets, Tensor loss, Tensor grad) {
        return JavaPositivesXent.run(rows, s, targets, loss, grad);
    }

    @Override
    public void clipCrossEntropy(Tensor s, Reduction reduction, Tensor loss, Tensor grad) {
        JavaClipXent.run(rows, s, reduction, loss, grad);
    }

    /**
     * With the Vector API and N >= 8 threads D: the loss, and the towers' gradients from G formed a
     * block at a time and multiplied there (s is only read); otherwise, or where a row or column
     * met NaN or +Inf, G over s and two GEMMs.
     */
    @Override
    public void clipGradient(Tensor s, Reduction reduction, Tensor loss, Tensor a, Tensor b, float alpha, Tensor da, Tensor db,
                             SimilarityKernels sim) {
        JavaClipXent.gradient(rows, s, reduction, loss, a, b, alpha, da, db, sim);
    }

    @Override
    public PairSums sigLipPairs(Tensor s, long offset, float bias, Tensor grad) {
        int n = Math.toIntExact(s.size(0)), m = Math.toIntExact(s.size(1));
        long ld = s.size(1), gld = grad == null ? 0 : grad.size(1);
        MemorySegment x = s.segment(), g = grad == null ? null : grad.segment();
        double[] loss = new double[n], sum = new double[n];
        Parallel.forRange(n, JavaSimilarity.rowsPerSlice(m), (begin, end) -> {
            double[] pair = new double[2];
            for (int i = (int) begin; i < end; i++) {
                pair[0] = pair[1] = 0;
                rows.sigmoidPairs(x, 4 * i * ld, 0, m, i + offset, bias, g, 4 * i * gld, pair);
                loss[i] = pair[0];
                sum[i] = pair[1];
            }
        });
        double l = 0, d = 0;
        for (int i = 0; i < n; i++) { // in row order: the same sums on any thread count
            l += loss[i];
            d += sum[i];
        }
        return new PairSums(l, d);
    }

    /**
     * Rows of an explicit-negatives pass a slice: about 64K values of (K + 1) D each, as
     * negatives.c, so that a small call (N = 32, K = 4, D = 128) stays on its thread.
     */
    private static long negativeRows(Tensor n) {
        long perRow = (n.size(1) + 1) * n.size(2);
        return Math.max(1, 65536 / perRow);
    }

    @Override
    public void negativeLogits(Tensor q, Tensor p, Tensor n, float alpha, Tensor logits) {
        long k = n.size(1), d = n.size(2);
        int di = Math.toIntExact(d);
        MemorySegment qs = q.segment(), ps = p.segment(), ns = n.segment(), l = logits.segment();
        Parallel.forRange(n.size(0), negativeRows(n), (begin, end) -> {
            for (long i = begin; i < end; i++) {
                // the dot products on this backend's lanes (the scalar one reads a float at a time through the segment's checks)
                l.setAtIndex(F, i * (k + 1), (float) (alpha * rows.dotDouble(qs, 4 * i * d, ps, 4 * i * d, di)));
                for (long j = 0; j < k; j++) {
                    l.setAtIndex(F, i * (k + 1) + 1 + j, (float) (alpha * rows.dotDouble(qs, 4 * i * d, ns, 4 * (i * k + j) * d, di)));
                }
            }
        });
    }

    @Override
    public void negativeLogitsBackward(Tensor g, Tensor q, Tensor p, Tensor n, float alpha, Tensor dq, Tensor dp, Tensor dn) {
        int k = Math.toIntExact(n.size(1)), d = Math.toIntExact(n.size(2));
        MemorySegment gs = g.segment(), qs = q.segment(), ps = p.segment(), ns = n.segment();
        MemorySegment dqs = dq.segment(), dps = dp.segment(), dns = dn.segment();
        Parallel.forRange(n.size(0), negativeRows(n), (begin, end) -> {
            float[] qi = new float[d], acc = new float[d], row = new float[d];
            for (long i = begin; i < end; i++) {
                MemorySegment.copy(qs, F, 4 * i * d, qi, 0, d);
                MemorySegment.copy(ps, F, 4 * i * d, row, 0, d);
                float g0 = alpha * gs.getAtIndex(F, i * (k + 1));
                for (int c = 0; c < d; c++) {
                    acc[c] = g0 * row[c];
                    row[c] = g0 * qi[c];
                }
                MemorySegment.copy(row, 0, dps, F, 4 * i * d, d);
                for (int j = 0; j < k; j++) {
                    long at = 4 * ((i * k + j) * d);
                    float gj = alpha * gs.getAtIndex(F, i * (k + 1) + 1 + j);
                    MemorySegment.copy(ns, F, at, row, 0, d);
                    for (int c = 0; c < d; c++) {
                        acc[c] += gj * row[c];
                        row[c] = gj * qi[c];
                    }
                    MemorySegment.copy(row, 0, dns, F, at, d);
                }
                MemorySegment.copy(acc, 0, dqs, F, 4 * i * d, d);
            }
        });
    }

    @Override
    public double retrievalCrossEntropy(Tensor s, Tensor s2, RetrievalTargets targets, Tensor rowLoss, boolean gradients) {
        return HostRetrieval.crossEntropy(s, s2, targets, rowLoss, gradients, rows != RowOps.SCALAR);
    }

    @Override
    public void bprPairs(Tensor logits, Tensor rowLoss, Tensor grad) {
        HostRetrieval.bprPairs(logits, rowLoss, grad);
    }

    /**
     * BPR in one pass, with bpr.c's meaning and order, by blocks of rows whose queries, positives
     * and negatives are copied to the heap (one bulk copy each a block; the negatives stay where
     * they lie when a block of them would pass {@link #BPR_KEPT} floats): the block's scores on
     * this backend's lanes, {@code x = (float) s_k - (float) s_0}, the pairs' softplus and sigmoid
     * ({@link RowOps#softplusSigmoid}), then each row's gradients, written straight to the
     * results; no logit matrix. The scores' loads from heap arrays cost less than from segments:
     * at (32, 4, 128) on one thread of an AMD EPYC (Zen 5) VM five dot products of a row took about
     * 60 ns from the heap against 95-105 ns from segments (ad-hoc probe). (Copying the results
     * back through heap blocks as well took about a third of a call.)
     */
    @Override
    public boolean bprLoss(Tensor q, Tensor p, Tensor n, Reduction reduction, Tensor loss, Tensor dq, Tensor dp, Tensor dn) {
        int k = Math.toIntExact(n.size(1)), d = Math.toIntExact(n.size(2));
        long count = n.size(0);
        double scale = (reduction == Reduction.MEAN ? 1.0 / count : 1.0) / k;
        MemorySegment qs = q.segment(), ps = p.segment(), ns = n.segment(), out = loss.segment();
        MemorySegment dqs = dq.segment(), dps = dp.segment(), dns = dn.segment();
        float[] rowLoss = new float[Math.toIntExact(count)];
        int block = (int) Math.max(1, 65536 / ((k + 2L) * d)); // rows a block: about 256 KiB of operands
        long perRow = (k + 1L) * d; // rows are independent: any split gives the same values
        boolean heap = (long) block * k * d <= BPR_KEPT; // the block's negatives copied to the heap
        // calls back to back split in slices of 8K values, as bpr.c's spinning workers take them. At
        // (32, 4, 128) on two threads which is faster depends on the machine (ad-hoc, alternating
        // with cpu): on an AMD Zen 4 VM split 1.70-1.96x cpu into buffers and 1.91-2.20x
        // allocating, on one thread 2.62-2.71x and 2.35-2.56x; on a Zen 5 VM split 1.62-1.72x and
        // 2.20-2.41x, on one thread 1.13-1.63x and 1.51-1.83x. Split as cpu splits, the two
        // backends' figures compare like for like
        Parallel.forRangeSmall(count, negativeRows(n), Math.max(1, 8192 / perRow), (begin, end) -> {
            float[][] s = BPR_SCRATCH.get();
            double[] four = new double[4];
            for (long b0 = begin; b0 < end; b0 += block) {
                int rb = (int) Math.min(block, end - b0), rd = rb * d, rk = rb * k;
                float[] qh = grow(s, 0, rd), x = grow(s, 1, rk), sp = grow(s, 2, rk), sig = grow(s, 3, rk);
                float[] ph = grow(s, 4, rd), nh = heap ? grow(s, 5, rk * d) : null;
                MemorySegment.copy(qs, F, 4 * b0 * d, qh, 0, rd);
                MemorySegment.copy(ps, F, 4 * b0 * d, ph, 0, rd);
                if (heap) MemorySegment.copy(ns, F, 4 * b0 * k * d, nh, 0, rk * d);
                for (int r = 0; r < rb; r++) {
                    float pos = (float) rows.dotDouble(qh, r * d, ph, r * d, d);
                    int j = 0, at = r * k;
                    if (heap) {
                        for (; j + 4 <= k; j += 4, at += 4) { // four negatives at a time, q's lanes loaded once
                            int e = at * d;
                            rows.dotDouble4(qh, r * d, nh, e, e + d, e + 2 * d, e + 3 * d, d, four);
                            for (int u = 0; u < 4; u++) x[at + u] = (float) four[u] - pos;
                        }
                        for (; j < k; j++, at++) x[at] = (float) rows.dotDouble(qh, r * d, nh, at * d, d) - pos;
                    } else {
                        for (long n0 = (b0 + r) * k * d; j < k; j++, at++) x[at] = (float) rows.dotDouble(qh, r * d, ns, n0 + (long) j * d, d) - pos;
                    }
                }
                rows.softplusSigmoid(x, 0, rk, sp, sig);
                for (int r = 0; r < rb; r++) {
                    double l = 0, g0 = 0;
                    for (int j = r * k; j < (r + 1) * k; j++) { // sig becomes the pairs' coefficients g
                        double gd = sig[j] * scale;
                        sig[j] = (float) gd;
                        l += sp[j];
                        g0 -= gd;
                    }
                    long row = b0 + r;
                    rows.pairGradients(qh, r, ps, row * d, ns, row * k * d, k, d, sig, r * k, (float) g0, dqs, dps, row * d, dns,
                            row * k * d);
                    rowLoss[(int) b0 + r] = (float) (l / k);
                }
            }
        });
        if (reduction == Reduction.NONE) {
            MemorySegment.copy(rowLoss, 0, out, F, 0, rowLoss.length);
        } else {
            double total = 0;
            for (float r : rowLoss) total += r; // in row order: the same sum on any thread count
            out.setAtIndex(F, 0, (float) (reduction == Reduction.MEAN ? total / count : total));
        }
        return true;
    }

    /** Each thread's heap blocks of bprLoss, grown as a call needs, kept up to 1M floats (4 MiB) each. */
    private static final ThreadLocal<float[][]> BPR_SCRATCH = ThreadLocal.withInitial(() -> new float[6][0]);
    private static final int BPR_KEPT = 1 << 20;

    private static float[] grow(float[][] scratch, int which, int size) {
        if (scratch[which].length >= size) return scratch[which];
        float[] a = new float[size];
        if (size <= BPR_KEPT) scratch[which] = a; // a block of one row of very many negatives is not kept
        return a;
    }

    @Override
    public void diagonalTargets(long offset, long modulus, Tensor targets) {
        HostContrastive.diagonalTargets(offset, modulus, targets);
    }

    @Override
    public void excludeLogits(Tensor s, long selfColumn, long positiveColumn, long positiveStep, Tensor positives) {
        HostContrastive.excludeLogits(s, selfColumn, positiveColumn, positiveStep, positives);
    }

    @Override
    public void reduceRows(Tensor rows, Tensor minus, Reduction reduction, long counted, Tensor loss) {
        HostContrastive.reduceRows(rows, minus, reduction, counted, loss);
    }

    @Override
    public long firstUnsharedLabel(Tensor labels) {
        return HostContrastive.firstUnsharedLabel(labels);
    }
}
