package dev.jnce.internal;

import dev.jnce.Tensor;
import dev.jnce.backend.DivergenceKernels.RowFault;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code DivergenceKernels.firstNonDistribution} on host memory, for the cpu and java backends:
 * rows in parallel, each checked (entries finite and >= 0, the sum in double within the tolerance
 * of 1) on SIMD lanes straight from the tensor's memory where the Vector API is present, else
 * copied to the heap and checked there; the first bad row is then described by the heap check.
 */
public final class DistributionScan {
    private DistributionScan() {
    }

    /** The first row of the (N,C) float32 tensor that is not a distribution, or null. */
    public static RowFault firstNonDistribution(Tensor rows, double tolerance) {
        MemorySegment s = rows.segment();
        long n = rows.size(0);
        int c = Math.toIntExact(rows.size(1));
        if (ValueScan.onLanes()) { // straight from the tensor's memory, no heap copy
            AtomicLong first = new AtomicLong(Long.MAX_VALUE);
            Parallel.forRange(n, Math.max(1, 65536 / c), (begin, end) -> {
                for (long i = begin; i < end; i++) {
                    if (!(Math.abs(VectorScan.sumNonNegative(s, i * c, (i + 1) * c) - 1) <= tolerance)) {
                        first.accumulateAndGet(i, Math::min);
                        return; // slices are contiguous and in order: nothing later in this one can be first
                    }
                }
            });
            long i = first.get();
            if (i == Long.MAX_VALUE) return null;
            RowFault f = fault(row(s, i, c), i, tolerance);
            if (f != null) return f;
            // the lanes' sum and the heap's differ in the last bits at the tolerance's edge: the heap decides
        }
        AtomicLong first = new AtomicLong(Long.MAX_VALUE);
        Parallel.forRange(n, Math.max(1, 65536 / c), (begin, end) -> {
            float[] row = new float[c];
            for (long i = begin; i < end; i++) {
                MemorySegment.copy(s, ValueLayout.JAVA_FLOAT, 4 * i * c, row, 0, c);
                if (fault(row, i, tolerance) != null) {
                    first.accumulateAndGet(i, Math::min);
                    return; // slices are contiguous and in order: nothing later in this one can be first
                }
            }
        });
        long i = first.get();
        return i == Long.MAX_VALUE ? null : fault(row(s, i, c), i, tolerance);
    }

    private static float[] row(MemorySegment s, long i, int c) {
        float[] row = new float[c];
        MemorySegment.copy(s, ValueLayout.JAVA_FLOAT, 4 * i * c, row, 0, c);
        return row;
    }

    private static RowFault fault(float[] row, long i, double tolerance) {
        // four partial sums and no branch in the loop (one dependent double add per value took
        // longer than the entropy kernel itself); the first bad value is searched only if there is one
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        boolean ok = true;
        int j = 0;
        for (; j + 4 <= row.length; j += 4) {
            float a = row[j], b = row[j + 1], c = row[j + 2], d = row[j + 3];
            ok &= a >= 0 & a != Float.POSITIVE_INFINITY & b >= 0 & b != Float.POSITIVE_INFINITY
                    & c >= 0 & c != Float.POSITIVE_INFINITY & d >= 0 & d != Float.POSITIVE_INFINITY;
            s0 += a;
            s1 += b;
            s2 += c;
            s3 += d;
        }
        for (; j < row.length; j++) {
            ok &= row[j] >= 0 & row[j] != Float.POSITIVE_INFINITY;
            s0 += row[j];
        }
        if (!ok) {
            for (int k = 0; k < row.length; k++) {
                float v = row[k];
                if (!(v >= 0) || v == Float.POSITIVE_INFINITY) return new RowFault(i, k, v);
            }
        }
        double sum = (s0 + s1) + (s2 + s3);
        return Math.abs(sum - 1) <= tolerance ? null : new RowFault(i, -1, sum);
    }
}
