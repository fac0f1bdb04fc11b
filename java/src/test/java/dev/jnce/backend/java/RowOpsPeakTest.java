package dev.jnce.backend.java;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The lanes' row peak (the maximum, the minimum, whether the row holds NaN or +Inf, and the
 * smoothing dot product) against the scalar one, on rows of every tail length and with the
 * values that order awkwardly: NaNs of both signs, the infinities, signed zeros, subnormals,
 * ±Float.MAX_VALUE, and rows of -Inf only.
 */
class RowOpsPeakTest {
    private static final float[] SPECIAL = {Float.NaN, Float.intBitsToFloat(0xffc00000), Float.POSITIVE_INFINITY,
            Float.NEGATIVE_INFINITY, 0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MAX_VALUE, -Float.MAX_VALUE, 1e-40f, -3f};

    private static RowOps lanes() {
        RowOps v = VectorSupport.rowOps();
        Assumptions.assumeTrue(v != null, "the Vector API is not present");
        return v;
    }

    private static void check(RowOps v, MemorySegment x, long off, int c, MemorySegment w, String what) {
        RowOps.Peak want = RowOps.SCALAR.peak(x, off, c), got = v.peak(x, off, c);
        assertEquals(want.bad(), got.bad(), what + ": bad");
        if (!want.bad()) {
            // -0 and +0 may come out either way round (both shift every x - max to the same value)
            assertEquals(want.max() == 0 ? 0f : want.max(), got.max() == 0 ? 0f : got.max(), what + ": max");
            assertEquals(want.min() == 0 ? 0f : want.min(), got.min() == 0 ? 0f : got.min(), what + ": min");
        }
        RowOps.Peak dot = v.peakDot(x, off, c, w);
        assertEquals(got.bad(), dot.bad(), what + ": bad with the dot product");
        if (!got.bad()) {
            assertEquals(got.max(), dot.max(), what + ": max with the dot product");
            double ref = RowOps.SCALAR.dot(x, off, w, c);
            if (Double.isFinite(ref)) assertEquals(ref, dot.dot(), 1e-5 * (1 + Math.abs(ref)), what + ": dot");
        }
    }

    @Test
    void lanesAgreeWithTheScalarPeakOnEveryTailAndSpecialValue() {
        RowOps v = lanes();
        Random r = new Random(7);
        try (Arena arena = Arena.ofConfined()) {
            int max = 200;
            MemorySegment x = arena.allocate(4L * (max + 3)), w = arena.allocate(4L * max);
            for (int j = 0; j < max; j++) w.setAtIndex(ValueLayout.JAVA_FLOAT, j, 0.5f + r.nextFloat());
            for (int c = 1; c <= max; c += c < 70 ? 1 : 13) {
                for (int trial = 0; trial < 40; trial++) {
                    long off = 4L * (trial % 3); // unaligned starts too
                    for (int j = 0; j < c; j++) x.setAtIndex(ValueLayout.JAVA_FLOAT, off / 4 + j, (float) r.nextGaussian() * 4);
                    int specials = trial % 4; // none, or a few at random places
                    for (int s = 0; s < specials; s++) {
                        x.setAtIndex(ValueLayout.JAVA_FLOAT, off / 4 + r.nextInt(c), SPECIAL[r.nextInt(SPECIAL.length)]);
                    }
                    check(v, x, off, c, w, "c " + c + ", trial " + trial);
                }
                for (float fill : new float[] {Float.NEGATIVE_INFINITY, -Float.MAX_VALUE, -0f, 0f}) {
                    for (int j = 0; j < c; j++) x.setAtIndex(ValueLayout.JAVA_FLOAT, j, fill);
                    check(v, x, 0, c, w, "c " + c + ", all " + fill);
                    x.setAtIndex(ValueLayout.JAVA_FLOAT, c - 1, Float.intBitsToFloat(0xffc00000)); // a negative NaN, last
                    check(v, x, 0, c, w, "c " + c + ", all " + fill + " and a negative NaN last");
                }
            }
        }
    }
}
