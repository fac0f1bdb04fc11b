package dev.jnce.loss;

import dev.jnce.Reduction;

/**
 * NT-Xent, the symmetric CLIP loss and the SigLIP loss in float64, straight from their
 * definitions: the reference the tests judge every backend by (and take finite differences of).
 * Each returns the per-row losses for NONE, else one reduced value.
 */
final class PairLossesReference {
    private PairLossesReference() {
    }

    /** NT-Xent over views (2N,D): row i's positive is row (i+N) mod 2N, the row itself is left out. */
    static double[] ntXent(double[] views, int rows, int d, double tau, boolean normalize, boolean decoupled,
                           Reduction reduction) {
        double[] z = prepared(views, rows, d, normalize);
        double[] loss = new double[rows];
        for (int i = 0; i < rows; i++) {
            int p = (i + rows / 2) % rows;
            double[] s = new double[rows];
            for (int j = 0; j < rows; j++) s[j] = dot(z, i, z, j, d) / tau;
            s[i] = Double.NEGATIVE_INFINITY;
            double positive = s[p];
            if (decoupled) s[p] = Double.NEGATIVE_INFINITY;
            loss[i] = logSumExp(s) - positive;
        }
        return reduce(loss, reduction);
    }

    /** CLIP: logits scale * â b̂ᵀ + bias, (CE over rows + CE over columns) / 2 with the pairs on the diagonal. */
    static double[] clip(double[] a, double[] b, int n, int d, double scale, double bias, boolean normalize,
                         Reduction reduction) {
        double[][] z = logits(a, b, n, d, scale, bias, normalize);
        double[] loss = new double[n];
        for (int i = 0; i < n; i++) {
            double[] column = new double[n];
            for (int j = 0; j < n; j++) column[j] = z[j][i];
            loss[i] = 0.5 * ((logSumExp(z[i]) - z[i][i]) + (logSumExp(column) - z[i][i]));
        }
        return reduce(loss, reduction);
    }

    /** SigLIP: sum_ij softplus(-label_ij z_ij), label +1 on the diagonal and -1 elsewhere; MEAN divides by N. */
    static double[] sigLip(double[] a, double[] b, int n, int d, double scale, double bias, boolean normalize,
                           Reduction reduction) {
        double[][] z = logits(a, b, n, d, scale, bias, normalize);
        double total = 0;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) total += softplus(i == j ? -z[i][j] : z[i][j]);
        }
        return new double[] {reduction == Reduction.MEAN ? total / n : total};
    }

    static double sum(double[] v) {
        double s = 0;
        for (double x : v) s += x;
        return s;
    }

    private static double[][] logits(double[] a, double[] b, int n, int d, double scale, double bias, boolean normalize) {
        double[] ah = prepared(a, n, d, normalize), bh = prepared(b, n, d, normalize);
        double[][] z = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) z[i][j] = scale * dot(ah, i, bh, j, d) + bias;
        }
        return z;
    }

    /** F.normalize(x, dim=1) (eps 1e-12), or x itself. */
    private static double[] prepared(double[] x, int rows, int d, boolean normalize) {
        if (!normalize) return x;
        double[] y = new double[x.length];
        for (int i = 0; i < rows; i++) {
            double norm = Math.max(Math.sqrt(dot(x, i, x, i, d)), 1e-12);
            for (int k = 0; k < d; k++) y[i * d + k] = x[i * d + k] / norm;
        }
        return y;
    }

    private static double dot(double[] x, int i, double[] y, int j, int d) {
        double s = 0;
        for (int k = 0; k < d; k++) s += x[i * d + k] * y[j * d + k];
        return s;
    }

    private static double logSumExp(double[] v) {
        double max = Double.NEGATIVE_INFINITY;
        for (double x : v) max = Math.max(max, x);
        double s = 0;
        for (double x : v) s += Math.exp(x - max);
        return max + Math.log(s);
    }

    /** log(1 + e^x) without overflow. */
    private static double softplus(double x) {
        return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
    }

    private static double[] reduce(double[] rows, Reduction reduction) {
        if (reduction == Reduction.NONE) return rows;
        double total = sum(rows);
        return new double[] {reduction == Reduction.MEAN ? total / rows.length : total};
    }
}
