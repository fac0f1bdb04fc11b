package dev.jnce.backend.java;

import dev.jnce.internal.LaneExp;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * exp and log on SIMD lanes from additions, multiplications, FMAs and bit operations only, the
 * schemes of native/src/cpu/simd_exp.h and simd_log.h. The Vector API's own EXP and LOG give
 * different bits before and after the JIT compiles a loop (a scalar fallback, then an intrinsic),
 * so a loss would not return the same value for the same input every time; these do.
 * Loaded only when the Vector API is present.
 */
final class VectorMath {
    private static final float ROUND_F = 12582912f;         // 1.5 * 2^23: x + ROUND - ROUND rounds to an integer
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Double> SD = DoubleVector.SPECIES_PREFERRED;

    private VectorMath() {
    }

    /** Nearest integer (ties to even) of |x| < 2^22, exactly. */
    private static FloatVector rint(FloatVector x) {
        return x.add(ROUND_F).sub(ROUND_F);
    }

    /**
     * 2^n for integral n in [-126, 127]: n + 2^23 + 127 holds n + 127 in its low mantissa bits,
     * which shift into the exponent field. No conversion between int and float lanes: a
     * conversion deep in an inlined call chain was left to the Vector API's fallback (boxed
     * vectors, several times slower) when C2 could not fold its species.
     */
    private static FloatVector pow2(FloatVector n) {
        return n.add(8388608f + 127f).reinterpretAsInts().lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
    }

    /** exp(x) for x in [-87, 0] (simd_exp.h's exp_in_range_avx2: Cephes, about 2 ulp). */
    static FloatVector expInRange(FloatVector x) {
        FloatVector n = rint(x.mul(1.44269504088896341f));
        FloatVector r = n.neg().fma(FloatVector.broadcast(x.species(), 0.693359375f), x);
        r = n.neg().fma(FloatVector.broadcast(x.species(), -2.12194440e-4f), r);
        FloatVector p = FloatVector.broadcast(x.species(), 1.9875691500e-4f);
        p = p.fma(r, FloatVector.broadcast(x.species(), 1.3981999507e-3f));
        p = p.fma(r, FloatVector.broadcast(x.species(), 8.3334519073e-3f));
        p = p.fma(r, FloatVector.broadcast(x.species(), 4.1665795894e-2f));
        p = p.fma(r, FloatVector.broadcast(x.species(), 1.6666665459e-1f));
        p = p.fma(r, FloatVector.broadcast(x.species(), 5.0000001201e-1f));
        p = p.fma(r.mul(r), r.add(1f));
        return p.mul(pow2(n));
    }

    /** exp(x) for x <= 0: 0 below -87 and for -Inf; NaN for NaN. */
    static FloatVector expNonpos(FloatVector x) {
        return expInRange(x.max(-87f)).blend(0f, x.compare(VectorOperators.LT, -87f)); // max keeps a NaN
    }

    /**
     * The sum of v's lanes in double, in a fixed pairwise order: the bits of
     * {@link #pairwise(float[])} over v's lanes (buf: scratch of v's length, used only where the
     * float lanes are not twice the double lanes). reduceLanes(ADD) leaves the order to the
     * implementation, and the JIT's order differs from the interpreter's, so the same call could
     * return other bits once its loop is compiled. In registers: each half of the lanes widened
     * to double, neighbours added first (lane i plus lane i + 1, then i + 2, ...), so that lane 0
     * of each half holds its pairwise sum, then the two halves; through memory (a store, a load a
     * lane) the same sum took about 7% of a {@code java} cross-entropy call at (32, 128) with
     * weights and smoothing (5.0 against 4.7 us, paired against {@code cpu}, ad-hoc).
     * v is first blended into a vector of the preferred species: after a loop, C2 may know v only
     * as a FloatVector, and then left its operations to the Vector API's boxing fallback
     * (PrintInlining: "failed to inline (intrinsic)"); the blend's result has the exact vector
     * class. v must be of the preferred species, as every caller's is.
     */
    static double sumLanes(FloatVector v, float[] buf) {
        FloatVector x = FloatVector.zero(S).blend(v, S.maskAll(true));
        if (!HALVES) {
            x.intoArray(buf, 0);
            return pairwise(buf);
        }
        DoubleVector lo = (DoubleVector) x.convertShape(VectorOperators.F2D, SD, 0);
        DoubleVector hi = (DoubleVector) x.convertShape(VectorOperators.F2D, SD, 1);
        for (VectorShuffle<Double> fold : NEIGHBOURS) {
            lo = lo.add(lo.rearrange(fold));
            hi = hi.add(hi.rearrange(fold));
        }
        return lo.lane(0) + hi.lane(0);
    }

    /** Whether the float lanes widen into two vectors of the preferred double species (true wherever both have the same bits). */
    private static final boolean HALVES = S.length() == 2 * SD.length();

    /** Lane i to lane (i + w) mod n for w = 1, 2, ..., n/2 over the double lanes: the neighbours' folds of {@link #sumLanes(FloatVector, float[])}. */
    private static final VectorShuffle<Double>[] NEIGHBOURS = neighbours();

    @SuppressWarnings("unchecked")
    private static VectorShuffle<Double>[] neighbours() {
        java.util.List<VectorShuffle<Double>> f = new java.util.ArrayList<>();
        for (int w = 1; w < SD.length(); w *= 2) f.add(VectorShuffle.iota(SD, w, 1, true));
        return f.toArray(new VectorShuffle[0]);
    }

    /**
     * The pairwise sum of a's elements in double, a's length a power of two (a vector's lanes):
     * neighbours first, then pairs of pairs. Unrolled for 16 and 8 lanes: the recursive form was
     * not inlined, and its 31 calls a sum took about 5% of a BCE call's profile.
     */
    static double pairwise(float[] a) {
        int n = a.length;
        if (n == 16) { // the AVX-512 case, unrolled
            double s0 = ((double) a[0] + a[1]) + ((double) a[2] + a[3]), s1 = ((double) a[4] + a[5]) + ((double) a[6] + a[7]);
            double s2 = ((double) a[8] + a[9]) + ((double) a[10] + a[11]), s3 = ((double) a[12] + a[13]) + ((double) a[14] + a[15]);
            return (s0 + s1) + (s2 + s3);
        }
        if (n == 8) return (((double) a[0] + a[1]) + ((double) a[2] + a[3])) + (((double) a[4] + a[5]) + ((double) a[6] + a[7]));
        double[] d = new double[n];
        for (int i = 0; i < n; i++) d[i] = a[i];
        for (int w = 1; w < n; w *= 2) {
            for (int i = 0; i + w < n; i += 2 * w) d[i] += d[i + w];
        }
        return d[0];
    }

    /** Lane i to lane (i + w) mod n, for w = n/2, n/4, ..., 1: the folds of {@link #sumLanes(DoubleVector)}. */
    private static final VectorShuffle<Double>[] FOLDS = folds();

    @SuppressWarnings("unchecked")
    private static VectorShuffle<Double>[] folds() {
        java.util.List<VectorShuffle<Double>> f = new java.util.ArrayList<>();
        for (int w = SD.length() / 2; w >= 1; w /= 2) f.add(VectorShuffle.iota(SD, w, 1, true));
        return f.toArray(new VectorShuffle[0]);
    }

    /**
     * The sum of v's double lanes, folded in halves in registers: lane i plus lane i + n/2, then
     * i + n/4, ..., in that fixed order (the same bits interpreted or compiled). v of the preferred
     * species. Through memory (v.toArray(), then a loop over the lanes) the store and eight
     * reloads took a fifth of a java InfoNCE call at (32, 128), in the rows' dot products.
     */
    static double sumLanes(DoubleVector v) {
        DoubleVector x = DoubleVector.zero(SD).blend(v, SD.maskAll(true));
        for (VectorShuffle<Double> fold : FOLDS) x = x.add(x.rearrange(fold));
        return x.lane(0);
    }

    /** log(x), about 1 ulp (simd_log.h's log_avx2): log 0 = -Inf, log +Inf = +Inf, x < 0 or NaN: NaN. */
    static FloatVector log(FloatVector x) {
        VectorMask<Float> subnormal = x.compare(VectorOperators.LT, 1.17549435e-38f);
        FloatVector xs = x.blend(x.mul(8388608f), subnormal);
        IntVector bits = xs.reinterpretAsInts();
        FloatVector e = exponent(bits).sub(FloatVector.zero(x.species()).blend(23f, subnormal));
        FloatVector r = logReduced(bits, e);
        r = r.blend(Float.NEGATIVE_INFINITY, x.compare(VectorOperators.EQ, 0f));
        r = r.blend(Float.POSITIVE_INFINITY, x.compare(VectorOperators.EQ, Float.POSITIVE_INFINITY));
        return r.blend(Float.NaN, x.compare(VectorOperators.GE, 0f).not()); // x < 0 or NaN
    }

    /** log(x) for x in [1, 2] (simd_log.h's log_1to2_avx2): none of log's special cases arise there; the same bits. */
    static FloatVector log1to2(FloatVector x) {
        IntVector bits = x.reinterpretAsInts();
        return logReduced(bits, exponent(bits));
    }

    /**
     * e of a normal x = m 2^(e - 1), m in [1/2, 1), from x's bits: the biased exponent b (below
     * 2^9) put in the mantissa of 2^23, then 2^23 + 126 taken away, exactly (as pow2, no
     * int-to-float conversion).
     */
    private static FloatVector exponent(IntVector bits) {
        return bits.lanewise(VectorOperators.LSHR, 23).or(0x4b000000).reinterpretAsFloats().sub(8388608f + 126f);
    }

    /** The part of log after the exponent e is taken (simd_log.h's log_reduced_avx2). */
    private static FloatVector logReduced(IntVector bits, FloatVector e) {
        FloatVector m = bits.and(0x007fffff).or(0x3f000000).reinterpretAsFloats(); // [1/2, 1)
        VectorMask<Float> low = m.compare(VectorOperators.LT, 0.707106781186547524f);
        e = e.sub(FloatVector.zero(m.species()).blend(1f, low));
        m = m.sub(1f).add(FloatVector.zero(m.species()).blend(m, low));
        FloatVector z = m.mul(m);
        FloatVector y = logPolynomial(m).mul(z);
        y = e.fma(FloatVector.broadcast(m.species(), -2.12194440e-4f), y);
        y = z.neg().fma(FloatVector.broadcast(m.species(), 0.5f), y);
        return e.fma(FloatVector.broadcast(m.species(), 0.693359375f), m.add(y));
    }

    /**
     * log's polynomial times m: p(m) m, Horner's scheme from the highest degree. A method of its
     * own so that log stays under the JIT's size limit for inlining a hot method (325 bytes of
     * bytecode): a call it does not inline passes its vectors boxed, several times slower.
     */
    private static FloatVector logPolynomial(FloatVector m) {
        FloatVector p = FloatVector.broadcast(m.species(), 7.0376836292e-2f);
        p = p.fma(m, FloatVector.broadcast(m.species(), -1.1514610310e-1f));
        p = p.fma(m, FloatVector.broadcast(m.species(), 1.1676998740e-1f));
        p = p.fma(m, FloatVector.broadcast(m.species(), -1.2420140846e-1f));
        p = p.fma(m, FloatVector.broadcast(m.species(), 1.4249322787e-1f));
        p = p.fma(m, FloatVector.broadcast(m.species(), -1.6668057665e-1f));
        p = p.fma(m, FloatVector.broadcast(m.species(), 2.0000714765e-1f));
        p = p.fma(m, FloatVector.broadcast(m.species(), -2.4999993993e-1f));
        p = p.fma(m, FloatVector.broadcast(m.species(), 3.3333331174e-1f));
        return p.mul(m);
    }

    /**
     * log(1 + e) for e in [0, 1], given r = 1 / (1 + e) rounded (simd_log.h's log1p_unit_avx2):
     * log(v) of v = 1 + e rounded, plus the correction (e - (v - 1)) r in one fused step.
     */
    static FloatVector log1pUnit(FloatVector e, FloatVector r) {
        FloatVector v = e.add(1f);
        return e.sub(v.sub(1f)).fma(r, log1to2(v));
    }

    /** log(1 - p) for p in [0, 1]: -Inf at p = 1, digits kept for small p. */
    static FloatVector log1m(FloatVector p) {
        FloatVector one = FloatVector.broadcast(p.species(), 1f), v = one.sub(p);
        FloatVector c = one.sub(v).sub(p); // exactly 0 for p >= 1/2 and p = 1
        return log(v).add(c.div(v.max(1.17549435e-38f)));
    }

    /**
     * log(x) on double lanes, x converted from float (simd_log.h's log_pd): s = (m-1)/(m+1),
     * log m = 2s (1 + s^2/3 + ... + s^12/13); within 2e-12 relative.
     */
    static DoubleVector log(DoubleVector x) {
        LongVector bits = x.reinterpretAsLongs();
        DoubleVector e = bits.lanewise(VectorOperators.LSHR, 52).or(0x4330000000000000L).reinterpretAsDoubles()
                .sub(4503599627370496d + 1022d); // as the float exponent, no long-to-double conversion
        DoubleVector m = bits.and(0x000fffffffffffffL).or(0x3fe0000000000000L).reinterpretAsDoubles();
        VectorMask<Double> low = m.compare(VectorOperators.LT, 0.70710678118654752440);
        e = e.sub(DoubleVector.zero(x.species()).blend(1, low));
        m = m.add(DoubleVector.zero(x.species()).blend(m, low));
        DoubleVector s = m.sub(1).div(m.add(1)), s2 = s.mul(s);
        DoubleVector p = DoubleVector.broadcast(x.species(), 1.0 / 13);
        for (int k = 11; k >= 1; k -= 2) p = p.fma(s2, DoubleVector.broadcast(x.species(), 1.0 / k));
        DoubleVector r = e.fma(DoubleVector.broadcast(x.species(), 0.69314718055994530942), s.add(s).mul(p));
        r = r.blend(Double.NEGATIVE_INFINITY, x.compare(VectorOperators.EQ, 0));
        r = r.blend(Double.POSITIVE_INFINITY, x.compare(VectorOperators.EQ, Double.POSITIVE_INFINITY));
        return r.blend(Double.NaN, x.compare(VectorOperators.GE, 0).not());
    }

    /** exp(x) on double lanes ({@link LaneExp#exp}). */
    static DoubleVector exp(DoubleVector x) {
        return LaneExp.exp(x);
    }
}
