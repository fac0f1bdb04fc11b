package dev.jnce.loss;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.testutil.ScopedTest;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import static dev.jnce.loss.CrossEntropyArgumentsTest.assertMessage;

/** Bad input to the triplet margin loss is caught in Java with the argument and shapes named. */
class TripletMarginLossArgumentsTest extends ScopedTest {
    private Tensor t; // (4, 3)

    @BeforeEach
    void setUp() {
        t = Tensor.of(new float[12], 4, 3);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void mismatchedShapesAreRejected(Backend b) {
        TripletMarginLoss loss = TripletMarginLoss.create().withBackend(b);
        assertMessage(IllegalArgumentException.class, () -> loss.forward(t, Tensor.zeros(DType.FLOAT32, 4, 2), t),
                "positive", "D = 2", "anchor's D = 3");
        assertMessage(IllegalArgumentException.class, () -> loss.forward(t, t, Tensor.zeros(DType.FLOAT32, 5, 3)),
                "negative", "(5, 3)", "expected (N, D) = (4, 3)");
        assertMessage(IllegalArgumentException.class, () -> loss.forward(Tensor.zeros(DType.FLOAT32, 3), t, t),
                "anchor", "(N, D)", "(3)");
        assertMessage(IllegalArgumentException.class, () -> loss.forward(t, Tensor.of(new int[12], 4, 3), t),
                "positive", "float32", "int32(4, 3)");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void closedTensorsAreRejected(Backend b) {
        Tensor closed = Tensor.of(new float[12], 4, 3);
        closed.close();
        assertMessage(IllegalStateException.class, () -> TripletMarginLoss.create().withBackend(b).forwardBackward(t, t, closed),
                "negative", "closed");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void callersBuffersAreChecked(Backend b) {
        TripletMarginLoss mean = TripletMarginLoss.create().withBackend(b);
        Tensor loss = Tensor.zeros(DType.FLOAT32), ga = Tensor.zeros(DType.FLOAT32, 4, 3), gp = Tensor.zeros(DType.FLOAT32, 4, 3);
        Tensor gn = Tensor.zeros(DType.FLOAT32, 4, 3);
        assertMessage(IllegalArgumentException.class, () -> mean.forwardBackward(t, t, t, Tensor.zeros(DType.FLOAT32, 4), ga, gp, gn),
                "loss", "() or (1)", "MEAN", "(4)");
        assertMessage(IllegalArgumentException.class, () -> mean.withReduction(dev.jnce.Reduction.NONE)
                .forwardBackward(t, t, t, loss, ga, gp, gn), "loss", "(N) = (4)", "got ()");
        assertMessage(IllegalArgumentException.class, () -> mean.forwardBackward(t, t, t, loss, ga, Tensor.zeros(DType.FLOAT32, 4, 2), gn),
                "gradPositive", "(N, D) of anchor = (4, 3)", "(4, 2)");
        assertMessage(IllegalArgumentException.class, () -> mean.forwardBackward(t, t, t, loss, ga, gp, null),
                "gradNegative", "null");
        assertMessage(IllegalArgumentException.class, () -> mean.forwardBackward(t, t, t, loss, ga, gp, ga),
                "gradNegative", "shares memory with gradAnchor");
        assertMessage(IllegalArgumentException.class, () -> mean.forwardBackward(ga, t, gn, loss, ga, gp, Tensor.zeros(DType.FLOAT32, 4, 3)),
                "gradAnchor", "shares memory with anchor");
        assertMessage(IllegalArgumentException.class, () -> mean.forwardBackward(t, t, t, loss, ga, gp, Tensor.of(new int[12], 4, 3)),
                "gradNegative", "float32", "int32(4, 3)");
    }

    @Test
    void invalidOptionsAreRejected() {
        assertMessage(IllegalArgumentException.class, () -> TripletMarginLoss.create().withMargin(Double.NaN), "margin", "finite");
        assertMessage(IllegalArgumentException.class, () -> TripletMarginLoss.create()
                .withDistance(TripletMarginLoss.Distance.COSINE).withMargin(0), "margin", "> 0", "cosine");
        assertMessage(IllegalArgumentException.class, () -> TripletMarginLoss.create().withMargin(-1)
                .withDistance(TripletMarginLoss.Distance.COSINE), "margin", "-1.0");
        assertMessage(IllegalArgumentException.class, () -> TripletMarginLoss.create().withEps(-1e-6), "eps", ">= 0");
        assertMessage(IllegalArgumentException.class, () -> TripletMarginLoss.create().withP(0), "p", "> 0");
        assertMessage(IllegalArgumentException.class, () -> TripletMarginLoss.create().withP(Double.POSITIVE_INFINITY), "p");
        assertMessage(IllegalArgumentException.class, () -> TripletMarginLoss.create().withReduction(null), "reduction");
    }
}
