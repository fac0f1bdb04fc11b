package dev.jnce.testutil;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Element-wise comparisons with a tolerance relative to max(1, |expected|). */
public final class Approx {
    private Approx() {
    }

    /**
     * |actual - expected| <= tol * max(1, |expected|) everywhere; equal infinities and NaN
     * against NaN count as equal. The message names the worst index.
     */
    public static void assertClose(double[] expected, float[] actual, double tol, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        int worst = -1;
        double worstExcess = 0;
        for (int i = 0; i < expected.length; i++) {
            double err = Math.abs(actual[i] - expected[i]);
            boolean same = Double.compare(expected[i], actual[i]) == 0;
            double excess = err - tol * Math.max(1, Math.abs(expected[i]));
            if (!same && !(excess <= 0) && (worst < 0 || excess > worstExcess)) {
                worst = i;
                worstExcess = excess;
            }
        }
        if (worst >= 0) {
            throw new AssertionError(what + ": index " + worst + " expected " + expected[worst] + " got "
                    + actual[worst] + " (tolerance " + tol + ")");
        }
    }

    /** Widens floats to doubles. */
    public static double[] toDouble(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) d[i] = v[i];
        return d;
    }

    /**
     * Central finite differences of f at x, in double precision: df/dx[k] for every k.
     * f must be a function of the whole vector (it may be called with x modified in place).
     */
    public static double[] finiteDifferences(java.util.function.ToDoubleFunction<double[]> f, double[] x, double h) {
        double[] g = new double[x.length];
        for (int k = 0; k < x.length; k++) {
            double saved = x[k];
            x[k] = saved + h;
            double up = f.applyAsDouble(x);
            x[k] = saved - h;
            double down = f.applyAsDouble(x);
            x[k] = saved;
            g[k] = (up - down) / (2 * h);
        }
        return g;
    }
}
