package dev.jnce.internal;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.ScanKernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicLong;

/** {@link ScanKernels} on host memory, for the cpu and java backends (chunked and parallel, see {@link ValueScan}). */
public final class HostScan implements ScanKernels {
    public static final HostScan INSTANCE = new HostScan();
    private static final long INDICES_PER_SLICE = 1 << 15;

    private HostScan() {
    }

    @Override
    public long firstBreaking(Tensor t, Rule rule) {
        return ValueScan.firstBreaking(t.segment(), t.numel(), ValueScan.Rule.valueOf(rule.name()));
    }

    @Override
    public long firstOutside(Tensor indices, long bound, long except) {
        MemorySegment s = indices.segment();
        boolean wide = indices.dtype() == DType.INT64;
        AtomicLong first = new AtomicLong(Long.MAX_VALUE);
        Parallel.forRange(indices.numel(), INDICES_PER_SLICE, (begin, end) -> {
            for (long i = begin; i < end; i++) {
                long v = wide ? s.getAtIndex(ValueLayout.JAVA_LONG, i) : s.getAtIndex(ValueLayout.JAVA_INT, i);
                if ((v < 0 || v >= bound) && v != except) {
                    first.accumulateAndGet(i, Math::min);
                    return; // slices are contiguous and in order: nothing later in this one can be first
                }
            }
        });
        long at = first.get();
        return at == Long.MAX_VALUE ? -1 : at;
    }

    @Override
    public double valueAt(Tensor t, long index) {
        MemorySegment s = t.segment();
        return switch (t.dtype()) {
            case FLOAT32 -> s.getAtIndex(ValueLayout.JAVA_FLOAT, index);
            case INT32 -> s.getAtIndex(ValueLayout.JAVA_INT, index);
            case INT64 -> s.getAtIndex(ValueLayout.JAVA_LONG, index);
        };
    }
}
