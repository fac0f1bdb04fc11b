package dev.jnce.backend.java;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The lanes' sum in registers gives the bits of the pairwise sum in double over the same lanes
 * (neighbours first: ((a0 + a1) + (a2 + a3)) + ...), interpreted and once compiled: values of
 * every magnitude, cancellations, signed zeros, subnormals, the infinities and NaN.
 */
class VectorMathSumLanesTest {
    private static final float[] SPECIAL = {0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE, 1e-40f, Float.MAX_VALUE,
            -Float.MAX_VALUE, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, 1f, -1f, 16777217f, 3e38f};

    @Test
    void registerSumHasThePairwiseSumsBits() {
        Assumptions.assumeTrue(VectorSupport.rowOps() != null, "the Vector API is not present");
        int lanes = FloatVector.SPECIES_PREFERRED.length();
        float[] a = new float[lanes], buf = new float[lanes];
        Random r = new Random(11);
        int compared = 0, nan = 0;
        // enough rounds for C2 to compile sumLanes (and the loop calling it) part-way through
        for (int trial = 0; trial < 300_000; trial++) {
            int kind = trial % 5;
            for (int i = 0; i < lanes; i++) {
                a[i] = switch (kind) {
                    case 0 -> (float) r.nextGaussian();
                    case 1 -> (float) (r.nextGaussian() * Math.pow(10, r.nextInt(60) - 30)); // magnitudes apart: rounding depends on the order
                    case 2 -> (i % 2 == 0 ? 1 : -1) * (1e7f + r.nextInt(100)); // neighbours cancel
                    case 3 -> r.nextInt(4) == 0 ? SPECIAL[r.nextInt(SPECIAL.length)] : (float) r.nextGaussian() * 1e30f;
                    default -> r.nextInt(3) == 0 ? -0f : r.nextInt(2) == 0 ? 0f : Float.MIN_VALUE * r.nextInt(5);
                };
            }
            double want = VectorMath.pairwise(a.clone());
            double got = VectorMath.sumLanes(FloatVector.fromArray(FloatVector.SPECIES_PREFERRED, a, 0), buf);
            if (Double.isNaN(want)) {
                assertTrue(Double.isNaN(got), "trial " + trial + ": want NaN, got " + got);
                nan++;
            } else {
                assertEquals(Double.doubleToRawLongBits(want), Double.doubleToRawLongBits(got),
                        () -> "trial with lanes " + java.util.Arrays.toString(a) + ": want " + want + ", got " + got);
            }
            compared++;
        }
        assertTrue(nan > 100 && compared - nan > 100_000, "the draws cover both NaN and finite sums: " + nan + " of " + compared);
    }
}
