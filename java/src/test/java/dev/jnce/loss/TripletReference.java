package dev.jnce.loss;

import dev.jnce.Reduction;

/** The triplet margin loss in float64, the reference the tests judge every backend by. */
final class TripletReference {
    private TripletReference() {
    }

    static double distance(double[] x1, double[] x2, int off, int d, boolean cosine, double p, double eps) {
        if (cosine) {
            double dot = 0, n1 = 0, n2 = 0;
            for (int j = off; j < off + d; j++) {
                dot += x1[j] * x2[j];
                n1 += x1[j] * x1[j];
                n2 += x2[j] * x2[j];
            }
            return 1 - dot / (Math.max(Math.sqrt(n1), eps) * Math.max(Math.sqrt(n2), eps));
        }
        double s = 0;
        for (int j = off; j < off + d; j++) s += Math.pow(Math.abs(x1[j] - x2[j] + eps), p);
        return Math.pow(s, 1 / p);
    }

    /** Row losses (NONE) or the reduced loss. */
    static double[] loss(double[] a, double[] pos, double[] neg, int n, int d, boolean cosine, double margin,
                         double p, double eps, boolean swap, Reduction reduction) {
        double[] rows = new double[n];
        for (int i = 0; i < n; i++) {
            double dn = distance(a, neg, i * d, d, cosine, p, eps);
            if (swap) dn = Math.min(dn, distance(pos, neg, i * d, d, cosine, p, eps));
            rows[i] = Math.max(margin + distance(a, pos, i * d, d, cosine, p, eps) - dn, 0);
        }
        if (reduction == Reduction.NONE) return rows;
        double total = 0;
        for (double r : rows) total += r;
        return new double[] {reduction == Reduction.MEAN ? total / n : total};
    }

    static double scalar(double[] a, double[] pos, double[] neg, int n, int d, boolean cosine, double margin,
                         double p, double eps, boolean swap, Reduction reduction) {
        double s = 0;
        for (double v : loss(a, pos, neg, n, d, cosine, margin, p, eps, swap, reduction)) s += v;
        return s;
    }
}
