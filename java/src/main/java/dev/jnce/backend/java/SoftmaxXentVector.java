package dev.jnce.backend.java;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * SIMD rows for {@link SoftmaxXent}: blocks of four vectors share one maximum, so the running
 * sum is rescaled only when a block raises the maximum. Loaded only when the Vector API is.
 */
final class SoftmaxXentVector {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    static final SoftmaxXent.RowKernel ROWS = SoftmaxXentVector::row;

    private SoftmaxXentVector() {
    }

    static String describe() {
        return S.vectorBitSize() + "-bit (" + S.length() + " lanes)";
    }

    static double row(MemorySegment x, long offset, int c, int target, MemorySegment grad, float scale) {
        final int lanes = S.length(), block = 4 * lanes;
        final int blockBound = c - c % block;
        float m = -Float.MAX_VALUE;
        double sum = 0;
        boolean bad = false;
        int j = 0;
        for (; j < blockBound; j += block) {
            long at = offset + 4L * j;
            FloatVector v0 = FloatVector.fromMemorySegment(S, x, at, ORDER);
            FloatVector v1 = FloatVector.fromMemorySegment(S, x, at + 4L * lanes, ORDER);
            FloatVector v2 = FloatVector.fromMemorySegment(S, x, at + 8L * lanes, ORDER);
            FloatVector v3 = FloatVector.fromMemorySegment(S, x, at + 12L * lanes, ORDER);
            float bm = v0.max(v1).max(v2.max(v3)).reduceLanes(VectorOperators.MAX); // NaN propagates
            if (!(bm <= Float.MAX_VALUE)) {
                bad = true;
                break;
            }
            if (bm > m) {
                sum *= Math.exp((double) m - bm);
                m = bm;
            }
            FloatVector vm = FloatVector.broadcast(S, m);
            FloatVector e = v0.sub(vm).lanewise(VectorOperators.EXP)
                    .add(v1.sub(vm).lanewise(VectorOperators.EXP))
                    .add(v2.sub(vm).lanewise(VectorOperators.EXP))
                    .add(v3.sub(vm).lanewise(VectorOperators.EXP));
            sum += e.reduceLanes(VectorOperators.ADD);
        }
        for (; j < c && !bad; j++) {
            float v = x.get(ValueLayout.JAVA_FLOAT, offset + 4L * j);
            bad = !(v <= Float.MAX_VALUE);
            if (v > m) {
                sum *= Math.exp((double) m - v);
                m = v;
            }
            sum += Math.exp((double) v - m);
        }
        float xt = x.get(ValueLayout.JAVA_FLOAT, offset + 4L * target);
        if (bad || sum == 0) return SoftmaxXent.badRow(grad, offset, c);
        if (grad != null) {
            float inv = (float) (scale / sum);
            FloatVector vm = FloatVector.broadcast(S, m), vinv = FloatVector.broadcast(S, inv);
            int bound = S.loopBound(c);
            int k = 0;
            for (; k < bound; k += lanes) {
                long at = offset + 4L * k;
                FloatVector.fromMemorySegment(S, x, at, ORDER).sub(vm).lanewise(VectorOperators.EXP).mul(vinv)
                        .intoMemorySegment(grad, at, ORDER);
            }
            for (; k < c; k++) {
                long at = offset + 4L * k;
                grad.set(ValueLayout.JAVA_FLOAT, at, (float) Math.exp(x.get(ValueLayout.JAVA_FLOAT, at) - m) * inv);
            }
            SoftmaxXent.subtractTarget(grad, offset, target, scale);
        }
        return (double) m - xt + Math.log(sum);
    }
}
