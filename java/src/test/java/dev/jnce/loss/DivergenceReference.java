package dev.jnce.loss;

import dev.jnce.Reduction;
import java.util.SplittableRandom;

/**
 * KL divergence, entropy, cross-entropy of distributions and perplexity in float64: the
 * reference the divergence tests judge every backend by, with the random inputs they share.
 * Each {@code *Scalar} function is the scalar whose gradient the kernels return (for NONE, the
 * sum of the outputs), for finite differences.
 */
final class DivergenceReference {
    private DivergenceReference() {
    }

    /** F.kl_div's pointwise values. */
    static double[] klPointwise(double[] x, double[] t, boolean logTarget) {
        double[] l = new double[x.length];
        for (int k = 0; k < x.length; k++) {
            l[k] = logTarget ? Math.exp(t[k]) * (t[k] - x[k]) : (t[k] == 0 ? 0 : t[k] * Math.log(t[k])) - t[k] * x[k];
        }
        return l;
    }

    /** The reduced KL divergence (the sum for NONE); n is input.size(0). */
    static double klScalar(double[] x, double[] t, boolean logTarget, Reduction reduction, long n) {
        return sum(klPointwise(x, t, logTarget)) * klScale(reduction, n, x.length);
    }

    static double klScale(Reduction reduction, long n, long count) {
        return switch (reduction) {
            case NONE, SUM -> 1.0;
            case MEAN -> 1.0 / count;
            case BATCHMEAN -> 1.0 / n;
        };
    }

    /** Row entropies of (N,C) probabilities, 0 log 0 = 0. */
    static double[] entropyRows(double[] p, int n, int c) {
        return crossRows(p, p, n, c);
    }

    /** Row cross-entropies -sum p log q, 0 where p = 0. */
    static double[] crossRows(double[] p, double[] q, int n, int c) {
        double[] h = new double[n];
        for (int k = 0; k < n * c; k++) {
            if (p[k] != 0) h[k / c] -= p[k] * Math.log(q[k]);
        }
        return h;
    }

    /** The reduced row losses (the sum for NONE). */
    static double rowScalar(double[] rows, Reduction reduction) {
        return reduction == Reduction.MEAN ? sum(rows) / rows.length : sum(rows);
    }

    /** exp(mean of the kept losses); NaN when none is kept. */
    static double perplexity(double[] losses, boolean[] keep) {
        double s = 0;
        int count = 0;
        for (int k = 0; k < losses.length; k++) {
            if (keep[k]) {
                s += losses[k];
                count++;
            }
        }
        return Math.exp(s / count);
    }

    static double sum(double[] v) {
        double s = 0;
        for (double x : v) s += x;
        return s;
    }

    /** n rows of c probabilities, each at least about 0.05 / c (away from the p = 0 boundary). */
    static float[] distributions(int n, int c, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] p = new float[n * c];
        for (int i = 0; i < n; i++) {
            double[] row = random.doubles(c, 0.05, 1.0).toArray();
            double s = sum(row);
            for (int j = 0; j < c; j++) p[i * c + j] = (float) (row[j] / s);
        }
        return p;
    }

    /** Element-wise natural logarithm, rounded to float. */
    static float[] log(float[] p) {
        float[] out = new float[p.length];
        for (int k = 0; k < p.length; k++) out[k] = (float) Math.log(p[k]);
        return out;
    }
}
