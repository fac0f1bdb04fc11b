package dev.jnce.loss;

import dev.jnce.Reduction;
import dev.jnce.testutil.Reductions;
import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.testutil.Approx;
import dev.jnce.testutil.Golden;
import dev.jnce.testutil.ScopedTest;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static dev.jnce.loss.CrossEntropyArgumentsTest.assertMessage;
import static dev.jnce.testutil.Approx.assertClose;
import static dev.jnce.testutil.Approx.toDouble;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * CrossEntropy's options on every backend: PyTorch golden data (weights, ignore_index, label
 * smoothing, probability targets, all ignored), the additions (row mask, z-loss, lse, zero when
 * all ignored) against a float64 reference, finite differences, and the bad inputs they bring.
 */
class CrossEntropyOptionsTest extends ScopedTest {
    private static final Map<String, Golden.Case> GOLDEN = Golden.load("/golden/cross_entropy_options.txt");
    static Stream<Arguments> goldenCases() {
        return TestBackends.all().stream().flatMap(b -> GOLDEN.values().stream().map(c -> Arguments.of(b, c)));
    }

    /** The CrossEntropy and the inputs a golden case describes. */
    record Setup(CrossEntropy ce, Tensor logits, Tensor targets, Tensor rowMask) {
        static Setup of(Golden.Case g, Backend backend) {
            int n = (int) g.integer("N"), c = (int) g.integer("C");
            CrossEntropy ce = CrossEntropy.create().withBackend(backend)
                    .withReduction(Reduction.valueOf(g.text("reduction").toUpperCase()))
                    .withIgnoreIndex(g.integer("ignore_index"))
                    .withLabelSmoothing(g.floats("label_smoothing")[0])
                    .withZLoss(g.floats("z_loss")[0]);
            if (g.fields().containsKey("weight")) ce = ce.withWeight(Tensor.of(g.floats("weight")));
            Tensor targets = g.fields().containsKey("probs") ? Tensor.of(g.floats("probs"), n, c) : Tensor.of(g.longs("targets"));
            Tensor mask = null;
            if (g.fields().containsKey("row_mask")) {
                long[] m = g.longs("row_mask");
                int[] mi = new int[m.length];
                for (int i = 0; i < m.length; i++) mi[i] = (int) m[i];
                mask = Tensor.of(mi);
            }
            return new Setup(ce, Tensor.of(g.floats("logits"), n, c), targets, mask);
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("goldenCases")
    void matchesPyTorchAndTheFloat64Reference(Backend backend, Golden.Case g) {
        Setup s = Setup.of(g, backend);
        CrossEntropy.Result r = s.ce().forwardBackward(s.logits(), s.targets(), s.rowMask());
        float[] loss = r.loss().toFloatArray(), grad = r.grad().toFloatArray();
        assertClose(g.doubles("loss_f64"), loss, 2e-6, "loss vs float64");
        assertClose(g.doubles("loss"), loss, 2e-5, "loss vs torch float32");
        assertClose(g.doubles("grad_f64"), grad, 1e-6, "grad vs float64");
        assertClose(g.doubles("grad"), grad, 2e-6, "grad vs torch float32");
        assertClose(g.doubles("loss_f64"), s.ce().forward(s.logits(), s.targets(), s.rowMask()).toFloatArray(), 2e-6,
                "forward alone");
    }

    /**
     * jnce's float32 error against float64 is no worse than PyTorch float32's on the same inputs,
     * over every golden case (cross_entropy.txt and cross_entropy_options.txt), per backend.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void float32ErrorIsNoWorseThanPyTorchs(Backend backend) {
        double[] worst = new double[4]; // jnce loss, torch loss, jnce grad, torch grad
        for (String file : new String[] {"/golden/cross_entropy.txt", "/golden/cross_entropy_options.txt"}) {
            for (Golden.Case g : Golden.load(file).values()) {
                Setup s = g.fields().containsKey("ignore_index") ? Setup.of(g, backend) : plain(g, backend);
                CrossEntropy.Result r = s.ce().forwardBackward(s.logits(), s.targets(), s.rowMask());
                worst[0] = Math.max(worst[0], relError(g.doubles("loss_f64"), r.loss().toFloatArray()));
                worst[1] = Math.max(worst[1], relError(g.doubles("loss_f64"), toFloat(g.doubles("loss"))));
                worst[2] = Math.max(worst[2], relError(g.doubles("grad_f64"), r.grad().toFloatArray()));
                worst[3] = Math.max(worst[3], relError(g.doubles("grad_f64"), toFloat(g.doubles("grad"))));
            }
        }
        System.out.printf("float32 error vs float64 (%s): loss jnce %.3g torch %.3g; grad jnce %.3g torch %.3g%n",
                backend, worst[0], worst[1], worst[2], worst[3]);
        assertTrue(worst[0] <= worst[1] + 1e-7, "loss: jnce " + worst[0] + " vs torch " + worst[1]);
        assertTrue(worst[2] <= worst[3] + 1e-8, "grad: jnce " + worst[2] + " vs torch " + worst[3]);
    }

    private static Setup plain(Golden.Case g, Backend backend) {
        int n = (int) g.integer("N"), c = (int) g.integer("C");
        return new Setup(CrossEntropy.create().withBackend(backend).withReduction(Reduction.valueOf(g.text("reduction").toUpperCase())),
                Tensor.of(g.floats("logits"), n, c), Tensor.of(g.longs("targets")), null);
    }

    /** max |a - e| / max(1, |e|) over finite expected values. */
    private static double relError(double[] expected, float[] actual) {
        double worst = 0;
        for (int i = 0; i < expected.length; i++) {
            if (Double.isFinite(expected[i])) worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i])));
        }
        return worst;
    }

    private static float[] toFloat(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) f[i] = (float) v[i];
        return f;
    }

    static Stream<Arguments> optionSets() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(Reductions.all()).flatMap(r ->
                Stream.of("class", "probs").map(kind -> Arguments.of(b, r, kind))));
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("optionSets")
    void gradientOfEveryOptionMatchesFiniteDifferences(Backend backend, Reduction reduction, String kind) {
        int n = 6, c = 9;
        SplittableRandom random = new SplittableRandom(5);
        float[] x = new float[n * c], w = new float[c], p = new float[n * c];
        for (int i = 0; i < x.length; i++) x[i] = (float) (random.nextGaussian() * 2);
        for (int j = 0; j < c; j++) w[j] = (float) (0.5 + random.nextDouble());
        for (int i = 0; i < n; i++) {
            double sum = 0;
            for (int j = 0; j < c; j++) sum += p[i * c + j] = (float) random.nextDouble();
            for (int j = 0; j < c; j++) p[i * c + j] /= (float) sum;
        }
        long[] y = {0, 8, 3, -100, 3, 5};
        int[] mask = {1, 1, 0, 1, 1, 1};
        boolean probs = kind.equals("probs");
        CrossEntropy ce = CrossEntropy.create().withBackend(backend).withReduction(reduction).withWeight(Tensor.of(w))
                .withLabelSmoothing(0.15f).withZLoss(0.01f);
        float[] grad = ce.forwardBackward(Tensor.of(x, n, c), probs ? Tensor.of(p, n, c) : Tensor.of(y), Tensor.of(mask))
                .grad().toFloatArray();

        CrossEntropyReference.Options o = new CrossEntropyReference.Options(probs ? null : y, probs ? toDouble(p) : null,
                toDouble(w), -100, 0.15f, 0.01f, mask, reduction, false);
        double[] numeric = Approx.finiteDifferences(v -> sum(CrossEntropyReference.loss(v, n, c, o)), toDouble(x), 1e-6);
        assertClose(numeric, grad, 2e-6, "d loss / d logits, " + kind + " " + reduction);
    }

    private static double sum(double[] v) {
        double s = 0;
        for (double d : v) s += d;
        return s;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void logSumExpIsReturnedForEveryRow(Backend backend) {
        float[] x = {1, 2, 3, -1, 0, 1, 100, 100, 100};
        CrossEntropy.Result r = CrossEntropy.create().withBackend(backend).withLogSumExp(true)
                .forwardBackward(Tensor.of(x, 3, 3), Tensor.of(new long[] {0, -100, 2}));
        float[] lse = r.lse().toFloatArray();
        assertEquals(3 + Math.log(1 + Math.exp(-1) + Math.exp(-2)), lse[0], 1e-6);
        assertEquals(1 + Math.log(1 + Math.exp(-1) + Math.exp(-2)), lse[1], 1e-6, "ignored rows get it too");
        assertEquals(100 + Math.log(3), lse[2], 1e-5);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void anAllIgnoredBatchIsNaNByDefaultAndZeroWhenAsked(Backend backend) {
        Tensor logits = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor targets = Tensor.of(new long[] {-100, -100});
        CrossEntropy ce = CrossEntropy.create().withBackend(backend);
        assertTrue(Float.isNaN(ce.forward(logits, targets).item()), "PyTorch gives NaN");
        CrossEntropy.Result r = ce.withZeroWhenAllIgnored(true).forwardBackward(logits, targets);
        assertEquals(0f, r.loss().item());
        for (float g : r.grad().toFloatArray()) assertEquals(0f, g);
        assertEquals(0f, ce.withReduction(Reduction.SUM).forward(logits, targets).item(), "SUM of nothing is 0");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void ignoredRowsContributeNothingEvenWhenTheyHoldNaN(Backend backend) {
        Tensor logits = Tensor.of(new float[] {Float.NaN, 0, 0, 1, 2, 3}, 2, 3);
        CrossEntropy.Result r = CrossEntropy.create().withBackend(backend).forwardBackward(logits, Tensor.of(new long[] {-100, 2}));
        assertEquals(Math.log(1 + Math.exp(-1) + Math.exp(-2)), r.loss().item(), 1e-6);
        assertEquals(0f, r.grad().toFloatArray()[0]);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void gradientReplacesTheLogitsInPlaceWithEveryOption(Backend backend) {
        int n = 5, c = 70;
        float[] x = new float[n * c];
        SplittableRandom random = new SplittableRandom(3);
        for (int i = 0; i < x.length; i++) x[i] = (float) random.nextGaussian();
        float[] w = new float[c];
        java.util.Arrays.fill(w, 0.5f);
        w[3] = 2f;
        CrossEntropy ce = CrossEntropy.create().withBackend(backend).withWeight(Tensor.of(w)).withLabelSmoothing(0.1f).withZLoss(1e-3f);
        Tensor targets = Tensor.of(new long[] {3, -100, 69, 0, 3});
        CrossEntropy.Result fresh = ce.forwardBackward(Tensor.of(x, n, c), targets);
        Tensor logits = Tensor.of(x, n, c), loss = Tensor.zeros(DType.FLOAT32);
        ce.forwardBackward(logits, targets, loss, logits);
        // The same computation: bit for bit, except on java(vector), whose exponentials come from the
        // Vector API's EXP, computed by a Java fallback until C2 compiles the loop and by the SVML
        // intrinsic after, which may differ in the last bit (the full suite warms the JIT between the calls).
        double tol = backend.toString().equals("java(vector)") ? 2.4e-7 : 0;
        assertEquals(fresh.loss().item(), loss.item(), tol * Math.max(1, Math.abs(loss.item())));
        assertClose(toDouble(fresh.grad().toFloatArray()), logits.toFloatArray(), tol, "in place");
    }

    /**
     * Long rows (4095 to 16400 classes: the SIMD blocks, a vector left out of the pairs, scalar
     * tails) with weights and label smoothing: the loss and the gradient against float64,
     * d/dx_ij sum_i loss_i = qsum_i softmax_ij - q_ij with q_ij = (1 - eps) w_y [j = y] + eps w_j / C,
     * and the gradient written over the logits equal to the one written apart.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void longRowsWithWeightsAndSmoothingMatchFloat64ApartAndInPlace(Backend backend) {
        SplittableRandom random = new SplittableRandom(17);
        double eps = 0.1f;
        for (int c : new int[] {4095, 4096, 4111, 16400}) {
            int n = 5;
            float[] x = new float[n * c], w = new float[c];
            long[] y = new long[n];
            for (int i = 0; i < x.length; i++) x[i] = (float) (random.nextGaussian() * 3);
            for (int j = 0; j < c; j++) w[j] = (float) (0.5 + random.nextDouble());
            for (int i = 0; i < n; i++) y[i] = random.nextInt(c);
            CrossEntropy ce = CrossEntropy.create().withBackend(backend).withReduction(Reduction.SUM).withWeight(Tensor.of(w))
                    .withLabelSmoothing((float) eps);
            CrossEntropy.Result r = ce.forwardBackward(Tensor.of(x, n, c), Tensor.of(y));
            double[] xd = toDouble(x), wd = toDouble(w);
            CrossEntropyReference.Options o = new CrossEntropyReference.Options(y, null, wd, -100, eps, 0, null, Reduction.SUM, false);
            double want = CrossEntropyReference.loss(xd, n, c, o)[0];
            assertEquals(want, r.loss().item(), 2e-6 * Math.abs(want), "loss, C = " + c);
            double[] g = new double[n * c];
            for (int i = 0; i < n; i++) {
                double max = Double.NEGATIVE_INFINITY, sum = 0, qsum = 0;
                for (int j = 0; j < c; j++) max = Math.max(max, xd[i * c + j]);
                for (int j = 0; j < c; j++) sum += Math.exp(xd[i * c + j] - max);
                for (int j = 0; j < c; j++) qsum += (j == y[i] ? (1 - eps) * wd[j] : 0) + eps / c * wd[j];
                for (int j = 0; j < c; j++) {
                    double q = (j == y[i] ? (1 - eps) * wd[j] : 0) + eps / c * wd[j];
                    g[i * c + j] = c * (qsum * Math.exp(xd[i * c + j] - max) / sum - q); // times C: entries of order 1
                }
            }
            float[] got = r.grad().toFloatArray(), scaled = new float[got.length];
            for (int i = 0; i < got.length; i++) scaled[i] = got[i] * c;
            assertClose(g, scaled, 2e-5, "C times d loss / d logits, C = " + c);

            Tensor logits = Tensor.of(x, n, c), loss = Tensor.zeros(DType.FLOAT32);
            ce.forwardBackward(logits, Tensor.of(y), loss, logits);
            double tol = backend.toString().equals("java(vector)") ? 2.4e-7 : 0; // as gradientReplacesTheLogitsInPlaceWithEveryOption
            assertEquals(r.loss().item(), loss.item(), tol * Math.abs(loss.item()), "loss in place, C = " + c);
            float[] inPlace = logits.toFloatArray();
            for (int i = 0; i < inPlace.length; i++) inPlace[i] *= c;
            assertClose(toDouble(scaled), inPlace, tol, "gradient in place, C = " + c);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void badOptionsAreRejected(Backend b) {
        Tensor logits = Tensor.of(new float[12], 4, 3), targets = Tensor.of(new long[] {0, 1, 2, 0});
        CrossEntropy ce = CrossEntropy.create().withBackend(b);
        assertMessage(IllegalArgumentException.class, () -> ce.withWeight(Tensor.of(new float[] {1, 1})).forward(logits, targets),
                "weight", "(2)", "expected (C) = (3)");
        assertMessage(IllegalArgumentException.class, () -> ce.withWeight(Tensor.of(new float[] {1, Float.NaN, 1})).forward(logits, targets),
                "weight[1] = NaN");
        assertMessage(IllegalArgumentException.class, () -> ce.withWeight(Tensor.of(new long[] {1, 1, 1})), "weight", "float32", "int64(3)");
        assertMessage(IllegalArgumentException.class, () -> ce.withLabelSmoothing(1.5f), "labelSmoothing", "1.5", "[0, 1]");
        assertMessage(IllegalArgumentException.class, () -> ce.withLabelSmoothing(Float.NaN), "labelSmoothing");
        assertMessage(IllegalArgumentException.class, () -> ce.withZLoss(-1f), "zLoss", "-1.0");
        assertMessage(IllegalArgumentException.class, () -> ce.forward(logits, targets, Tensor.of(new int[] {1, 1})),
                "rowMask", "(N) = (4)", "got (2)");
        assertMessage(IllegalArgumentException.class, () -> ce.forward(logits, targets, Tensor.of(new float[] {1, 1, 1, 1})),
                "rowMask", "int32", "float32(4)");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void probabilityTargetsMustBeDistributionsOfTheLogitsShape(Backend b) {
        Tensor logits = Tensor.of(new float[6], 2, 3);
        CrossEntropy ce = CrossEntropy.create().withBackend(b);
        assertMessage(IllegalArgumentException.class, () -> ce.forward(logits, Tensor.of(new float[] {0.2f, 0.3f, 0.5f, 0.6f, 0.6f, 0.1f}, 2, 3)),
                "targets", "row 1", "not a probability distribution");
        assertMessage(IllegalArgumentException.class, () -> ce.forward(logits, Tensor.of(new float[] {1.5f, -0.5f, 0f, 0, 0, 1}, 2, 3)),
                "row 0", "not a probability distribution");
        assertMessage(IllegalArgumentException.class, () -> ce.forward(logits, Tensor.of(new float[] {0.5f, 0.5f, 0, 1}, 2, 2)),
                "targets", "(N, C) = (2, 3)", "float32(2, 2)");
        float masked = ce.forward(logits, Tensor.of(new float[] {0.2f, 0.3f, 0.5f, 9, 9, 9}, 2, 3), Tensor.of(new int[] {1, 0})).item();
        assertEquals(Math.log(3), masked, 1e-6, "a masked row is not checked");
    }

    @Test
    void optionsAreImmutable() {
        CrossEntropy base = CrossEntropy.create();
        CrossEntropy smoothed = base.withLabelSmoothing(0.3f);
        Tensor logits = Tensor.of(new float[] {0, 0, 5}, 1, 3), t = Tensor.of(new long[] {2});
        assertTrue(smoothed.forward(logits, t).item() > base.forward(logits, t).item() + 0.1);
    }
}
