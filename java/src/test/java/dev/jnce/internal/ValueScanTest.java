package dev.jnce.internal;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** ValueScan finds the first breaking value across chunk and thread boundaries, or none. */
class ValueScanTest {

    private static float breaking(ValueScan.Rule rule, int variant) {
        return switch (rule) {
            case NOT_NAN -> Float.NaN;
            case FINITE -> variant == 0 ? Float.POSITIVE_INFINITY : variant == 1 ? Float.NEGATIVE_INFINITY : Float.NaN;
            case UNIT_INTERVAL -> variant == 0 ? -1e-7f : variant == 1 ? 1.0000001f : Float.NaN;
            case NON_NEGATIVE_FINITE -> variant == 0 ? -1e-7f : variant == 1 ? Float.POSITIVE_INFINITY : Float.NaN;
            case BELOW_POSITIVE_INFINITY -> variant == 1 ? Float.NaN : Float.POSITIVE_INFINITY;
        };
    }

    @ParameterizedTest
    @EnumSource(ValueScan.Rule.class)
    void findsTheFirstBreakingValueOrNone(ValueScan.Rule rule) {
        int n = 100_000; // 25 chunks of 4096 and a partial one
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(4L * n);
            for (int i = 0; i < n; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (i % 97) / 97f); // in [0, 1), finite
            if (rule == ValueScan.Rule.BELOW_POSITIVE_INFINITY) s.setAtIndex(ValueLayout.JAVA_FLOAT, 5, Float.NEGATIVE_INFINITY); // allowed
            assertEquals(-1, ValueScan.firstBreaking(s, n, rule), "no breaking value");
            assertEquals(-1, ValueScan.firstBreaking(s, 0, rule), "empty");
            s.setAtIndex(ValueLayout.JAVA_FLOAT, n - 1, breaking(rule, 0));
            assertEquals(n - 1, ValueScan.firstBreaking(s, n, rule), "the last value");
            s.setAtIndex(ValueLayout.JAVA_FLOAT, 70_001, breaking(rule, 1));
            s.setAtIndex(ValueLayout.JAVA_FLOAT, 4096 * 9 + 5, breaking(rule, 2));
            assertEquals(4096 * 9 + 5, ValueScan.firstBreaking(s, n, rule), "the first of three, in another chunk");
            s.setAtIndex(ValueLayout.JAVA_FLOAT, 0, breaking(rule, 0));
            assertEquals(0, ValueScan.firstBreaking(s, n, rule), "the first value");
        }
    }

    /** Both forms, the one in use and the other, give the same first index. */
    private static long[] bothForms(MemorySegment s, long n, ValueScan.Rule rule) {
        long heap = ValueScan.firstBreakingOnHeap(s, n, rule);
        long lanes = ValueScan.onLanes() ? ValueScan.firstBreakingOnLanes(s, n, rule) : heap;
        return new long[] {heap, lanes};
    }

    @ParameterizedTest
    @EnumSource(ValueScan.Rule.class)
    void everyPositionOfShortBuffersOnBothForms(ValueScan.Rule rule) {
        try (Arena arena = Arena.ofConfined()) {
            for (int n = 1; n <= 70; n++) { // lanes, two-vector steps and scalar tails of every length
                MemorySegment s = arena.allocate(4L * n);
                for (int at = 0; at < n; at++) {
                    for (int i = 0; i < n; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (i % 7) / 7f);
                    s.setAtIndex(ValueLayout.JAVA_FLOAT, at, breaking(rule, at % 3));
                    if (at + 1 < n) s.setAtIndex(ValueLayout.JAVA_FLOAT, n - 1, breaking(rule, (at + 1) % 3));
                    for (long found : bothForms(s, n, rule)) assertEquals(at, found, "n " + n + ", breaking at " + at);
                }
            }
        }
    }

    /** The finite rule's blocks of 1024 floats: a value at each position around a block's edges, alone or after another. */
    @org.junit.jupiter.api.Test
    void finiteBlocksFindEveryPositionNearTheirEdges() {
        try (Arena arena = Arena.ofConfined()) {
            for (int n : new int[] {1023, 1024, 1025, 1087, 2048, 3000}) {
                MemorySegment s = arena.allocate(4L * n);
                for (int at : new int[] {0, 15, 63, 64, 1008, 1019, 1022, 1023, 1024, 1025, 1087, 2047, 2048, 2999}) {
                    if (at >= n) continue;
                    for (int variant = 0; variant < 3; variant++) {
                        for (int i = 0; i < n; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, i % 2 == 0 ? Float.MAX_VALUE : -Float.MAX_VALUE);
                        s.setAtIndex(ValueLayout.JAVA_FLOAT, at, breaking(ValueScan.Rule.FINITE, variant));
                        if (at + 1000 < n) s.setAtIndex(ValueLayout.JAVA_FLOAT, at + 1000, Float.NaN);
                        for (long found : bothForms(s, n, ValueScan.Rule.FINITE)) {
                            assertEquals(at, found, "n " + n + ", breaking at " + at + ", variant " + variant);
                        }
                    }
                }
                for (int i = 0; i < n; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, i % 2 == 0 ? Float.MAX_VALUE : -Float.MIN_VALUE);
                for (long found : bothForms(s, n, ValueScan.Rule.FINITE)) assertEquals(-1, found, "n " + n + ", all finite");
            }
        }
    }

    @ParameterizedTest
    @EnumSource(ValueScan.Rule.class)
    void edgesOfEachRangeKeep(ValueScan.Rule rule) {
        float[] keeps = switch (rule) {
            case NOT_NAN -> new float[] {Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, -0f, Float.MIN_VALUE};
            case FINITE -> new float[] {-Float.MAX_VALUE, Float.MAX_VALUE, -0f, -Float.MIN_VALUE};
            case UNIT_INTERVAL -> new float[] {0f, -0f, 1f, Float.MIN_VALUE, Math.nextDown(1f)};
            case NON_NEGATIVE_FINITE -> new float[] {0f, -0f, Float.MAX_VALUE, Float.MIN_VALUE};
            case BELOW_POSITIVE_INFINITY -> new float[] {Float.NEGATIVE_INFINITY, Float.MAX_VALUE, -0f};
        };
        try (Arena arena = Arena.ofConfined()) {
            int n = 67;
            MemorySegment s = arena.allocate(4L * n);
            for (int i = 0; i < n; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, keeps[i % keeps.length]);
            for (long found : bothForms(s, n, rule)) assertEquals(-1, found, "edges " + java.util.Arrays.toString(keeps));
        }
    }

    @ParameterizedTest
    @EnumSource(ValueScan.Rule.class)
    void largeBuffersAcrossThreadSlices(ValueScan.Rule rule) {
        long n = 3_000_001; // several slices of the parallel forms
        try (Arena arena = Arena.ofShared()) {
            MemorySegment s = arena.allocate(4L * n);
            for (long i = 0; i < n; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (i % 89) / 89f);
            for (long found : bothForms(s, n, rule)) assertEquals(-1, found);
            s.setAtIndex(ValueLayout.JAVA_FLOAT, n - 1, breaking(rule, 0));
            s.setAtIndex(ValueLayout.JAVA_FLOAT, 2_500_000, breaking(rule, 1));
            for (long found : bothForms(s, n, rule)) assertEquals(2_500_000, found);
            s.setAtIndex(ValueLayout.JAVA_FLOAT, 1_000_003, breaking(rule, 2));
            for (long found : bothForms(s, n, rule)) assertEquals(1_000_003, found);
        }
    }

    @org.junit.jupiter.api.Test
    void theLanesAreUsedWhereTheVectorModuleIs() {
        boolean module = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
        boolean off = "false".equals(System.getProperty("jnce.java.vector"));
        assertEquals(module && !off, ValueScan.onLanes());
    }
}
