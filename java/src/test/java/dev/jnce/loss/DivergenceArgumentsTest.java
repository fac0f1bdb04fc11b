package dev.jnce.loss;

import dev.jnce.Reduction;
import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import static dev.jnce.loss.CrossEntropyArgumentsTest.assertMessage;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Bad input to KlDiv, Entropy and Perplexity is caught before any loss is computed, with a
 * message naming the argument and the shapes or values seen and expected.
 */
class DivergenceArgumentsTest extends DivergenceTestBase {
    private Tensor p; // (2, 3) distributions, made in the scope DivergenceTestBase opens first

    @BeforeEach
    void setUp() {
        p = Tensor.of(new float[] {0.2f, 0.3f, 0.5f, 0.6f, 0.3f, 0.1f}, 2, 3);
    }

    private static KlDiv kl(Backend b) {
        return KlDiv.create().withBackend(b);
    }

    private static Entropy entropy(Backend b) {
        return Entropy.create().withBackend(b);
    }

    private static Perplexity ppl(Backend b) {
        return Perplexity.create().withBackend(b);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void klRejectsMismatchedShapes(Backend b) {
        assertMessage(IllegalArgumentException.class, () -> kl(b).forward(p, Tensor.of(new float[6], 3, 2)),
                "target", "(3, 2)", "input (2, 3)");
        assertMessage(IllegalArgumentException.class, () -> kl(b).forwardBackward(p, Tensor.of(new float[3])),
                "target", "(3)", "same shape");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void klRejectsWrongTypesEmptyTensorsAndABatchmeanScalar(Backend b) {
        assertMessage(IllegalArgumentException.class, () -> kl(b).forward(Tensor.of(new int[6], 2, 3), p),
                "input", "expected float32", "int32(2, 3)");
        Tensor empty = Tensor.zeros(DType.FLOAT32, 0, 3);
        assertMessage(IllegalArgumentException.class, () -> kl(b).forward(empty, empty), "input", "empty", "(0, 3)");
        assertMessage(IllegalArgumentException.class,
                () -> kl(b).withReduction(Reduction.BATCHMEAN).forward(Tensor.scalar(-1f), Tensor.scalar(0.5f)),
                "input", "BATCHMEAN", "scalar");
        assertMessage(IllegalArgumentException.class, () -> kl(b).forward(null, p), "input", "null");
        assertThrows(IllegalArgumentException.class, () -> KlDiv.create().withReduction(null));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void closedTensorsAreRejected(Backend b) {
        Tensor closed = Tensor.of(new float[6], 2, 3);
        closed.close();
        assertMessage(IllegalStateException.class, () -> kl(b).forward(p, closed), "target", "closed");
        assertMessage(IllegalStateException.class, () -> entropy(b).cross(p, closed), "q", "closed");
        assertMessage(IllegalStateException.class, () -> ppl(b).forward(closed, Tensor.of(new long[6], 2, 3)),
                "tokenLosses", "closed");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void rowsThatAreNotDistributionsAreRejectedWithTheirIndexAndSum(Backend b) {
        Tensor badSum = Tensor.of(new float[] {0.2f, 0.3f, 0.5f, 0.6f, 0.3f, 0.3f}, 2, 3);
        assertMessage(IllegalArgumentException.class, () -> entropy(b).forward(badSum),
                "p: row 1", "sums to 1.2", "expected 1 within 1.0E-4");
        assertMessage(IllegalArgumentException.class, () -> entropy(b).cross(p, badSum), "q: row 1", "sums to 1.2");
        Tensor slightlyOff = Tensor.of(new float[] {0.5f, 0.5003f}, 1, 2);
        assertMessage(IllegalArgumentException.class, () -> entropy(b).forwardBackward(slightlyOff), "row 0", "sums to 1.0003");
        Tensor negative = Tensor.of(new float[] {0.2f, 0.3f, 0.5f, 1.2f, -0.3f, 0.1f}, 2, 3);
        assertMessage(IllegalArgumentException.class, () -> entropy(b).forward(negative),
                "p[1, 1] = -0.3", "row 1", "finite and >= 0");
        Tensor nan = Tensor.of(new float[] {Float.NaN, 0.5f, 0.5f}, 1, 3);
        assertMessage(IllegalArgumentException.class, () -> entropy(b).crossForwardBackward(nan, Tensor.of(new float[] {0.5f, 0.5f, 0f}, 1, 3)),
                "p[0, 0] = NaN");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void entropyRejectsWrongShapes(Backend b) {
        assertMessage(IllegalArgumentException.class, () -> entropy(b).forward(Tensor.of(new float[] {0.5f, 0.5f})),
                "p", "(N, C)", "got (2)", "(1, C)");
        assertMessage(IllegalArgumentException.class, () -> entropy(b).cross(p, Tensor.of(new float[] {0.5f, 0.5f, 0.5f, 0.5f}, 2, 2)),
                "q", "(2, 2)", "p (2, 3)");
        assertMessage(IllegalArgumentException.class, () -> entropy(b).forward(Tensor.zeros(DType.FLOAT32, 0, 3)),
                "p", "empty");
        assertMessage(IllegalArgumentException.class, () -> Entropy.create().withTolerance(-1e-4), "tolerance", "-1.0E-4");
        assertMessage(IllegalArgumentException.class, () -> Entropy.create().withTolerance(Double.NaN), "tolerance", "NaN");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void perplexityRejectsBadTargetsAndMasks(Backend b) {
        Tensor l = Tensor.of(new float[] {1f, 2f, 3f});
        assertMessage(IllegalArgumentException.class, () -> ppl(b).forward(l, Tensor.of(new float[] {0, 1, 2})),
                "targets", "int32 or int64", "(3)", "float32(3)");
        assertMessage(IllegalArgumentException.class, () -> ppl(b).forward(l, Tensor.of(new long[] {0, 1})),
                "targets", "(2)", "tokenLosses (3)");
        assertMessage(IllegalArgumentException.class, () -> ppl(b).forwardMasked(l, Tensor.of(new int[] {1, 2, 0})),
                "mask[1] = 2", "only 0", "and 1");
        assertMessage(IllegalArgumentException.class, () -> ppl(b).forwardBackwardMasked(l, Tensor.of(new int[] {1, 0, 1}, 3, 1)),
                "mask", "(3, 1)", "tokenLosses (3)");
        assertMessage(IllegalArgumentException.class, () -> ppl(b).forward(Tensor.of(new int[] {1, 2, 3}), Tensor.of(new long[3])),
                "tokenLosses", "float32", "int32(3)");
        assertMessage(IllegalArgumentException.class, () -> ppl(b).forward(Tensor.zeros(DType.FLOAT32, 0), Tensor.zeros(DType.INT64, 0)),
                "tokenLosses", "empty");
        assertThrows(IllegalArgumentException.class, () -> Perplexity.create().withAllIgnored(null));
    }
}
