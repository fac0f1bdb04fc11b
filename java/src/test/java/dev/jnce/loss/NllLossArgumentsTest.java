package dev.jnce.loss;

import dev.jnce.Reduction;
import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.testutil.ScopedTest;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;


import static dev.jnce.loss.CrossEntropyArgumentsTest.assertMessage;

/**
 * Bad input to NllLoss is caught with a message naming it: shapes and types in Java, target and
 * probability values by the kernel, on every backend in the same words.
 */
class NllLossArgumentsTest extends ScopedTest {
    private Tensor input;   // (4, 3) log-probabilities
    private Tensor targets; // (4)

    @BeforeEach
    void setUp() {
        input = Tensor.of(new float[] {-1, -2, -3, -1, -2, -3, -1, -2, -3, -1, -2, -3}, 4, 3);
        targets = Tensor.of(new long[] {0, 1, 2, -100});
    }


    private static NllLoss nll(Backend b) {
        return NllLoss.create().withBackend(b);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void inputsOfTheWrongShapeOrTypeAreRejected(Backend b) {
        assertMessage(IllegalArgumentException.class, () -> nll(b).forward(Tensor.of(new float[3]), targets),
                "input", "(N, C)", "got (3)");
        assertMessage(IllegalArgumentException.class, () -> nll(b).forward(Tensor.of(new float[24], 2, 4, 3), targets),
                "input", "(N, C)", "(2, 4, 3)");
        assertMessage(IllegalArgumentException.class, () -> nll(b).forward(Tensor.of(new int[12], 4, 3), targets),
                "input", "expected float32", "int32(4, 3)");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void emptyBatchesAreRejected(Backend b) {
        assertMessage(IllegalArgumentException.class,
                () -> nll(b).forward(Tensor.zeros(DType.FLOAT32, 0, 3), Tensor.zeros(DType.INT64, 0)), "input", "empty", "(0, 3)");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void targetsOfTheWrongShapeOrTypeAreRejected(Backend b) {
        assertMessage(IllegalArgumentException.class, () -> nll(b).forward(input, Tensor.of(new float[] {0, 1, 2, 0})),
                "targets", "int32 or int64", "float32(4)");
        assertMessage(IllegalArgumentException.class, () -> nll(b).forward(input, Tensor.of(new long[] {0, 1, 2, 0}, 4, 1)),
                "targets", "(4, 1)", "expected (N) = (4)");
        assertMessage(IllegalArgumentException.class, () -> nll(b).forward(input, Tensor.of(new long[] {0, 1, 2})),
                "targets", "(3)", "(4, 3)", "expected (N) = (4)");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void targetsOutsideTheClassesThatAreNotIgnoredAreRejected(Backend b) {
        assertMessage(IllegalArgumentException.class, () -> nll(b).forward(input, Tensor.of(new long[] {0, 3, 2, 0})),
                "targets[1] = 3", "[0, 3)", "not the ignore index -100");
        assertMessage(IllegalArgumentException.class, () -> nll(b).forward(input, Tensor.of(new int[] {0, 1, -1, 0})),
                "targets[2] = -1");
        assertMessage(IllegalArgumentException.class, () -> nll(b).withIgnoreIndex(1).forward(input, targets),
                "targets[3] = -100", "not the ignore index 1");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void weightsOfTheWrongLengthOrTypeAreRejected(Backend b) {
        assertMessage(IllegalArgumentException.class, () -> nll(b).withWeight(Tensor.of(new float[] {1, 1})).forward(input, targets),
                "weight", "(C) of input (4, 3) = (3)", "got (2)");
        assertMessage(IllegalArgumentException.class, () -> nll(b).withWeight(Tensor.of(new float[3], 1, 3)).forward(input, targets),
                "weight", "got (1, 3)");
        assertMessage(IllegalArgumentException.class, () -> nll(b).withWeight(Tensor.of(new long[3])).forward(input, targets),
                "weight", "float32", "int64(3)");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void closedTensorsAreRejected(Backend b) {
        Tensor closed = Tensor.of(new float[12], 4, 3);
        closed.close();
        assertMessage(IllegalStateException.class, () -> nll(b).forward(closed, targets), "input", "closed");
        Tensor closedTargets = Tensor.of(new long[] {0, 1, 2, 0});
        closedTargets.close();
        assertMessage(IllegalStateException.class, () -> nll(b).forward(input, closedTargets), "targets", "closed");
        Tensor weight = Tensor.of(new float[] {1, 1, 1});
        NllLoss weighted = nll(b).withWeight(weight);
        weight.close();
        assertMessage(IllegalStateException.class, () -> weighted.forward(input, targets), "weight", "closed");
        Tensor loss = Tensor.zeros(DType.FLOAT32);
        assertMessage(IllegalStateException.class, () -> nll(b).forwardBackward(input, targets, loss, closed), "grad", "closed");
        loss.close();
        assertMessage(IllegalStateException.class,
                () -> nll(b).forwardBackward(input, targets, loss, Tensor.zeros(DType.FLOAT32, 4, 3)), "loss", "closed");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void outputBuffersOfTheWrongShapeOrTypeAreRejected(Backend b) {
        Tensor loss = Tensor.zeros(DType.FLOAT32);
        assertMessage(IllegalArgumentException.class,
                () -> nll(b).forwardBackward(input, targets, loss, Tensor.zeros(DType.FLOAT32, 3, 4)),
                "grad", "(N, C) of input = (4, 3)", "got (3, 4)");
        assertMessage(IllegalArgumentException.class,
                () -> nll(b).withReduction(Reduction.NONE).forwardBackward(input, targets, loss, Tensor.zeros(DType.FLOAT32, 4, 3)),
                "loss", "(N) = (4)", "got ()");
        assertMessage(IllegalArgumentException.class,
                () -> nll(b).forwardBackward(input, targets, Tensor.zeros(DType.FLOAT32, 4), Tensor.zeros(DType.FLOAT32, 4, 3)),
                "loss", "()", "(4)");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void probabilitiesOutsideZeroToOneAreRejected(Backend b) {
        NllLoss probs = NllLoss.fromProbabilities().withBackend(b);
        assertMessage(IllegalArgumentException.class, () -> probs.forward(input, targets),
                "input[0, 0] = -1.0", "not a probability in [0, 1]", "log-probabilities");
        Tensor p = Tensor.of(new float[][] {{0.5f, 0.5f}, {1.5f, -0.5f}});
        assertMessage(IllegalArgumentException.class, () -> probs.forward(p, Tensor.of(new long[] {0, 0})), "input[1, 0] = 1.5");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void nullsAreRejected(Backend b) {
        assertMessage(IllegalArgumentException.class, () -> nll(b).forward(null, targets), "input", "null");
        assertMessage(IllegalArgumentException.class, () -> nll(b).forward(input, null), "targets", "null");
    }

    @Test
    void optionsRejectNull() {
        assertMessage(IllegalArgumentException.class, () -> NllLoss.create().withReduction(null), "reduction");
        assertMessage(IllegalArgumentException.class, () -> NllLoss.create().withBackend(null), "backend");
    }
}
