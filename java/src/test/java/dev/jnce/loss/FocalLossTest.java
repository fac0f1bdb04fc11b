package dev.jnce.loss;

import dev.jnce.Reduction;
import dev.jnce.testutil.Reductions;
import dev.jnce.testutil.ScopedTest;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.testutil.Approx;
import dev.jnce.testutil.Golden;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static dev.jnce.loss.BinaryCrossEntropyTest.assertFiniteDifferences;
import static dev.jnce.loss.BinaryCrossEntropyTest.assertGolden;
import static dev.jnce.loss.BinaryCrossEntropyTest.assertIntoBuffers;
import static dev.jnce.loss.BinaryCrossEntropyTest.assertSameResult;
import static dev.jnce.loss.BinaryCrossEntropyTest.tensor;
import static dev.jnce.loss.BinaryCrossEntropyTest.uniform;
import static dev.jnce.testutil.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sigmoid and softmax focal loss on every backend against golden data (torch autograd of the
 * definitions), the float64 reference, finite differences, the other backends, and their limits:
 * gamma = 0 is BCE / cross-entropy, p_t -> 1 is finite for gamma < 1. Bad input is in
 * FocalLossArgumentsTest.
 */
class FocalLossTest extends ScopedTest {
    private static final Map<String, Golden.Case> GOLDEN = Golden.load("/golden/focal.txt");

    static Stream<Arguments> goldenCases() {
        return onEveryBackend(GOLDEN.values());
    }

    static Stream<Arguments> gammas() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(0.0f, 0.5f, 2.0f).flatMap(
                g -> Stream.of(Reductions.all()).map(r -> Arguments.of(b, g, r))));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("goldenCases")
    void matchesPyTorch(Backend backend, Golden.Case g) {
        long[] shape = g.longs("shape");
        Tensor input = tensor(g.floats("input"), shape);
        Reduction reduction = Reduction.valueOf(g.text("reduction").toUpperCase());
        float gamma = g.floats("gamma")[0];
        if (g.text("op").equals("sigmoid")) {
            assertGolden(g, SigmoidFocalLoss.create().withAlpha(g.floats("alpha")[0]).withGamma(gamma)
                    .withReduction(reduction).withBackend(backend).forwardBackward(input, tensor(g.floats("target"), shape)));
            return;
        }
        Tensor alpha = g.fields().containsKey("alpha") ? Tensor.of(g.floats("alpha")) : null;
        LossResult r = SoftmaxFocalLoss.create().withGamma(gamma).withAlpha(alpha).withReduction(reduction)
                .withBackend(backend).forwardBackward(input, Tensor.of(g.longs("target")));
        float[] loss = r.loss().toFloatArray(), grad = r.grad().toFloatArray();
        assertClose(g.doubles("loss_f64"), loss, 1e-6, "loss vs float64");
        assertClose(g.doubles("loss"), loss, 2e-5, "loss vs torch float32");
        assertClose(g.doubles("grad_input_f64"), grad, 1e-6, "grad vs float64");
        assertClose(g.doubles("grad_input"), grad, 2e-5, "grad vs torch float32");
    }

    @ParameterizedTest(name = "{0} gamma={1} {2}")
    @MethodSource("gammas")
    void sigmoidGradientsMatchFiniteDifferences(Backend backend, float gamma, Reduction reduction) {
        int n = 4, c = 3;
        float[] x = uniform(n * c, -5, 5, 1), y = uniform(n * c, 0.1, 0.9, 2);
        for (float alpha : new float[] {0.25f, -1f}) {
            InputTargetResult r = SigmoidFocalLoss.create().withAlpha(alpha).withGamma(gamma).withReduction(reduction)
                    .withBackend(backend).forwardBackward(Tensor.of(x, n, c), Tensor.of(y, n, c));
            assertFiniteDifferences((k, v, t) -> BinaryReference.sigmoidFocal(v, t, alpha, gamma), x, y, reduction, r,
                    "sigmoid focal alpha=" + alpha);
        }
    }

    @ParameterizedTest(name = "{0} gamma={1} {2}")
    @MethodSource("gammas")
    void softmaxGradientsMatchFiniteDifferences(Backend backend, float gamma, Reduction reduction) {
        int n = 4, c = 5;
        float[] x = uniform(n * c, -4, 4, 3), alpha = uniform(c, 0.1, 2, 4);
        long[] t = {0, 4, 2, 2};
        LossResult r = SoftmaxFocalLoss.create().withGamma(gamma).withAlpha(Tensor.of(alpha))
                .withReduction(reduction).withBackend(backend).forwardBackward(Tensor.of(x, n, c), Tensor.of(t));
        double[] xd = Approx.toDouble(x);
        double[] rows = softmaxRows(xd, t, alpha, gamma);
        assertClose(BinaryReference.asLoss(rows, reduction), r.loss().toFloatArray(), 1e-6, "loss vs float64 reference");
        double[] fd = Approx.finiteDifferences(v -> BinaryReference.reduce(softmaxRows(v, t, alpha, gamma), reduction), xd, 1e-6);
        assertClose(fd, r.grad().toFloatArray(), 1e-6, "d/d logits " + reduction);
    }

    static double[] softmaxRows(double[] x, long[] t, float[] alpha, float gamma) {
        int c = alpha.length;
        double[] rows = new double[t.length];
        for (int i = 0; i < t.length; i++) {
            rows[i] = BinaryReference.softmaxFocalRow(x, i * c, c, (int) t[i], alpha[(int) t[i]], gamma);
        }
        return rows;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void gammaZeroIsBinaryCrossEntropyAndCrossEntropy(Backend backend) {
        int n = 6, c = 7;
        Tensor x = Tensor.of(uniform(n * c, -6, 6, 5), n, c), y = Tensor.of(uniform(n * c, 0, 1, 6), n, c);
        assertSameResult(SigmoidFocalLoss.create().withAlpha(-1).withGamma(0).withReduction(Reduction.MEAN)
                        .withBackend(backend).forwardBackward(x, y),
                BinaryCrossEntropyWithLogits.create().withBackend(backend).forwardBackward(x, y), "sigmoid focal vs BCE");
        Tensor t = Tensor.of(new long[] {0, 6, 3, 3, 1, 2});
        LossResult focal = SoftmaxFocalLoss.create().withGamma(0).withBackend(backend).forwardBackward(x, t);
        CrossEntropy.Result ce = CrossEntropy.create().withBackend(backend).forwardBackward(x, t);
        assertEquals(ce.loss().item(), focal.loss().item(), 1e-6);
        assertClose(Approx.toDouble(ce.grad().toFloatArray()), focal.grad().toFloatArray(), 1e-7, "softmax focal vs CE");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void saturatedLogitsWithGammaBelowOneStayFinite(Backend backend) {
        for (float gamma : new float[] {0.0f, 0.1f, 0.5f, 0.99f}) {
            // p_t -> 1 and p_t = 1 exactly: autograd of the definition gives NaN here for 0 < gamma < 1
            float[] rows = {40, 0, -5, 1e4f, -1e4f, 0, 17, 17.5f, -3};
            LossResult r = SoftmaxFocalLoss.create().withGamma(gamma).withReduction(Reduction.NONE)
                    .withBackend(backend).forwardBackward(Tensor.of(rows, 3, 3), Tensor.of(new long[] {0, 0, 1}));
            float[] loss = r.loss().toFloatArray(), grad = r.grad().toFloatArray();
            for (float g : grad) assertTrue(Float.isFinite(g), "softmax focal gamma=" + gamma + " grad " + g);
            assertTrue(loss[0] >= 0 && loss[0] < 1e-16 && loss[1] == 0, "losses " + loss[0] + " " + loss[1]);
            assertTrue(Math.abs(grad[0]) < 1e-15 && grad[3] == 0, "gradient of a certain row vanishes");

            float[] x = {100, -100, 1e4f, -1e4f, 40};
            InputTargetResult s = SigmoidFocalLoss.create().withGamma(gamma).withBackend(backend)
                    .forwardBackward(Tensor.of(x), Tensor.of(new float[] {1, 0, 1, 0, 1}));
            for (float[] v : new float[][] {s.loss().toFloatArray(), s.gradInput().toFloatArray(), s.gradTarget().toFloatArray()}) {
                for (float e : v) assertTrue(Float.isFinite(e), "sigmoid focal gamma=" + gamma + " value " + e);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void nonFiniteLogitsFollowTheCrossEntropyRules(Backend backend) {
        float inf = Float.POSITIVE_INFINITY;
        float[] x = {1, Float.NaN, 0, 1, inf, 0, -inf, 2, 1, 2, -inf, 1, -inf, -inf, -inf};
        LossResult r = SoftmaxFocalLoss.create().withReduction(Reduction.NONE).withBackend(backend)
                .forwardBackward(Tensor.of(x, 5, 3), Tensor.of(new long[] {0, 0, 1, 1, 0}));
        float[] loss = r.loss().toFloatArray(), grad = r.grad().toFloatArray();
        assertTrue(Float.isNaN(loss[0]) && Float.isNaN(grad[0]), "NaN row is NaN");
        assertTrue(Float.isNaN(loss[1]) && Float.isNaN(grad[5]), "+Inf row is NaN");
        double[] finite = {Double.NEGATIVE_INFINITY, 2, 1};
        assertEquals(BinaryReference.softmaxFocalRow(finite, 0, 3, 1, 1, 2), loss[2], 1e-6);
        assertEquals(0f, grad[6], "-Inf entry has gradient 0");
        assertEquals(inf, loss[3], "-Inf target logit gives +Inf");
        for (int j = 9; j < 12; j++) assertTrue(Float.isFinite(grad[j]), "and a finite gradient");
        assertTrue(Float.isNaN(loss[4]), "a row of -Inf is NaN");
    }

    /**
     * The analytic gradient of one sigmoid focal element in double (focal.c's derivation, written
     * out again): d/dx when wrtInput, else d/dy. p = sigmoid(x), q = 1 - p, m = 1 - p_t,
     * T = g ce m^(g-1) taken as g (ce/m) m^g (limit g m^g at m = 0). With magnitude, the sum of the
     * absolute values of the terms instead.
     */
    static double focalDerivative(double x, double y, double alpha, double g, boolean wrtInput, boolean magnitude) {
        double e = Math.exp(-Math.abs(x));
        double p = x >= 0 ? 1 / (1 + e) : e / (1 + e), q = x >= 0 ? e / (1 + e) : 1 / (1 + e);
        double ce = (1 - y) * x + Math.max(-x, 0) + Math.log1p(e), m = p * (1 - y) + q * y, mg = Math.pow(m, g);
        double a = alpha >= 0 ? alpha * y + (1 - alpha) * (1 - y) : 1, da = alpha >= 0 ? 2 * alpha - 1 : 0;
        double t = g == 0 ? 0 : g * (m > 0 ? ce / m : 1) * mg;
        if (magnitude) // the size of the summands, which float arithmetic's error is relative to
            return wrtInput ? Math.abs(a * (p - y) * mg) + Math.abs(a * t * (1 - 2 * y) * p * q)
                    : Math.abs(da * ce * mg) + Math.abs(a * (-x * mg + t * (q - p)));
        return wrtInput ? a * ((p - y) * mg + t * (1 - 2 * y) * p * q) : da * ce * mg + a * (-x * mg + t * (q - p));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void sigmoidFocalOnManyBlocksAgreesWithFloat64(Backend backend) {
        // the SIMD path of each backend, every gamma branch (0, 1, 2 by multiplication, 0.5 and 2.5 by pow)
        int n = 5, c = 3001;
        float[] x = uniform(n * c, -30, 30, 21), y = uniform(n * c, 0, 1, 22);
        for (int k = 0; k < n * c; k += 7) y[k] = k % 2;
        for (float gamma : new float[] {0f, 0.5f, 1f, 2f, 2.5f}) {
            for (float alpha : new float[] {0.25f, -1f}) {
                InputTargetResult r = SigmoidFocalLoss.create(alpha, gamma).withReduction(Reduction.NONE).withBackend(backend)
                        .forwardBackward(Tensor.of(x, n, c), Tensor.of(y, n, c));
                String what = backend + " gamma " + gamma + " alpha " + alpha;
                double[] loss = new double[n * c];
                for (int k = 0; k < n * c; k++) loss[k] = BinaryReference.sigmoidFocal(x[k], y[k], alpha, gamma);
                assertClose(loss, r.loss().toFloatArray(), 1e-6, what + " loss");
                // The gradients add terms of either sign (alpha's derivative against the rest): on
                // float lanes their error is relative to the terms' size, 1e-6 of it here.
                float[] gx = r.gradInput().toFloatArray(), gy = r.gradTarget().toFloatArray();
                for (int k = 0; k < n * c; k++) {
                    for (int wrt = 0; wrt < 2; wrt++) {
                        double want = focalDerivative(x[k], y[k], alpha, gamma, wrt == 0, false);
                        double size = focalDerivative(x[k], y[k], alpha, gamma, wrt == 0, true);
                        double got = wrt == 0 ? gx[k] : gy[k];
                        assertTrue(Math.abs(got - want) <= 1e-6 * Math.max(1, size), what + (wrt == 0 ? " d/dx" : " d/dy")
                                + " at " + k + ": x=" + x[k] + " y=" + y[k] + " got " + got + " want " + want + " (terms " + size + ")");
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void agreesWithTheOtherBackendsOnManyBlocksAndRows(Backend backend) {
        int n = 700, c = 33; // several 2048-element blocks, several threads
        Tensor x = Tensor.of(uniform(n * c, -12, 12, 7), n, c), y = Tensor.of(uniform(n * c, 0, 1, 8), n, c);
        Tensor t = Tensor.of(new SplittableRandom(9).longs(n, 0, c).toArray()), alpha = Tensor.of(uniform(c, 0, 1, 10));
        for (Backend other : TestBackends.all()) {
            SigmoidFocalLoss sigmoid = SigmoidFocalLoss.create().withReduction(Reduction.SUM);
            assertSameResult(sigmoid.withBackend(backend).forwardBackward(x, y), sigmoid.withBackend(other).forwardBackward(x, y),
                    "sigmoid focal " + backend + " vs " + other);
            SoftmaxFocalLoss softmax = SoftmaxFocalLoss.create().withGamma(1.5f).withAlpha(alpha);
            LossResult mine = softmax.withBackend(backend).forwardBackward(x, t);
            LossResult theirs = softmax.withBackend(other).forwardBackward(x, t);
            assertEquals(theirs.loss().item(), mine.loss().item(), 1e-6, "softmax focal " + backend + " vs " + other);
            assertClose(Approx.toDouble(theirs.grad().toFloatArray()), mine.grad().toFloatArray(), 1e-7, "softmax focal grad");
        }
    }

    @ParameterizedTest(name = "{0} gamma={1} {2}")
    @MethodSource("gammas")
    void intoBuffersEqualsTheAllocatingForm(Backend backend, float gamma, Reduction reduction) {
        int n = 5, c = 4;
        float[] x = uniform(n * c, -5, 5, 11), y = uniform(n * c, 0, 1, 12);
        SigmoidFocalLoss sigmoid = SigmoidFocalLoss.create(0.25f, gamma).withReduction(reduction).withBackend(backend);
        assertIntoBuffers(sigmoid::forwardBackward, sigmoid::forwardBackward, x, y, new long[] {n, c}, reduction,
                "sigmoid focal");

        Tensor alpha = Tensor.of(uniform(c, 0.1, 2, 13)), t = Tensor.of(new int[] {3, 0, 1, 1, 2});
        SoftmaxFocalLoss softmax = SoftmaxFocalLoss.create(alpha, gamma).withReduction(reduction).withBackend(backend);
        LossResult want = softmax.forwardBackward(Tensor.of(x, n, c), t);
        long[] lossShape = reduction == Reduction.NONE ? new long[] {n} : new long[0];
        Tensor loss = Tensor.zeros(DType.FLOAT32, lossShape), grad = Tensor.zeros(DType.FLOAT32, n, c);
        softmax.forwardBackward(Tensor.of(x, n, c), t, loss, grad);
        assertArrayEquals(want.loss().toFloatArray(), loss.toFloatArray(), "softmax focal loss into a buffer");
        assertArrayEquals(want.grad().toFloatArray(), grad.toFloatArray(), "softmax focal grad into a buffer");
        Tensor logits = Tensor.of(x, n, c), overLogits = Tensor.zeros(DType.FLOAT32, lossShape);
        softmax.forwardBackward(logits, t, overLogits, logits);
        assertArrayEquals(want.loss().toFloatArray(), overLogits.toFloatArray(), "softmax focal loss, grad over the logits");
        assertArrayEquals(want.grad().toFloatArray(), logits.toFloatArray(), "softmax focal grad over the logits");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void bothFocalLossesTakeAlphaThenGamma(Backend backend) {
        int n = 4, c = 3;
        Tensor x = Tensor.of(uniform(n * c, -3, 3, 14), n, c), y = Tensor.of(uniform(n * c, 0, 1, 15), n, c);
        SigmoidFocalLoss sigmoid = SigmoidFocalLoss.create(0.75f, 0.5f);
        assertEquals(0.75f, sigmoid.alpha());
        assertEquals(0.5f, sigmoid.gamma());
        assertEquals(Reduction.NONE, sigmoid.reduction());
        assertSameResult(SigmoidFocalLoss.create().withAlpha(0.75f).withGamma(0.5f).withBackend(backend).forwardBackward(x, y),
                sigmoid.withBackend(backend).forwardBackward(x, y), "sigmoid create(alpha, gamma) vs with-ers");

        Tensor alpha = Tensor.of(new float[] {0.5f, 1f, 2f}), t = Tensor.of(new long[] {0, 2, 1, 2});
        SoftmaxFocalLoss softmax = SoftmaxFocalLoss.create(alpha, 0.5f);
        assertEquals(alpha, softmax.alpha());
        assertEquals(0.5f, softmax.gamma());
        assertEquals(Reduction.MEAN, softmax.reduction());
        assertEquals(SoftmaxFocalLoss.create().withAlpha(alpha).withGamma(0.5f).withBackend(backend).forward(x, t).item(),
                softmax.withBackend(backend).forward(x, t).item(), "softmax create(alpha, gamma) vs with-ers");
        assertNull(SoftmaxFocalLoss.create().alpha());
        assertEquals(2.0f, SoftmaxFocalLoss.create().gamma());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void defaultsMirrorTorchvision(Backend backend) {
        SigmoidFocalLoss focal = SigmoidFocalLoss.create();
        assertEquals(0.25f, focal.alpha());
        assertEquals(2.0f, focal.gamma());
        assertEquals(Reduction.NONE, focal.reduction());
        Tensor loss = focal.withBackend(backend).forward(Tensor.of(new float[] {0, 0}, 2, 1), Tensor.of(new float[] {1, 0}, 2, 1));
        assertEquals(2, loss.rank());
        // x = 0: p_t = 1/2, ce = log 2; alpha_t = 0.25 for the positive, 0.75 for the negative
        assertClose(new double[] {0.25 * 0.25 * Math.log(2), 0.75 * 0.25 * Math.log(2)}, loss.toFloatArray(), 1e-7, "x = 0");
    }
}
