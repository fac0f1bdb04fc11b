package dev.jnce.loss;

import dev.jnce.Reduction;
import dev.jnce.Backend;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.testutil.Approx;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.SplittableRandom;
import java.util.stream.Stream;

import static dev.jnce.testutil.Approx.assertClose;
import static dev.jnce.testutil.Approx.toDouble;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Perplexity straight from logits: equal to the token-loss form, gradient by finite differences. */
class PerplexityLogitsTest {

    static Stream<Backend> backends() {
        return TestBackends.backends();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void matchesTheTokenLossFormAndFiniteDifferences(Backend backend) {
        try (TensorScope scope = TensorScope.open()) {
            int n = 6, c = 11;
            SplittableRandom random = new SplittableRandom(8);
            float[] x = new float[n * c];
            for (int i = 0; i < x.length; i++) x[i] = (float) random.nextGaussian();
            long[] t = {3, -100, 10, 0, -100, 7};
            Tensor logits = Tensor.of(x, n, c), targets = Tensor.of(t);
            Perplexity ppl = Perplexity.create().withBackend(backend);
            Perplexity.Result r = ppl.forwardBackwardLogits(logits, targets);

            Tensor tokenLosses = CrossEntropy.create().withBackend(backend).withReduction(Reduction.NONE).forward(logits, targets);
            assertEquals(ppl.forward(tokenLosses, targets).item(), r.perplexity().item(), 1e-5);

            CrossEntropyReference.Options o = new CrossEntropyReference.Options(t, null, null, -100, 0, 0, null, Reduction.MEAN, false);
            double[] numeric = Approx.finiteDifferences(v -> Math.exp(CrossEntropyReference.loss(v, n, c, o)[0]), toDouble(x), 1e-6);
            assertClose(numeric, r.grad().toFloatArray(), 2e-6, "d ppl / d logits");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void anAllIgnoredBatchIsNaNOrOne(Backend backend) {
        try (TensorScope scope = TensorScope.open()) {
            Tensor logits = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2), targets = Tensor.of(new long[] {-100, -100});
            assertTrue(Float.isNaN(Perplexity.create().withBackend(backend).forwardBackwardLogits(logits, targets).perplexity().item()));
            Perplexity.Result one = Perplexity.create().withBackend(backend).withAllIgnored(Perplexity.AllIgnored.ONE)
                    .forwardBackwardLogits(logits, targets);
            assertEquals(1f, one.perplexity().item());
            for (float g : one.grad().toFloatArray()) assertEquals(0f, g);
        }
    }
}
