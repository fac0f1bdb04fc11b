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
