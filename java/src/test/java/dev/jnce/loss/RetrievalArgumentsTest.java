package dev.jnce.loss;

import dev.jnce.Tensor;
import dev.jnce.loss.InfoNce.Direction;
import dev.jnce.testutil.ScopedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad input to the retrieval options, SampledSoftmax and BprLoss: an IllegalArgumentException naming the argument. */
class RetrievalArgumentsTest extends ScopedTest {
    private final Tensor q = Tensor.of(new float[12], 3, 4), k = Tensor.of(new float[12], 3, 4);

    private static void assertMessage(Executable call, String argument, String... more) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().startsWith(argument), e.getMessage());
        for (String s : more) assertTrue(e.getMessage().contains(s), e.getMessage());
    }

    @Test
    void optionValues() {
        InfoNce l = InfoNce.create();
        assertMessage(() -> l.withMargin(Float.NaN), "margin");
        assertMessage(() -> l.withMargin(Float.POSITIVE_INFINITY), "margin");
        assertMessage(() -> l.withLabelSmoothing(-0.1f), "labelSmoothing");
        assertMessage(() -> l.withLabelSmoothing(1.5f), "labelSmoothing");
        assertMessage(() -> l.withDirection(null), "direction");
    }

    @Test
    void perBatchTensors() {
        InfoNce l = InfoNce.create();
        assertMessage(() -> l.withLogQCorrection(Tensor.of(new float[4], 4)).forwardBackward(q, k), "logQ", "(3)");
        assertMessage(() -> l.withLogQCorrection(Tensor.of(new float[] {0, Float.NaN, 0}, 3)).forwardBackward(q, k),
                "logQ[1]", "not finite");
        assertMessage(() -> l.withLogQCorrection(Tensor.of(new long[3], 3)).forwardBackward(q, k), "logQ");
        assertMessage(() -> l.withSamplingProbabilities(Tensor.of(new float[] {0.5f, 1.5f, 0.1f}, 3)).forwardBackward(q, k),
                "samplingProbabilities[1]", "[0, 1]");
        assertMessage(() -> l.withAccidentalHits(Tensor.of(new long[2], 2)).forwardBackward(q, k), "keyIds");
        assertMessage(() -> l.withAccidentalHits(Tensor.of(new float[3], 3)).forwardBackward(q, k), "keyIds");
        Tensor bank = Tensor.of(new float[8], 2, 4);
        assertMessage(() -> l.withAccidentalHits(Tensor.of(new long[3], 3)).forwardBackward(q, k, bank), "keyIds", "(5)");
        Tensor closed = Tensor.of(new float[3], 3);
        closed.close();
        assertThrows(IllegalStateException.class, () -> l.withLogQCorrection(closed).forwardBackward(q, k));
    }

    @Test
    void combinationsThatAreNotSupported() {
        InfoNce l = InfoNce.create();
        Tensor logQ = Tensor.of(new float[3], 3), ids = Tensor.of(new long[3], 3);
        assertMessage(() -> l.withDirection(Direction.KEY_TO_QUERY).withLogQCorrection(logQ).forwardBackward(q, k), "logQ",
                "KEY_TO_QUERY");
        assertMessage(() -> l.withDirection(Direction.BIDIRECTIONAL_GTE).withAccidentalHits(ids).forwardBackward(q, k),
                "keyIds");
        assertMessage(() -> l.withDirection(Direction.SYMMETRIC).forwardBackward(q, k, Tensor.of(new float[8], 2, 4)),
                "direction");
        assertMessage(() -> l.withMargin(0.1f).withDecoupled(true).forwardBackward(q, k), "decoupled");
        assertMessage(() -> l.withMargin(0.1f).forwardBackward(q), "withDirection");
        assertMessage(() -> l.withLabelSmoothing(0.1f).forwardBackwardNegatives(q, k, Tensor.of(new float[24], 3, 2, 4)),
                "withDirection");
        assertMessage(() -> l.withDirection(Direction.SYMMETRIC).forwardBackwardLabels(q, k, ids, ids), "withDirection");
    }

    @Test
    void sampledSoftmaxAndBpr() {
        Tensor sampled = Tensor.of(new float[8], 2, 4);
        SampledSoftmax s = SampledSoftmax.create();
        assertMessage(() -> s.forwardBackward(q, k, sampled, Tensor.of(new float[2], 2), Tensor.of(new float[2], 2)),
                "logQPositives", "(N)");
        assertMessage(() -> s.forwardBackward(q, k, sampled, Tensor.of(new float[3], 3), Tensor.of(new float[3], 3)),
                "logQSampled", "(M)");
        assertMessage(() -> s.forwardBackward(q, k, sampled, Tensor.of(new float[] {0, Float.NaN, 0}, 3),
                Tensor.of(new float[2], 2)), "logQPositives");
        assertMessage(() -> s.forwardBackward(null, k, sampled), "queries");
        assertMessage(() -> s.forwardBackward(q, k, Tensor.of(new float[6], 2, 3)), "sampled");
        BprLoss b = BprLoss.create();
        assertMessage(() -> b.forwardBackward(q, k, Tensor.of(new float[0], 3, 0, 4)), "negatives", "K = 0");
        assertMessage(() -> b.forwardBackward(q, k, Tensor.of(new float[12], 3, 4)), "negatives");
        assertMessage(() -> b.forwardBackward(q, Tensor.of(new float[8], 2, 4), Tensor.of(new float[12], 3, 1, 4)), "positives");
        assertMessage(() -> b.withReduction(null), "reduction");
    }
}
