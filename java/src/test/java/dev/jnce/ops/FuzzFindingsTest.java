package dev.jnce.ops;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.testutil.ScopedTest;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Mistakes the fuzzer ({@code dev.jnce.harness.FuzzTest}) found unnamed, each named now. */
class FuzzFindingsTest extends ScopedTest {

    /** A k no row can meet names k, before the (N, k) indices are allocated: never an OutOfMemoryError. */
    @ParameterizedTest
    @MethodSource("backends")
    void miningMoreNegativesThanKeysNamesKBeforeAllocating(Backend backend) {
        Tensor sim = Tensor.of(new float[] {0.9f, 0.1f, 0.4f, 0.3f, 0.8f, 0.2f}, 2, 3);
        for (long k : new long[] {4, 1L << 40, Long.MAX_VALUE}) {
            HardNegatives miner = HardNegatives.create(k).withBackend(backend);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> miner.mine(sim));
            assertTrue(e.getMessage().startsWith("k: " + k + " negatives asked for"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> miner.mineMasked(sim, Tensor.zeros(DType.INT32, 2, 3)));
            assertTrue(e.getMessage().startsWith("k: "), e.getMessage());
        }
    }

    /**
     * A row holding NaN normalises to NaN, as x / max(||x||, eps) does in PyTorch (max keeps the
     * NaN); the other rows are untouched by it. cpu once dropped the NaN norm (C's fmax) and
     * returned x / eps.
     */
    @ParameterizedTest
    @MethodSource("backends")
    void aNanRowNormalisesToNanAsInPyTorch(Backend backend) {
        Tensor x = Tensor.of(new float[] {3f, 4f, Float.NaN, 1f}, 2, 2);
        float[] y = Normalize.create().withBackend(backend).forward(x).toFloatArray();
        assertEquals(0.6f, y[0], 1e-7f);
        assertEquals(0.8f, y[1], 1e-7f);
        assertTrue(Float.isNaN(y[2]) && Float.isNaN(y[3]), java.util.Arrays.toString(y));
        float[] cos = CosineSimilarity.create().withBackend(backend).forward(x, Tensor.of(new float[] {3f, 4f, 1f, 0f}, 2, 2))
                .toFloatArray();
        assertEquals(1f, cos[0], 1e-6f);
        assertTrue(Float.isNaN(cos[1]), java.util.Arrays.toString(cos));
        float[] s = Similarity.cosine().withBackend(backend).forward(x, Tensor.of(new float[] {1f, 0f}, 1, 2)).toFloatArray();
        assertEquals(0.6f, s[0], 1e-6f);
        assertTrue(Float.isNaN(s[1]), java.util.Arrays.toString(s));
    }

    /**
     * gemm with alpha = 0 reads neither a nor b, as BLAS defines it: c becomes beta * c even where
     * a holds NaN (cpu's OpenBLAS multiplied anyway for small shapes, the java backend always).
     */
    @ParameterizedTest
    @MethodSource("backends")
    void gemmWithZeroAlphaReadsNeitherOperand(Backend backend) {
        Tensor a = Tensor.of(new float[] {Float.NaN, 1f, 2f, Float.POSITIVE_INFINITY}, 2, 2);
        Tensor b = Tensor.of(new float[] {1f, 2f, 3f, 4f}, 2, 2);
        Tensor c = Tensor.of(new float[] {1f, -2f, 4f, Float.MAX_VALUE}, 2, 2);
        Matmul.create().withBackend(backend).gemm(false, false, 0f, a, b, 0.5f, c);
        assertArrayEquals(new float[] {0.5f, -1f, 2f, Float.MAX_VALUE / 2}, c.toFloatArray());
        Tensor c0 = Tensor.of(new float[] {Float.NaN, Float.NaN, Float.NaN, Float.NaN}, 2, 2);
        Matmul.create().withBackend(backend).gemm(true, true, 0f, a, b, 0f, c0);
        assertArrayEquals(new float[4], c0.toFloatArray());
        // Similarity's scale is that alpha: scale 0 gives zeros whatever the rows hold
        float[] s = Similarity.dot().withScale(0f).withBackend(backend).forward(a, b).toFloatArray();
        assertArrayEquals(new float[4], s);
    }
}
