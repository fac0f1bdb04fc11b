package dev.jnce.backend.java;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The lanes' online softmax statistics (maximum, sum of exp(x - max), NaN or +Inf) against the
 * scalar ones in double, on rows long enough for several folds (eight blocks of four vectors
 * each), with the maximum raised by every block (an ascending ramp), only by the first
 * (descending), somewhere in the middle, or never (a row of -Inf), and with NaN, +Inf and -Inf
 * placed at random.
 */
class RowOpsStatsTest {
    private static RowOps lanes() {
        RowOps v = VectorSupport.rowOps();
        Assumptions.assumeTrue(v != null, "the Vector API is not present");
        return v;
    }

    private static void check(RowOps v, MemorySegment x, int c, String what) {
        RowOps.Stats want = RowOps.SCALAR.stats(x, 0, c), got = v.stats(x, 0, c);
        assertEquals(want.bad(), got.bad(), what + ": bad");
        if (want.bad()) return;
        assertEquals(want.max(), got.max(), what + ": max");
        assertEquals(want.sum(), got.sum(), 2e-6 * want.sum(), what + ": sum of exp(x - max)");
    }

    @Test
    void lanesAgreeWithTheScalarStatisticsAcrossFoldsAndRescales() {
        RowOps v = lanes();
        Random r = new Random(11);
        int max = 2300;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment x = arena.allocate(4L * max);
            for (int c = 1; c <= max; c += c < 140 ? 1 : 37) {
                for (int pattern = 0; pattern < 6; pattern++) {
                    for (int j = 0; j < c; j++) {
                        float value = switch (pattern) {
                            case 0 -> (float) r.nextGaussian() * 3;
                            case 1 -> j * 0.01f - 5; // ascending: every block raises the maximum
                            case 2 -> 5 - j * 0.01f; // descending: only the first block sets it
                            case 3 -> j == c / 2 ? 40f : (float) r.nextGaussian(); // one peak in the middle
                            case 4 -> Float.NEGATIVE_INFINITY;
                            default -> (float) r.nextGaussian() * 30;
                        };
                        x.setAtIndex(ValueLayout.JAVA_FLOAT, j, value);
                    }
                    check(v, x, c, "c " + c + ", pattern " + pattern);
                }
                for (float special : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
                    for (int j = 0; j < c; j++) x.setAtIndex(ValueLayout.JAVA_FLOAT, j, (float) r.nextGaussian());
                    x.setAtIndex(ValueLayout.JAVA_FLOAT, r.nextInt(c), special);
                    check(v, x, c, "c " + c + ", one " + special);
                }
            }
        }
    }
}
