package dev.jnce.internal;

import dev.jnce.Tensor;
import dev.jnce.backend.DivergenceKernels.RowFault;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** The first row that is not a distribution, over many rows and thread slices, whichever path runs. */
class DistributionScanTest {
    private static float[] distributions(int n, int c) {
        float[] v = new float[n * c];
        SplittableRandom random = new SplittableRandom(3);
        for (int i = 0; i < n; i++) {
            double sum = 0;
            for (int j = 0; j < c; j++) sum += v[i * c + j] = (float) random.nextDouble(0, 1);
            for (int j = 0; j < c; j++) v[i * c + j] = (float) (v[i * c + j] / sum);
        }
        return v;
    }

    @Test
    void findsTheFirstBadRowAndDescribesIt() {
        int n = 300, c = 1001;
        float[] v = distributions(n, c);
        try (Tensor ok = Tensor.of(v.clone(), n, c)) {
            assertNull(DistributionScan.firstNonDistribution(ok, 1e-4));
        }
        v[250 * c + 1000] = -1e-9f; // negative, in the scalar tail of a row
        v[260 * c + 3] = Float.NaN;
        for (int j = 0; j < c; j++) v[100 * c + j] *= 1.2f; // sums to 1.2
        try (Tensor bad = Tensor.of(v.clone(), n, c)) {
            RowFault f = DistributionScan.firstNonDistribution(bad, 1e-4);
            assertEquals(100, f.row());
            assertEquals(-1, f.column());
            assertEquals(1.2, f.value(), 1e-5);
        }
        for (int j = 0; j < c; j++) v[100 * c + j] /= 1.2f;
        try (Tensor bad = Tensor.of(v, n, c)) {
            RowFault f = DistributionScan.firstNonDistribution(bad, 1e-4);
            assertEquals(250, f.row());
            assertEquals(1000, f.column());
            assertEquals(-1e-9f, (float) f.value());
        }
    }

    @Test
    void aRowJustInsideTheToleranceIsADistribution() {
        int c = 4096;
        float[] v = new float[c];
        java.util.Arrays.fill(v, 1f / c);
        v[0] += 5e-5f; // sums to 1 + 5e-5
        try (Tensor t = Tensor.of(v, 1, c)) {
            assertNull(DistributionScan.firstNonDistribution(t, 1e-4));
            assertEquals(0, DistributionScan.firstNonDistribution(t, 1e-5).row());
        }
    }

    @Test
    void aNegativeEntryIsFoundEvenWhenTheRowStillSumsToOne() {
        int n = 40, c = 128; // every value of a row on lanes: no scalar tail
        float[] v = distributions(n, c);
        v[7 * c + 1] += v[7 * c];
        v[7 * c] = -0.0f; // negative zero is >= 0: a distribution still
        try (Tensor ok = Tensor.of(v.clone(), n, c)) {
            assertNull(DistributionScan.firstNonDistribution(ok, 1e-4));
        }
        v[9 * c + 17] -= 0.25f; // below zero ...
        v[9 * c + 18] += 0.25f; // ... and the sum unchanged
        float below = v[9 * c + 17];
        try (Tensor bad = Tensor.of(v.clone(), n, c)) {
            RowFault f = DistributionScan.firstNonDistribution(bad, 1e-4);
            assertEquals(9, f.row());
            assertEquals(17, f.column());
            assertEquals(below, (float) f.value());
        }
        v[9 * c + 17] += 0.25f;
        v[9 * c + 18] -= 0.25f;
        v[20 * c + 64] = Float.POSITIVE_INFINITY;
        try (Tensor bad = Tensor.of(v, n, c)) {
            for (double tolerance : new double[] {1e-4, Double.POSITIVE_INFINITY}) { // an infinite entry, whatever the tolerance
                RowFault f = DistributionScan.firstNonDistribution(bad, tolerance);
                assertEquals(20, f.row());
                assertEquals(64, f.column());
                assertEquals(Float.POSITIVE_INFINITY, (float) f.value());
            }
        }
    }
}
