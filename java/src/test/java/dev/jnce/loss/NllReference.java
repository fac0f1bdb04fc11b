package dev.jnce.loss;

import dev.jnce.Reduction;

/**
 * The negative log-likelihood in float64, the reference the tests judge every backend by:
 * weights, ignore index, PyTorch's weighted mean, and from probabilities max(log p, -100).
 */
record NllReference(double[] weight, long ignoreIndex, boolean fromProbabilities, Reduction reduction) {

    /** The reduced loss: one value for MEAN and SUM, N for NONE. */
    double[] loss(double[] x, long[] targets, int n, int c) {
        double[] rows = new double[n];
        double total = 0, weights = 0;
        for (int i = 0; i < n; i++) {
            if (targets[i] == ignoreIndex) continue;
            double w = weightOf(targets[i]), p = x[i * c + (int) targets[i]];
            rows[i] = -w * (fromProbabilities ? Math.max(Math.log(p), -100) : p);
            total += rows[i];
            weights += w;
        }
        return switch (reduction) {
            case NONE -> rows;
            case SUM -> new double[] {total};
            case MEAN -> new double[] {total / weights};
            case BATCHMEAN -> throw new IllegalArgumentException("nll takes no BATCHMEAN");
        };
    }

    /** Sum of the loss values (the scalar whose gradient the kernels return). */
    double scalar(double[] x, long[] targets, int n, int c) {
        double s = 0;
        for (double v : loss(x, targets, n, c)) s += v;
        return s;
    }

    /** Analytic gradient of {@link #scalar} w.r.t. the input. */
    double[] grad(double[] x, long[] targets, int n, int c) {
        double weights = 0;
        for (long t : targets) weights += t == ignoreIndex ? 0 : weightOf(t);
        double scale = reduction == Reduction.MEAN ? 1 / weights : 1;
        double[] g = new double[n * c];
        for (int i = 0; i < n; i++) {
            if (targets[i] == ignoreIndex) continue;
            int k = i * c + (int) targets[i];
            double dv = !fromProbabilities ? 1 : Math.log(x[k]) < -100 ? 0 : 1 / x[k];
            g[k] = -weightOf(targets[i]) * scale * dv;
        }
        return g;
    }

    private double weightOf(long t) {
        return weight == null ? 1 : weight[(int) t];
    }
}
