package dev.jnce.backend;

import dev.jnce.Backend;
import dev.jnce.Tensor;
import dev.jnce.backend.DivergenceKernels.RowFault;
import dev.jnce.testutil.ScopedTest;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * The distribution scan on every backend against a float64 reference: the first row that is not
 * a distribution, whatever the threads, with its bad entry or its sum; the tolerance; none.
 */
class DivergenceKernelsTest extends ScopedTest {

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void firstNonDistributionMatchesAPlainScan(Backend backend) {
        DivergenceKernels div = ((Kernels) backend).divergence();
        int n = 2000, c = 37;
        SplittableRandom random = new SplittableRandom(11);
        float[] p = new float[n * c];
        for (int i = 0; i < n; i++) {
            double sum = 0;
            for (int j = 0; j < c; j++) sum += p[i * c + j] = (float) random.nextDouble();
            for (int j = 0; j < c; j++) p[i * c + j] /= (float) sum;
        }
        assertNull(div.firstNonDistribution(Tensor.of(p, n, c), 1e-4), "every row is a distribution");
        float[][] cases = {{1500, 3, -1e-9f}, {1800, 0, Float.NaN}, {640, 36, Float.POSITIVE_INFINITY}, {12, 5, 0.75f}};
        for (float[] k : cases) {
            float[] q = p.clone();
            int row = (int) k[0], col = (int) k[1];
            q[row * c + col] = k[2];
            q[1900 * c] = -1f; // a later bad row never wins
            RowFault want = reference(q, n, c, 1e-4);
            RowFault got = div.firstNonDistribution(Tensor.of(q, n, c), 1e-4);
            assertEquals(want, got, "row " + row + " column " + col + " = " + k[2]);
            assertEquals(row, got.row());
        }
        float[] off = p.clone();
        off[7 * c + 2] += 2e-4f;
        RowFault sum = div.firstNonDistribution(Tensor.of(off, n, c), 1e-4);
        assertEquals(reference(off, n, c, 1e-4), sum);
        assertEquals(-1, sum.column(), "a sum off by 2e-4 is named by its sum");
        assertNull(div.firstNonDistribution(Tensor.of(off, n, c), 1e-3), "within a looser tolerance");
        assertNull(div.firstNonDistribution(Tensor.of(off, n, c), Double.POSITIVE_INFINITY), "no sum check");
    }

    /** Rows in order; in a row, the first entry that is NaN, < 0 or +Inf, else a sum off 1 by more than tolerance. */
    private static RowFault reference(float[] p, int n, int c, double tolerance) {
        for (int i = 0; i < n; i++) {
            double sum = 0;
            for (int j = 0; j < c; j++) {
                float v = p[i * c + j];
                if (Double.isNaN(v) || v < 0 || Double.isInfinite(v)) return new RowFault(i, j, v);
                sum += v;
            }
            if (Math.abs(sum - 1) > tolerance) return new RowFault(i, -1, sum);
        }
        return null;
    }
}
