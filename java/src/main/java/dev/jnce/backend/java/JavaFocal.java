package dev.jnce.backend.java;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.FocalKernels;
import dev.jnce.internal.Parallel;
import dev.jnce.Reduction;

import java.lang.foreign.MemorySegment;

import static dev.jnce.backend.java.BinaryElementwise.segment;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Focal losses in Java, the same formulas as native/src/cpu/focal.c (see there for the
 * derivation), in double: the sigmoid form element-wise (on SIMD lanes through
 * {@link RowOps#binaryBlock} where the Vector API is present), the softmax form per row.
 */
final class JavaFocal implements FocalKernels {
    private final RowOps rows;

    JavaFocal(RowOps rows) {
        this.rows = rows;
    }

    @Override
    public void sigmoidFocal(Tensor input, Tensor target, float alpha, float gamma, Reduction reduction, Tensor loss,
                             Tensor gradInput, Tensor gradTarget) {
        double a0 = alpha, g = gamma;
        BinaryElementwise.run(input.segment(), target.segment(), input.numel(), null, 0,
                (k, x, y, out) -> sigmoidFocalTerms(x, y, a0, g, out), rows, BinaryElementwise.SIGMOID_FOCAL,
                new float[] {alpha, gamma}, reduction, loss.segment(), segment(gradInput), segment(gradTarget));
    }

    private static void sigmoidFocalTerms(double x, double y, double alpha, double gamma, double[] out) {
        BinaryElementwise.bceLogitsTerms(x, y, 1.0, out);
        double ce = out[0], dceDx = out[1], dceDy = out[2];
        double p = BinaryElementwise.sigmoid(x), q = BinaryElementwise.sigmoid(-x);
        double m = p * (1.0 - y) + q * y; // 1 - p_t
        double mg = Math.pow(m, gamma);
        double a = 1.0, da = 0.0;
        if (alpha >= 0) {
            a = alpha * y + (1.0 - alpha) * (1.0 - y);
            da = 2.0 * alpha - 1.0;
        }
        double t = focalTerm(gamma, ce, m, mg);
        out[0] = a * ce * mg;
        out[1] = a * (dceDx * mg + t * (1.0 - 2.0 * y) * p * q);
        out[2] = da * ce * mg + a * (dceDy * mg + t * (q - p));
    }

    /** gamma ce m^(gamma-1) as gamma (ce/m) m^gamma, with ce/m -> 1 at m = 0. */
    private static double focalTerm(double gamma, double ce, double m, double mg) {
        if (gamma == 0.0) return 0.0;
        return gamma * (m > 0.0 ? ce / m : 1.0) * mg;
    }

    @Override
    public void softmaxFocal(Tensor logits, Tensor targets, Tensor alpha, float gamma, Reduction reduction,
                             Tensor loss, Tensor grad) {
        long n = logits.size(0);
        int c = Math.toIntExact(logits.size(1));
        double scale = reduction == Reduction.MEAN ? 1.0 / n : 1.0;
        MemorySegment x = logits.segment(), t = targets.segment(), a = segment(alpha), g = segment(grad);
        boolean wide = targets.dtype() == DType.INT64;
        double[] rowLoss = new double[Math.toIntExact(n)];
        Parallel.forRange(n, Math.max(1, 16384 / c), (begin, end) -> {
            for (long i = begin; i < end; i++) {
                int target = (int) (wide ? t.getAtIndex(JAVA_LONG, i) : t.getAtIndex(JAVA_INT, i));
                double at = a == null ? 1.0 : a.getAtIndex(JAVA_FLOAT, target);
                rowLoss[(int) i] = rows == RowOps.SCALAR ? softmaxFocalRow(x, i * c, c, target, at, gamma, scale, g)
                        : softmaxFocalRowLanes(x, i * c, c, target, at, gamma, scale, g);
            }
        });
        MemorySegment out = loss.segment();
        if (reduction != Reduction.NONE) BinaryElementwise.storeReduced(rowLoss, n, reduction, out);
        else for (int i = 0; i < rowLoss.length; i++) out.setAtIndex(JAVA_FLOAT, i, (float) rowLoss[i]);
    }

    /** Loss of the row starting at element {@code off}; writes its scaled gradient row when g is non-null. */
    /**
     * softmaxFocalRow with the row's exponentials on SIMD lanes (RowOps, as native focal_row_avx2):
     * the statistics of the entries left and right of the target, so that the others' sum never
     * includes e_t (m = 1 - p_t keeps its digits as p_t -> 1), the gradient's exps on lanes, the
     * target's entry and the loss in double.
     */
    private double softmaxFocalRowLanes(MemorySegment x, long off, int c, int t, double alpha, double gamma,
                                        double scale, MemorySegment g) {
        long bytes = 4L * off;
        float xt = x.getAtIndex(JAVA_FLOAT, off + t); // read before the gradient may overwrite x
        if (g != null) return softmaxFocalRowCached(x, bytes, c, t, xt, alpha, gamma, scale, g);
        RowOps.Stats left = rows.stats(x, bytes, t), right = rows.stats(x, bytes + 4L * (t + 1), c - t - 1);
        boolean bad = left.bad() || right.bad() || Float.isNaN(xt) || xt == Float.POSITIVE_INFINITY;
        boolean allNegativeInfinity = xt == Float.NEGATIVE_INFINITY && left.sum() == 0 && right.sum() == 0;
        if (bad || allNegativeInfinity) {
            if (g != null) for (int j = 0; j < c; j++) g.setAtIndex(JAVA_FLOAT, off + j, Float.NaN);
            return Double.NaN;
        }
        float max = Math.max(Math.max(left.max(), right.max()), xt);
        double others = left.sum() * Math.exp((double) left.max() - max) + right.sum() * Math.exp((double) right.max() - max);
        double et = Math.exp((double) xt - max), s = et + others, pt = et / s, m = others / s;
        double logP = pt > 0.5 ? -Math.log1p(others / et) : ((double) xt - max) - Math.log(s);
        double mg = Math.pow(m, gamma);
        if (g != null) {
            double ratio = m > 0.0 ? logP / m : -1.0;
            double ptRatio = pt > 0.0 ? pt * ratio : 0.0;
            double f = scale * alpha * mg * (1.0 - gamma * ptRatio);
            rows.expScaledMinus(x, bytes, c, max, (float) (f / s), 0f, null, g, bytes);
            g.setAtIndex(JAVA_FLOAT, off + t, (float) (f * (et / s - 1.0)));
        }
        return -alpha * mg * logP;
    }

    /**
     * softmaxFocalRowLanes with the gradient, one exponential an element (as native focal_row_avx512):
     * the maximum and NaN/+Inf check alone, exp(x_j - max) written into the gradient row, the
     * others' sum taken from it with e_t set to 0 (it never includes e_t), then one scaling pass;
     * the target's entry and the loss in double.
     */
    private double softmaxFocalRowCached(MemorySegment x, long bytes, int c, int t, float xt, double alpha, double gamma,
                                         double scale, MemorySegment g) {
        RowOps.Peak peak = rows.peak(x, bytes, c);
        if (peak.bad()) {
            for (int j = 0; j < c; j++) g.set(JAVA_FLOAT, bytes + 4L * j, Float.NaN);
            return Double.NaN;
        }
        float max = peak.max();
        // every exp(x_j - max) into the gradient row in one run, then e_t set to 0 and the row summed:
        // the others' sum without e_t. Two runs split at the target had a scalar tail each.
        rows.expInto(x, bytes, c, peak, g, bytes);
        g.set(JAVA_FLOAT, bytes + 4L * t, 0f);
        double others = rows.dot(g, bytes, null, c);
        double et = Math.exp((double) xt - max);
        if (et == 0 && others == 0) { // every entry -Inf
            for (int j = 0; j < c; j++) g.set(JAVA_FLOAT, bytes + 4L * j, Float.NaN);
            return Double.NaN;
        }
        double s = et + others, pt = et / s, m = others / s;
        double logP = pt > 0.5 ? -Math.log1p(others / et) : ((double) xt - max) - Math.log(s);
        double mg = Math.pow(m, gamma);
        double ratio = m > 0.0 ? logP / m : -1.0;
        double ptRatio = pt > 0.0 ? pt * ratio : 0.0;
        double f = scale * alpha * mg * (1.0 - gamma * ptRatio);
        rows.scaleMinus(g, bytes, c, (float) (f / s), 0f, null);
        g.set(JAVA_FLOAT, bytes + 4L * t, (float) (f * (et / s - 1.0)));
        return -alpha * mg * logP;
    }

    private static double softmaxFocalRow(MemorySegment x, long off, int c, int t, double alpha, double gamma,
                                          double scale, MemorySegment g) {
        double max = Double.NEGATIVE_INFINITY;
        boolean bad = false;
        for (int j = 0; j < c; j++) {
            float v = x.getAtIndex(JAVA_FLOAT, off + j);
            if (Float.isNaN(v) || v == Float.POSITIVE_INFINITY) bad = true;
            else if (v > max) max = v;
        }
        if (bad || max == Double.NEGATIVE_INFINITY) {
            if (g != null) for (int j = 0; j < c; j++) g.setAtIndex(JAVA_FLOAT, off + j, Float.NaN);
            return Double.NaN;
        }
        double xt = x.getAtIndex(JAVA_FLOAT, off + t);
        double et = Math.exp(xt - max), others = 0;
        for (int j = 0; j < c; j++) if (j != t) others += Math.exp(x.getAtIndex(JAVA_FLOAT, off + j) - max);
        double s = et + others, pt = et / s, m = others / s;
        // log p_t from the small side of the ratio: no digits lost as p_t -> 1 or e_t -> 0
        double logP = pt > 0.5 ? -Math.log1p(others / et) : (xt - max) - Math.log(s);
        double mg = Math.pow(m, gamma);
        if (g != null) {
            double ratio = m > 0.0 ? logP / m : -1.0;
            double ptRatio = pt > 0.0 ? pt * ratio : 0.0; // p_t log p_t -> 0 where p_t = 0
            double f = scale * alpha * mg * (1.0 - gamma * ptRatio);
            for (int j = 0; j < c; j++) {
                g.setAtIndex(JAVA_FLOAT, off + j, (float) (f * Math.exp(x.getAtIndex(JAVA_FLOAT, off + j) - max) / s));
            }
            g.setAtIndex(JAVA_FLOAT, off + t, (float) (f * (Math.exp(xt - max) / s - 1.0)));
        }
        return -alpha * mg * logP;
    }
}
