package dev.jnce.backend.java;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * SIMD {@link RowOps}: blocks of four vectors share one maximum, so the running sum is
 * rescaled only when a block raises the maximum. Loaded only when the Vector API is present.
 */
final class VectorRowOps extends RowOps {
    static final VectorRowOps INSTANCE = new VectorRowOps();
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, S.vectorShape());
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    /** Double lanes, and float lanes of the same count (half the bits) to load and store them. */
    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Float> HALF = VectorSpecies.of(float.class, VectorShape.forBitSize(D.vectorBitSize() / 2));

    static String describe() {
        return S.vectorBitSize() + "-bit (" + S.length() + " lanes)";
    }

    @Override
    Stats stats(MemorySegment x, long off, int c) {
        final int lanes = S.length(), block = 4 * lanes, bound = c - c % block;
        final float[] buf = new float[lanes];
        float m = -Float.MAX_VALUE;
        double sum = 0;
        FloatVector acc = FloatVector.zero(S); // exps since the last fold, all relative to m
        int pending = 0;
        int j = 0;
        while (j < bound) {
            // Blocks whose maximum is no higher than m need no rescale: they run in a loop with no call
            // in it (a call there, even a rare one, made C2 reload and spill at every step), up to the
            // next fold. A block that raises m, or holds NaN or +Inf, ends the loop and takes the step below.
            final int stop = Math.min(bound, j + (8 - pending) * block), from = j;
            final FloatVector vm = FloatVector.broadcast(S, m);
            for (; j < stop; j += block) {
                long at = off + 4L * j;
                FloatVector v0 = FloatVector.fromMemorySegment(S, x, at, ORDER);
                FloatVector v1 = FloatVector.fromMemorySegment(S, x, at + 4L * lanes, ORDER);
                FloatVector v2 = FloatVector.fromMemorySegment(S, x, at + 8L * lanes, ORDER);
                FloatVector v3 = FloatVector.fromMemorySegment(S, x, at + 12L * lanes, ORDER);
                float bm = v0.max(v1).max(v2.max(v3)).reduceLanes(VectorOperators.MAX); // NaN propagates
                if (!(bm <= m)) break;
                acc = acc.add(v0.sub(vm).lanewise(VectorOperators.EXP)
                        .add(v1.sub(vm).lanewise(VectorOperators.EXP))
                        .add(v2.sub(vm).lanewise(VectorOperators.EXP))
                        .add(v3.sub(vm).lanewise(VectorOperators.EXP)));
            }
            pending += (j - from) / block;
            if (j < stop) { // the block that ended the loop
                long at = off + 4L * j;
                FloatVector v0 = FloatVector.fromMemorySegment(S, x, at, ORDER);
                FloatVector v1 = FloatVector.fromMemorySegment(S, x, at + 4L * lanes, ORDER);
                FloatVector v2 = FloatVector.fromMemorySegment(S, x, at + 8L * lanes, ORDER);
                FloatVector v3 = FloatVector.fromMemorySegment(S, x, at + 12L * lanes, ORDER);
                float bm = v0.max(v1).max(v2.max(v3)).reduceLanes(VectorOperators.MAX);
                if (!(bm <= Float.MAX_VALUE)) return new Stats(m, sum, true);
                // bm > m here: bring the sum to the new maximum (a first block, or one right after a fold, has no
                // exps pending and, the first, no sum: both are skipped, the same bits as adding and scaling zeros)
                if (pending > 0) sum += VectorMath.sumLanes(acc, buf);
                if (sum != 0) sum *= Math.exp((double) m - bm);
                acc = FloatVector.zero(S);
                pending = 0;
                m = bm;
                FloatVector vb = FloatVector.broadcast(S, m);
                acc = acc.add(v0.sub(vb).lanewise(VectorOperators.EXP)
                        .add(v1.sub(vb).lanewise(VectorOperators.EXP))
                        .add(v2.sub(vb).lanewise(VectorOperators.EXP))
                        .add(v3.sub(vb).lanewise(VectorOperators.EXP)));
                pending++;
                j += block;
            }
            if (pending == 8) { // fold into double every 8 blocks: at most 32 terms a lane
                sum += VectorMath.sumLanes(acc, buf);
                acc = FloatVector.zero(S);
                pending = 0;
            }
        }
        if (pending > 0) sum += VectorMath.sumLanes(acc, buf);
        if (j == 0) return shortStats(x, off, c, buf);
        if (j == c) return new Stats(m, sum, false); // whole blocks only: a row of 64 floats took an empty tail's two sums and two exps
        Stats tail = shortStats(x, off + 4L * j, c - j, buf);
        if (tail.bad()) return tail;
        float max = Math.max(m, tail.max());
        return new Stats(max, sum * Math.exp((double) m - max) + tail.sum() * Math.exp((double) tail.max() - max), false);
    }

    @Override
    double dot(MemorySegment x, long off, MemorySegment w, int c) {
        final int lanes = S.length(), bound = c - c % (4 * lanes);
        final float[] buf = new float[lanes];
        double s = 0;
        int j = 0;
        while (j < bound) { // blocks of 64 vectors, each folded into double; no call inside the inner loop
            int end = Math.min(bound, j + 64 * lanes);
            FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0; // four chains: one alone waits on the FMA's latency
            for (; j < end; j += 4 * lanes) {
                a0 = term(x, off, w, j, a0);
                a1 = term(x, off, w, j + lanes, a1);
                a2 = term(x, off, w, j + 2 * lanes, a2);
                a3 = term(x, off, w, j + 3 * lanes, a3);
            }
            s += VectorMath.sumLanes(a0.add(a1).add(a2.add(a3)), buf);
        }
        for (; j < c; j++) s += (w == null ? 1f : w.getAtIndex(ValueLayout.JAVA_FLOAT, j)) * x.get(ValueLayout.JAVA_FLOAT, off + 4L * j);
        return s;
    }

    /** acc + w_j x_j on the lanes from j (w_j = 1 when w is null). */
    private static FloatVector term(MemorySegment x, long off, MemorySegment w, int j, FloatVector acc) {
        FloatVector v = FloatVector.fromMemorySegment(S, x, off + 4L * j, ORDER);
        return w == null ? acc.add(v) : FloatVector.fromMemorySegment(S, w, 4L * j, ORDER).fma(v, acc);
    }

    @Override
    double dotDouble(MemorySegment x, long xOff, MemorySegment y, long yOff, int c) {
        final int lanes = D.length(), bound = c - c % (2 * lanes);
        DoubleVector a0 = DoubleVector.zero(D), a1 = DoubleVector.zero(D);
        MemorySegment xs = x.asSlice(xOff), ys = y.asSlice(yOff);
        int j = 0;
        for (; j < bound; j += 2 * lanes) { // float pairs widened to double: products exact, as the scalar sum's
            a0 = loadDoubles(xs, j).fma(loadDoubles(ys, j), a0);
            a1 = loadDoubles(xs, j + lanes).fma(loadDoubles(ys, j + lanes), a1);
        }
        return VectorMath.sumLanes(a0.add(a1)) + super.dotDouble(x, xOff + 4L * j, y, yOff + 4L * j, c - j);
    }

    /**
     * stats of a row shorter than one block of four vectors (a whole short row, or a long row's
     * tail), a vector at a time under a mask: the maximum first, then the exponentials against it
     * ({@link VectorMath#expNonpos}, summed in float lanes, as the blocks' are). Scalar, the row of
     * a small call (the 128 classes of a focal loss split at the target, 32 keys) took a
     * Math.exp or two a value.
     */
    private static Stats shortStats(MemorySegment x, long off, int c, float[] buf) {
        final int lanes = S.length();
        FloatVector peak = FloatVector.broadcast(S, -Float.MAX_VALUE);
        boolean bad = false;
        for (int j = 0; j < c; j += lanes) {
            VectorMask<Float> in = S.indexInRange(j, c);
            FloatVector v = FloatVector.fromMemorySegment(S, x, off + 4L * j, ORDER, in);
            bad |= v.compare(VectorOperators.LE, Float.MAX_VALUE).not().and(in).anyTrue(); // NaN or +Inf
            peak = peak.max(v.blend(-Float.MAX_VALUE, in.not())); // the masked-off lanes read 0
        }
        float m = peak.reduceLanes(VectorOperators.MAX);
        if (bad) return new Stats(m, 0, true);
        FloatVector vm = FloatVector.broadcast(S, m), acc = FloatVector.zero(S);
        for (int j = 0; j < c; j += lanes) {
            VectorMask<Float> in = S.indexInRange(j, c);
            FloatVector v = FloatVector.fromMemorySegment(S, x, off + 4L * j, ORDER, in);
            acc = acc.add(VectorMath.expNonpos(v.sub(vm)).blend(0f, in.not()));
        }
        return new Stats(m, VectorMath.sumLanes(acc, buf), false);
    }

    @Override
    double squaredDistance(MemorySegment x1, long off1, MemorySegment x2, long off2, int c, double eps) {
        final int lanes = D.length(), bound = c - c % (2 * lanes);
        MemorySegment as = x1.asSlice(off1), bs = x2.asSlice(off2);
        DoubleVector s0 = DoubleVector.zero(D), s1 = DoubleVector.zero(D);
        int j = 0;
        for (; j < bound; j += 2 * lanes) {
            DoubleVector e0 = loadDoubles(as, j).sub(loadDoubles(bs, j)).add(eps);
            DoubleVector e1 = loadDoubles(as, j + lanes).sub(loadDoubles(bs, j + lanes)).add(eps);
            s0 = e0.fma(e0, s0);
            s1 = e1.fma(e1, s1);
        }
        return VectorMath.sumLanes(s0.add(s1)) + super.squaredDistance(x1, off1 + 4L * j, x2, off2 + 4L * j, c - j, eps);
    }

    @Override
    void distanceGradAdd(MemorySegment x1, MemorySegment x2, long off, int c, double eps, double u, MemorySegment g1,
                         MemorySegment g2) {
        final int lanes = D.length(), bound = c - c % lanes;
        MemorySegment as = x1.asSlice(off), bs = x2.asSlice(off), g1s = g1.asSlice(off), g2s = g2.asSlice(off);
        int j = 0;
        for (; j < bound; j += lanes) { // the scalar loop's operations in its order: the same bits
            FloatVector w = (FloatVector) loadDoubles(as, j).sub(loadDoubles(bs, j)).add(eps).mul(u)
                    .convertShape(VectorOperators.D2F, HALF, 0);
            FloatVector.fromMemorySegment(HALF, g1s, 4L * j, ORDER).add(w).intoMemorySegment(g1s, 4L * j, ORDER);
            FloatVector.fromMemorySegment(HALF, g2s, 4L * j, ORDER).sub(w).intoMemorySegment(g2s, 4L * j, ORDER);
        }
        super.distanceGradAdd(x1, x2, off + 4L * j, c - j, eps, u, g1, g2);
    }

    @Override
    double dotDouble(float[] x, int xo, float[] y, int yo, int c) {
        final int lanes = D.length(), bound = c - c % (2 * lanes);
        DoubleVector a0 = DoubleVector.zero(D), a1 = DoubleVector.zero(D);
        int j = 0;
        for (; j < bound; j += 2 * lanes) { // as the segment form: the same bits
            a0 = loadDoubles(x, xo + j).fma(loadDoubles(y, yo + j), a0);
            a1 = loadDoubles(x, xo + j + lanes).fma(loadDoubles(y, yo + j + lanes), a1);
        }
        return VectorMath.sumLanes(a0.add(a1)) + super.dotDouble(x, xo + j, y, yo + j, c - j);
    }

    @Override
    double dotDouble(float[] x, int xo, MemorySegment y, long yo, int c) {
        final int lanes = D.length(), bound = c - c % (2 * lanes);
        DoubleVector a0 = DoubleVector.zero(D), a1 = DoubleVector.zero(D);
        int j = 0;
        for (; j < bound; j += 2 * lanes) { // as the heap form: the same bits
            a0 = loadDoubles(x, xo + j).fma(loadDoubles(y, yo + j), a0);
            a1 = loadDoubles(x, xo + j + lanes).fma(loadDoubles(y, yo + j + lanes), a1);
        }
        return VectorMath.sumLanes(a0.add(a1)) + super.dotDouble(x, xo + j, y, yo + j, c - j);
    }

    /** The dot of x with itself, x's lanes loaded and widened once (twice through dotDouble): the same bits. */
    @Override
    double squaresDouble(float[] x, int xo, int c) {
        final int lanes = D.length(), bound = c - c % (2 * lanes);
        DoubleVector a0 = DoubleVector.zero(D), a1 = a0;
        int j = 0;
        for (; j < bound; j += 2 * lanes) {
            DoubleVector lo = loadDoubles(x, xo + j), hi = loadDoubles(x, xo + j + lanes);
            a0 = lo.fma(lo, a0);
            a1 = hi.fma(hi, a1);
        }
        return VectorMath.sumLanes(a0.add(a1)) + super.dotDouble(x, xo + j, x, xo + j, c - j);
    }

    /** x . x and x . y side by side, x's lanes loaded and widened once: the same bits as two dotDouble calls. */
    @Override
    void dotPairDouble(float[] x, float[] y, int o, int c, double[] out) {
        final int lanes = D.length(), bound = c - c % (2 * lanes);
        DoubleVector a0 = DoubleVector.zero(D), a1 = a0, b0 = a0, b1 = a0;
        int j = 0;
        for (; j < bound; j += 2 * lanes) {
            DoubleVector lo = loadDoubles(x, o + j), hi = loadDoubles(x, o + j + lanes);
            a0 = lo.fma(lo, a0);
            a1 = hi.fma(hi, a1);
            b0 = lo.fma(loadDoubles(y, o + j), b0);
            b1 = hi.fma(loadDoubles(y, o + j + lanes), b1);
        }
        out[0] = VectorMath.sumLanes(a0.add(a1)) + super.dotDouble(x, o + j, x, o + j, c - j);
        out[1] = VectorMath.sumLanes(b0.add(b1)) + super.dotDouble(x, o + j, y, o + j, c - j);
    }

    /** Four of the dot's chains side by side, x's lanes loaded once, y's rows from elements y0..y3: the same bits as four calls. */
    @Override
    void dotDouble4(float[] x, int xo, float[] y, int y0, int y1, int y2, int y3, int c, double[] out) {
        final int lanes = D.length(), bound = c - c % (2 * lanes);
        DoubleVector a0 = DoubleVector.zero(D), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, d0 = a0, d1 = a0;
        int j = 0;
        for (; j < bound; j += 2 * lanes) {
            DoubleVector lo = loadDoubles(x, xo + j), hi = loadDoubles(x, xo + j + lanes);
            a0 = lo.fma(loadDoubles(y, y0 + j), a0);
            a1 = hi.fma(loadDoubles(y, y0 + j + lanes), a1);
            b0 = lo.fma(loadDoubles(y, y1 + j), b0);
            b1 = hi.fma(loadDoubles(y, y1 + j + lanes), b1);
            c0 = lo.fma(loadDoubles(y, y2 + j), c0);
            c1 = hi.fma(loadDoubles(y, y2 + j + lanes), c1);
            d0 = lo.fma(loadDoubles(y, y3 + j), d0);
            d1 = hi.fma(loadDoubles(y, y3 + j + lanes), d1);
        }
        out[0] = VectorMath.sumLanes(a0.add(a1)) + super.dotDouble(x, xo + j, y, y0 + j, c - j);
        out[1] = VectorMath.sumLanes(b0.add(b1)) + super.dotDouble(x, xo + j, y, y1 + j, c - j);
        out[2] = VectorMath.sumLanes(c0.add(c1)) + super.dotDouble(x, xo + j, y, y2 + j, c - j);
        out[3] = VectorMath.sumLanes(d0.add(d1)) + super.dotDouble(x, xo + j, y, y3 + j, c - j);
    }

    @Override
    void combineDoubleInto(double a, float[] y, double b, float[] x, int o, int c, MemorySegment out, long outAt) {
        final int lanes = D.length(), bound = c - c % lanes;
        int j = 0;
        for (; j < bound; j += lanes) { // the scalar loop's operations in its order, no fused step: the same bits
            DoubleVector v = loadDoubles(y, o + j).mul(a).sub(loadDoubles(x, o + j).mul(b));
            ((FloatVector) v.convertShape(VectorOperators.D2F, HALF, 0)).intoMemorySegment(out, 4 * (outAt + j), NATIVE);
        }
        super.combineDoubleInto(a, y, b, x, o + j, c - j, out, outAt + j);
    }

    @Override
    void scaleInto(float[] x, int off, int c, float a, MemorySegment y, long yAt) {
        final int lanes = S.length(), bound = S.loopBound(c);
        int j = 0;
        for (; j < bound; j += lanes) FloatVector.fromArray(S, x, off + j).mul(a).intoMemorySegment(y, 4 * (yAt + j), NATIVE);
        super.scaleInto(x, off + j, c - j, a, y, yAt + j);
    }

    @Override
    void expScaledMinus(MemorySegment x, long off, int c, float max, float a, float k, MemorySegment w,
                        MemorySegment out, long outOff) {
        final int lanes = S.length(), bound = S.loopBound(c);
        FloatVector vm = FloatVector.broadcast(S, max), va = FloatVector.broadcast(S, a), vk = FloatVector.broadcast(S, k);
        int j = 0;
        for (; j < bound; j += lanes) {
            FloatVector e = FloatVector.fromMemorySegment(S, x, off + 4L * j, ORDER).sub(vm).lanewise(VectorOperators.EXP);
            FloatVector q = w == null ? vk : FloatVector.fromMemorySegment(S, w, 4L * j, ORDER).mul(vk);
            e.fma(va, q.neg()).intoMemorySegment(out, outOff + 4L * j, ORDER);
        }
        if (j < c) super.expScaledMinus(x, off + 4L * j, c - j, max, a, k, w == null ? null : w.asSlice(4L * j), out, outOff + 4L * j);
    }

    @Override
    Peak peak(MemorySegment x, long off, int c) {
        return peak(x, off, c, false, null);
    }

    @Override
    Peak peakDot(MemorySegment x, long off, int c, MemorySegment w) {
        return peak(x, off, c, true, w);
    }

    /**
     * The maximum and minimum as integers: a float's bits b, with b ^ ((b >> 31) & 0x7fffffff),
     * order as the floats do (-0 just below +0), NaNs beyond the infinities, so the lanes take
     * one integer max and one integer min each, two vectors a step with their own chains. A
     * float comparison into a mask a lane per rule (the maximum, the minimum, NaN) held the pass
     * to the comparisons' throughput (about 3.5 cycles a vector on Zen 5), and FloatVector.max
     * and min keep Math.max's rules for NaN and signed zeros, several dependent instructions a
     * lane on x86. A NaN is a key above +Inf's or below -Inf's; +Inf is bad too. With dot,
     * sum_j w_j x_j (w_j = 1 when w is null) rides on the same loads, in two chains folded into
     * double every 64 vectors.
     */
    private Peak peak(MemorySegment x, long off, int c, boolean dot, MemorySegment w) {
        final int lanes = S.length(), bound = c - c % (2 * lanes);
        final float[] buf = dot ? new float[lanes] : null;
        IntVector hi0 = IntVector.broadcast(I, key(-Float.MAX_VALUE)), hi1 = hi0;
        IntVector lo0 = IntVector.broadcast(I, key(Float.POSITIVE_INFINITY)), lo1 = lo0;
        double s = 0;
        int j = 0;
        while (j < bound) { // with dot, blocks of 64 vectors, each folded into double; no call inside the inner loop
            int end = dot ? Math.min(bound, j + 64 * lanes) : bound;
            FloatVector d0 = FloatVector.zero(S), d1 = d0;
            for (; j < end; j += 2 * lanes) {
                FloatVector v0 = FloatVector.fromMemorySegment(S, x, off + 4L * j, ORDER);
                FloatVector v1 = FloatVector.fromMemorySegment(S, x, off + 4L * (j + lanes), ORDER);
                IntVector k0 = sortable(v0), k1 = sortable(v1);
                hi0 = hi0.max(k0);
                hi1 = hi1.max(k1);
                lo0 = lo0.min(k0);
                lo1 = lo1.min(k1);
                if (dot) {
                    if (w == null) {
                        d0 = d0.add(v0);
                        d1 = d1.add(v1);
                    } else {
                        d0 = FloatVector.fromMemorySegment(S, w, 4L * j, ORDER).fma(v0, d0);
                        d1 = FloatVector.fromMemorySegment(S, w, 4L * (j + lanes), ORDER).fma(v1, d1);
                    }
                }
            }
            if (dot) s += VectorMath.sumLanes(d0.add(d1), buf);
        }
        int hk = hi0.max(hi1).reduceLanes(VectorOperators.MAX), lk = lo0.min(lo1).reduceLanes(VectorOperators.MIN);
        boolean bad = hk > key(Float.MAX_VALUE) || lk < key(Float.NEGATIVE_INFINITY); // +Inf, or NaN of either sign
        if (dot) {
            for (int k = j; k < c; k++) {
                s += (w == null ? 1f : w.getAtIndex(ValueLayout.JAVA_FLOAT, k)) * x.get(ValueLayout.JAVA_FLOAT, off + 4L * k);
            }
        }
        if (j == c) return new Peak(unkey(hk), unkey(lk), bad, s); // no tail: its call and its Peak cost a short row more than the lanes
        Peak tail = super.peak(x, off + 4L * j, c - j);
        return new Peak(Math.max(unkey(hk), tail.max()), Math.min(unkey(lk), tail.min()), tail.bad() || bad, s);
    }

    /** A float's bits as an int that orders as the float does (the map is its own inverse). */
    private static int key(float v) {
        int b = Float.floatToRawIntBits(v);
        return b ^ ((b >> 31) & 0x7fffffff);
    }

    private static float unkey(int k) {
        return Float.intBitsToFloat(k ^ ((k >> 31) & 0x7fffffff));
    }

    private static IntVector sortable(FloatVector v) {
        IntVector b = v.reinterpretAsInts();
        return b.lanewise(VectorOperators.XOR, b.lanewise(VectorOperators.ASHR, 31).lanewise(VectorOperators.AND, 0x7fffffff));
    }

    @Override
    double expInto(MemorySegment x, long off, int c, Peak p, MemorySegment out, long outOff) {
        // every x - max in [-87, 0] (the usual case): the exponential needs no clamp
        return p.min() - p.max() >= -87f ? expInto(x, off, c, p.max(), out, outOff, true) : expInto(x, off, c, p.max(), out, outOff);
    }

    @Override
    double expInto(MemorySegment x, long off, int c, float max, MemorySegment out, long outOff) {
        return expInto(x, off, c, max, out, outOff, false);
    }

    private double expInto(MemorySegment x, long off, int c, float max, MemorySegment out, long outOff, boolean inRange) {
        final int lanes = S.length(), bound = S.loopBound(c);
        final float[] buf = new float[lanes];
        FloatVector vm = FloatVector.broadcast(S, max);
        double sum = 0;
        int j = 0;
        while (j < bound) { // blocks of 128 vectors, each folded into double: at most 128 terms <= 1 a lane
            int end = Math.min(bound, j + 128 * lanes);
            FloatVector acc = FloatVector.zero(S);
            for (; j < end; j += lanes) { // no call inside: one would make C2 reload the segments' fields and spill each step
                FloatVector d = FloatVector.fromMemorySegment(S, x, off + 4L * j, ORDER).sub(vm);
                FloatVector e = inRange ? VectorMath.expInRange(d) : VectorMath.expNonpos(d);
                if (out != null) e.intoMemorySegment(out, outOff + 4L * j, ORDER);
                acc = acc.add(e);
            }
            sum += VectorMath.sumLanes(acc, buf);
        }
        return j == c ? sum : sum + super.expInto(x, off + 4L * j, c - j, max, out, outOff + 4L * j);
    }

    @Override
    void scaleMinus(MemorySegment out, long outOff, int c, float a, float k, MemorySegment w) {
        final int lanes = S.length(), bound = S.loopBound(c);
        FloatVector va = FloatVector.broadcast(S, a), vk = FloatVector.broadcast(S, k);
        int j = 0;
        for (; j < bound; j += lanes) {
            FloatVector q = w == null ? vk : FloatVector.fromMemorySegment(S, w, 4L * j, ORDER).mul(vk);
            FloatVector.fromMemorySegment(S, out, outOff + 4L * j, ORDER).fma(va, q.neg()).intoMemorySegment(out, outOff + 4L * j, ORDER);
        }
        if (j < c) super.scaleMinus(out, outOff + 4L * j, c - j, a, k, w == null ? null : w.asSlice(4L * j)); // no slice made for an empty tail
    }

    @Override
    void maxInto(MemorySegment x, long off, int from, int c, float[] acc) {
        final int lanes = S.length(), bound = from + S.loopBound(c - from);
        int j = from;
        for (; j < bound; j += lanes) {
            FloatVector.fromMemorySegment(S, x, off + 4L * j, ORDER).max(FloatVector.fromArray(S, acc, j)).intoArray(acc, j);
        }
        super.maxInto(x, off, j, c, acc);
    }

    @Override
    void sumExpInto(MemorySegment x, long off, int from, int c, float[] max, float[] acc) {
        final int lanes = S.length(), bound = from + S.loopBound(c - from);
        int j = from;
        for (; j < bound; j += lanes) {
            FloatVector e = FloatVector.fromMemorySegment(S, x, off + 4L * j, ORDER).sub(FloatVector.fromArray(S, max, j))
                    .lanewise(VectorOperators.EXP);
            e.add(FloatVector.fromArray(S, acc, j)).intoArray(acc, j);
        }
        super.sumExpInto(x, off, j, c, max, acc);
    }

    @Override
    void addExpScaled(MemorySegment x, long off, int from, int c, float[] max, float[] scale, MemorySegment out, long outOff) {
        final int lanes = S.length(), bound = from + S.loopBound(c - from);
        int j = from;
        for (; j < bound; j += lanes) {
            FloatVector e = FloatVector.fromMemorySegment(S, x, off + 4L * j, ORDER).sub(FloatVector.fromArray(S, max, j))
                    .lanewise(VectorOperators.EXP);
            e.fma(FloatVector.fromArray(S, scale, j), FloatVector.fromMemorySegment(S, out, outOff + 4L * j, ORDER))
                    .intoMemorySegment(out, outOff + 4L * j, ORDER);
        }
        super.addExpScaled(x, off, j, c, max, scale, out, outOff);
    }

    @Override
    void sigmoidPairs(MemorySegment x, long off, int from, int n, long i, float bias, MemorySegment g, long gOff,
                      double[] sums) {
        final int lanes = S.length(), bound = from + S.loopBound(n - from);
        final FloatVector vb = FloatVector.broadcast(S, bias), zero = FloatVector.zero(S), one = FloatVector.broadcast(S, 1f);
        final boolean diagonal = i >= from && i < bound;
        final float[] buf = new float[lanes];
        final double zi = diagonal ? x.get(ValueLayout.JAVA_FLOAT, off + 4L * i) + bias : 0; // read before g overwrites it
        int j = from;
        while (j < bound) { // blocks of 64 vectors, each folded into double; no call inside the inner loop
            int end = Math.min(bound, j + 64 * lanes);
            FloatVector lossAcc = zero, gradAcc = zero;
            for (; j < end; j += lanes) { // every pair as a negative; the diagonal one is mended below
                FloatVector z = FloatVector.fromMemorySegment(S, x, off + 4L * j, ORDER).add(vb);
                FloatVector e = z.abs().neg().lanewise(VectorOperators.EXP); // exp(-|z|): softplus and sigmoid from one exp
                FloatVector r = one.div(one.add(e));
                FloatVector sigmoid = r.blend(e.mul(r), z.compare(VectorOperators.LT, zero));
                lossAcc = lossAcc.add(z.max(zero).add(e.lanewise(VectorOperators.LOG1P)));
                gradAcc = gradAcc.add(sigmoid);
                if (g != null) sigmoid.intoMemorySegment(g, gOff + 4L * j, ORDER);
            }
            sums[0] += VectorMath.sumLanes(lossAcc, buf);
            sums[1] += VectorMath.sumLanes(gradAcc, buf);
        }
        if (diagonal) { // the positive: loss softplus(z) - z, gradient sigmoid(z) - 1
            sums[0] -= zi;
            sums[1] -= 1;
            if (g != null) g.set(ValueLayout.JAVA_FLOAT, gOff + 4L * i, (float) (BinaryElementwise.sigmoid(zi) - 1));
        }
        super.sigmoidPairs(x, off, j, n, i, bias, g, gOff, sums);
    }
    /**
     * The binary losses on float lanes, the formulas of native/src/cpu/binary_cross_entropy.h's
     * jnce_bce_logits8 and of bce_block_avx2 and sigmoid_focal_block_avx2: arranged so that no
     * step cancels (the loss terms are all >= 0), a few ulp an element, exp and log from
     * {@link VectorMath} (the same bits whether the JIT has compiled the loop or not); losses
     * summed in double per vector.
     */
    @Override
    long binaryBlock(int op, float[] params, MemorySegment xs, MemorySegment ys, long from, long to, float scale,
                     MemorySegment loss, MemorySegment gxs, MemorySegment gys, double[] sum) {
        if (op == BinaryElementwise.BCE) return bceBlock(xs, ys, from, to, scale, loss, gxs, gys, sum);
        final int lanes = S.length();
        final float[][] scratch = STEP_SCRATCH.get();
        final float[] es = scratch[0], rs = scratch[1], lgs = scratch[2], buf = new float[lanes];
        long k = from;
        double total = 0;
        while (k + lanes <= to) { // as bceBlock: the logarithm in a loop of its own
            int n = (int) Math.min(BCE_STEP, (to - k) / lanes * lanes);
            // es = exp(-|x|), then rs = 1 / (1 + es) and lgs = log(1 + es): each in a loop (and a
            // method) of its own, which the JIT compiles with its function inlined whole; both in one
            // compilation unit ran past C2's node budget, and the logarithm's vectors went boxed
            expTerms(xs, k, n, es);
            log1pTerms(es, n, rs, lgs);
            total += logitsRest(op, params, xs, ys, k, n, es, rs, lgs, scale, loss, gxs, gys, buf);
            k += n;
        }
        sum[0] += total;
        return k;
    }

    /** {@link RowOps#pairGradients} with a vector of dq in a register across the row's pairs (bpr.c's order, fused multiply-adds). */
    @Override
    void pairGradients(float[] q, int r, MemorySegment p, long pAt, MemorySegment n, long nAt, int k, int d, float[] g, int go,
                       float g0, MemorySegment dq, MemorySegment dp, long at2, MemorySegment dn, long at) {
        final int lanes = S.length(), whole = d - d % lanes, qo = r * d;
        final long vb = 4L * lanes, rowBytes = 4L * d, nb = 4L * nAt, pb = 4L * pAt, ob = 4L * at2, dnb = 4L * at;
        final FloatVector vg0 = FloatVector.broadcast(S, g0);
        int c = 0;
        // four blocks of columns side by side: four independent chains of multiply-adds (one
        // block's chain, k + 1 dependent steps, left the core waiting on each); each column's sum
        // in the same order
        for (; c + 4 * lanes <= whole; c += 4 * lanes) {
            FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
            FloatVector q0 = FloatVector.fromArray(S, q, qo + c), q1 = FloatVector.fromArray(S, q, qo + c + lanes);
            FloatVector q2 = FloatVector.fromArray(S, q, qo + c + 2 * lanes), q3 = FloatVector.fromArray(S, q, qo + c + 3 * lanes);
            long no = nb + 4L * c, to = dnb + 4L * c;
            for (int j = 0; j < k; j++, no += rowBytes, to += rowBytes) {
                FloatVector gj = FloatVector.broadcast(S, g[go + j]);
                a0 = gj.fma(FloatVector.fromMemorySegment(S, n, no, NATIVE), a0);
                a1 = gj.fma(FloatVector.fromMemorySegment(S, n, no + vb, NATIVE), a1);
                a2 = gj.fma(FloatVector.fromMemorySegment(S, n, no + 2 * vb, NATIVE), a2);
                a3 = gj.fma(FloatVector.fromMemorySegment(S, n, no + 3 * vb, NATIVE), a3);
                gj.mul(q0).intoMemorySegment(dn, to, NATIVE);
                gj.mul(q1).intoMemorySegment(dn, to + vb, NATIVE);
                gj.mul(q2).intoMemorySegment(dn, to + 2 * vb, NATIVE);
                gj.mul(q3).intoMemorySegment(dn, to + 3 * vb, NATIVE);
            }
            long po = pb + 4L * c, o = ob + 4L * c;
            vg0.fma(FloatVector.fromMemorySegment(S, p, po, NATIVE), a0).intoMemorySegment(dq, o, NATIVE);
            vg0.fma(FloatVector.fromMemorySegment(S, p, po + vb, NATIVE), a1).intoMemorySegment(dq, o + vb, NATIVE);
            vg0.fma(FloatVector.fromMemorySegment(S, p, po + 2 * vb, NATIVE), a2).intoMemorySegment(dq, o + 2 * vb, NATIVE);
            vg0.fma(FloatVector.fromMemorySegment(S, p, po + 3 * vb, NATIVE), a3).intoMemorySegment(dq, o + 3 * vb, NATIVE);
            vg0.mul(q0).intoMemorySegment(dp, o, NATIVE);
            vg0.mul(q1).intoMemorySegment(dp, o + vb, NATIVE);
            vg0.mul(q2).intoMemorySegment(dp, o + 2 * vb, NATIVE);
            vg0.mul(q3).intoMemorySegment(dp, o + 3 * vb, NATIVE);
        }
        for (; c < whole; c += lanes) {
            FloatVector acc = FloatVector.zero(S), qc = FloatVector.fromArray(S, q, qo + c);
            for (int j = 0; j < k; j++) {
                FloatVector gj = FloatVector.broadcast(S, g[go + j]);
                acc = gj.fma(FloatVector.fromMemorySegment(S, n, nb + j * rowBytes + 4L * c, NATIVE), acc);
                gj.mul(qc).intoMemorySegment(dn, dnb + j * rowBytes + 4L * c, NATIVE);
            }
            vg0.fma(FloatVector.fromMemorySegment(S, p, pb + 4L * c, NATIVE), acc).intoMemorySegment(dq, ob + 4L * c, NATIVE);
            vg0.mul(qc).intoMemorySegment(dp, ob + 4L * c, NATIVE);
        }
        RowOps.pairGradients(q, r, p, pAt, n, nAt, k, d, g, go, g0, dq, dp, at2, dn, at, whole);
    }

    /**
     * softplus and sigmoid on float lanes, jnce_bce_logits8's formulas at target 0 (as bpr.c takes
     * them): e = exp(-|x|) in a loop of its own, then r = 1 / (1 + e) and L = log(1 + e), then
     * softplus = max(x, 0) + L and sigmoid = r or e r; the last part of fewer than a vector in double.
     */
    @Override
    void softplusSigmoid(float[] x, int from, int n, float[] sp, float[] sig) {
        final int lanes = S.length(), whole = from + (n - from) / lanes * lanes;
        for (int t = from; t < whole; t += lanes) { // sig holds e until the last loop
            VectorMath.expNonpos(FloatVector.fromArray(S, x, t).abs().neg()).intoArray(sig, t);
        }
        final FloatVector one = FloatVector.broadcast(S, 1f);
        for (int t = from; t < whole; t += lanes) { // sp holds r until the last loop
            FloatVector e = FloatVector.fromArray(S, sig, t), r = one.div(one.add(e));
            r.intoArray(sp, t);
        }
        softplusSigmoidRest(x, from, whole, sp, sig);
        super.softplusSigmoid(x, whole, n, sp, sig);
    }

    private static void softplusSigmoidRest(float[] x, int from, int whole, float[] sp, float[] sig) {
        final FloatVector zero = FloatVector.zero(S);
        for (int t = from; t < whole; t += S.length()) {
            FloatVector v = FloatVector.fromArray(S, x, t), e = FloatVector.fromArray(S, sig, t), r = FloatVector.fromArray(S, sp, t);
            VectorMask<Float> nonneg = v.compare(VectorOperators.GE, zero), nan = v.compare(VectorOperators.NE, v);
            zero.blend(v, nonneg).add(VectorMath.log1pUnit(e, r)).blend(Float.NaN, nan).intoArray(sp, t);
            e.mul(r).blend(r, nonneg).blend(Float.NaN, nan).intoArray(sig, t);
        }
    }

    private static void expTerms(MemorySegment xs, long k, int n, float[] es) {
        for (int i = 0; i < n; i += S.length()) {
            VectorMath.expNonpos(FloatVector.fromMemorySegment(S, xs, 4L * (k + i), ORDER).abs().neg()).intoArray(es, PAD + i);
        }
    }

    private static void log1pTerms(float[] es, int n, float[] rs, float[] lgs) {
        final FloatVector one = FloatVector.broadcast(S, 1f);
        for (int i = 0; i < n; i += S.length()) {
            FloatVector e = FloatVector.fromArray(S, es, PAD + i), r = one.div(one.add(e));
            r.intoArray(rs, PAD + i);
            VectorMath.log1pUnit(e, r).intoArray(lgs, PAD + i);
        }
    }

    /** BCE with logits, or the sigmoid focal loss, for elements k .. k + n from expTerms and log1pTerms; returns their losses' sum. */
    private static double logitsRest(int op, float[] params, MemorySegment xs, MemorySegment ys, long k, int n, float[] es,
                                     float[] rs, float[] lgs, float scale, MemorySegment loss, MemorySegment gxs, MemorySegment gys,
                                     float[] buf) {
        final int lanes = S.length();
        final FloatVector one = FloatVector.broadcast(S, 1f), zero = FloatVector.zero(S);
        final float alpha = params == null ? -1 : params[0], gamma = params == null ? 0 : params[1];
        final boolean withAlpha = alpha >= 0;
        final FloatVector va = FloatVector.broadcast(S, alpha), vaNeg = FloatVector.broadcast(S, 1 - alpha);
        final FloatVector da = FloatVector.broadcast(S, withAlpha ? 2 * alpha - 1 : 0), g = FloatVector.broadcast(S, gamma);
        double total = 0;
        for (int i = 0; i < n; ) { // blocks of 8 vectors, each folded into double; no call inside the inner loop
            int end = Math.min(n, i + 8 * lanes);
            FloatVector acc = zero;
            for (; i < end; i += lanes) {
                long at = 4L * (k + i);
                FloatVector x = FloatVector.fromMemorySegment(S, xs, at, ORDER), y = FloatVector.fromMemorySegment(S, ys, at, ORDER);
                FloatVector yNeg = one.sub(y), l, dx, dy;
                FloatVector a = x.abs(), e = FloatVector.fromArray(S, es, PAD + i), lg = FloatVector.fromArray(S, lgs, PAD + i);
                FloatVector r = FloatVector.fromArray(S, rs, PAD + i), er = e.mul(r);
                VectorMask<Float> nonneg = x.compare(VectorOperators.GE, zero);
                FloatVector p = er.blend(r, nonneg), q = r.blend(er, nonneg);
                FloatVector ce = y.mul(a).blend(yNeg.mul(x), nonneg).add(lg); // (1-y)x or y|x|, plus log(1 + e)
                FloatVector dce = p.sub(y), dceY = x.neg();
                if (op == BinaryElementwise.BCE_LOGITS) {
                    l = ce;
                    dx = dce;
                    dy = dceY;
                } else {
                    FloatVector m = q.fma(y, p.mul(yNeg));
                    FloatVector mg = gamma == 2f ? m.mul(m) : gamma == 1f ? m : gamma == 0f ? one
                            : VectorMath.expNonpos(g.mul(VectorMath.log(m)));
                    FloatVector t = gamma == 0f ? zero
                            : one.blend(ce.div(m), m.compare(VectorOperators.GT, zero)).mul(g).mul(mg);
                    FloatVector aT = withAlpha ? va.mul(y).add(vaNeg.mul(yNeg)) : one;
                    FloatVector ceMg = ce.mul(mg);
                    l = aT.mul(ceMg);
                    dx = aT.mul(t.mul(yNeg.sub(y)).fma(p.mul(q), dce.mul(mg)));
                    dy = da.fma(ceMg, aT.mul(t.fma(q.sub(p), dceY.mul(mg))));
                }
                // a NaN logit: NaN throughout (expNonpos gives 0 for it)
                VectorMask<Float> nan = x.compare(VectorOperators.NE, x);
                l = l.blend(Float.NaN, nan);
                dx = dx.blend(Float.NaN, nan);
                dy = dy.blend(Float.NaN, nan);
                if (loss != null) l.intoMemorySegment(loss, at, ORDER);
                else acc = acc.add(l);
                if (gxs != null) dx.mul(scale).intoMemorySegment(gxs, at, ORDER);
                if (gys != null) dy.mul(scale).intoMemorySegment(gys, at, ORDER);
            }
            if (loss == null) total += VectorMath.sumLanes(acc, buf);
        }
        return total;
    }

    /** Elements a step of bceBlock and binaryBlock: two passes over them while they sit in L1. */
    private static final int BCE_STEP = 1024;

    /** Floats (64 bytes) kept unused at each end of a step array. */
    private static final int PAD = 16;

    /**
     * A thread's arrays for bceBlock and binaryBlock, three of BCE_STEP floats (made per block,
     * they were 12 KiB of garbage for every 4096 elements), each used from index PAD on with PAD
     * floats spare at both ends: long-lived, these arrays can land next to another thread's after
     * a collection, and a cache line written by both threads made some runs half again slower
     * than others (with objects aligned to 64 bytes, -XX:ObjectAlignmentInBytes=64, the spread
     * went away).
     */
    private static final ThreadLocal<float[][]> STEP_SCRATCH = ThreadLocal.withInitial(() -> new float[][] {
            new float[BCE_STEP + 2 * PAD], new float[BCE_STEP + 2 * PAD], new float[BCE_STEP + 2 * PAD]});


    /**
     * binaryBlock for BCE on probabilities. log p and log(1 - p) are taken in two loops of
     * their own (bceLogs, then bceRest), BCE_STEP elements at a time: with both logarithms in
     * one loop the JIT's node budget ran out before it inlined the second, whose vectors then
     * went boxed (twice the time).
     */
    private long bceBlock(MemorySegment xs, MemorySegment ys, long from, long to, float scale, MemorySegment loss,
                          MemorySegment gxs, MemorySegment gys, double[] sum) {
        final int lanes = S.length();
        final float[][] scratch = STEP_SCRATCH.get();
        final float[] logs = scratch[0], buf = new float[lanes];
        long k = from;
        double total = 0;
        while (k + lanes <= to) {
            int n = (int) Math.min(BCE_STEP, (to - k) / lanes * lanes);
            bceLogs(xs, k, n, logs);
            total += bceRest(xs, ys, k, n, logs, scale, loss, gxs, gys, buf);
            k += n;
        }
        sum[0] += total;
        return k;
    }

    /** logs[i] = log(x[k + i]) for i < n (a multiple of the lane count). */
    private static void bceLogs(MemorySegment xs, long k, int n, float[] logs) {
        for (int i = 0; i < n; i += S.length()) {
            VectorMath.log(FloatVector.fromMemorySegment(S, xs, 4L * (k + i), ORDER)).intoArray(logs, PAD + i);
        }
    }

    /** The rest of BCE for elements k .. k + n with log p in logs; returns their losses' sum (reduced forms). */
    private static double bceRest(MemorySegment xs, MemorySegment ys, long k, int n, float[] logs, float scale,
                                  MemorySegment loss, MemorySegment gxs, MemorySegment gys, float[] buf) {
        final FloatVector one = FloatVector.broadcast(S, 1f), zero = FloatVector.zero(S);
        final FloatVector floor = FloatVector.broadcast(S, -100f), tiny = FloatVector.broadcast(S, 1e-12f);
        final int lanes = S.length();
        double total = 0;
        for (int i = 0; i < n; ) { // blocks of 8 vectors, each folded into double; no call inside the inner loop
            int end = Math.min(n, i + 8 * lanes);
            FloatVector acc = zero;
            for (; i < end; i += lanes) {
                long at = 4L * (k + i);
                FloatVector x = FloatVector.fromMemorySegment(S, xs, at, ORDER), y = FloatVector.fromMemorySegment(S, ys, at, ORDER);
                FloatVector logP = FloatVector.fromArray(S, logs, PAD + i), log1mP = VectorMath.log1m(x);
                FloatVector l = y.mul(logP.max(floor)).add(one.sub(y).mul(log1mP.max(floor))).neg();
                if (loss != null) l.intoMemorySegment(loss, at, ORDER);
                else acc = acc.add(l);
                // (1 - p) p = p - p^2, rounded once
                if (gxs != null) x.sub(y).div(x.neg().fma(x, x).max(tiny)).mul(scale).intoMemorySegment(gxs, at, ORDER);
                if (gys != null) log1mP.sub(logP).mul(scale).intoMemorySegment(gys, at, ORDER);
            }
            if (loss == null) total += VectorMath.sumLanes(acc, buf);
        }
        return total;
    }
    private static DoubleVector loadDoubles(MemorySegment s, long k) {
        return (DoubleVector) FloatVector.fromMemorySegment(HALF, s, 4L * k, ORDER).convertShape(VectorOperators.F2D, D, 0);
    }

    private static DoubleVector loadDoubles(float[] a, int k) {
        return (DoubleVector) FloatVector.fromArray(HALF, a, k).convertShape(VectorOperators.F2D, D, 0);
    }

    /**
     * kl_scalar of native/src/cpu/divergence.c on double lanes, rounded once to float. The two
     * target forms loop in methods of their own: with exp and log inlined into one loop, the JIT's
     * node budget ran out before it inlined the stores, whose vectors then went boxed.
     */
    @Override
    long klBlock(MemorySegment xs, MemorySegment ts, long from, long to, boolean logTarget, double scale,
                 MemorySegment out, MemorySegment gxs, MemorySegment gts, double[] sum) {
        return logTarget ? klBlockLogTarget(xs, ts, from, to, scale, out, gxs, gts, sum)
                : klBlockProbabilities(xs, ts, from, to, scale, out, gxs, gts, sum);
    }

    private long klBlockLogTarget(MemorySegment xs, MemorySegment ts, long from, long to, double scale,
                                  MemorySegment out, MemorySegment gxs, MemorySegment gts, double[] sum) {
        final int lanes = D.length();
        final DoubleVector one = DoubleVector.broadcast(D, 1);
        DoubleVector total = DoubleVector.zero(D);
        long k = from;
        for (; k + lanes <= to; k += lanes) {
            DoubleVector x = loadDoubles(xs, k), t = loadDoubles(ts, k);
            DoubleVector e = VectorMath.exp(t), d = t.sub(x), l = e.mul(d);
            if (out != null) l.convertShape(VectorOperators.D2F, HALF, 0).intoMemorySegment(out, 4L * k, ORDER);
            total = total.add(l);
            if (gxs != null) e.neg().mul(scale).convertShape(VectorOperators.D2F, HALF, 0).intoMemorySegment(gxs, 4L * k, ORDER);
            if (gts != null) e.mul(d.add(one)).mul(scale).convertShape(VectorOperators.D2F, HALF, 0).intoMemorySegment(gts, 4L * k, ORDER);
        }
        sum[0] += VectorMath.sumLanes(total);
        return k;
    }

    private long klBlockProbabilities(MemorySegment xs, MemorySegment ts, long from, long to, double scale,
                                      MemorySegment out, MemorySegment gxs, MemorySegment gts, double[] sum) {
        final int lanes = D.length();
        final DoubleVector zero = DoubleVector.zero(D), one = DoubleVector.broadcast(D, 1), nan = DoubleVector.broadcast(D, Double.NaN);
        DoubleVector total = DoubleVector.zero(D);
        long k = from;
        for (; k + lanes <= to; k += lanes) {
            DoubleVector x = loadDoubles(xs, k), t = loadDoubles(ts, k);
            DoubleVector logT = VectorMath.log(t);
            VectorMask<Double> tZero = t.compare(VectorOperators.EQ, zero);
            DoubleVector l = t.mul(logT).blend(zero, tZero).sub(t.mul(x)); // 0 log 0 = 0
            if (out != null) l.convertShape(VectorOperators.D2F, HALF, 0).intoMemorySegment(out, 4L * k, ORDER);
            total = total.add(l);
            if (gxs != null) t.neg().mul(scale).convertShape(VectorOperators.D2F, HALF, 0).intoMemorySegment(gxs, 4L * k, ORDER);
            if (gts != null) { // PyTorch: xlogy's d/dy at 0 is 0/0
                logT.add(one).sub(x).blend(nan, tZero).mul(scale).convertShape(VectorOperators.D2F, HALF, 0)
                        .intoMemorySegment(gts, 4L * k, ORDER);
            }
        }
        sum[0] += VectorMath.sumLanes(total);
        return k;
    }

    /** dist_scalar of native/src/cpu/divergence.c on double lanes, rounded once to float. */
    @Override
    long distributionBlock(MemorySegment ps, MemorySegment qs, long from, long to, double s, MemorySegment gps,
                           MemorySegment gqs, double[] sum) {
        final int lanes = D.length();
        final DoubleVector zero = DoubleVector.zero(D), one = DoubleVector.broadcast(D, 1);
        DoubleVector total = DoubleVector.zero(D);
        long k = from;
        for (; k + lanes <= to; k += lanes) {
            DoubleVector p = loadDoubles(ps, k);
            VectorMask<Double> pZero = p.compare(VectorOperators.EQ, zero);
            if (qs == null) {
                DoubleVector lp = VectorMath.log(p);
                total = total.add(p.mul(lp).blend(zero, pZero));
                if (gps != null) lp.add(one).mul(-s).convertShape(VectorOperators.D2F, HALF, 0).intoMemorySegment(gps, 4L * k, ORDER); // +Inf at p = 0
            } else {
                DoubleVector q = loadDoubles(qs, k), lq = VectorMath.log(q);
                total = total.add(p.mul(lq).blend(zero, pZero));
                if (gps != null) lq.mul(-s).convertShape(VectorOperators.D2F, HALF, 0).intoMemorySegment(gps, 4L * k, ORDER);
                if (gqs != null) p.div(q).mul(-s).blend(zero, pZero).convertShape(VectorOperators.D2F, HALF, 0).intoMemorySegment(gqs, 4L * k, ORDER);
            }
        }
        sum[0] += VectorMath.sumLanes(total);
        return k;
    }
}
