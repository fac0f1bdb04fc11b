package dev.jnce.ops;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.testutil.ScopedTest;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad input to Matmul, Normalize, Similarity, CosineSimilarity and HardNegatives is caught in
 * Java before any native call, with a message naming the argument and the shapes.
 */
class SimilarityArgumentsTest extends ScopedTest {
    private Tensor a; // (4, 3)
    private Tensor b; // (5, 3)

    @BeforeEach
    void setUp() {
        a = Tensor.of(SimilarityReference.random(12, 1), 4, 3);
        b = Tensor.of(SimilarityReference.random(15, 2), 5, 3);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void mismatchedFeatureDimensionsAreRejected(Backend k) {
        Tensor d4 = Tensor.zeros(DType.FLOAT32, 5, 4);
        assertMessage(IllegalArgumentException.class, () -> Similarity.cosine().withBackend(k).forward(a, d4),
                "b", "D = 4", "a's D = 3", "(4, 3)", "(5, 4)");
        assertMessage(IllegalArgumentException.class, () -> CosineSimilarity.create().withBackend(k)
                .forward(a, Tensor.zeros(DType.FLOAT32, 4, 4)), "x2", "D = 4");
        assertMessage(IllegalArgumentException.class, () -> CosineSimilarity.create().withBackend(k).forward(a, b),
                "x2", "5 rows", "x1 has 4");
        assertMessage(IllegalArgumentException.class, () -> Matmul.create().withBackend(k).multiply(a, b),
                "b", "K = 5", "K = 3", "(4, 3)");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void wrongRanksAndTypesAreRejected(Backend k) {
        Tensor rank3 = Tensor.zeros(DType.FLOAT32, 2, 2, 3), rank1 = Tensor.zeros(DType.FLOAT32, 3);
        assertMessage(IllegalArgumentException.class, () -> Similarity.dot().withBackend(k).forward(rank3, b),
                "a", "(N, D)", "(2, 2, 3)");
        assertMessage(IllegalArgumentException.class, () -> Similarity.dot().withBackend(k).forward(a, rank1),
                "b", "(M, D)", "(3)");
        assertMessage(IllegalArgumentException.class, () -> Normalize.create().withBackend(k).forward(Tensor.zeros(DType.FLOAT32)),
                "x", "rank >= 1", "()");
        assertMessage(IllegalArgumentException.class, () -> Normalize.create().withBackend(k).forward(Tensor.of(new int[] {1, 2})),
                "x", "float32", "int32(2)");
        assertMessage(IllegalArgumentException.class, () -> Similarity.dot().withBackend(k)
                .forward(Tensor.zeros(DType.FLOAT32, 0, 3), b), "a", "empty", "(0, 3)");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void closedTensorsAreRejected(Backend k) {
        Tensor closed = Tensor.of(new float[12], 4, 3);
        closed.close();
        assertMessage(IllegalStateException.class, () -> Similarity.cosine().withBackend(k).forward(closed, b), "a", "closed");
        assertMessage(IllegalStateException.class, () -> Normalize.create().withBackend(k).forward(closed), "x", "closed");
        assertMessage(IllegalStateException.class, () -> CosineSimilarity.create().withBackend(k).forward(a, closed), "x2", "closed");
        assertMessage(IllegalStateException.class, () -> HardNegatives.create(1).withBackend(k).mine(closed), "sim", "closed");
        assertMessage(IllegalStateException.class, () -> Similarity.dot().withBackend(k)
                .backward(a, b, Tensor.zeros(DType.FLOAT32, 4, 5), closed, null), "dA", "closed");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void wrongGradientAndOutputShapesAreRejected(Backend k) {
        Similarity sim = Similarity.cosine().withBackend(k);
        assertMessage(IllegalArgumentException.class, () -> sim.backward(a, b, Tensor.zeros(DType.FLOAT32, 5, 4)),
                "dS", "(N, M) = (4, 5)", "got (5, 4)");
        assertMessage(IllegalArgumentException.class, () -> sim.forward(a, b, Tensor.zeros(DType.FLOAT32, 4, 4)),
                "s", "(4, 5)", "(4, 4)");
        assertMessage(IllegalArgumentException.class, () -> sim.backward(a, b, Tensor.zeros(DType.FLOAT32, 4, 5), a, null),
                "dA", "shares memory with a");
        assertMessage(IllegalArgumentException.class, () -> Normalize.create().withBackend(k).backward(a, b),
                "dy", "(4, 3)", "(5, 3)");
        assertMessage(IllegalArgumentException.class, () -> CosineSimilarity.create().withBackend(k)
                .backward(a, a, Tensor.zeros(DType.FLOAT32, 3)), "dOut", "(N) = (4)", "got (3)");
        assertMessage(IllegalArgumentException.class, () -> Matmul.create().withBackend(k)
                .gemm(false, true, 1f, a, b, 0f, Tensor.zeros(DType.FLOAT32, 5, 4)), "c", "(4, 5)", "got (5, 4)");
    }

    @Test
    void invalidEpsAndScaleAreRejected() {
        assertMessage(IllegalArgumentException.class, () -> Normalize.create().withEps(-1e-12), "eps", "-1.0E-12");
        assertMessage(IllegalArgumentException.class, () -> CosineSimilarity.create().withEps(Double.NaN), "eps", "NaN");
        assertMessage(IllegalArgumentException.class, () -> Similarity.cosine().withEps(Double.POSITIVE_INFINITY), "eps");
        assertMessage(IllegalArgumentException.class, () -> Similarity.dot().withScale(Float.NaN), "scale", "finite");
        assertMessage(IllegalArgumentException.class, () -> HardNegatives.create(-1), "k", ">= 0", "-1");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void miningRejectsNaNShortRowsAndBadPositives(Backend k) {
        Tensor sim = Tensor.of(new float[][] {{0.1f, 0.2f, 0.3f}, {0.4f, Float.NaN, 0.6f}});
        assertMessage(IllegalArgumentException.class, () -> HardNegatives.create(1).withBackend(k).mine(sim),
                "sim", "row 1", "NaN", "column 1");
        Tensor fine = Tensor.of(new float[][] {{0.1f, 0.2f, 0.3f}, {0.4f, 0.5f, 0.6f}});
        assertMessage(IllegalArgumentException.class, () -> HardNegatives.create(3).withBackend(k).mine(fine),
                "k", "row 0", "only 2");
        assertMessage(IllegalArgumentException.class, () -> HardNegatives.create(2).withBackend(k)
                .mine(fine, Tensor.of(new long[] {7, 8}), Tensor.of(new long[] {7, 7, 8})), "row 0", "only 1");
        assertMessage(IllegalArgumentException.class, () -> HardNegatives.create(1).withBackend(k)
                .mine(fine, Tensor.of(new long[] {1, 2, 3}), Tensor.of(new long[] {1, 2, 3})), "queryLabels", "(N) = (2)", "(3)");
        assertMessage(IllegalArgumentException.class, () -> HardNegatives.create(2).withBackend(k)
                .mineMasked(fine, Tensor.of(new int[] {1, 0, 0, 0, 1, 1}, 2, 3)), "k", "row 1", "only 1");
        float[] wide = new float[300 * 400]; // a NaN deep in a large matrix: found by the chunked, parallel scan
        wide[250 * 400 + 17] = Float.NaN;
        wide[299 * 400 + 3] = Float.NaN;
        assertMessage(IllegalArgumentException.class, () -> HardNegatives.create(5).withBackend(k).mine(Tensor.of(wide, 300, 400)),
                "sim", "row 250", "column 17");
        assertMessage(IllegalArgumentException.class, () -> HardNegatives.create(1).withBackend(k)
                .mineMasked(fine, Tensor.of(new float[6], 2, 3)), "mask", "int32, int64", "float32(2, 3)");
        assertMessage(IllegalArgumentException.class, () -> HardNegatives.create(1).withBackend(k)
                .mineMasked(fine, Tensor.of(new int[6], 3, 2)), "mask", "(2, 3)", "(3, 2)");
        assertMessage(IllegalArgumentException.class, () -> HardNegatives.gather(b, Tensor.of(new long[] {0, 5}, 1, 2)),
                "indices[1] = 5", "[0, 5)");
    }

    static void assertMessage(Class<? extends Exception> type, Executable call, String... fragments) {
        Exception e = assertThrows(type, call);
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "message '" + e.getMessage() + "' should contain '" + f + "'");
        }
    }
}
