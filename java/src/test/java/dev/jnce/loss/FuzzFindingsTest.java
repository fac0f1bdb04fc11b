package dev.jnce.loss;

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

    private static void assertNames(IllegalArgumentException e, String argument) {
        assertTrue(e.getMessage().startsWith(argument + ":"), e.getMessage());
    }

    /** A null q is not the entropy of p: every cross-entropy form names it. */
    @ParameterizedTest
    @MethodSource("backends")
    void crossEntropyOfDistributionsNamesANullQ(Backend backend) {
        Entropy entropy = Entropy.create().withBackend(backend);
        Tensor p = Tensor.of(new float[] {0.25f, 0.75f, 0.5f, 0.5f}, 2, 2);
        assertNames(assertThrows(IllegalArgumentException.class, () -> entropy.cross(p, null)), "q");
        assertNames(assertThrows(IllegalArgumentException.class, () -> entropy.crossForwardBackward(p, null)), "q");
        assertNames(assertThrows(IllegalArgumentException.class, () -> entropy.crossForwardBackward(p, null,
                Tensor.zeros(DType.FLOAT32), Tensor.zeros(DType.FLOAT32, 2, 2), null)), "q");
    }

    /** Perplexity from logits checks the logits before their shape sizes its gradient. */
    @ParameterizedTest
    @MethodSource("backends")
    void perplexityFromLogitsNamesNullLogits(Backend backend) {
        Perplexity ppl = Perplexity.create().withBackend(backend);
        assertNames(assertThrows(IllegalArgumentException.class,
                () -> ppl.forwardBackwardLogits(null, Tensor.of(new long[] {0, 1}))), "logits");
    }

    /**
     * Perplexity of logits whose every target is ignored: NaN (exp of the mean of nothing) with a
     * zero gradient, as autograd leaves ignored rows; the kernels once scaled the zeros by NaN.
     */
    @ParameterizedTest
    @MethodSource("backends")
    void perplexityOfAllIgnoredLogitsHasAZeroGradient(Backend backend) {
        Tensor logits = Tensor.of(new float[] {1f, 2f, 3f, -1f, 0f, 1f}, 2, 3);
        try (Perplexity.Result r = Perplexity.create().withBackend(backend).forwardBackwardLogits(logits, Tensor.of(new long[] {-100, -100}))) {
            assertTrue(Float.isNaN(r.perplexity().toFloatArray()[0]));
            assertArrayEquals(new float[6], r.grad().toFloatArray());
        }
    }

    /**
     * Decoupled InfoNCE (Yeh et al. 2022) at temperature Float.MIN_NORMAL: the positive leaves the
     * softmax as -Infinity. Unit vectors q_i = 1, k_j = -1 give every logit -1/tau = -8.5e37, so
     * loss_i = log sum_{j != i} exp(s_ij) - s_ii = 0 exactly, with zero gradients; the finite
     * stand-in -1e30 the sweep once wrote outweighed those logits and the loss was 8.5e37.
     */
    @ParameterizedTest
    @MethodSource("backends")
    void decoupledInfoNceLeavesThePositiveOutAtAnyLogitSize(Backend backend) {
        InfoNce loss = InfoNce.create().withTemperature(Float.MIN_NORMAL).withDecoupled(true).withBackend(backend);
        Tensor q = Tensor.of(new float[] {1f, 1f}, 2, 1), k = Tensor.of(new float[] {-1f, -1f}, 2, 1);
        try (InfoNce.Result r = loss.forwardBackward(q, k)) {
            assertEquals(0f, r.loss().toFloatArray()[0]);
            assertArrayEquals(new float[2], r.gradQueries().toFloatArray());
            assertArrayEquals(new float[2], r.gradKeys().toFloatArray());
        }
        // explicit negatives: the same rows, the other key as the one negative
        try (InfoNce.Result r = loss.forwardBackwardNegatives(q, k, Tensor.of(new float[] {-1f, -1f}, 2, 1, 1))) {
            assertEquals(0f, r.loss().toFloatArray()[0]);
        }
    }

    /**
     * Without normalisation, a temperature that lets q . k / tau leave float32's range is refused
     * by name (the loss would be NaN): ||Q||_F ||K||_F / tau = 2 * 2 / 1.2e-38 here. Inside the
     * range, at 1e-30, the loss of logits near 1e30 is the float64 one.
     */
    @ParameterizedTest
    @MethodSource("backends")
    void unnormalisedLogitsPastFloat32NameTheTemperature(Backend backend) {
        Tensor q = Tensor.of(new float[] {2f, 0f, 0f, 2f}, 2, 2), k = Tensor.of(new float[] {2f, 0f, 0f, 2f}, 2, 2);
        InfoNce tiny = InfoNce.create().withNormalize(false).withTemperature(Float.MIN_NORMAL).withBackend(backend);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> tiny.forwardBackward(q, k));
        assertTrue(e.getMessage().startsWith("temperature: ") && e.getMessage().contains("float32"), e.getMessage());
        assertNames(assertThrows(IllegalArgumentException.class, () -> tiny.forward(q)), "temperature");
        assertNames(assertThrows(IllegalArgumentException.class,
                () -> tiny.forwardBackwardNegatives(q, k, Tensor.of(new float[] {1f, 0f, 0f, 1f}, 2, 1, 2))), "temperature");
        // logits 4e30 on the diagonal, 0 elsewhere: loss_i = log(exp(4e30) + 1) - 4e30 = 0
        try (InfoNce.Result r = tiny.withTemperature(1e-30f).forwardBackward(q, k)) {
            assertEquals(0f, r.loss().toFloatArray()[0]);
        }
    }
}
