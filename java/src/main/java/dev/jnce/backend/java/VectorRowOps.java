package dev.jnce.backend.java;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
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
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();

    static String describe() {
        return S.vectorBitSize() + "-bit (" + S.length() + " lanes)";
    }

    @Override
    Stats stats(MemorySegment x, long off, int c) {
        final int lanes = S.length(), block = 4 * lanes, bound = c - c % block;
        float m = -Float.MAX_VALUE;
        double sum = 0;
        int j = 0;
        for (; j < bound; j += block) {
            long at = off + 4L * j;
            FloatVector v0 = FloatVector.fromMemorySegment(S, x, at, ORDER);
            FloatVector v1 = FloatVector.fromMemorySegment(S, x, at + 4L * lanes, ORDER);
            FloatVector v2 = FloatVector.fromMemorySegment(S, x, at + 8L * lanes, ORDER);
            FloatVector v3 = FloatVector.fromMemorySegment(S, x, at + 12L * lanes, ORDER);
            float bm = v0.max(v1).max(v2.max(v3)).reduceLanes(VectorOperators.MAX); // NaN propagates
            if (!(bm <= Float.MAX_VALUE)) return new Stats(m, sum, true);
            if (bm > m) {
                sum *= Math.exp((double) m - bm);
                m = bm;
            }
            FloatVector vm = FloatVector.broadcast(S, m);
            sum += v0.sub(vm).lanewise(VectorOperators.EXP)
                    .add(v1.sub(vm).lanewise(VectorOperators.EXP))
                    .add(v2.sub(vm).lanewise(VectorOperators.EXP))
                    .add(v3.sub(vm).lanewise(VectorOperators.EXP)).reduceLanes(VectorOperators.ADD);
        }
        Stats tail = super.stats(x, off + 4L * j, c - j);
        if (tail.bad()) return tail;
        float max = Math.max(m, tail.max());
        return new Stats(max, sum * Math.exp((double) m - max) + tail.sum() * Math.exp((double) tail.max() - max), false);
    }

    @Override
    double dot(MemorySegment x, long off, MemorySegment w, int c) {
        final int lanes = S.length(), bound = S.loopBound(c);
        FloatVector acc = FloatVector.zero(S);
        double s = 0;
        int j = 0;
        for (; j < bound; j += lanes) {
            FloatVector v = FloatVector.fromMemorySegment(S, x, off + 4L * j, ORDER);
            acc = w == null ? acc.add(v) : FloatVector.fromMemorySegment(S, w, 4L * j, ORDER).fma(v, acc);
            if ((j / lanes & 63) == 63) { // fold into double every 64 vectors
                s += acc.reduceLanes(VectorOperators.ADD);
                acc = FloatVector.zero(S);
            }
        }
        s += acc.reduceLanes(VectorOperators.ADD);
        for (; j < c; j++) s += (w == null ? 1f : w.getAtIndex(ValueLayout.JAVA_FLOAT, j)) * x.get(ValueLayout.JAVA_FLOAT, off + 4L * j);
        return s;
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
        super.expScaledMinus(x, off + 4L * j, c - j, max, a, k, w == null ? null : w.asSlice(4L * j), out, outOff + 4L * j);
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
        final double zi = diagonal ? x.get(ValueLayout.JAVA_FLOAT, off + 4L * i) + bias : 0; // read before g overwrites it
        FloatVector lossAcc = zero, gradAcc = zero;
        int j = from;
        for (; j < bound; j += lanes) { // every pair as a negative; the diagonal one is mended below
            FloatVector z = FloatVector.fromMemorySegment(S, x, off + 4L * j, ORDER).add(vb);
            FloatVector e = z.abs().neg().lanewise(VectorOperators.EXP); // exp(-|z|): softplus and sigmoid from one exp
            FloatVector r = one.div(one.add(e));
            FloatVector sigmoid = r.blend(e.mul(r), z.compare(VectorOperators.LT, zero));
            lossAcc = lossAcc.add(z.max(zero).add(e.lanewise(VectorOperators.LOG1P)));
            gradAcc = gradAcc.add(sigmoid);
            if (g != null) sigmoid.intoMemorySegment(g, gOff + 4L * j, ORDER);
            if (((j - from) / lanes & 63) == 63) { // fold into double every 64 vectors
                sums[0] += lossAcc.reduceLanes(VectorOperators.ADD);
                sums[1] += gradAcc.reduceLanes(VectorOperators.ADD);
                lossAcc = gradAcc = zero;
            }
        }
        sums[0] += lossAcc.reduceLanes(VectorOperators.ADD);
        sums[1] += gradAcc.reduceLanes(VectorOperators.ADD);
        if (diagonal) { // the positive: loss softplus(z) - z, gradient sigmoid(z) - 1
            sums[0] -= zi;
            sums[1] -= 1;
            if (g != null) g.set(ValueLayout.JAVA_FLOAT, gOff + 4L * i, (float) (BinaryElementwise.sigmoid(zi) - 1));
        }
        super.sigmoidPairs(x, off, j, n, i, bias, g, gOff, sums);
    }
}
