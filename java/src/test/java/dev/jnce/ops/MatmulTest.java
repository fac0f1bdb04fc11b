package dev.jnce.ops;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.testutil.ScopedTest;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.stream.Stream;

import static dev.jnce.testutil.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * GEMM on every backend (OpenBLAS, Java Vector API, Java scalar) against a float64 reference
 * and against OpenBLAS, for odd sizes and every transpose combination.
 */
class MatmulTest extends ScopedTest {
    private static final int[] SIZES = {1, 7, 33, 257};
    static Stream<Arguments> shapes() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(false, true).flatMap(ta -> Stream.of(false, true)
                .map(tb -> Arguments.of(b, ta, tb))));
    }

    @ParameterizedTest(name = "{0} transA={1} transB={2}")
    @MethodSource("shapes")
    void matchesFloat64AndOpenBlasForOddSizes(Backend backend, boolean ta, boolean tb) {
        Matmul cpu = Matmul.create().withBackend(TestBackends.all().get(0)), mine = Matmul.create().withBackend(backend);
        for (int q = 0; q < SIZES.length; q++) {
            int m = SIZES[q], n = SIZES[(q + 1) % 4], k = SIZES[(q + 2) % 4];
            for (int[] mnk : new int[][] {{m, n, k}, {k, m, n}, {n, k, m}}) {
                check(cpu, mine, ta, tb, mnk[0], mnk[1], mnk[2]);
            }
        }
    }

    private static void check(Matmul cpu, Matmul mine, boolean ta, boolean tb, int m, int n, int k) {
        float[] a = SimilarityReference.random(m * k, m * 31L + k), b = SimilarityReference.random(k * n, n * 17L + k);
        float[] c0 = SimilarityReference.random(m * n, 5);
        Tensor ta2 = ta ? Tensor.of(a, k, m) : Tensor.of(a, m, k), tb2 = tb ? Tensor.of(b, n, k) : Tensor.of(b, k, n);
        Tensor c = Tensor.of(c0, m, n), blas = Tensor.of(c0, m, n);
        mine.gemm(ta, tb, 0.5f, ta2, tb2, -2f, c);
        cpu.gemm(ta, tb, 0.5f, ta2, tb2, -2f, blas);
        String what = m + "x" + n + "x" + k + " transA=" + ta + " transB=" + tb;
        double tol = 2e-6 * Math.sqrt(k);
        assertClose(SimilarityReference.gemm(ta, tb, m, n, k, 0.5, a, b, -2, c0), c.toFloatArray(), tol, what + " vs float64");
        assertClose(SimilarityReference.toDouble(blas.toFloatArray()), c.toFloatArray(), 2 * tol, what + " vs OpenBLAS");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void multiplyAllocatesAndBetaZeroIgnoresNaN(Backend backend) {
        Tensor a = Tensor.of(new float[][] {{1, 2}, {3, 4}, {5, 6}});
        Tensor b = Tensor.of(new float[][] {{1, 0, 2}, {0, 1, 3}});
        assertClose(new double[] {1, 2, 8, 3, 4, 18, 5, 6, 28}, Matmul.create().withBackend(backend).multiply(a, b)
                .toFloatArray(), 0, "a.b");
        Tensor c = Tensor.of(new float[] {Float.NaN, Float.NaN, Float.NaN, Float.NaN}, 2, 2);
        Matmul.create().withBackend(backend).gemm(true, false, 1f, a, a, 0f, c); // a^T a
        assertClose(new double[] {35, 44, 44, 56}, c.toFloatArray(), 0, "a^T a over NaN with beta 0");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void largeProductsRunOnSeveralThreadsAndBlocks(Backend backend) {
        int m = 300, n = 520, k = 600; // several MC, NC and KC blocks
        float[] a = SimilarityReference.random(m * k, 1), b = SimilarityReference.random(n * k, 2);
        Tensor c = Matmul.create().withBackend(backend).multiply(Tensor.of(a, m, k), false, Tensor.of(b, n, k), true);
        assertEquals(DType.FLOAT32, c.dtype());
        double[] ref = SimilarityReference.gemm(false, true, m, n, k, 1, a, b, 0, null);
        assertClose(ref, c.toFloatArray(), 5e-5, "300x520x600");
        assertTrue(c.rank() == 2 && c.size(0) == m && c.size(1) == n);
    }

    /** multiply into the caller's c equals the allocating multiply (NaN in c ignored); c overlapping a is rejected. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void multiplyIntoTheCallersTensor(Backend backend) {
        int m = 13, n = 21, k = 17;
        Tensor a = Tensor.of(SimilarityReference.random(m * k, 3), m, k), b = Tensor.of(SimilarityReference.random(n * k, 4), n, k);
        Matmul mm = Matmul.create().withBackend(backend);
        float[] nan = new float[m * n];
        java.util.Arrays.fill(nan, Float.NaN);
        Tensor c = Tensor.of(nan, m, n);
        mm.multiply(a, false, b, true, c);
        Tensor square = Tensor.of(SimilarityReference.random(36, 5), 6, 6), b2 = Tensor.of(SimilarityReference.random(36, 6), 6, 6);
        assertClose(SimilarityReference.toDouble(mm.multiply(a, false, b, true).toFloatArray()), c.toFloatArray(), 0, "into c");
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> mm.multiply(square, false, b2, false, square));
        assertTrue(e.getMessage().contains("c: shares memory with a"), e.getMessage());
    }
}
