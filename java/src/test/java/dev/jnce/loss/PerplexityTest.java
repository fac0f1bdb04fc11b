package dev.jnce.loss;

import dev.jnce.Backend;
import dev.jnce.Tensor;
import dev.jnce.testutil.Approx;
import dev.jnce.testutil.Golden;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.SplittableRandom;
import java.util.stream.Stream;

import static dev.jnce.testutil.Approx.assertClose;
import static dev.jnce.testutil.Approx.toDouble;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Perplexity on every backend against PyTorch's golden data, the float64 reference, finite
 * differences and the other backends. Bad input is in DivergenceArgumentsTest.
 */
class PerplexityTest extends DivergenceTestBase {
    static Stream<Arguments> goldenCases() {
        return golden("ppl_");
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("goldenCases")
    void matchesPyTorchAndTheFloat64Reference(Backend backend, Golden.Case g) {
        float[] losses = g.floats("token_loss");
        long[] keys = g.longs("keys");
        long ignore = g.integer("ignore_index");
        Perplexity ppl = Perplexity.create().withIgnoreIndex(ignore).withBackend(backend);
        Perplexity.Result r = g.text("form").equals("mask")
                ? ppl.forwardBackwardMasked(Tensor.of(losses), Tensor.of(keys))
                : ppl.forwardBackward(Tensor.of(losses), Tensor.of(keys));
        assertEquals(0, r.perplexity().rank(), "perplexity is a scalar");
        float[] value = r.perplexity().toFloatArray();
        assertClose(g.doubles("loss_f64"), value, 1e-6, "perplexity vs float64");
        assertClose(g.doubles("loss"), value, 2e-5, "perplexity vs torch float32");
        assertClose(g.doubles("grad_token_loss_f64"), r.grad().toFloatArray(), 1e-6, "grad vs float64");
        assertClose(g.doubles("grad_token_loss"), r.grad().toFloatArray(), 2e-5, "grad vs torch float32");

        boolean[] keep = new boolean[keys.length];
        for (int k = 0; k < keys.length; k++) keep[k] = keys[k] != (g.text("form").equals("mask") ? 0 : ignore);
        double ref = DivergenceReference.perplexity(toDouble(losses), keep);
        assertEquals(g.doubles("loss_f64")[0], ref, 1e-12 * ref, "reference");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void gradientMatchesFiniteDifferencesInDouble(Backend backend) {
        float[] losses = {0.5f, 2.0f, 1.25f, 3.0f, 0.1f, 4.0f};
        long[] targets = {1, -100, 2, 3, -100, 0};
        boolean[] keep = {true, false, true, true, false, true};
        float[] grad = Perplexity.create().withBackend(backend)
                .forwardBackward(Tensor.of(losses), Tensor.of(targets)).grad().toFloatArray();
        double[] fd = Approx.finiteDifferences(v -> DivergenceReference.perplexity(v, keep), toDouble(losses), 1e-6);
        assertClose(fd, grad, 1e-6, "d perplexity / d token losses");
        assertEquals(0f, grad[1], "ignored tokens get 0");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void aMaskAndTargetsWithAnIgnoreIndexAgree(Backend backend) {
        float[] losses = {1f, 2f, 3f, 4f, 5f, 6f};
        Tensor l = Tensor.of(losses, 2, 3); // (B, T) works as well as (N)
        Perplexity ppl = Perplexity.create().withBackend(backend);
        Perplexity.Result byTargets = ppl.forwardBackward(l, Tensor.of(new int[] {7, -100, 0, 3, 3, -100}, 2, 3));
        Perplexity.Result byMask = ppl.forwardBackwardMasked(l, Tensor.of(new long[] {1, 0, 1, 1, 1, 0}, 2, 3));
        assertEquals((float) Math.exp(13.0 / 4), byTargets.perplexity().item(), 1e-5f);
        assertEquals(byTargets.perplexity().item(), byMask.perplexity().item());
        assertArrayEquals(byTargets.grad().toFloatArray(), byMask.grad().toFloatArray());
        assertArrayEquals(new long[] {2, 3}, byMask.grad().shape());
        assertEquals(byTargets.perplexity().item(), ppl.forward(l, Tensor.of(new long[] {7, -100, 0, 3, 3, -100}, 2, 3)).item());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void allIgnoredIsNanByDefaultOrOneOnRequest(Backend backend) {
        Tensor l = Tensor.of(new float[] {1f, 2f});
        Tensor none = Tensor.of(new long[] {-100, -100});
        Perplexity.Result nan = Perplexity.create().withBackend(backend).forwardBackward(l, none);
        assertTrue(Float.isNaN(nan.perplexity().item()), "the mean of nothing is NaN");
        assertArrayEquals(new float[] {0f, 0f}, nan.grad().toFloatArray());
        Perplexity one = Perplexity.create().withAllIgnored(Perplexity.AllIgnored.ONE).withBackend(backend);
        assertEquals(1f, one.forward(l, none).item());
        assertEquals(1f, one.forwardMasked(l, Tensor.of(new int[] {0, 0})).item());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void ignoredTokensAreNeverRead(Backend backend) {
        Tensor l = Tensor.of(new float[] {Float.NaN, 2f, Float.POSITIVE_INFINITY, 4f});
        Perplexity.Result r = Perplexity.create().withIgnoreIndex(0).withBackend(backend)
                .forwardBackward(l, Tensor.of(new int[] {0, 5, 0, 9}));
        assertEquals((float) Math.exp(3), r.perplexity().item(), 1e-5f);
        assertEquals((float) (Math.exp(3) / 2), r.grad().toFloatArray()[1], 1e-5f);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void agreesWithTheOtherBackendsOnLongSequences(Backend backend) {
        int m = 50_000;
        SplittableRandom random = new SplittableRandom(3);
        float[] losses = new float[m];
        long[] targets = new long[m];
        for (int k = 0; k < m; k++) {
            losses[k] = (float) random.nextDouble(0, 10);
            targets[k] = random.nextInt(5) == 0 ? -100 : random.nextLong(32000);
        }
        Tensor l = Tensor.of(losses), t = Tensor.of(targets);
        Perplexity.Result mine = Perplexity.create().withBackend(backend).forwardBackward(l, t);
        for (Backend other : TestBackends.all()) {
            Perplexity.Result theirs = Perplexity.create().withBackend(other).forwardBackward(l, t);
            float want = theirs.perplexity().item();
            assertEquals(want, mine.perplexity().item(), 1e-6 * want, backend + " vs " + other);
            assertClose(toDouble(theirs.grad().toFloatArray()), mine.grad().toFloatArray(), 1e-6, backend + " vs " + other);
        }
    }
}
