package dev.jnce.loss;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.SplittableRandom;
import java.util.stream.Stream;

import static dev.jnce.loss.CrossEntropyArgumentsTest.assertMessage;
import static dev.jnce.loss.DivergenceReference.distributions;
import static dev.jnce.loss.DivergenceReference.log;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * KlDiv, Entropy (both forms) and Perplexity (all three forms) written into the caller's
 * buffers give exactly what the allocating forms give, on every backend and reduction; buffers
 * of the wrong type, shape or state are rejected naming them.
 */
class DivergenceBuffersTest extends DivergenceTestBase {
    private static final int N = 6, C = 9;

    static Stream<Arguments> reductions() {
        return dev.jnce.testutil.TestBackends.all().stream().flatMap(b -> Stream.of(Reduction.NONE, Reduction.MEAN,
                Reduction.SUM, Reduction.BATCHMEAN).map(r -> Arguments.of(b, r)));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("reductions")
    void klDivIntoBuffersEqualsTheAllocatingForm(Backend backend, Reduction reduction) {
        float[] p = distributions(N, C, 5), q = distributions(N, C, 6);
        Tensor input = Tensor.of(log(q), N, C), target = Tensor.of(p, N, C);
        KlDiv kl = KlDiv.create().withReduction(reduction).withBackend(backend);
        InputTargetResult want = kl.forwardBackward(input, target);
        Tensor loss = reduction == Reduction.NONE ? Tensor.zeros(DType.FLOAT32, N, C) : Tensor.zeros(DType.FLOAT32, 1);
        Tensor gradInput = Tensor.zeros(DType.FLOAT32, N, C), gradTarget = Tensor.zeros(DType.FLOAT32, N, C);
        kl.forwardBackward(input, target, loss, gradInput, gradTarget);
        assertArrayEquals(want.loss().toFloatArray(), loss.toFloatArray(), 0f, "loss");
        assertArrayEquals(want.gradInput().toFloatArray(), gradInput.toFloatArray(), 0f, "d/dinput");
        assertArrayEquals(want.gradTarget().toFloatArray(), gradTarget.toFloatArray(), 0f, "d/dtarget");
        Tensor lossOnly = reduction == Reduction.NONE ? Tensor.zeros(DType.FLOAT32, N, C) : Tensor.zeros(DType.FLOAT32);
        kl.forwardBackward(input, target, lossOnly, null, null);
        assertArrayEquals(kl.forward(input, target).toFloatArray(), lossOnly.toFloatArray(), 0f, "loss alone");
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("reductions")
    void entropyIntoBuffersEqualsTheAllocatingForms(Backend backend, Reduction reduction) {
        if (reduction == Reduction.BATCHMEAN) return; // kl_div's alone
        Tensor p = Tensor.of(distributions(N, C, 7), N, C), q = Tensor.of(distributions(N, C, 8), N, C);
        Entropy entropy = Entropy.create().withReduction(reduction).withBackend(backend);
        LossResult h = entropy.forwardBackward(p);
        Tensor loss = reduction == Reduction.NONE ? Tensor.zeros(DType.FLOAT32, N) : Tensor.zeros(DType.FLOAT32);
        Tensor grad = Tensor.zeros(DType.FLOAT32, N, C);
        entropy.forwardBackward(p, loss, grad);
        assertArrayEquals(h.loss().toFloatArray(), loss.toFloatArray(), 0f, "H(p)");
        assertArrayEquals(h.grad().toFloatArray(), grad.toFloatArray(), 0f, "dH/dp");

        InputTargetResult x = entropy.crossForwardBackward(p, q);
        Tensor gradP = Tensor.zeros(DType.FLOAT32, N, C), gradQ = Tensor.zeros(DType.FLOAT32, N, C);
        entropy.crossForwardBackward(p, q, loss, gradP, gradQ);
        assertArrayEquals(x.loss().toFloatArray(), loss.toFloatArray(), 0f, "H(p, q)");
        assertArrayEquals(x.gradTarget().toFloatArray(), gradP.toFloatArray(), 0f, "dH/dp (p is the target)");
        assertArrayEquals(x.gradInput().toFloatArray(), gradQ.toFloatArray(), 0f, "dH/dq (q is the input)");
        entropy.crossForwardBackward(p, q, loss, null, null);
        assertArrayEquals(entropy.cross(p, q).toFloatArray(), loss.toFloatArray(), 0f, "H(p, q) alone");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void perplexityIntoBuffersEqualsTheAllocatingForms(Backend backend) {
        SplittableRandom random = new SplittableRandom(9);
        float[] l = new float[3 * 8], x = new float[N * C];
        for (int i = 0; i < l.length; i++) l[i] = (float) random.nextDouble(0, 4);
        for (int i = 0; i < x.length; i++) x[i] = (float) random.nextGaussian();
        long[] t = new long[l.length];
        int[] m = new int[l.length];
        for (int i = 0; i < t.length; i++) {
            t[i] = i % 5 == 0 ? -100 : i % 7;
            m[i] = i % 3 == 0 ? 0 : 1;
        }
        Tensor losses = Tensor.of(l, 3, 8), targets = Tensor.of(t, 3, 8), mask = Tensor.of(m, 3, 8);
        Perplexity ppl = Perplexity.create().withBackend(backend);
        Tensor value = Tensor.zeros(DType.FLOAT32), grad = Tensor.zeros(DType.FLOAT32, 3, 8);

        Perplexity.Result want = ppl.forwardBackward(losses, targets);
        ppl.forwardBackward(losses, targets, value, grad);
        assertArrayEquals(want.perplexity().toFloatArray(), value.toFloatArray(), 0f, "perplexity, targets");
        assertArrayEquals(want.grad().toFloatArray(), grad.toFloatArray(), 0f, "gradient, targets");

        want = ppl.forwardBackwardMasked(losses, mask);
        ppl.forwardBackwardMasked(losses, mask, value, grad);
        assertArrayEquals(want.perplexity().toFloatArray(), value.toFloatArray(), 0f, "perplexity, mask");
        assertArrayEquals(want.grad().toFloatArray(), grad.toFloatArray(), 0f, "gradient, mask");
        Tensor one = Tensor.zeros(DType.FLOAT32, 1);
        ppl.forwardBackwardMasked(losses, mask, one, null);
        assertArrayEquals(want.perplexity().toFloatArray(), one.toFloatArray(), 0f, "perplexity alone, shape (1)");

        Tensor logits = Tensor.of(x, N, C), rowTargets = Tensor.of(new long[] {3, -100, 8, 0, -100, 7});
        want = ppl.forwardBackwardLogits(logits, rowTargets);
        Tensor logitsGrad = Tensor.zeros(DType.FLOAT32, N, C);
        ppl.forwardBackwardLogits(logits, rowTargets, value, logitsGrad);
        assertArrayEquals(want.perplexity().toFloatArray(), value.toFloatArray(), 0f, "perplexity, logits");
        assertArrayEquals(want.grad().toFloatArray(), logitsGrad.toFloatArray(), 0f, "gradient, logits");
        ppl.forwardBackwardLogits(logits, rowTargets, value, logits);
        assertArrayEquals(want.grad().toFloatArray(), logits.toFloatArray(), 0f, "gradient over the logits in place");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void buffersOfTheWrongTypeShapeOrStateAreRejected(Backend backend) {
        Tensor p = Tensor.of(distributions(2, 3, 1), 2, 3), q = Tensor.of(distributions(2, 3, 2), 2, 3);
        KlDiv kl = KlDiv.create().withBackend(backend);
        assertMessage(IllegalArgumentException.class, () -> kl.forwardBackward(q, p, Tensor.zeros(DType.FLOAT32, 2), null, null),
                "loss", "()", "(2)");
        assertMessage(IllegalArgumentException.class, () -> kl.withReduction(Reduction.NONE).forwardBackward(q, p,
                Tensor.zeros(DType.FLOAT32, 3, 2), null, null), "loss", "(2, 3)", "got (3, 2)");
        assertMessage(IllegalArgumentException.class, () -> kl.forwardBackward(q, p, Tensor.zeros(DType.FLOAT32),
                Tensor.zeros(DType.INT32, 2, 3), null), "gradInput", "float32", "int32(2, 3)");
        assertMessage(IllegalArgumentException.class, () -> kl.forwardBackward(q, p, Tensor.zeros(DType.FLOAT32), null,
                Tensor.zeros(DType.FLOAT32, 6)), "gradTarget", "(2, 3)", "got (6)");
        Entropy entropy = Entropy.create().withBackend(backend);
        assertMessage(IllegalArgumentException.class, () -> entropy.forwardBackward(p, Tensor.zeros(DType.FLOAT32),
                Tensor.zeros(DType.FLOAT32, 3, 2)), "grad", "(N, C) of p = (2, 3)", "got (3, 2)");
        assertMessage(IllegalArgumentException.class, () -> entropy.withReduction(Reduction.NONE).crossForwardBackward(p, q,
                Tensor.zeros(DType.FLOAT32), null, null), "loss", "(N) = (2)", "got ()");
        assertMessage(IllegalArgumentException.class, () -> entropy.crossForwardBackward(p, q, Tensor.zeros(DType.FLOAT32),
                null, Tensor.zeros(DType.FLOAT32, 2, 2)), "gradQ", "(N, C) of q = (2, 3)");
        Tensor closed = Tensor.zeros(DType.FLOAT32, 2, 3);
        closed.close();
        assertMessage(IllegalStateException.class, () -> entropy.crossForwardBackward(p, q, Tensor.zeros(DType.FLOAT32),
                closed, null), "gradP", "closed");
        Perplexity ppl = Perplexity.create().withBackend(backend);
        Tensor l = Tensor.of(new float[] {1f, 2f}), t = Tensor.of(new long[] {0, 1});
        assertMessage(IllegalArgumentException.class, () -> ppl.forwardBackward(l, t, Tensor.zeros(DType.FLOAT32, 2), null),
                "perplexity", "one value", "got (2)");
        assertMessage(IllegalArgumentException.class, () -> ppl.forwardBackward(l, t, Tensor.zeros(DType.FLOAT32),
                Tensor.zeros(DType.FLOAT32, 3)), "grad", "of tokenLosses = (2)", "got (3)");
        assertMessage(IllegalArgumentException.class, () -> ppl.forwardBackwardLogits(q, t, Tensor.zeros(DType.INT64),
                Tensor.zeros(DType.FLOAT32, 2, 3)), "perplexity", "float32", "int64()");
        assertMessage(IllegalArgumentException.class, () -> ppl.forwardBackwardLogits(q, t, Tensor.zeros(DType.FLOAT32),
                Tensor.zeros(DType.FLOAT32, 3, 2)), "grad", "(2, 3)", "got (3, 2)");
    }
}
