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

import static dev.jnce.testutil.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Binary cross-entropy on probabilities and on logits, on every backend, against PyTorch's golden
 * data, the float64 reference (BinaryReference), finite differences w.r.t. input and target, and
 * the other backends. Bad input is in BinaryCrossEntropyArgumentsTest.
 */
class BinaryCrossEntropyTest extends ScopedTest {
    private static final Map<String, Golden.Case> GOLDEN = Golden.load("/golden/binary_cross_entropy.txt");

    static Stream<Arguments> goldenCases() {
        return onEveryBackend(GOLDEN.values());
    }

    static Stream<Arguments> reductions() {
        return onEveryBackend(java.util.List.of(Reductions.all()));
    }

    /** A float32 tensor of the golden shape (a scalar for an empty shape). */
    static Tensor tensor(float[] values, long[] shape) {
        return shape.length == 0 ? Tensor.scalar(values[0]) : Tensor.of(values, shape);
    }

    static Tensor optional(Golden.Case g, String key) {
        return g.fields().containsKey(key) ? tensor(g.floats(key), g.longs(key + "_shape")) : null;
    }

    /** Compares a result with the golden case's float64 and torch-float32 values. */
    static void assertGolden(Golden.Case g, InputTargetResult r) {
        for (String key : new String[] {"loss", "grad_input", "grad_target"}) {
            Tensor t = key.equals("loss") ? r.loss() : key.equals("grad_input") ? r.gradInput() : r.gradTarget();
            float[] mine = t.toFloatArray();
            assertClose(g.doubles(key + "_f64"), mine, 1e-6, key + " vs float64");
            assertClose(g.doubles(key), mine, 2e-5, key + " vs torch float32");
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("goldenCases")
    void matchesPyTorch(Backend backend, Golden.Case g) {
        long[] shape = g.longs("shape");
        Tensor input = tensor(g.floats("input"), shape), target = tensor(g.floats("target"), shape);
        Reduction reduction = Reduction.valueOf(g.text("reduction").toUpperCase());
        InputTargetResult r = g.text("op").equals("bce")
                ? BinaryCrossEntropy.create().withReduction(reduction).withBackend(backend)
                        .withWeight(optional(g, "weight")).forwardBackward(input, target)
                : BinaryCrossEntropyWithLogits.create().withReduction(reduction).withBackend(backend)
                        .withWeight(optional(g, "weight")).withPosWeight(optional(g, "pos_weight"))
                        .forwardBackward(input, target);
        assertGolden(g, r);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void workedExampleGivesTheTrueValue(Backend backend) {
        float loss = BinaryCrossEntropy.create().withBackend(backend)
                .forward(Tensor.of(new float[] {0.8f, 0.3f}), Tensor.of(new float[] {1, 0})).item();
        assertEquals(-(Math.log(0.8f) + Math.log(1 - 0.3f)) / 2, loss, 1e-7);
        float logits = BinaryCrossEntropyWithLogits.create().withBackend(backend)
                .forward(Tensor.of(new float[] {0.0f}), Tensor.of(new float[] {1})).item();
        assertEquals(Math.log(2), logits, 1e-7);
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("reductions")
    void probabilityGradientsMatchFiniteDifferences(Backend backend, Reduction reduction) {
        int n = 3, c = 4;
        float[] p = uniform(n * c, 0.05, 0.95, 1), y = uniform(n * c, 0.1, 0.9, 2), w = {0.5f, 2f, 1f, 0.25f};
        InputTargetResult r = BinaryCrossEntropy.create().withReduction(reduction).withBackend(backend)
                .withWeight(Tensor.of(w)).forwardBackward(Tensor.of(p, n, c), Tensor.of(y, n, c));
        BinaryReference.Element f = (k, x, t) -> w[k % c] * BinaryReference.bce(x, t);
        assertFiniteDifferences(f, p, y, reduction, r, "bce");
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("reductions")
    void logitGradientsMatchFiniteDifferences(Backend backend, Reduction reduction) {
        int n = 3, c = 4;
        float[] x = uniform(n * c, -6, 6, 3), y = uniform(n * c, 0.1, 0.9, 4);
        float[] w = {0.5f, 2f, 1f, 0.25f}, pw = {3f, 0.5f, 1f, 0f};
        InputTargetResult r = BinaryCrossEntropyWithLogits.create().withReduction(reduction).withBackend(backend)
                .withWeight(Tensor.of(w)).withPosWeight(Tensor.of(pw)).forwardBackward(Tensor.of(x, n, c), Tensor.of(y, n, c));
        BinaryReference.Element f = (k, v, t) -> w[k % c] * BinaryReference.bceLogits(v, t, pw[k % c]);
        assertFiniteDifferences(f, x, y, reduction, r, "bce with logits");
    }

    /** Loss against the reference; gradients w.r.t. input and target against its central differences. */
    static void assertFiniteDifferences(BinaryReference.Element f, float[] x, float[] y, Reduction reduction,
                                        InputTargetResult r, String what) {
        double[] xd = Approx.toDouble(x), yd = Approx.toDouble(y);
        assertClose(BinaryReference.asLoss(BinaryReference.elements(f, xd, yd), reduction), r.loss().toFloatArray(),
                1e-6, what + " loss vs float64 reference");
        double[] dx = Approx.finiteDifferences(v -> BinaryReference.reduce(BinaryReference.elements(f, v, yd), reduction), xd, 1e-6);
        double[] dy = Approx.finiteDifferences(v -> BinaryReference.reduce(BinaryReference.elements(f, xd, v), reduction), yd, 1e-6);
        assertClose(dx, r.gradInput().toFloatArray(), 1e-6, what + " d/d input " + reduction);
        assertClose(dy, r.gradTarget().toFloatArray(), 1e-6, what + " d/d target " + reduction);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void agreesWithTheOtherBackendsOnManyBlocks(Backend backend) {
        int n = 5, c = 3001; // 15005 elements: several 2048-element blocks, several threads
        Tensor p = Tensor.of(uniform(n * c, 0, 1, 5), n, c), x = Tensor.of(uniform(n * c, -30, 30, 6), n, c);
        Tensor y = Tensor.of(uniform(n * c, 0, 1, 7), n, c), w = Tensor.of(uniform(c, 0, 2, 8)), pw = Tensor.of(uniform(c, 0, 4, 9));
        for (Backend other : TestBackends.all()) {
            String what = backend + " vs " + other;
            assertSameResult(BinaryCrossEntropy.create().withWeight(w).withBackend(backend).forwardBackward(p, y),
                    BinaryCrossEntropy.create().withWeight(w).withBackend(other).forwardBackward(p, y), "bce " + what);
            BinaryCrossEntropyWithLogits logits = BinaryCrossEntropyWithLogits.create().withWeight(w).withPosWeight(pw)
                    .withReduction(Reduction.SUM);
            assertSameResult(logits.withBackend(backend).forwardBackward(x, y), logits.withBackend(other).forwardBackward(x, y),
                    "logits " + what);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void unweightedLossesOnManyBlocksAgreeWithFloat64(Backend backend) {
        // unweighted: the SIMD path of each backend (8 float lanes natively, Vector API lanes in Java)
        int n = 5, c = 3001;
        float[] p = uniform(n * c, 0, 1, 11), x = uniform(n * c, -30, 30, 12), y = uniform(n * c, 0, 1, 13);
        for (int k = 0; k < n * c; k += 7) y[k] = k % 2; // hard targets too
        InputTargetResult bce = BinaryCrossEntropy.create().withReduction(Reduction.NONE).withBackend(backend)
                .forwardBackward(Tensor.of(p, n, c), Tensor.of(y, n, c));
        assertElementwise((k, v, t) -> BinaryReference.bce(v, t), (v, t) -> (v - t) / Math.max((1 - v) * v, 1e-12),
                (v, t) -> Math.log1p(-v) - Math.log(v), p, y, bce, backend + " bce");
        InputTargetResult logits = BinaryCrossEntropyWithLogits.create().withReduction(Reduction.NONE).withBackend(backend)
                .forwardBackward(Tensor.of(x, n, c), Tensor.of(y, n, c));
        assertElementwise((k, v, t) -> BinaryReference.bceLogits(v, t, 1), (v, t) -> 1 / (1 + Math.exp(-v)) - t,
                (v, t) -> -v, x, y, logits, backend + " bce with logits");
    }

    /** Derivative of one element's loss in double. */
    @FunctionalInterface
    interface Derivative {
        double at(double x, double y);
    }

    /** Element losses (reduction NONE) and their gradients against float64 values, 1e-6 relative to max(1, |v|). */
    static void assertElementwise(BinaryReference.Element f, Derivative dx, Derivative dy, float[] x, float[] y,
                                  InputTargetResult r, String what) {
        double[] loss = new double[x.length], gx = new double[x.length], gy = new double[x.length];
        for (int k = 0; k < x.length; k++) {
            loss[k] = f.at(k, x[k], y[k]);
            gx[k] = dx.at(x[k], y[k]);
            gy[k] = dy.at(x[k], y[k]);
        }
        assertClose(loss, r.loss().toFloatArray(), 1e-6, what + " loss");
        assertClose(gx, r.gradInput().toFloatArray(), 1e-6, what + " d/d input");
        assertClose(gy, r.gradTarget().toFloatArray(), 1e-6, what + " d/d target");
    }

    static void assertSameResult(InputTargetResult mine, InputTargetResult theirs, String what) {
        assertClose(Approx.toDouble(theirs.loss().toFloatArray()), mine.loss().toFloatArray(), 1e-6, what + " loss");
        assertClose(Approx.toDouble(theirs.gradInput().toFloatArray()), mine.gradInput().toFloatArray(), 1e-6, what + " grad input");
        assertClose(Approx.toDouble(theirs.gradTarget().toFloatArray()), mine.gradTarget().toFloatArray(), 1e-6, what + " grad target");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void reductionsAreConsistentAndForwardEqualsForwardBackward(Backend backend) {
        int numel = 24;
        Tensor x = Tensor.of(uniform(numel, -5, 5, 10), 2, 3, 4), y = Tensor.of(uniform(numel, 0, 1, 11), 2, 3, 4);
        BinaryCrossEntropyWithLogits bce = BinaryCrossEntropyWithLogits.create().withBackend(backend);
        float[] elements = bce.withReduction(Reduction.NONE).forward(x, y).toFloatArray();
        double sum = 0;
        for (float e : elements) sum += e;
        assertEquals(sum, bce.withReduction(Reduction.SUM).forward(x, y).item(), 1e-5);
        assertEquals(sum / numel, bce.forward(x, y).item(), 1e-6);
        assertEquals(bce.forward(x, y).item(), bce.forwardBackward(x, y).loss().item());
        float[] noneGrad = bce.withReduction(Reduction.NONE).forwardBackward(x, y).gradTarget().toFloatArray();
        float[] meanGrad = bce.forwardBackward(x, y).gradTarget().toFloatArray();
        for (int k = 0; k < numel; k++) assertEquals(noneGrad[k] / numel, meanGrad[k], 1e-7);
    }

    /** One of the element-wise losses' into-your-buffers form. */
    @FunctionalInterface
    interface IntoBuffers {
        void run(Tensor input, Tensor target, Tensor loss, Tensor gradInput, Tensor gradTarget);
    }

    /** One of the element-wise losses' allocating form. */
    @FunctionalInterface
    interface Allocating {
        InputTargetResult run(Tensor input, Tensor target);
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("reductions")
    void intoBuffersEqualsTheAllocatingForm(Backend backend, Reduction reduction) {
        int n = 3, c = 4;
        float[] p = uniform(n * c, 0.05, 0.95, 12), x = uniform(n * c, -6, 6, 13), y = uniform(n * c, 0, 1, 14);
        Tensor w = Tensor.of(uniform(c, 0.5, 2, 15)), pw = Tensor.of(uniform(c, 0, 3, 16));
        BinaryCrossEntropy bce = BinaryCrossEntropy.create().withWeight(w).withReduction(reduction).withBackend(backend);
        assertIntoBuffers(bce::forwardBackward, bce::forwardBackward, p, y, new long[] {n, c}, reduction, "bce");
        BinaryCrossEntropyWithLogits logits = BinaryCrossEntropyWithLogits.create().withWeight(w).withPosWeight(pw)
                .withReduction(reduction).withBackend(backend);
        assertIntoBuffers(logits::forwardBackward, logits::forwardBackward, x, y, new long[] {n, c}, reduction, "logits");
    }

    /**
     * The into-buffers form gives the allocating form's values: into fresh buffers, without the
     * target's gradient, and over the input and target themselves (gradInput = input,
     * gradTarget = target); a MEAN or SUM loss may also be of shape (1).
     */
    static void assertIntoBuffers(Allocating allocating, IntoBuffers into, float[] x, float[] y, long[] shape,
                                  Reduction reduction, String what) {
        InputTargetResult want = allocating.run(Tensor.of(x, shape), Tensor.of(y, shape));
        float[] loss = want.loss().toFloatArray(), gx = want.gradInput().toFloatArray(), gy = want.gradTarget().toFloatArray();
        long[] lossShape = reduction == Reduction.NONE ? shape : new long[0];

        Tensor l = Tensor.zeros(DType.FLOAT32, lossShape), gi = Tensor.zeros(DType.FLOAT32, shape), gt = Tensor.zeros(DType.FLOAT32, shape);
        into.run(Tensor.of(x, shape), Tensor.of(y, shape), l, gi, gt);
        assertArrayEquals(loss, l.toFloatArray(), what + " loss into a buffer");
        assertArrayEquals(gx, gi.toFloatArray(), what + " gradInput into a buffer");
        assertArrayEquals(gy, gt.toFloatArray(), what + " gradTarget into a buffer");

        Tensor l2 = Tensor.zeros(DType.FLOAT32, reduction == Reduction.NONE ? shape : new long[] {1});
        Tensor gi2 = Tensor.zeros(DType.FLOAT32, shape);
        into.run(Tensor.of(x, shape), Tensor.of(y, shape), l2, gi2, null);
        assertArrayEquals(loss, l2.toFloatArray(), what + " loss without gradTarget");
        assertArrayEquals(gx, gi2.toFloatArray(), what + " gradInput without gradTarget");

        Tensor input = Tensor.of(x, shape), target = Tensor.of(y, shape), l3 = Tensor.zeros(DType.FLOAT32, lossShape);
        into.run(input, target, l3, input, target);
        assertArrayEquals(loss, l3.toFloatArray(), what + " loss, gradients over the input and target");
        assertArrayEquals(gx, input.toFloatArray(), what + " gradInput over the input");
        assertArrayEquals(gy, target.toFloatArray(), what + " gradTarget over the target");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void intoBuffersAliasingHoldsOnManyBlocks(Backend backend) {
        int n = 3, c = 4099; // several 2048-element blocks and vector tails, several threads
        float[] x = uniform(n * c, -20, 20, 17), y = uniform(n * c, 0, 1, 18), p = uniform(n * c, 0, 1, 19);
        Tensor pw = Tensor.of(uniform(c, 0, 3, 20));
        BinaryCrossEntropyWithLogits logits = BinaryCrossEntropyWithLogits.create().withPosWeight(pw).withBackend(backend);
        assertIntoBuffers(logits::forwardBackward, logits::forwardBackward, x, y, new long[] {n, c}, Reduction.MEAN, "logits");
        BinaryCrossEntropy bce = BinaryCrossEntropy.create().withReduction(Reduction.NONE).withBackend(backend);
        assertIntoBuffers(bce::forwardBackward, bce::forwardBackward, p, y, new long[] {n, c}, Reduction.NONE, "bce");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void nanLogitsGiveNanAndLargeLogitsStayExact(Backend backend) {
        InputTargetResult r = BinaryCrossEntropyWithLogits.create().withReduction(Reduction.NONE).withBackend(backend)
                .forwardBackward(Tensor.of(new float[] {Float.NaN, 1e30f, -1e30f}), Tensor.of(new float[] {1, 0.5f, 1}));
        float[] loss = r.loss().toFloatArray();
        assertEquals(Float.NaN, loss[0]);
        assertEquals(0.5e30f, loss[1], 1e24f);
        assertEquals(1e30f, loss[2], 1e24f);
    }

    static float[] uniform(int count, double lo, double hi, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] v = new float[count];
        for (int i = 0; i < count; i++) v[i] = (float) random.nextDouble(lo, hi);
        return v;
    }
}
