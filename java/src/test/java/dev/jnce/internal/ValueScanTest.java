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
}
