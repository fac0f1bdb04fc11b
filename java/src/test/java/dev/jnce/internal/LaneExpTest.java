package dev.jnce.internal;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The retrieval softmax's exponentials on double lanes against {@link StrictMath#exp}: every
 * tail length, logits taken out (-Infinity gives exactly 0), arguments down to where exp
 * underflows, and the sum returned against the float64 sum.
 */
class LaneExpTest {
    private static void assumeLanes() {
        Assumptions.assumeTrue(ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent(), "the Vector API is not present");
    }

    @Test
    void shiftedMatchesStrictExpAtEveryTail() {
        assumeLanes();
        Random r = new Random(11);
        double[] lanes = new double[LaneExp.lanes()];
        for (int n = 1; n <= 70; n++) {
            for (int trial = 0; trial < 20; trial++) {
                double[] z = new double[n], e = new double[n + 3];
                e[n] = e[n + 1] = e[n + 2] = 42; // past n: not written
                for (int j = 0; j < n; j++) {
                    z[j] = trial % 3 == 0 ? r.nextGaussian() * 300 : r.nextGaussian() * 5;
                    if (r.nextInt(5) == 0) z[j] = Double.NEGATIVE_INFINITY;
                }
                double shift = trial % 2 == 0 ? 0 : 3.5;
                double sum = LaneExp.shifted(z, shift, e, n, lanes), want = 0;
                for (int j = 0; j < n; j++) {
                    double x = z[j] - shift;
                    double ref = z[j] == Double.NEGATIVE_INFINITY ? 0 : StrictMath.exp(Math.max(-700, Math.min(700, x)));
                    if (z[j] == Double.NEGATIVE_INFINITY) assertEquals(0.0, e[j], "n=" + n + " j=" + j + ": a logit taken out");
                    else assertEquals(ref, e[j], 4 * Math.ulp(ref), "n=" + n + " j=" + j + " x=" + x);
                    want += ref;
                }
                assertEquals(want, sum, 1e-14 * want + Double.MIN_NORMAL, "n=" + n + ": sum");
                for (int j = n; j < n + 3; j++) assertEquals(42.0, e[j], "n=" + n + ": written past the end");
            }
        }
    }

    @Test
    void maxIsTheLargestAndKeepsNaN() {
        assumeLanes();
        Random r = new Random(12);
        double[] lanes = new double[LaneExp.lanes()];
        for (int n = 1; n <= 40; n++) {
            double[] z = new double[n];
            double want = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < n; j++) {
                z[j] = r.nextInt(4) == 0 ? Double.NEGATIVE_INFINITY : r.nextGaussian();
                want = Math.max(want, z[j]);
            }
            assertEquals(want, LaneExp.max(z, n, lanes), "n=" + n);
            z[r.nextInt(n)] = Double.NaN;
            assertTrue(Double.isNaN(LaneExp.max(z, n, lanes)), "n=" + n + ": NaN");
            z = new double[n];
            java.util.Arrays.fill(z, Double.NEGATIVE_INFINITY);
            assertEquals(Double.NEGATIVE_INFINITY, LaneExp.max(z, n, lanes), "n=" + n + ": all taken out");
        }
    }
}
