package dev.jnce.internal;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * exp on double SIMD lanes from additions, multiplications, FMAs and bit operations only
 * (native/src/cpu/simd_log.h's exp_pd): the same bits whether or not the JIT has compiled the
 * loop, which the Vector API's own EXP does not promise. Loaded only when the JVM has
 * {@code jdk.incubator.vector} ({@link HostRetrieval} checks).
 */
public final class LaneExp {
    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    private static final double ROUND = 6755399441055744d; // 1.5 * 2^52: x + ROUND - ROUND rounds to an integer
    /** 1 / k! for k = 0..12, Taylor's coefficients. */
    private static final double[] INVERSE_FACTORIAL = inverseFactorials();

    private LaneExp() {
    }

    /** The lanes of a double vector here. */
    static int lanes() {
        return D.length();
    }

    private static double[] inverseFactorials() {
        double[] c = new double[13];
        double f = 1;
        for (int k = 0; k <= 12; k++) {
            if (k > 1) f *= k;
            c[k] = 1 / f;
        }
        return c;
    }

    /**
     * exp(x), about 1 ulp of double: x clamped to [-700, 700] and reduced to r = x - n ln 2 with
     * |r| &le; ln 2 / 2 (ln 2 in two parts), Taylor to degree 12 in r, times 2^n; NaN for NaN.
     */
    public static DoubleVector exp(DoubleVector x) {
        DoubleVector c = x.max(-700).min(700);
        DoubleVector n = c.mul(1.4426950408889634074).add(ROUND).sub(ROUND);
        DoubleVector r = n.neg().fma(DoubleVector.broadcast(x.species(), 6.93147180369123816490e-01), c);
        r = n.neg().fma(DoubleVector.broadcast(x.species(), 1.90821492927058770002e-10), r);
        DoubleVector p = DoubleVector.broadcast(x.species(), INVERSE_FACTORIAL[12]);
        for (int k = 11; k >= 0; k--) p = p.fma(r, DoubleVector.broadcast(x.species(), INVERSE_FACTORIAL[k]));
        return p.mul(pow2(n)).blend(Double.NaN, x.compare(VectorOperators.NE, x));
    }

    /** 2^n for integral n in [-1022, 1023]: n + 2^52 + 1023 holds n + 1023 in its low bits, shifted into the exponent. */
    private static DoubleVector pow2(DoubleVector n) {
        return n.add(4503599627370496d + 1023d).reinterpretAsLongs().lanewise(VectorOperators.LSHL, 52).reinterpretAsDoubles();
    }

    /**
     * e[j] = exp(z[j] - shift) for j &lt; n, exactly 0 where z[j] is -Infinity (a logit taken out);
     * returns their sum, lane by lane and then the lanes in order. lanes: scratch of
     * {@link #lanes()} doubles (Vector.toArray in a hot loop was left to the Vector API's
     * fallback once the loop was compiled again, four times slower).
     */
    static double shifted(double[] z, double shift, double[] e, int n, double[] lanes) {
        int w = D.length();
        DoubleVector total = DoubleVector.zero(D);
        for (int j = 0; j < n; j += w) {
            // exp written out here, not called: a call that C2 does not inline (it refuses one whose
            // compiled code is already large) passes its vectors boxed, ten times slower
            VectorMask<Double> in = D.indexInRange(j, n);
            DoubleVector v = DoubleVector.fromArray(D, z, j, in);
            DoubleVector c = v.sub(shift).max(-700).min(700);
            DoubleVector k = c.mul(1.4426950408889634074).add(ROUND).sub(ROUND);
            DoubleVector r = k.neg().fma(DoubleVector.broadcast(D, 6.93147180369123816490e-01), c);
            r = k.neg().fma(DoubleVector.broadcast(D, 1.90821492927058770002e-10), r);
            DoubleVector p = DoubleVector.broadcast(D, INVERSE_FACTORIAL[12]);
            for (int i = 11; i >= 0; i--) p = p.fma(r, DoubleVector.broadcast(D, INVERSE_FACTORIAL[i]));
            DoubleVector two = k.add(4503599627370496d + 1023d).reinterpretAsLongs().lanewise(VectorOperators.LSHL, 52)
                    .reinterpretAsDoubles();
            DoubleVector x = p.mul(two).blend(0, v.compare(VectorOperators.EQ, Double.NEGATIVE_INFINITY).or(in.not()));
            x.intoArray(e, j, in);
            total = total.add(x);
        }
        total.intoArray(lanes, 0);
        double sum = 0;
        for (double l : lanes) sum += l;
        return sum;
    }

    /** The largest of z[0..n), NaN if one is NaN (as Math.max); lanes as for shifted. */
    static double max(double[] z, int n, double[] lanes) {
        int w = D.length(), j = 0;
        DoubleVector best = DoubleVector.broadcast(D, Double.NEGATIVE_INFINITY);
        for (; j + w <= n; j += w) best = best.max(DoubleVector.fromArray(D, z, j));
        double max = Double.NEGATIVE_INFINITY;
        best.intoArray(lanes, 0);
        for (double l : lanes) max = Math.max(max, l);
        for (; j < n; j++) max = Math.max(max, z[j]);
        return max;
    }
}
