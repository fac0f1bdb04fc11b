package dev.jnce.backend.java;

import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.backend.ContrastiveKernels;
import dev.jnce.internal.HostContrastive;
import dev.jnce.internal.HostRetrieval;
import dev.jnce.internal.Parallel;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The contrastive family in Java, the same meanings as native/src/cpu/symmetric_xent.c,
 * positives_xent.c, clip_xent.c, siglip.c and negatives.c ({@link JavaSymmetricXent},
 * {@link JavaPositivesXent}, {@link JavaClipXent}, {@link RowOps#sigmoidPairs} and the batched
 * dots below); the sweep's O(N) steps are {@link HostContrastive}'s.
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

    @Override
    public PositivesOutcome positivesCrossEntropy(Tensor s, PositiveTargets targets, Tensor loss, Tensor grad) {
        return JavaPositivesXent.run(rows, s, targets, loss, grad);
    }

    @Override
    public void clipCrossEntropy(Tensor s, Reduction reduction, Tensor loss, Tensor grad) {
        JavaClipXent.run(rows, s, reduction, loss, grad);
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
