package dev.jnce.internal;

import dev.jnce.Tensor;
import dev.jnce.backend.DivergenceKernels.RowFault;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code DivergenceKernels.firstNonDistribution} on host memory, for the cpu and java backends:
 * rows in parallel, each copied to the heap and checked there (entries finite and >= 0, the sum
 * in double within the tolerance of 1); the first bad row is then described.
 */
public final class DistributionScan {
    private DistributionScan() {
    }

    /** The first row of the (N,C) float32 tensor that is not a distribution, or null. */
    public static RowFault firstNonDistribution(Tensor rows, double tolerance) {
        MemorySegment s = rows.segment();
        long n = rows.size(0);
        int c = Math.toIntExact(rows.size(1));
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
        if (i == Long.MAX_VALUE) return null;
        float[] row = new float[c];
        MemorySegment.copy(s, ValueLayout.JAVA_FLOAT, 4 * i * c, row, 0, c);
        return fault(row, i, tolerance);
    }

    private static RowFault fault(float[] row, long i, double tolerance) {
        double sum = 0;
        for (int j = 0; j < row.length; j++) {
            float v = row[j];
            if (!(v >= 0) || v == Float.POSITIVE_INFINITY) return new RowFault(i, j, v);
            sum += v;
        }
        return Math.abs(sum - 1) <= tolerance ? null : new RowFault(i, -1, sum);
    }
}
