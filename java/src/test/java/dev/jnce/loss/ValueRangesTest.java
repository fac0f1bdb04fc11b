package dev.jnce.loss;

import dev.jnce.Backend;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.ops.CosineSimilarity;
import dev.jnce.ops.Normalize;
import dev.jnce.ops.Similarity;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.function.Consumer;

import static dev.jnce.loss.CrossEntropyArgumentsTest.assertMessage;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Values that would give NaN or a wrong answer without an error are refused with a message
 * naming the argument and the valid range: non-finite NLL class weights (as CrossEntropy refuses
 * them), temperatures whose inverse overflows float32 or is subnormal, subnormal logit scales,
 * SigLIP scale and bias whose logits overflow, and double options that do not survive the
 * conversion to the float32 the kernels take.
 */
class ValueRangesTest {
    private static final String BACKENDS = "dev.jnce.testutil.TestBackends#backends";
    private static final String RANGE = "[" + Float.MIN_NORMAL + ", " + Float.MAX_VALUE + "]";
    private static final float[] SUBNORMAL = {Float.MIN_VALUE, 1e-40f, 3e-39f, Math.nextDown(Float.MIN_NORMAL)};

    // ---- NLL class weights -----------------------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void nllRefusesANonFiniteClassWeightAsCrossEntropyDoes(Backend backend) {
        float[] logProbs = {-1f, -2f, -3f, -0.5f, -1.5f, -2.5f};
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
            // class 2 is no row's target: every weight must be finite all the same, as in CrossEntropy
            try (Tensor input = Tensor.of(logProbs, 2, 3); Tensor targets = Tensor.of(new long[] {0, 1});
                 Tensor weight = Tensor.of(new float[] {1f, 2f, bad}, 3);
                 Tensor loss = Tensor.of(new float[] {7f, 7f}, 2); Tensor grad = Tensor.of(new float[] {7, 7, 7, 7, 7, 7}, 2, 3)) {
                String want = "weight[2] = " + bad + " is not finite";
                NllLoss nll = NllLoss.create().withWeight(weight).withBackend(backend);
                assertMessage(IllegalArgumentException.class, () -> nll.forward(input, targets), want);
                assertMessage(IllegalArgumentException.class, () -> nll.forwardBackward(input, targets), want);
                assertMessage(IllegalArgumentException.class,
                        () -> nll.withReduction(Reduction.NONE).forwardBackward(input, targets, loss, grad), want);
                assertArrayEquals(new float[] {7f, 7f}, loss.toFloatArray(), "nothing is written");
                assertArrayEquals(new float[] {7, 7, 7, 7, 7, 7}, grad.toFloatArray(), "nothing is written");
                assertMessage(IllegalArgumentException.class,
                        () -> NllLoss.fromProbabilities().withWeight(weight).withBackend(backend).forward(input, targets),
                        want);
                IllegalArgumentException ce = assertThrows(IllegalArgumentException.class,
                        () -> CrossEntropy.create().withWeight(weight).withBackend(backend).forward(input, targets));
                IllegalArgumentException nl = assertThrows(IllegalArgumentException.class, () -> nll.forward(input, targets));
                assertEquals(ce.getMessage(), nl.getMessage(), "the same rule and message as CrossEntropy");
            }
        }
    }

    // ---- temperatures and logit scales -------------------------------------------------------

    @Test
    void temperaturesWhoseInverseOverflowsOrThatAreSubnormalAreRefused() {
        for (float tau : SUBNORMAL) {
            String value = String.valueOf(tau);
            assertMessage(IllegalArgumentException.class, () -> InfoNce.create().withTemperature(tau),
                    "temperature", value, "finite and > 0", RANGE, "1/temperature");
            assertMessage(IllegalArgumentException.class, () -> NtXent.create().withTemperature(tau), "temperature", value, RANGE);
            assertMessage(IllegalArgumentException.class,
                    () -> new InfoNceOptions(tau, true, false, Reduction.MEAN, false, 0, RetrievalOptions.NONE), "temperature", value, RANGE);
        }
        assertEquals(Float.MIN_NORMAL, InfoNce.create().withTemperature(Float.MIN_NORMAL).temperature());
        assertEquals(Float.MAX_VALUE, InfoNce.create().withTemperature(Float.MAX_VALUE).temperature());
        assertDoesNotThrow(() -> NtXent.create().withTemperature(Float.MIN_NORMAL));
    }

    @Test
    void subnormalLogitScalesAreRefused() {
        for (float scale : SUBNORMAL) {
            String value = String.valueOf(scale);
            assertMessage(IllegalArgumentException.class, () -> ClipLoss.create().withLogitScale(scale),
                    "logitScale", value, "finite and > 0", RANGE);
            assertMessage(IllegalArgumentException.class, () -> SigLipLoss.create().withLogitScale(scale),
                    "logitScale", value, "finite and > 0", RANGE);
        }
        assertDoesNotThrow(() -> ClipLoss.create().withLogitScale(Float.MIN_NORMAL));
        assertDoesNotThrow(() -> ClipLoss.create().withLogitScale(Float.MAX_VALUE));
        assertDoesNotThrow(() -> SigLipLoss.create().withLogitScale(Float.MIN_NORMAL));
    }

    @Test
    void sigLipScaleAndBiasWhoseLogitsOverflowAreRefused() {
        float max = Float.MAX_VALUE;
        assertMessage(IllegalArgumentException.class, () -> SigLipLoss.create().withBias(0f).withLogitScale(max).withBias(max),
                "bias", "logitScale + |bias|", String.valueOf(max));
        assertMessage(IllegalArgumentException.class, () -> SigLipLoss.create().withLogitScale(1e38f).withBias(-3e38f),
                "bias", "logitScale 1.0E38", "-3.0E38", "Infinity");
        assertDoesNotThrow(() -> SigLipLoss.create().withBias(-max), "10 + |bias| rounds to Float.MAX_VALUE: finite");
        assertMessage(IllegalArgumentException.class, () -> SigLipLoss.create().withBias(-1e38f).withLogitScale(3e38f),
                "logitScale", "3.0E38", "-1.0E38", "logitScale + |bias|");
        assertDoesNotThrow(() -> SigLipLoss.create().withBias(-1e38f).withLogitScale(2e38f));
    }

    // ---- double options the kernels take as float32 ----------------------------------------

    @Test
    void doubleOptionsThatDoNotSurviveFloat32AreRefused() {
        assertMessage(IllegalArgumentException.class, () -> TripletMarginLoss.create().withP(1e-50), "p", "1.0E-50", RANGE);
        assertMessage(IllegalArgumentException.class, () -> TripletMarginLoss.create().withP(1e300), "p", "1.0E300", RANGE);
        assertMessage(IllegalArgumentException.class, () -> TripletMarginLoss.create().withMargin(1e300),
                "margin", "1.0E300", "float32", String.valueOf(Float.MAX_VALUE));
        assertMessage(IllegalArgumentException.class, () -> TripletMarginLoss.create().withMargin(-1e300), "margin", "-1.0E300");
        Consumer<Executable> epsRefused = r -> assertMessage(IllegalArgumentException.class, r, "eps", "1.0E300",
                "float32", String.valueOf(Float.MAX_VALUE));
        epsRefused.accept(() -> TripletMarginLoss.create().withEps(1e300));
        epsRefused.accept(() -> Normalize.create().withEps(1e300));
        epsRefused.accept(() -> CosineSimilarity.create().withEps(1e300));
        epsRefused.accept(() -> Similarity.cosine().withEps(1e300));
        assertDoesNotThrow(() -> TripletMarginLoss.create().withP(Float.MAX_VALUE).withMargin(-Float.MAX_VALUE)
                .withEps(Float.MAX_VALUE));
        assertDoesNotThrow(() -> Normalize.create().withEps(Float.MAX_VALUE));
    }
}
