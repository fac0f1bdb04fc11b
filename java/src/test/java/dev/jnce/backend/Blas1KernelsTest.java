package dev.jnce.backend;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.testutil.ScopedTest;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.SplittableRandom;
import java.util.stream.Stream;

import static dev.jnce.testutil.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The level-1 operations of {@link SimilarityKernels} (dot in double, scale, axpy, copy, fill)
 * on every backend against float64: lengths 1, around the vector widths and the 32768-value
 * slices, over several slices, and of (rows, D) matrices and views of their rows; NaN kept by a
 * scale of 0; the dot product the same on one thread and on several.
 */
class Blas1KernelsTest extends ScopedTest {

    static Stream<Arguments> cases() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(1, 9, 32767, 32769, 100_003).map(n -> Arguments.of(b, n)));
    }

    private static float[] gaussian(int n, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) random.nextGaussian();
        return x;
    }

    @ParameterizedTest(name = "{0} n={1}")
    @MethodSource("cases")
    void matchFloat64(Backend backend, int n) {
        SimilarityKernels sim = ((Kernels) backend).similarity();
        float[] xv = gaussian(n, n), yv = gaussian(n, n + 1L);
        Tensor x = Tensor.of(xv), y = Tensor.of(yv);

        double want = 0;
        for (int i = 0; i < n; i++) want += (double) xv[i] * yv[i];
        assertEquals(want, sim.dot(x, y), 1e-12 * Math.max(1, n), "dot");

        double[] axpy = new double[n];
        for (int i = 0; i < n; i++) axpy[i] = yv[i] + -0.625 * xv[i];
        sim.axpy(-0.625f, x, y);
        assertClose(axpy, y.toFloatArray(), 1e-6, "axpy");

        double[] scaled = new double[n];
        for (int i = 0; i < n; i++) scaled[i] = (float) (3.0 * xv[i]); // one rounding, as a float product
        sim.scale(3f, x);
        assertClose(scaled, x.toFloatArray(), 0, "scale");

        Tensor z = Tensor.zeros(DType.FLOAT32, n);
        sim.copy(y, z);
        assertArrayEquals(y.toFloatArray(), z.toFloatArray(), "copy");

        sim.fill(-1.5f, z);
        for (float v : z.toFloatArray()) assertEquals(-1.5f, v, "fill");
    }

    /** Rows of a matrix through views: what the sweeps hand these operations. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void workOnViewsOfRows(Backend backend) {
        SimilarityKernels sim = ((Kernels) backend).similarity();
        int rows = 10, d = 7;
        float[] av = gaussian(rows * d, 3);
        Tensor a = Tensor.of(av, rows, d), b = Tensor.zeros(DType.FLOAT32, rows, d);
        sim.copy(a.rows(2, 5), b.rows(4, 5));
        sim.axpy(2f, a.rows(0, 1), b.rows(9, 1));
        float[] got = b.toFloatArray();
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < d; j++) {
                float want = i >= 4 && i < 9 ? av[(i - 2) * d + j] : i == 9 ? 2f * av[j] : 0f;
                assertEquals(want, got[i * d + j], "b[" + i + ", " + j + "]");
            }
        }
        assertEquals(sim.dot(a.rows(2, 5), a.rows(2, 5)), sim.dot(b.rows(4, 5), b.rows(4, 5)), "dot of copied rows");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void aScaleOfZeroKeepsNaN(Backend backend) {
        SimilarityKernels sim = ((Kernels) backend).similarity();
        Tensor x = Tensor.of(new float[] {Float.NaN, 2f, Float.POSITIVE_INFINITY});
        sim.scale(0f, x);
        float[] v = x.toFloatArray();
        assertTrue(Float.isNaN(v[0]) && v[1] == 0f && Float.isNaN(v[2]), "0 * NaN and 0 * Inf are NaN, 0 * 2 is 0");
        assertTrue(Double.isNaN(sim.dot(Tensor.of(new float[] {1f, Float.NaN}), Tensor.of(new float[] {1f, 1f}))), "dot with NaN");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void theDotProductDoesNotDependOnTheThreadCount(Backend backend) {
        SimilarityKernels sim = ((Kernels) backend).similarity();
        int n = 7 * 32768 + 5;
        Tensor x = Tensor.of(gaussian(n, 7)), y = Tensor.of(gaussian(n, 8));
        int before = dev.jnce.Backends.threads();
        try {
            dev.jnce.Backends.setThreads(1);
            double one = sim.dot(x, y);
            dev.jnce.Backends.setThreads(Math.max(2, before));
            assertEquals(one, sim.dot(x, y), 0, "one thread vs several");
        } finally {
            dev.jnce.Backends.setThreads(before);
        }
    }
}
