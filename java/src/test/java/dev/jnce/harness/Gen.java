package dev.jnce.harness;

import java.util.List;
import java.util.SplittableRandom;

/**
 * The seeded random source of one fuzz case: case {@code i} of seed {@code s} draws from a stream
 * that depends on (s, i) alone, so that any case replays by itself
 * ({@code -Djnce.fuzz.seed=s -Djnce.fuzz.case=i}). Sizes favour the small (most cases must be
 * cheap), with 0, 1, primes and a few large-but-cheap dimensions.
 */
public final class Gen {
    private static final int[] SMALL = {1, 2, 3, 4, 5, 7, 8, 11, 13};
    private static final int[] LARGE = {17, 31, 64, 67, 127, 131, 257};

    private final SplittableRandom r;

    Gen(long seed, long index) {
        r = new SplittableRandom(mix(seed) ^ mix(index + 0x632BE59BD9B4E019L));
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    public int nextInt(int bound) {
        return r.nextInt(bound);
    }

    /** In [lo, hi]. */
    public int between(int lo, int hi) {
        return lo + r.nextInt(hi - lo + 1);
    }

    public boolean chance(double p) {
        return r.nextDouble() < p;
    }

    public double nextDouble() {
        return r.nextDouble();
    }

    public double gaussian() {
        return r.nextGaussian();
    }

    @SafeVarargs
    public final <T> T pick(T... options) {
        return options[r.nextInt(options.length)];
    }

    public <T> T pick(List<T> options) {
        return options.get(r.nextInt(options.size()));
    }

    /**
     * A dimension of at least {@code min}: mostly small (1..13, primes among them), sometimes
     * large-but-cheap (up to 257) when {@code large} allows it.
     */
    public int dim(int min, boolean large) {
        int d = large && chance(0.06) ? LARGE[r.nextInt(LARGE.length)] : SMALL[r.nextInt(SMALL.length)];
        return Math.max(min, d);
    }

    public int dim(int min) {
        return dim(min, true);
    }

    /** Gaussian values times a scale drawn from {1, 3, 10} (rarely 1e4: logits that only a shifted softmax survives). */
    public float[] gaussians(int count, boolean allowHuge) {
        double scale = allowHuge && chance(0.05) ? 1e4 : pick(1.0, 1.0, 3.0, 10.0);
        float[] x = new float[count];
        for (int i = 0; i < count; i++) x[i] = (float) (r.nextGaussian() * scale);
        return x;
    }

    /** Values uniform in [lo, hi). */
    public float[] uniform(int count, double lo, double hi) {
        float[] x = new float[count];
        for (int i = 0; i < count; i++) x[i] = (float) (lo + (hi - lo) * r.nextDouble());
        return x;
    }

    /** Rows of probability distributions, (n, c), each entry at least about floor / c. */
    public float[] distributions(int n, int c, double floor) {
        float[] p = new float[n * c];
        for (int i = 0; i < n; i++) {
            double[] row = new double[c];
            double s = 0;
            for (int j = 0; j < c; j++) s += row[j] = floor + r.nextDouble();
            for (int j = 0; j < c; j++) p[i * c + j] = (float) (row[j] / s);
        }
        return p;
    }

    /** Puts NaN, +Inf or -Inf at a few random places (one pattern per call). */
    public String poison(float[] x) {
        if (x.length == 0) return "none";
        String pattern = pick("nan", "+inf", "-inf", "mixed", "row-of-neg-inf");
        int count = 1 + r.nextInt(Math.min(3, x.length));
        for (int k = 0; k < count; k++) {
            int i = r.nextInt(x.length);
            x[i] = switch (pattern) {
                case "nan" -> Float.NaN;
                case "+inf" -> Float.POSITIVE_INFINITY;
                case "-inf", "row-of-neg-inf" -> Float.NEGATIVE_INFINITY;
                default -> pick(Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY);
            };
        }
        return pattern + "x" + count;
    }

    /** Sets every entry of row {@code row} of width {@code c} to v. */
    public static void fillRow(float[] x, int row, int c, float v) {
        for (int j = 0; j < c; j++) x[row * c + j] = v;
    }

    /** A float option value that breaks a "finite and > 0" or "finite and >= 0" rule. */
    public float badPositive(boolean zeroAllowed) {
        return zeroAllowed ? pick(Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -1f, -Float.MIN_VALUE)
                : pick(Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -1f, 0f, -0f, -Float.MIN_VALUE);
    }

    public long[] longs(int count, long lo, long hiExclusive) {
        long[] v = new long[count];
        for (int i = 0; i < count; i++) v[i] = lo + (long) (r.nextDouble() * (hiExclusive - lo));
        return v;
    }
}
