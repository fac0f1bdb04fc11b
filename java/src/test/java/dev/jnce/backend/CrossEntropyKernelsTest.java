package dev.jnce.backend;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.testutil.ScopedTest;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static dev.jnce.testutil.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The cross-entropy family's kernels on every backend: the perplexity of a mean against float64
 * (in place, gradient scaled, NaN), and the value checks that are the kernels' alone (class
 * targets, weights, probability rows), whose messages are the same words on every backend and
 * which write nothing when a target or a weight is bad.
 */
class CrossEntropyKernelsTest extends ScopedTest {

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void perplexityOfAMeanMatchesFloat64(Backend backend) {
        CrossEntropyKernels ce = ((Kernels) backend).crossEntropy();
        SplittableRandom random = new SplittableRandom(3);
        for (float mean : new float[] {0f, 0.37f, 2.5f, 11f, -1.25f}) {
            float[] g = new float[7 * 13];
            for (int k = 0; k < g.length; k++) g[k] = (float) random.nextDouble(-1, 1);
            double ppl = Math.exp(mean);
            double[] want = new double[g.length];
            for (int k = 0; k < g.length; k++) want[k] = ppl * g[k];
            Tensor meanLoss = Tensor.of(new float[] {mean}), out = Tensor.zeros(DType.FLOAT32), grad = Tensor.of(g, 7, 13);
            ce.perplexity(meanLoss, out, grad);
            assertEquals(ppl, out.item(), 1e-7 * ppl, "exp(" + mean + ")");
            assertClose(want, grad.toFloatArray(), 1e-7 * ppl, "grad scaled by exp(" + mean + ")");
            assertEquals(mean, meanLoss.item(), "the mean is left alone");
            Tensor inPlace = Tensor.of(new float[] {mean}, 1);
            ce.perplexity(inPlace, inPlace, null);
            assertEquals(out.item(), inPlace.item(), "perplexity over its own mean, no gradient");
        }
        Tensor nan = Tensor.of(new float[] {Float.NaN}), out = Tensor.zeros(DType.FLOAT32);
        ce.perplexity(nan, out, null);
        assertTrue(Float.isNaN(out.item()), "exp(NaN) is NaN");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void badTargetsAndWeightsWriteNothing(Backend backend) {
        CrossEntropyKernels ce = ((Kernels) backend).crossEntropy();
        Tensor logits = Tensor.of(new float[12], 4, 3);
        float[] sentinel = new float[12];
        java.util.Arrays.fill(sentinel, 7f);
        Tensor grad = Tensor.of(sentinel.clone(), 4, 3), loss = Tensor.of(new float[] {5f, 5f, 5f, 5f});
        Tensor masked = Tensor.of(new int[] {1, 1, 0, 1});
        // row 2's target is out of range although its row is masked out: it is still rejected
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ce.crossEntropy(call(logits,
                Tensor.of(new int[] {0, -100, 1 << 30, 5}), null, masked, null, loss, grad)));
        assertEquals("targets[2] = 1073741824 is outside [0, 3) for logits of shape (4, 3) and is not the ignore index -100",
                e.getMessage());
        assertArrayEquals(sentinel, grad.toFloatArray(), "no gradient written");
        assertArrayEquals(new float[] {5f, 5f, 5f, 5f}, loss.toFloatArray(), "no loss written");
        Tensor weight = Tensor.of(new float[] {1f, Float.POSITIVE_INFINITY, Float.NaN});
        e = assertThrows(IllegalArgumentException.class, () -> ce.crossEntropy(call(logits,
                Tensor.of(new long[] {0, 1, 2, 0}), null, null, weight, loss, grad)));
        assertEquals("weight[1] = Infinity is not finite", e.getMessage());
        assertArrayEquals(sentinel, grad.toFloatArray(), "no gradient written");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void theFirstProbabilityRowThatIsNotADistributionIsNamed(Backend backend) {
        CrossEntropyKernels ce = ((Kernels) backend).crossEntropy();
        int n = 300, c = 4; // rows on several threads; rows 170 and 290 are bad
        float[] p = new float[n * c];
        for (int i = 0; i < n; i++) p[i * c + i % c] = 1f;
        p[170 * c] = -0.5f;
        p[290 * c + 1] = 0.5f;
        Tensor loss = Tensor.zeros(DType.FLOAT32);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ce.crossEntropy(call(
                Tensor.of(new float[n * c], n, c), null, Tensor.of(p, n, c), null, null, loss, null)));
        assertEquals("targets: row 170 is not a probability distribution (entries must be >= 0 and sum to 1 within 1e-3) for logits "
                + "of shape (300, 4)", e.getMessage());
    }

    /** The same mistake gives the same message on every backend, word for word. */
    @org.junit.jupiter.api.Test
    void messagesAreTheSameOnEveryBackend() {
        List<String> messages = new ArrayList<>();
        for (Backend b : TestBackends.all()) {
            CrossEntropyKernels ce = ((Kernels) b).crossEntropy();
            Tensor logits = Tensor.of(new float[6], 2, 3), loss = Tensor.zeros(DType.FLOAT32);
            messages.add(assertThrows(IllegalArgumentException.class, () -> ce.crossEntropy(call(logits,
                    Tensor.of(new long[] {-7, 0}), null, null, null, loss, null))).getMessage());
            messages.add(assertThrows(IllegalArgumentException.class, () -> ce.crossEntropy(call(logits,
                    Tensor.of(new long[] {0, 1}), null, null, Tensor.of(new float[] {1, Float.NaN, 1}), loss, null))).getMessage());
            messages.add(assertThrows(IllegalArgumentException.class, () -> ce.crossEntropy(call(logits, null,
                    Tensor.of(new float[] {1, 0, 0, 0.5f, 0.4f, 0}, 2, 3), null, null, loss, null))).getMessage());
        }
        for (int k = 3; k < messages.size(); k++) assertEquals(messages.get(k % 3), messages.get(k), "backend " + k / 3);
    }

    private static CrossEntropyCall call(Tensor logits, Tensor targets, Tensor probs, Tensor mask, Tensor weight,
                                         Tensor loss, Tensor grad) {
        Reduction r = loss.numel() == 1 ? Reduction.MEAN : Reduction.NONE;
        return new CrossEntropyCall(logits, targets, probs, mask, weight, -100, 0f, 0f, r, false, loss, grad, null);
    }
}
