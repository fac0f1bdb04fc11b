package dev.jnce.loss;

import dev.jnce.testutil.ScopedTest;

import dev.jnce.Backend;
import dev.jnce.Reduction;
import dev.jnce.DType;
import dev.jnce.Tensor;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.function.BiFunction;
import java.util.stream.Stream;

import static dev.jnce.loss.CrossEntropyArgumentsTest.assertMessage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Bad input to BinaryCrossEntropy, BinaryCrossEntropyWithLogits and SigmoidFocalLoss (which share
 * the input/target checks) is caught in Java before any native call, with a message naming the
 * argument and the shapes or values seen and expected.
 */
class BinaryCrossEntropyArgumentsTest extends ScopedTest {
    private Tensor input;  // (4, 5) probabilities, also valid logits
    private Tensor target; // (4, 5)

    @BeforeEach
    void setUp() {
        input = Tensor.of(BinaryCrossEntropyTest.uniform(20, 0, 1, 1), 4, 5);
        target = Tensor.of(BinaryCrossEntropyTest.uniform(20, 0, 1, 2), 4, 5);
    }

    /** The three element-wise losses as forward calls on one backend. */
    private static Stream<BiFunction<Tensor, Tensor, Tensor>> losses(Backend b) {
        return Stream.of(BinaryCrossEntropy.create().withBackend(b)::forward,
                BinaryCrossEntropyWithLogits.create().withBackend(b)::forward,
                SigmoidFocalLoss.create().withBackend(b)::forward);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void probabilitiesOutsideTheUnitIntervalAreRejected(Backend b) {
        BinaryCrossEntropy bce = BinaryCrossEntropy.create().withBackend(b);
        assertMessage(IllegalArgumentException.class, () -> bce.forward(Tensor.of(new float[] {0.5f, 1.5f}),
                Tensor.of(new float[] {0, 1})), "input[1] = 1.5", "outside [0, 1]");
        assertMessage(IllegalArgumentException.class, () -> bce.forward(Tensor.of(new float[] {-1e-7f, 0.5f}),
                Tensor.of(new float[] {0, 1})), "input[0] = -1.0E-7");
        assertMessage(IllegalArgumentException.class, () -> bce.forward(Tensor.of(new float[] {Float.NaN}),
                Tensor.of(new float[] {0})), "input[0] = NaN", "outside [0, 1]");
    }

    /** The range check runs in parallel chunks of 4096: the message still names the first bad value. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void theFirstBadTargetOfALargeTensorIsNamed(Backend b) {
        int n = 300_000;
        float[] x = new float[n], y = new float[n];
        java.util.Arrays.fill(y, 0.5f);
        y[250_001] = 7f;
        y[200_003] = Float.NaN;
        y[299_999] = -1f;
        losses(b).forEach(f -> assertMessage(IllegalArgumentException.class, () -> f.apply(Tensor.of(x), Tensor.of(y)),
                "target[200003] = NaN", "outside [0, 1]"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void targetsOutsideTheUnitIntervalAreRejected(Backend b) {
        Tensor x = Tensor.of(new float[] {0.5f, 0.5f, 0.5f}), y = Tensor.of(new float[] {0, -0.5f, 1});
        losses(b).forEach(f -> assertMessage(IllegalArgumentException.class, () -> f.apply(x, y),
                "target[1] = -0.5", "outside [0, 1]"));
        Tensor two = Tensor.of(new float[] {0, 1, 2});
        losses(b).forEach(f -> assertMessage(IllegalArgumentException.class, () -> f.apply(x, two), "target[2] = 2.0"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void mismatchedShapesAreRejected(Backend b) {
        Tensor other = Tensor.of(new float[20], 5, 4);
        losses(b).forEach(f -> assertMessage(IllegalArgumentException.class, () -> f.apply(input, other),
                "target", "(5, 4)", "(4, 5)", "same shape"));
        Tensor flat = Tensor.of(new float[20]);
        losses(b).forEach(f -> assertMessage(IllegalArgumentException.class, () -> f.apply(input, flat), "target", "(20)"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void negativePosWeightIsRejected(Backend b) {
        BinaryCrossEntropyWithLogits bce = BinaryCrossEntropyWithLogits.create().withBackend(b);
        assertMessage(IllegalArgumentException.class, () -> bce.withPosWeight(Tensor.of(new float[] {1, -1, 0, 2, 3}))
                .forward(input, target), "posWeight[1] = -1.0", ">= 0");
        assertMessage(IllegalArgumentException.class, () -> bce.withPosWeight(Tensor.of(new float[] {1, 1, Float.NaN, 1, 1}))
                .forward(input, target), "posWeight[2] = NaN");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void nonFiniteWeightsAreRejected(Backend b) {
        float nan = Float.NaN, inf = Float.POSITIVE_INFINITY;
        assertMessage(IllegalArgumentException.class, () -> BinaryCrossEntropy.create().withBackend(b)
                .withWeight(Tensor.of(new float[] {1, 1, nan, 1, 1})).forward(input, target), "weight[2] = NaN", "not finite");
        assertMessage(IllegalArgumentException.class, () -> BinaryCrossEntropy.create().withBackend(b)
                .withWeight(Tensor.scalar(-inf)).forward(input, target), "weight[0] = -Infinity", "not finite");
        assertMessage(IllegalArgumentException.class, () -> BinaryCrossEntropyWithLogits.create().withBackend(b)
                .withWeight(Tensor.of(new float[] {1, inf, 1, 1, 1})).forward(input, target), "weight[1] = Infinity", "not finite");
        assertMessage(IllegalArgumentException.class, () -> BinaryCrossEntropyWithLogits.create().withBackend(b)
                .withPosWeight(Tensor.of(new float[] {1, 1, 1, inf, 1})).forward(input, target),
                "posWeight[3] = Infinity", "finite and >= 0");
        // negative weights stay allowed, as in PyTorch
        float[] negative = {-1, 1, 1, 1, 1};
        BinaryCrossEntropy.create().withBackend(b).withWeight(Tensor.of(negative)).forward(input, target);
        BinaryCrossEntropyWithLogits.create().withBackend(b).withWeight(Tensor.of(negative)).forward(input, target);
    }

    /** The three element-wise losses' into-buffers form on one backend. */
    private static Stream<BinaryCrossEntropyTest.IntoBuffers> intoBuffers(Backend b, Reduction r) {
        return Stream.of(BinaryCrossEntropy.create().withReduction(r).withBackend(b)::forwardBackward,
                BinaryCrossEntropyWithLogits.create().withReduction(r).withBackend(b)::forwardBackward,
                SigmoidFocalLoss.create().withReduction(r).withBackend(b)::forwardBackward);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void badBuffersAreRejected(Backend b) {
        Tensor loss = Tensor.zeros(DType.FLOAT32), grad = Tensor.zeros(DType.FLOAT32, 4, 5), other = Tensor.zeros(DType.FLOAT32, 4, 5);
        intoBuffers(b, Reduction.MEAN).forEach(f -> {
            assertMessage(IllegalArgumentException.class, () -> f.run(input, target, Tensor.zeros(DType.FLOAT32, 2), grad, other),
                    "loss", "() or (1)", "MEAN", "(2)");
            assertMessage(IllegalArgumentException.class, () -> f.run(input, target, Tensor.zeros(DType.INT32), grad, other),
                    "loss", "float32");
            assertMessage(IllegalArgumentException.class, () -> f.run(input, target, null, grad, other), "loss", "null");
            assertMessage(IllegalArgumentException.class, () -> f.run(input, target, loss, Tensor.zeros(DType.FLOAT32, 5, 4), other),
                    "gradInput", "(4, 5)", "(5, 4)");
            assertMessage(IllegalArgumentException.class, () -> f.run(input, target, loss, null, other), "gradInput", "null");
            assertMessage(IllegalArgumentException.class, () -> f.run(input, target, loss, grad, Tensor.zeros(DType.FLOAT32, 20)),
                    "gradTarget", "(4, 5)", "(20)");
            assertMessage(IllegalArgumentException.class, () -> f.run(input, target, loss, grad, Tensor.of(new int[20], 4, 5)),
                    "gradTarget", "float32");
            assertMessage(IllegalArgumentException.class, () -> f.run(input, target, loss, grad, grad),
                    "gradTarget", "gradInput itself");
        });
        intoBuffers(b, Reduction.NONE).forEach(f -> assertMessage(IllegalArgumentException.class,
                () -> f.run(input, target, loss, grad, other), "loss", "(4, 5)", "got ()"));
        Tensor closed = Tensor.zeros(DType.FLOAT32, 4, 5);
        closed.close();
        intoBuffers(b, Reduction.SUM).forEach(f -> assertMessage(IllegalStateException.class,
                () -> f.run(input, target, loss, closed, other), "gradInput", "closed"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void weightsOfTheWrongLengthAreRejected(Backend b) {
        Tensor three = Tensor.of(new float[] {1, 2, 3});
        assertMessage(IllegalArgumentException.class, () -> BinaryCrossEntropy.create().withBackend(b).withWeight(three)
                .forward(input, target), "weight", "(3)", "does not broadcast over input (4, 5)", "(C) = (5)");
        assertMessage(IllegalArgumentException.class, () -> BinaryCrossEntropyWithLogits.create().withBackend(b)
                .withWeight(three).forward(input, target), "weight", "(3)", "(4, 5)");
        assertMessage(IllegalArgumentException.class, () -> BinaryCrossEntropyWithLogits.create().withBackend(b)
                .withPosWeight(three).forward(input, target), "posWeight", "(3)", "(4, 5)", "(C) = (5)");
        Tensor rows = Tensor.of(new float[4]); // (N) is not a trailing part of (N, C)
        assertMessage(IllegalArgumentException.class, () -> BinaryCrossEntropy.create().withBackend(b).withWeight(rows)
                .forward(input, target), "weight", "(4)", "(4, 5)");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void broadcastableWeightsAreAccepted(Backend b) {
        // every accepted shape gives the loss of the same weights written out in full, (4, 5)
        float[] perClass = {0.5f, 1f, 1.5f, 2f, 2.5f}, full = new float[20];
        for (int i = 0; i < 20; i++) full[i] = perClass[i % 5];
        Tensor whole = Tensor.of(full, 4, 5);
        float wantBce = BinaryCrossEntropy.create().withBackend(b).withWeight(whole).forward(input, target).item();
        float wantLogits = BinaryCrossEntropyWithLogits.create().withBackend(b).withWeight(whole).withPosWeight(whole)
                .forward(input, target).item();
        for (Tensor w : new Tensor[] {Tensor.of(perClass), Tensor.of(perClass, 1, 5), whole}) {
            assertEquals(wantBce, BinaryCrossEntropy.create().withBackend(b).withWeight(w).forward(input, target).item(),
                    1e-6f * Math.abs(wantBce), "weight " + Tensor.formatShape(w.shape()));
            assertEquals(wantLogits, BinaryCrossEntropyWithLogits.create().withBackend(b).withWeight(w).withPosWeight(w)
                    .forward(input, target).item(), 1e-6f * Math.abs(wantLogits), "weight " + Tensor.formatShape(w.shape()));
        }
        // a scalar weight scales the unweighted loss
        float plain = BinaryCrossEntropy.create().withBackend(b).forward(input, target).item();
        assertEquals(2 * plain, BinaryCrossEntropy.create().withBackend(b).withWeight(Tensor.scalar(2)).forward(input, target).item(),
                1e-6f * Math.abs(plain), "scalar weight");
        float[] twos = new float[20];
        Arrays.fill(twos, 2f);
        assertEquals(BinaryCrossEntropyWithLogits.create().withBackend(b).withPosWeight(Tensor.of(twos, 4, 5)).forward(input, target).item(),
                BinaryCrossEntropyWithLogits.create().withBackend(b).withPosWeight(Tensor.scalar(2)).forward(input, target).item(),
                1e-6f * Math.abs(plain), "scalar pos_weight");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void wrongElementTypesAreRejected(Backend b) {
        Tensor ints = Tensor.of(new int[20], 4, 5);
        losses(b).forEach(f -> assertMessage(IllegalArgumentException.class, () -> f.apply(ints, target),
                "input", "expected float32", "int32(4, 5)"));
        losses(b).forEach(f -> assertMessage(IllegalArgumentException.class, () -> f.apply(input, ints),
                "target", "expected float32"));
        assertMessage(IllegalArgumentException.class, () -> BinaryCrossEntropy.create().withBackend(b)
                .withWeight(Tensor.of(new int[5])).forward(input, target), "weight", "float32");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void emptyInputIsRejected(Backend b) {
        Tensor empty = Tensor.zeros(DType.FLOAT32, 0, 5);
        losses(b).forEach(f -> assertMessage(IllegalArgumentException.class, () -> f.apply(empty, empty),
                "input", "empty", "(0, 5)"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void closedTensorsAreRejected(Backend b) {
        Tensor closed = Tensor.of(new float[20], 4, 5);
        closed.close();
        losses(b).forEach(f -> assertMessage(IllegalStateException.class, () -> f.apply(closed, target), "input", "closed"));
        losses(b).forEach(f -> assertMessage(IllegalStateException.class, () -> f.apply(input, closed), "target", "closed"));
        Tensor weight = Tensor.of(new float[5]);
        BinaryCrossEntropyWithLogits bce = BinaryCrossEntropyWithLogits.create().withBackend(b).withPosWeight(weight);
        weight.close();
        assertMessage(IllegalStateException.class, () -> bce.forward(input, target), "posWeight", "closed");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void nullsAreRejected(Backend b) {
        losses(b).forEach(f -> assertMessage(IllegalArgumentException.class, () -> f.apply(null, target), "input", "null"));
        losses(b).forEach(f -> assertMessage(IllegalArgumentException.class, () -> f.apply(input, null), "target", "null"));
        assertThrows(IllegalArgumentException.class, () -> BinaryCrossEntropy.create().withReduction(null));
        assertThrows(IllegalArgumentException.class, () -> BinaryCrossEntropyWithLogits.create().withBackend(null));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void badFocalOptionsAreRejected(Backend b) {
        SigmoidFocalLoss focal = SigmoidFocalLoss.create().withBackend(b);
        assertMessage(IllegalArgumentException.class, () -> focal.withGamma(-0.5f), "gamma", ">= 0", "-0.5");
        assertMessage(IllegalArgumentException.class, () -> focal.withGamma(Float.NaN), "gamma", "NaN");
        assertMessage(IllegalArgumentException.class, () -> focal.withGamma(Float.POSITIVE_INFINITY), "gamma", "finite");
        assertMessage(IllegalArgumentException.class, () -> focal.withAlpha(Float.NaN), "alpha", "NaN");
    }
}
