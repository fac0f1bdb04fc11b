package dev.jnce.backend.java;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.DivergenceKernels;
import dev.jnce.internal.DistributionScan;
import dev.jnce.internal.Parallel;
import dev.jnce.Reduction;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * {@link DivergenceKernels} in Java, the same algorithm as native/src/cpu/divergence.c: every
 * value in double, rounded once (on double SIMD lanes through {@link RowOps#klBlock} and
 * {@link RowOps#distributionBlock} where the Vector API is present); KL sums fixed blocks of
 * {@link #BLOCK} values and the row ops whole rows, the partial sums then added in order, so
 * results do not depend on the thread count.
 */
final class JavaDivergence implements DivergenceKernels {
    private static final int BLOCK = 2048;
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private final RowOps rows;

    JavaDivergence(RowOps rows) {
        this.rows = rows;
    }

    @Override
    public void klDiv(Tensor input, Tensor target, long n, long c, boolean logTarget, Reduction reduction,
                      Tensor loss, Tensor gradInput, Tensor gradTarget) {
        long m = n * c;
        double scale = switch (reduction) {
            case NONE, SUM -> 1.0;
            case MEAN -> 1.0 / m;
            case BATCHMEAN -> 1.0 / n;
        };
        MemorySegment x = input.segment(), t = target.segment();
        MemorySegment out = reduction == Reduction.NONE ? loss.segment() : null;
        MemorySegment gx = segmentOrNull(gradInput), gt = segmentOrNull(gradTarget);
        double[] parts = new double[Math.toIntExact((m + BLOCK - 1) / BLOCK)];
        Parallel.forRangeSmall(parts.length, 32, 1, (begin, end) -> {
            double[] partial = new double[1];
            for (long b = begin; b < end; b++) {
                long to = Math.min(m, (b + 1) * BLOCK);
                partial[0] = 0;
                long from = rows.klBlock(x, t, b * BLOCK, to, logTarget, scale, out, gx, gt, partial);
                double sum = partial[0];
                for (long k = from; k < to; k++) {
                    double xv = x.getAtIndex(F, k), tv = t.getAtIndex(F, k), l, dx, dt;
                    if (logTarget) {
                        double e = Math.exp(tv);
                        l = e * (tv - xv);
                        dx = -e;
                        dt = e * (tv - xv + 1);
                    } else {
                        l = (tv == 0 ? 0 : tv * Math.log(tv)) - tv * xv;
                        dx = -tv;
                        dt = tv == 0 ? Double.NaN : Math.log(tv) + 1 - xv; // PyTorch: xlogy's d/dy at 0 is 0/0
                    }
                    if (out != null) out.setAtIndex(F, k, (float) l);
                    sum += l;
                    if (gx != null) gx.setAtIndex(F, k, (float) (dx * scale));
                    if (gt != null) gt.setAtIndex(F, k, (float) (dt * scale));
                }
                parts[(int) b] = sum;
            }
        });
        if (out == null) writeTotal(parts, scale, loss);
    }

    @Override
    public void entropy(Tensor p, Reduction reduction, Tensor loss, Tensor grad) {
        distributionRows(p, null, reduction, loss, grad, null);
    }

    @Override
    public void distributionCrossEntropy(Tensor p, Tensor q, Reduction reduction, Tensor loss, Tensor gradP, Tensor gradQ) {
        distributionRows(p, q, reduction, loss, gradP, gradQ);
    }

    /** Entropy when q is null (q = p), cross-entropy otherwise. */
    private void distributionRows(Tensor pt, Tensor qt, Reduction reduction, Tensor loss, Tensor gradP, Tensor gradQ) {
        long n = pt.size(0), c = pt.size(1);
        double s = reduction == Reduction.MEAN ? 1.0 / n : 1.0;
        MemorySegment p = pt.segment(), q = qt == null ? null : qt.segment();
        MemorySegment gp = segmentOrNull(gradP), gq = segmentOrNull(gradQ);
        double[] rows = new double[Math.toIntExact(n)];
        Parallel.forRangeSmall(n, Math.max(1, 65536 / c), Math.max(1, 2048 / c), (begin, end) -> {
            double[] partial = new double[1];
            for (long i = begin; i < end; i++) {
                partial[0] = 0;
                long from = this.rows.distributionBlock(p, q, i * c, (i + 1) * c, s, gp, gq, partial);
                double h = 0.0 - partial[0]; // +0 for an empty sum, as the scalar loop gives
                for (long k = from; k < (i + 1) * c; k++) {
                    double pv = p.getAtIndex(F, k);
                    if (q == null) {
                        double lp = Math.log(pv);
                        if (pv != 0) h -= pv * lp;
                        if (gp != null) gp.setAtIndex(F, k, (float) (-(lp + 1) * s)); // +Inf at p = 0
                    } else {
                        double qv = q.getAtIndex(F, k), lq = Math.log(qv);
                        if (pv != 0) h -= pv * lq;
                        if (gp != null) gp.setAtIndex(F, k, (float) (-lq * s));
                        if (gq != null) gq.setAtIndex(F, k, pv == 0 ? 0f : (float) (-pv / qv * s));
                    }
                }
                rows[(int) i] = h;
            }
        });
        if (reduction == Reduction.NONE) {
            for (int i = 0; i < rows.length; i++) loss.segment().setAtIndex(F, i, (float) rows[i]);
        } else {
            writeTotal(rows, s, loss);
        }
    }

    @Override
    public RowFault firstNonDistribution(Tensor rows, double tolerance) {
        return DistributionScan.firstNonDistribution(rows, tolerance);
    }

    @Override
    public void perplexity(Tensor tokenLosses, Tensor keys, long ignoreKey, float allIgnored, Tensor perplexity, Tensor grad) {
        MemorySegment l = tokenLosses.segment(), k = keys.segment();
        boolean wide = keys.dtype() == DType.INT64;
        long m = tokenLosses.numel();
        boolean[] kept = new boolean[Math.toIntExact(m)];
        double sum = 0;
        long count = 0;
        for (int i = 0; i < kept.length; i++) {
            long key = wide ? k.getAtIndex(ValueLayout.JAVA_LONG, i) : k.getAtIndex(ValueLayout.JAVA_INT, i);
            kept[i] = key != ignoreKey;
            if (kept[i]) { // an ignored token is never read: a NaN there does not spread
                sum += l.getAtIndex(F, i);
                count++;
            }
        }
        double value = count == 0 ? allIgnored : Math.exp(sum / count);
        perplexity.segment().set(F, 0, (float) value);
        if (grad != null) {
            float g = count == 0 ? 0f : (float) (value / count);
            for (int i = 0; i < kept.length; i++) grad.segment().setAtIndex(F, i, kept[i] ? g : 0f);
        }
    }

    /** Adds partial sums in order; writes scale times the total. */
    private static void writeTotal(double[] parts, double scale, Tensor loss) {
        double total = 0;
        for (double v : parts) total += v;
        loss.segment().set(F, 0, (float) (total * scale));
    }

    private static MemorySegment segmentOrNull(Tensor t) {
        return t == null ? null : t.segment();
    }
}
