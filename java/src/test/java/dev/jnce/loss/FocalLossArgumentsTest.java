package dev.jnce.loss;

import dev.jnce.testutil.ScopedTest;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;


import static dev.jnce.loss.CrossEntropyArgumentsTest.assertMessage;

/**
 * Bad input to SoftmaxFocalLoss is caught in Java before any native call. (SigmoidFocalLoss shares
 * the element-wise checks tested in BinaryCrossEntropyArgumentsTest.)
 */
class FocalLossArgumentsTest extends ScopedTest {
    private Tensor logits;  // (4, 3)
    private Tensor targets; // (4)

    @BeforeEach
    void setUp() {
        logits = Tensor.of(new float[12], 4, 3);
        targets = Tensor.of(new long[] {0, 1, 2, 0});
    }

    private static SoftmaxFocalLoss focal(Backend b) {
        return SoftmaxFocalLoss.create().withBackend(b);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void logitsOfTheWrongShapeAreRejected(Backend b) {
        assertMessage(IllegalArgumentException.class, () -> focal(b).forward(Tensor.of(new float[4], 4, 1), targets),
                "logits", "(4, 1)", "C >= 2", "SigmoidFocalLoss");
        assertMessage(IllegalArgumentException.class, () -> focal(b).forward(Tensor.of(new float[24], 2, 4, 3), targets),
                "logits", "(N, C)", "(2, 4, 3)");
        assertMessage(IllegalArgumentException.class, () -> focal(b).forward(Tensor.zeros(DType.FLOAT32, 0, 3),
                Tensor.zeros(DType.INT64, 0)), "logits", "N >= 1", "(0, 3)");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void targetsOfTheWrongShapeOrTypeAreRejected(Backend b) {
        assertMessage(IllegalArgumentException.class, () -> focal(b).forward(logits, Tensor.of(new long[] {0, 1, 2})),
                "targets", "(3)", "(4, 3)", "(N) = (4)");
        assertMessage(IllegalArgumentException.class, () -> focal(b).forward(logits, Tensor.of(new long[] {0, 1, 2, 0}, 4, 1)),
                "targets", "(4, 1)");
        assertMessage(IllegalArgumentException.class, () -> focal(b).forward(logits, Tensor.of(new float[] {0, 1, 2, 0})),
                "targets", "int32 or int64", "float32(4)");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void targetsOutsideTheClassRangeAreRejected(Backend b) {
        assertMessage(IllegalArgumentException.class, () -> focal(b).forward(logits, Tensor.of(new int[] {0, 3, 1, 0})),
                "targets[1] = 3", "[0, 3)", "(4, 3)");
        assertMessage(IllegalArgumentException.class, () -> focal(b).forward(logits, Tensor.of(new long[] {0, 1, 1, -1})),
                "targets[3] = -1");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void alphaOfTheWrongLengthOrTypeIsRejected(Backend b) {
        assertMessage(IllegalArgumentException.class, () -> focal(b).withAlpha(Tensor.of(new float[] {1, 1})).forward(logits, targets),
                "alpha", "(C) one weight per class = (3)", "got (2)");
        assertMessage(IllegalArgumentException.class, () -> focal(b).withAlpha(Tensor.of(new int[] {1, 1, 1})).forward(logits, targets),
                "alpha", "float32");
        Tensor alpha = Tensor.of(new float[] {1, 1, 1});
        SoftmaxFocalLoss withAlpha = focal(b).withAlpha(alpha);
        alpha.close();
        assertMessage(IllegalStateException.class, () -> withAlpha.forward(logits, targets), "alpha", "closed");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void nonFiniteAlphaIsRejected(Backend b) {
        assertMessage(IllegalArgumentException.class, () -> focal(b).withAlpha(Tensor.of(new float[] {1, Float.NaN, 1}))
                .forward(logits, targets), "alpha[1] = NaN", "not finite");
        assertMessage(IllegalArgumentException.class, () -> SoftmaxFocalLoss.create(Tensor.of(new float[] {1, 1, Float.NEGATIVE_INFINITY}), 2)
                .withBackend(b).forwardBackward(logits, targets), "alpha[2] = -Infinity", "not finite");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void badBuffersAreRejected(Backend b) {
        Tensor loss = Tensor.zeros(DType.FLOAT32), grad = Tensor.zeros(DType.FLOAT32, 4, 3);
        assertMessage(IllegalArgumentException.class, () -> focal(b).forwardBackward(logits, targets, loss,
                Tensor.zeros(DType.FLOAT32, 3, 4)), "grad", "(4, 3)", "(3, 4)");
        assertMessage(IllegalArgumentException.class, () -> focal(b).forwardBackward(logits, targets, loss, null), "grad", "null");
        assertMessage(IllegalArgumentException.class, () -> focal(b).forwardBackward(logits, targets,
                Tensor.zeros(DType.FLOAT32, 4), grad), "loss", "() or (1)", "(4)");
        assertMessage(IllegalArgumentException.class, () -> focal(b).withReduction(Reduction.NONE)
                .forwardBackward(logits, targets, loss, grad), "loss", "(N) = (4)");
        assertMessage(IllegalArgumentException.class, () -> focal(b).forwardBackward(logits, targets,
                Tensor.zeros(DType.INT64), grad), "loss", "float32");
        Tensor closed = Tensor.zeros(DType.FLOAT32, 4, 3);
        closed.close();
        assertMessage(IllegalStateException.class, () -> focal(b).forwardBackward(logits, targets, loss, closed), "grad", "closed");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void badGammaInTheFactoriesIsRejected(Backend b) {
        assertMessage(IllegalArgumentException.class, () -> SoftmaxFocalLoss.create(null, -1), "gamma", ">= 0");
        assertMessage(IllegalArgumentException.class, () -> SigmoidFocalLoss.create(0.25f, Float.POSITIVE_INFINITY), "gamma", "finite");
        assertMessage(IllegalArgumentException.class, () -> SigmoidFocalLoss.create(Float.NaN, 2), "alpha", "NaN");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void badGammaIsRejected(Backend b) {
        assertMessage(IllegalArgumentException.class, () -> focal(b).withGamma(-1), "gamma", ">= 0", "-1.0");
        assertMessage(IllegalArgumentException.class, () -> focal(b).withGamma(Float.NaN), "gamma", "NaN");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void closedAndNullTensorsAreRejected(Backend b) {
        Tensor closed = Tensor.of(new float[12], 4, 3);
        closed.close();
        assertMessage(IllegalStateException.class, () -> focal(b).forward(closed, targets), "logits", "closed");
        assertMessage(IllegalArgumentException.class, () -> focal(b).forward(logits, null), "targets", "null");
        assertMessage(IllegalArgumentException.class, () -> focal(b).forward(Tensor.of(new int[12], 4, 3), targets),
                "logits", "float32");
    }
}
