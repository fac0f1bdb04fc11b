package dev.jnce.loss;

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
}
