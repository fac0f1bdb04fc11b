package dev.jnce.internal;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Finds the first float32 value that breaks a rule (NaN, non-finite, outside [0, 1]) in a large
 * buffer, for the argument checks that run before a kernel: chunks are copied to the heap, where
 * the loop compiles to vector code, and checked in parallel. (A plain loop over the segment took
 * longer than some of the kernels it guards: the BCE kernel at 33M values, mining at 67M.) With
 * {@code jdk.incubator.vector} the loop runs on SIMD lanes over the segment itself
 * ({@link VectorScan}): no copy and no allocation, which a call on 4096 values felt (the two scans
 * of a BCE call at (32, 128) took a third of it).
 */
public final class ValueScan {
    /** What every value must be. */
    public enum Rule {
        NOT_NAN, FINITE, UNIT_INTERVAL, NON_NEGATIVE_FINITE, BELOW_POSITIVE_INFINITY
    }

    private static final int CHUNK = 4096;

    private ValueScan() {
    }

    /** Whether the SIMD loop is used: the JVM has jdk.incubator.vector and -Djnce.java.vector is not false. */
    private static final boolean VECTOR = vector();
    /** Values a slice checks at least, on lanes: below this, one thread (a hand-off costs more). */
    private static final long VECTOR_SLICE = 1 << 18;

    /**
     * Whether host loops may use the Vector API: the JVM has jdk.incubator.vector and
     * -Djnce.java.vector is not false. Callers still try their lanes once, for a LinkageError.
     */
    static boolean vectorApiAllowed() {
        return !"false".equals(System.getProperty("jnce.java.vector")) && ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
    }

    private static boolean vector() {
        if (!vectorApiAllowed()) return false;
        try {
            return VectorScan.firstOutside(MemorySegment.ofArray(new float[] {0.5f, Float.NaN}), 0, 2, 0f, 1f) == 1;
        } catch (LinkageError e) {
            return false;
        }
    }

    /** The flat index of the first of the n floats of s that breaks rule, or -1. */
    public static long firstBreaking(MemorySegment s, long n, Rule rule) {
        return VECTOR ? firstBreakingOnLanes(s, n, rule) : firstBreakingOnHeap(s, n, rule);
    }

    /** Whether {@link #firstBreaking} runs on SIMD lanes. */
    static boolean onLanes() {
        return VECTOR;
    }

    /** The scalar form: chunks copied to the heap, where the loop compiles to vector code. */
    static long firstBreakingOnHeap(MemorySegment s, long n, Rule rule) {
        long chunks = (n + CHUNK - 1) / CHUNK;
        AtomicLong first = new AtomicLong(Long.MAX_VALUE);
        Parallel.forRange(chunks, 16, (begin, end) -> {
            float[] buf = new float[CHUNK];
            for (long c = begin; c < end; c++) {
                long from = c * CHUNK;
                int len = (int) Math.min(CHUNK, n - from);
                MemorySegment.copy(s, ValueLayout.JAVA_FLOAT, 4 * from, buf, 0, len);
                if (allKeep(buf, len, rule)) continue;
                for (int i = 0; i < len; i++) {
                    if (!keeps(buf[i], rule)) {
                        first.accumulateAndGet(from + i, Math::min);
                        return; // slices are contiguous and in order: nothing later in this one can be first
                    }
                }
            }
        });
        long at = first.get();
        return at == Long.MAX_VALUE ? -1 : at;
    }

    /** The SIMD form; only when {@link #onLanes()}. */
    static long firstBreakingOnLanes(MemorySegment s, long n, Rule rule) {
        float lo = switch (rule) {
            case NOT_NAN, BELOW_POSITIVE_INFINITY -> Float.NEGATIVE_INFINITY;
            case FINITE -> -Float.MAX_VALUE;
            case UNIT_INTERVAL, NON_NEGATIVE_FINITE -> 0f;
        };
        float hi = switch (rule) {
            case NOT_NAN -> Float.POSITIVE_INFINITY;
            case FINITE, NON_NEGATIVE_FINITE, BELOW_POSITIVE_INFINITY -> Float.MAX_VALUE;
            case UNIT_INTERVAL -> 1f;
        };
        boolean finite = rule == Rule.FINITE;
        if (n < 2 * VECTOR_SLICE) return finite ? VectorScan.firstNonFinite(s, 0, n) : VectorScan.firstOutside(s, 0, n, lo, hi);
        AtomicLong first = new AtomicLong(Long.MAX_VALUE);
        Parallel.forRange(n, VECTOR_SLICE, (begin, end) -> {
            long at = finite ? VectorScan.firstNonFinite(s, begin, end) : VectorScan.firstOutside(s, begin, end, lo, hi);
            if (at >= 0) first.accumulateAndGet(at, Math::min);
        });
        long at = first.get();
        return at == Long.MAX_VALUE ? -1 : at;
    }

    private static boolean allKeep(float[] buf, int len, Rule rule) {
        boolean ok = true;
        switch (rule) { // one loop per rule, no branch inside: each compiles to vector code
            case NOT_NAN -> {
                for (int i = 0; i < len; i++) ok &= buf[i] == buf[i];
            }
            case FINITE -> {
                for (int i = 0; i < len; i++) ok &= Math.abs(buf[i]) <= Float.MAX_VALUE;
            }
            case UNIT_INTERVAL -> {
                for (int i = 0; i < len; i++) ok &= buf[i] >= 0 & buf[i] <= 1;
            }
            case NON_NEGATIVE_FINITE -> {
                for (int i = 0; i < len; i++) ok &= buf[i] >= 0 & buf[i] <= Float.MAX_VALUE;
            }
            case BELOW_POSITIVE_INFINITY -> {
                for (int i = 0; i < len; i++) ok &= buf[i] <= Float.MAX_VALUE;
            }
        }
        return ok;
    }

    private static boolean keeps(float v, Rule rule) {
        return switch (rule) {
            case NOT_NAN -> v == v;
            case FINITE -> Math.abs(v) <= Float.MAX_VALUE;
            case UNIT_INTERVAL -> v >= 0 && v <= 1;
            case NON_NEGATIVE_FINITE -> v >= 0 && v <= Float.MAX_VALUE;
            case BELOW_POSITIVE_INFINITY -> v <= Float.MAX_VALUE;
        };
    }
}
