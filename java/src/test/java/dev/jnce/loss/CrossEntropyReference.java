package dev.jnce.loss;

import dev.jnce.Reduction;

/** Softmax cross-entropy in float64, the reference the tests judge every backend by. */
final class CrossEntropyReference {
    private CrossEntropyReference() {
    }

    /** Per-row losses of (N,C) logits. */
    static double[] rowLosses(double[] x, long[] targets, int n, int c) {
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int j = 0; j < c; j++) max = Math.max(max, x[i * c + j]);
            for (int j = 0; j < c; j++) sum += Math.exp(x[i * c + j] - max);
            out[i] = max + Math.log(sum) - x[i * c + (int) targets[i]];
        }
        return out;
    }

    /** The reduced loss: one value for MEAN and SUM, N for NONE. */
    static double[] loss(double[] x, long[] targets, int n, int c, Reduction reduction) {
        double[] rows = rowLosses(x, targets, n, c);
        if (reduction == Reduction.NONE) return rows;
        double total = 0;
        for (double r : rows) total += r;
        return new double[] {reduction == Reduction.MEAN ? total / n : total};
    }

    /** Sum of the loss values (the scalar whose gradient the kernels return). */
    static double scalar(double[] x, long[] targets, int n, int c, Reduction reduction) {
        double s = 0;
        for (double v : loss(x, targets, n, c, reduction)) s += v;
        return s;
    }

    /** Analytic gradient of {@link #scalar}. */
    static double[] grad(double[] x, long[] targets, int n, int c, Reduction reduction) {
        double scale = reduction == Reduction.MEAN ? 1.0 / n : 1.0;
        double[] g = new double[n * c];
        for (int i = 0; i < n; i++) {
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int j = 0; j < c; j++) max = Math.max(max, x[i * c + j]);
            for (int j = 0; j < c; j++) sum += Math.exp(x[i * c + j] - max);
            for (int j = 0; j < c; j++) {
                g[i * c + j] = scale * (Math.exp(x[i * c + j] - max) / sum - (j == targets[i] ? 1 : 0));
            }
        }
        return g;
    }

    static double[] toDouble(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) d[i] = v[i];
        return d;
    }

    /** Every option of jnce_cross_entropy_fwd_bwd, in float64; probs replaces targets when non-null. */
    record Options(long[] targets, double[] probs, double[] weight, long ignoreIndex, double labelSmoothing,
                   double zLoss, int[] rowMask, Reduction reduction, boolean zeroIfEmpty) {
    }

    /** The loss of every option: N values for NONE, else one. Straight from jnce.h's formulas. */
    static double[] loss(double[] x, int n, int c, Options o) {
        double eps = o.labelSmoothing(), denom = 0, counted = 0, ce = 0, z = 0;
        double[] rows = new double[n];
        boolean[] keep = new boolean[n];
        for (int i = 0; i < n; i++) {
            keep[i] = (o.rowMask() == null || o.rowMask()[i] != 0) && (o.probs() != null || o.targets()[i] != o.ignoreIndex());
            if (!keep[i]) continue;
            counted++;
            denom += o.probs() == null && o.weight() != null ? o.weight()[(int) o.targets()[i]] : 1;
        }
        for (int i = 0; i < n; i++) {
            if (!keep[i]) continue;
            double max = Double.NEGATIVE_INFINITY, sum = 0, li = 0;
            for (int j = 0; j < c; j++) max = Math.max(max, x[i * c + j]);
            for (int j = 0; j < c; j++) sum += Math.exp(x[i * c + j] - max);
            double lse = max + Math.log(sum);
            for (int j = 0; j < c; j++) {
                double w = o.weight() == null ? 1 : o.weight()[j];
                double q = o.probs() != null ? w * ((1 - eps) * o.probs()[i * c + j] + eps / c)
                        : (j == o.targets()[i] ? (1 - eps) * w : 0) + eps / c * w;
                li += q * (lse - x[i * c + j]);
            }
            rows[i] = li + o.zLoss() * lse * lse;
            ce += li;
            z += lse * lse;
        }
        return switch (o.reduction()) {
            case NONE -> rows;
            case SUM -> new double[] {ce + o.zLoss() * z};
            case MEAN -> new double[] {o.zeroIfEmpty() && counted == 0 ? 0
                    : ce / denom + (o.zLoss() > 0 ? o.zLoss() * z / counted : 0)};
            case BATCHMEAN -> throw new IllegalArgumentException("cross-entropy takes no BATCHMEAN");
        };
    }
}
