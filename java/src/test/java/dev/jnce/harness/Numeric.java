package dev.jnce.harness;

import dev.jnce.Reduction;

import java.util.function.ToDoubleFunction;

/** Float64 helpers the families' references share: widening, reductions and finite differences. */
public final class Numeric {
    private Numeric() {
    }

    public static double[] toDouble(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) d[i] = v[i];
        return d;
    }

    public static double sum(double[] v) {
        double s = 0;
        for (double x : v) s += x;
        return s;
    }

    public static boolean allFinite(float[] v) {
        for (float x : v) if (!Float.isFinite(x)) return false;
        return true;
    }

    /** Per-element (or per-row) values reduced as a loss tensor holds them: all for NONE, else the sum or the mean over {@code count}. */
    public static double[] reduce(double[] values, Reduction reduction, double count) {
        if (reduction == Reduction.NONE) return values;
        double s = sum(values);
        return new double[] {reduction == Reduction.SUM ? s : s / count};
    }

    /** The scale of the gradient of a reduced loss: 1/count for MEAN, else 1 (NONE: the gradient of the sum). */
    public static double scale(Reduction reduction, double count) {
        return reduction == Reduction.MEAN ? 1 / count : 1;
    }

    /** Central differences of f at x, in double, for the indices given (all when null). */
    public static double[] gradient(ToDoubleFunction<double[]> f, double[] x, int[] indices) {
        int count = indices == null ? x.length : indices.length;
        double[] g = new double[count];
        for (int k = 0; k < count; k++) {
            int i = indices == null ? k : indices[k];
            double saved = x[i], h = 1e-5 * Math.max(1, Math.abs(saved));
            x[i] = saved + h;
            double up = f.applyAsDouble(x);
            x[i] = saved - h;
            double down = f.applyAsDouble(x);
            x[i] = saved;
            g[k] = (up - down) / (2 * h);
        }
        return g;
    }

    /**
     * The derivative of a function of one variable defined on [lo, hi]: central differences
     * inside, one-sided ones at the ends.
     */
    public static double derivative(java.util.function.DoubleUnaryOperator f, double x, double lo, double hi) {
        double h = 1e-6 * Math.max(1, Math.abs(x));
        double up = Math.min(hi, x + h), down = Math.max(lo, x - h);
        return (f.applyAsDouble(up) - f.applyAsDouble(down)) / (up - down);
    }

    /** Up to {@code max} distinct indices into an array of this length (all of them, in order, when it is short). */
    public static int[] sample(Gen g, int length, int max) {
        if (length <= max) {
            int[] all = new int[length];
            for (int i = 0; i < length; i++) all[i] = i;
            return all;
        }
        int[] idx = new int[max];
        java.util.Set<Integer> seen = new java.util.HashSet<>();
        for (int k = 0; k < max; k++) {
            int i;
            do {
                i = g.nextInt(length);
            } while (!seen.add(i));
            idx[k] = i;
        }
        return idx;
    }

    /**
     * As {@link #sample}, over the entries of rows (of width d) whose L2 norm is at least
     * minNorm: finite differences through a normalisation are meaningless next to a zero row.
     */
    public static int[] sampleRows(Gen g, double[] x, int d, int max, double minNorm) {
        java.util.List<Integer> ok = new java.util.ArrayList<>();
        for (int r = 0; r < x.length / d; r++) {
            double s = 0;
            for (int j = 0; j < d; j++) s += x[r * d + j] * x[r * d + j];
            if (Math.sqrt(s) >= minNorm) for (int j = 0; j < d; j++) ok.add(r * d + j);
        }
        int[] pick = sample(g, ok.size(), max);
        int[] idx = new int[pick.length];
        for (int k = 0; k < pick.length; k++) idx[k] = ok.get(pick[k]);
        return idx;
    }

    /** A reduction every loss takes. */
    public static Reduction reduction(Gen g) {
        return g.pick(Reduction.NONE, Reduction.MEAN, Reduction.SUM);
    }

    public static long[] shape(long... dims) {
        return dims;
    }
}
