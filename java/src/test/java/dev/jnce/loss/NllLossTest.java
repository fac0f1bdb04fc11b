package dev.jnce.loss;

import dev.jnce.Reduction;
import dev.jnce.testutil.Reductions;
import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.ops.Softmax;
import dev.jnce.testutil.Approx;
import dev.jnce.testutil.Golden;
import dev.jnce.testutil.ScopedTest;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static dev.jnce.testutil.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The negative log-likelihood on every backend against PyTorch's golden data, a float64
 * reference, finite differences and the other backends. Bad input is in NllLossArgumentsTest.
 */
class NllLossTest extends ScopedTest {
    private static final Map<String, Golden.Case> GOLDEN = Golden.load("/golden/nll.txt");
    private static final double[] WEIGHT = {0.5, 2.0, 1.0, 3.0, 0.25, 1.5, 0.0};


    static Stream<Arguments> goldenCases() {
        return ScopedTest.onEveryBackend(GOLDEN.values());
    }

    /** Every backend, reduction, input kind, with and without weights. */
    static Stream<Arguments> variants() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(Reductions.all()).flatMap(r ->
                Stream.of(false, true).flatMap(probs -> Stream.of(false, true).map(w -> Arguments.of(b, r, probs, w)))));
    }

    private static NllLoss nll(Backend b, Reduction r, boolean probs) {
        return (probs ? NllLoss.fromProbabilities() : NllLoss.create()).withReduction(r).withBackend(b);
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("goldenCases")
    void matchesPyTorchAndTheFloat64Reference(Backend backend, Golden.Case g) {
        int n = (int) g.integer("N"), c = (int) g.integer("C");
        float[] weight = g.floats("weight");
        NllLoss loss = nll(backend, Reduction.valueOf(g.text("reduction").toUpperCase()), g.integer("probabilities") == 1)
                .withIgnoreIndex(g.integer("ignore_index")).withWeight(weight.length == 0 ? null : Tensor.of(weight));
        LossResult r = loss.forwardBackward(Tensor.of(g.floats("input"), n, c), Tensor.of(g.longs("targets")));

        float[] l = r.loss().toFloatArray(), grad = r.grad().toFloatArray();
        assertClose(g.doubles("loss_f64"), l, 1e-6, "loss vs float64");
        assertClose(g.doubles("loss"), l, 2e-6, "loss vs torch float32");
        assertClose(g.doubles("grad_f64"), grad, 1e-6, "grad vs float64");
        assertClose(g.doubles("grad"), grad, 2e-6, "grad vs torch float32");
    }

    @ParameterizedTest(name = "{0} {1} probabilities={2} weighted={3}")
    @MethodSource("variants")
    void gradientMatchesFiniteDifferencesInDouble(Backend backend, Reduction reduction, boolean probs, boolean weighted) {
        int n = 6, c = 7;
        float[] x = input(n, c, probs, 13);
        long[] t = {0, 6, -100, 3, 3, 1};
        NllLoss loss = nll(backend, reduction, probs).withWeight(weighted ? Tensor.of(toFloat(WEIGHT)) : null);
        float[] grad = loss.forwardBackward(Tensor.of(x, n, c), Tensor.of(t)).grad().toFloatArray();

        NllReference ref = new NllReference(weighted ? WEIGHT : null, -100, probs, reduction);
        double[] numeric = Approx.finiteDifferences(v -> ref.scalar(v, t, n, c), Approx.toDouble(x), 1e-7);
        assertClose(numeric, grad, 1e-5, "gradient vs finite differences");
        assertClose(ref.grad(Approx.toDouble(x), t, n, c), grad, 1e-6, "gradient vs analytic");
    }

    @ParameterizedTest(name = "{0} {1} probabilities={2} weighted={3}")
    @MethodSource("variants")
    void agreesWithTheFloat64ReferenceAndTheOtherBackends(Backend backend, Reduction reduction, boolean probs, boolean weighted) {
        int n = 300, c = 7;
        float[] x = input(n, c, probs, 5);
        long[] t = new SplittableRandom(6).longs(n, -1, c).map(v -> v < 0 ? -100 : v).toArray();
        Tensor input = Tensor.of(x, n, c), targets = Tensor.of(t);
        Tensor weight = weighted ? Tensor.of(toFloat(WEIGHT)) : null;
        LossResult mine = nll(backend, reduction, probs).withWeight(weight).forwardBackward(input, targets);
        NllReference ref = new NllReference(weighted ? WEIGHT : null, -100, probs, reduction);
        assertClose(ref.loss(Approx.toDouble(x), t, n, c), mine.loss().toFloatArray(), 1e-6, "loss vs float64");
        assertClose(ref.grad(Approx.toDouble(x), t, n, c), mine.grad().toFloatArray(), 1e-6, "grad vs float64");
        for (Backend other : TestBackends.all()) {
            LossResult theirs = nll(other, reduction, probs).withWeight(weight).forwardBackward(input, targets);
            assertClose(Approx.toDouble(theirs.loss().toFloatArray()), mine.loss().toFloatArray(), 1e-6, "loss vs " + other);
            assertClose(Approx.toDouble(theirs.grad().toFloatArray()), mine.grad().toFloatArray(), 0, "grad vs " + other);
        }
    }

    @ParameterizedTest(name = "{0} {1} probabilities={2} weighted={3}")
    @MethodSource("variants")
    void rowsSplitOverThreadsGiveTheFloat64ReferenceAndTheOtherBackendsBits(Backend backend, Reduction reduction,
                                                                           boolean probs, boolean weighted) {
        int n = 40_000, c = 7; // several slices of rows on every backend: the losses summed after, in row order
        float[] x = input(n, c, probs, 9);
        long[] t = new SplittableRandom(10).longs(n, -1, c).map(v -> v < 0 ? -100 : v).toArray();
        Tensor input = Tensor.of(x, n, c), targets = Tensor.of(t);
        Tensor weight = weighted ? Tensor.of(toFloat(WEIGHT)) : null;
        NllLoss loss = nll(backend, reduction, probs).withWeight(weight);
        float[] forward = loss.forward(input, targets).toFloatArray();
        LossResult mine = loss.forwardBackward(input, targets);
        assertClose(Approx.toDouble(forward), mine.loss().toFloatArray(), 0, "forward vs forwardBackward");
        NllReference ref = new NllReference(weighted ? WEIGHT : null, -100, probs, reduction);
        assertClose(ref.loss(Approx.toDouble(x), t, n, c), mine.loss().toFloatArray(), 1e-6, "loss vs float64");
        assertClose(ref.grad(Approx.toDouble(x), t, n, c), mine.grad().toFloatArray(), 1e-6, "grad vs float64");
        for (Backend other : TestBackends.all()) {
            LossResult theirs = nll(other, reduction, probs).withWeight(weight).forwardBackward(input, targets);
            assertClose(Approx.toDouble(theirs.loss().toFloatArray()), mine.loss().toFloatArray(), 0, "loss vs " + other);
            assertClose(Approx.toDouble(theirs.grad().toFloatArray()), mine.grad().toFloatArray(), 0, "grad vs " + other);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void allIgnoredIsNaNByDefaultAndZeroOnRequest(Backend backend) {
        Tensor input = Tensor.of(new float[][] {{-1f, -2f}, {-0.5f, -3f}});
        Tensor ignored = Tensor.of(new long[] {-100, -100});
        NllLoss mean = NllLoss.create().withBackend(backend);
        LossResult pytorch = mean.forwardBackward(input, ignored);
        assertTrue(Float.isNaN(pytorch.loss().item()), "PyTorch: mean over no row is NaN");
        assertClose(new double[4], pytorch.grad().toFloatArray(), 0, "with a zero gradient");

        NllLoss zero = mean.withZeroWhenAllIgnored(true);
        LossResult r = zero.forwardBackward(input, ignored);
        assertEquals(0f, r.loss().item());
        assertClose(new double[4], r.grad().toFloatArray(), 0, "zero gradient");
        // Rows of class weight 0 count as ignored for the option (PyTorch: NaN loss and NaN gradient).
        LossResult w0 = zero.withWeight(Tensor.of(new float[] {0f, 1f})).forwardBackward(input, Tensor.of(new long[] {0, -100}));
        assertEquals(0f, w0.loss().item());
        assertClose(new double[4], w0.grad().toFloatArray(), 0, "zero gradient at weight 0");
        // With a counted row the option changes nothing.
        Tensor one = Tensor.of(new long[] {-100, 1});
        assertEquals(mean.forward(input, one).item(), zero.forward(input, one).item(), 0f);
        assertEquals(3f, zero.forward(input, one).item(), 0f);
        assertEquals(0f, NllLoss.create().withReduction(Reduction.SUM).withBackend(backend).forward(input, ignored).item());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void aValidClassCanBeTheIgnoreIndex(Backend backend) {
        Tensor input = Tensor.of(new float[][] {{-1f, -2f, -3f}, {-0.5f, -4f, -1f}, {-2f, -0.25f, -1f}});
        NllLoss nll = NllLoss.create().withIgnoreIndex(1).withBackend(backend);
        LossResult r = nll.forwardBackward(input, Tensor.of(new int[] {1, 2, 0}));
        assertEquals((1f + 2f) / 2, r.loss().item(), 1e-7, "mean over the rows not of class 1");
        assertClose(new double[] {0, 0, 0, 0, 0, -0.5, -0.5, 0, 0}, r.grad().toFloatArray(), 0, "grad");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void composedWithLogSoftmaxItIsCrossEntropy(Backend backend) {
        int n = 8, c = 50;
        Tensor logits = Tensor.of(input(n, c, false, 3), n, c);
        Tensor targets = Tensor.of(new SplittableRandom(2).longs(n, 0, c).toArray());
        Softmax.Result logProbs = Softmax.logSoftmax().withBackend(backend).forwardBackward(logits, Tensor.zeros(DType.FLOAT32, n, c));
        LossResult nll = NllLoss.create().withBackend(backend).forwardBackward(logProbs.output(), targets);
        Tensor dLogits = Softmax.logSoftmax().withBackend(backend).backward(logProbs.output(), nll.grad());
        CrossEntropy.Result ce = CrossEntropy.create().withBackend(backend).forwardBackward(logits, targets);
        assertEquals(ce.loss().item(), nll.loss().item(), 1e-6);
        assertClose(Approx.toDouble(ce.grad().toFloatArray()), dLogits.toFloatArray(), 1e-7, "chain rule = fused gradient");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void fromProbabilitiesIsThePlainNegativeLogWithAClamp(Backend backend) {
        float[][] p = {{0.7f, 0.2f, 0.1f}, {0.1f, 0.8f, 0.1f}, {0.0f, 0.5f, 0.5f}};
        long[] y = {0, 1, 0};
        LossResult r = NllLoss.fromProbabilities().withBackend(backend).forwardBackward(Tensor.of(p), Tensor.of(y));
        // -log(y_hat[i, y_i]).mean(), with log(0) clamped to -100
        double expected = -(Math.log(0.7f) + Math.log(0.8f) - 100) / 3;
        assertEquals(expected, r.loss().item(), 1e-5);
        float[] g = r.grad().toFloatArray();
        assertEquals(-1 / (3 * 0.7), g[0], 1e-6);
        assertEquals(0f, g[6], 0f, "no gradient where clamped");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void int32AndInt64TargetsGiveTheSameResult(Backend backend) {
        Tensor input = Tensor.of(input(4, 9, false, 8), 4, 9);
        NllLoss nll = NllLoss.create().withBackend(backend);
        assertEquals(nll.forward(input, Tensor.of(new long[] {0, 8, -100, 3})).item(),
                nll.forward(input, Tensor.of(new int[] {0, 8, -100, 3})).item(), 0f);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void gradientCanReplaceTheInputInPlace(Backend backend) {
        int n = 5, c = 40;
        float[] x = input(n, c, false, 9);
        Tensor targets = Tensor.of(new long[] {5, 39, -100, 0, 5});
        NllLoss nll = NllLoss.create().withBackend(backend).withWeight(Tensor.of(input(1, c, true, 4)));
        LossResult fresh = nll.forwardBackward(Tensor.of(x, n, c), targets);
        Tensor input = Tensor.of(x, n, c), loss = Tensor.zeros(DType.FLOAT32, 1);
        nll.forwardBackward(input, targets, loss, input);
        assertEquals(fresh.loss().item(), loss.item(), 0f);
        assertClose(Approx.toDouble(fresh.grad().toFloatArray()), input.toFloatArray(), 0, "in place");
    }

    /** Log-probabilities (log_softmax of random logits) or probabilities in (0, 1]. */
    static float[] input(int n, int c, boolean probs, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] x = new float[n * c];
        for (int i = 0; i < n; i++) {
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            double[] z = new double[c];
            for (int j = 0; j < c; j++) max = Math.max(max, z[j] = random.nextGaussian() * 2);
            for (int j = 0; j < c; j++) sum += Math.exp(z[j] - max);
            for (int j = 0; j < c; j++) {
                double lp = z[j] - max - Math.log(sum);
                x[i * c + j] = (float) (probs ? Math.exp(lp) : lp);
            }
        }
        return x;
    }

    static float[] toFloat(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) f[i] = (float) v[i];
        return f;
    }
}
