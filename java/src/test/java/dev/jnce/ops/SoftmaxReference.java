package dev.jnce.ops;

/**
 * Softmax, log-softmax and logsumexp of (N,C) rows in float64, the reference the tests judge
 * every backend by (finite rows only: shift by the maximum, sum in double).
 */
final class SoftmaxReference {
    private SoftmaxReference() {
    }

    /** The function of every row: (N,C) values, or (N) for LOGSUMEXP. */
    static double[] forward(Softmax.Function f, double[] x, int n, int c) {
        double[] out = new double[f == Softmax.Function.LOGSUMEXP ? n : n * c];
        for (int i = 0; i < n; i++) {
            double lse = logsumexp(x, i * c, c);
            if (f == Softmax.Function.LOGSUMEXP) {
                out[i] = lse;
                continue;
            }
            for (int j = 0; j < c; j++) {
                double lp = x[i * c + j] - lse;
                out[i * c + j] = f == Softmax.Function.SOFTMAX ? Math.exp(lp) : lp;
            }
        }
        return out;
    }

    /** The scalar sum(gradOutput * f(x)), whose gradient w.r.t. x is the backward pass. */
    static double scalar(Softmax.Function f, double[] x, double[] gradOutput, int n, int c) {
        double[] y = forward(f, x, n, c);
        double s = 0;
        for (int k = 0; k < y.length; k++) s += gradOutput[k] * y[k];
        return s;
    }

    /** Analytic gradient of {@link #scalar} w.r.t. x. */
    static double[] backward(Softmax.Function f, double[] x, double[] gradOutput, int n, int c) {
        double[] g = new double[n * c];
        double[] p = forward(Softmax.Function.SOFTMAX, x, n, c);
        for (int i = 0; i < n; i++) {
            double dot = 0, sum = 0;
            for (int j = 0; j < c; j++) {
                int k = i * c + j;
                if (f != Softmax.Function.LOGSUMEXP) {
                    dot += gradOutput[k] * p[k];
                    sum += gradOutput[k];
                }
            }
            for (int j = 0; j < c; j++) {
                int k = i * c + j;
                g[k] = switch (f) {
                    case SOFTMAX -> p[k] * (gradOutput[k] - dot);
                    case LOG_SOFTMAX -> gradOutput[k] - p[k] * sum;
                    case LOGSUMEXP -> gradOutput[i] * p[k];
                };
            }
        }
        return g;
    }

    private static double logsumexp(double[] x, int from, int c) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (int j = 0; j < c; j++) max = Math.max(max, x[from + j]);
        for (int j = 0; j < c; j++) sum += Math.exp(x[from + j] - max);
        return max + Math.log(sum);
    }
}
