package dev.jnce.loss;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.testutil.ScopedTest;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

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
}
