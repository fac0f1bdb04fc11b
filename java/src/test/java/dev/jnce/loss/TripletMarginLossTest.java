package dev.jnce.loss;

import dev.jnce.Reduction;
import dev.jnce.Backend;
import dev.jnce.Tensor;
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
 * The triplet margin loss on every backend against PyTorch's golden data, a float64 reference,
 * finite differences of it for all three inputs, and the other backends; NaN rows; the caller's
 * buffers. Bad input is in TripletMarginLossArgumentsTest.
 */
class TripletMarginLossTest extends ScopedTest {
    private static final Map<String, Golden.Case> GOLDEN = Golden.load("/golden/triplet.txt");
    static Stream<Arguments> goldenCases() {
        return TestBackends.all().stream().flatMap(b -> GOLDEN.values().stream().map(c -> Arguments.of(b, c)));
    }

    private static TripletMarginLoss configured(Golden.Case g, Backend backend) {
        boolean cosine = g.text("distance").equals("cosine");
        return TripletMarginLoss.create()
                .withDistance(cosine ? TripletMarginLoss.Distance.COSINE : TripletMarginLoss.Distance.PAIRWISE)
                .withMargin(Double.parseDouble(g.text("margin"))).withP(Double.parseDouble(g.text("p")))
                .withEps(Double.parseDouble(g.text("eps"))).withSwap(Boolean.parseBoolean(g.text("swap")))
                .withReduction(Reduction.valueOf(g.text("reduction").toUpperCase())).withBackend(backend);
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("goldenCases")
    void matchesPyTorchAndTheFloat64Reference(Backend backend, Golden.Case g) {
        int n = (int) g.integer("N"), d = (int) g.integer("D");
        TripletMarginLoss.Result r = configured(g, backend).forwardBackward(Tensor.of(g.floats("anchor"), n, d),
                Tensor.of(g.floats("positive"), n, d), Tensor.of(g.floats("negative"), n, d));
        float[] loss = r.loss().toFloatArray();
        assertClose(g.doubles("loss_f64"), loss, 2e-6, "loss vs float64");
        assertClose(g.doubles("loss"), loss, 1e-5, "loss vs torch float32");
        String[] keys = {"grad_anchor", "grad_positive", "grad_negative"};
        Tensor[] grads = {r.gradAnchor(), r.gradPositive(), r.gradNegative()};
        for (int w = 0; w < 3; w++) {
            assertClose(g.doubles(keys[w] + "_f64"), grads[w].toFloatArray(), 2e-6, keys[w] + " vs float64");
            assertClose(g.doubles(keys[w]), grads[w].toFloatArray(), 1e-5, keys[w] + " vs torch float32");
        }
        assertEquals(loss[0], configured(g, backend).forward(Tensor.of(g.floats("anchor"), n, d),
                Tensor.of(g.floats("positive"), n, d), Tensor.of(g.floats("negative"), n, d)).toFloatArray()[0], 0f,
                "forward equals forwardBackward");
    }

    static Stream<Arguments> variants() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(
                Arguments.of(b, false, 2.0, false, Reduction.MEAN), Arguments.of(b, false, 1.0, true, Reduction.SUM),
                Arguments.of(b, false, 3.0, true, Reduction.NONE), Arguments.of(b, true, 2.0, false, Reduction.SUM),
                Arguments.of(b, true, 2.0, true, Reduction.MEAN)));
    }

    @ParameterizedTest(name = "{0} cosine={1} p={2} swap={3} {4}")
    @MethodSource("variants")
    void gradientsMatchFiniteDifferencesInDouble(Backend backend, boolean cosine, double p, boolean swap, Reduction red) {
        int n = 6, d = 5;
        float[][] x = {random(n * d, 1), random(n * d, 2), random(n * d, 3)};
        double margin = cosine ? 0.7 : 1.5, eps = cosine ? 1e-8 : 1e-6;
        TripletMarginLoss loss = TripletMarginLoss.create().withDistance(cosine ? TripletMarginLoss.Distance.COSINE
                : TripletMarginLoss.Distance.PAIRWISE).withP(p).withSwap(swap).withMargin(margin).withReduction(red)
                .withBackend(backend);
        TripletMarginLoss.Result r = loss.forwardBackward(Tensor.of(x[0], n, d), Tensor.of(x[1], n, d), Tensor.of(x[2], n, d));
        double[][] xd = {Approx.toDouble(x[0]), Approx.toDouble(x[1]), Approx.toDouble(x[2])};
        Tensor[] grads = {r.gradAnchor(), r.gradPositive(), r.gradNegative()};
        for (int w = 0; w < 3; w++) {
            int which = w;
            double[] numeric = Approx.finiteDifferences(v -> {
                double[][] in = xd.clone();
                in[which] = v;
                return TripletReference.scalar(in[0], in[1], in[2], n, d, cosine, margin, p, eps, swap, red);
            }, xd[w].clone(), 1e-7);
            assertClose(numeric, grads[w].toFloatArray(), 1e-5, "gradient of input " + w);
        }
        assertClose(TripletReference.loss(xd[0], xd[1], xd[2], n, d, cosine, margin, p, eps, swap, red),
                r.loss().toFloatArray(), 2e-6, "loss vs float64");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void agreesWithTheOtherBackendsOnALargeBatch(Backend backend) {
        int n = 700, d = 64;
        Tensor a = Tensor.of(random(n * d, 4), n, d), p = Tensor.of(random(n * d, 5), n, d), q = Tensor.of(random(n * d, 6), n, d);
        TripletMarginLoss.Result mine = TripletMarginLoss.create().withSwap(true).withBackend(backend).forwardBackward(a, p, q);
        for (Backend other : TestBackends.all()) {
            TripletMarginLoss.Result theirs = TripletMarginLoss.create().withSwap(true).withBackend(other).forwardBackward(a, p, q);
            assertEquals(theirs.loss().item(), mine.loss().item(), 1e-6, backend + " vs " + other);
            assertClose(Approx.toDouble(theirs.gradAnchor().toFloatArray()), mine.gradAnchor().toFloatArray(), 1e-7,
                    backend + " vs " + other);
        }
    }

    static Stream<Arguments> nanCases() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(false, true).flatMap(cosine -> Stream.of(false, true)
                .flatMap(swap -> Stream.of(Arguments.of(b, cosine, swap, Reduction.NONE), Arguments.of(b, cosine, swap, Reduction.MEAN)))));
    }

    /**
     * A NaN in one row's negative: that row's loss is NaN (and so is a reduced loss), and its
     * gradient rows are NaN for the inputs of the NaN distances (anchor and negative; positive too
     * with swap, through d(p, n)), 0 for the positive without swap, as autograd's 0 * NaN gives;
     * the other rows keep the losses and gradients they have without the NaN row.
     */
    @ParameterizedTest(name = "{0} cosine={1} swap={2} {3}")
    @MethodSource("nanCases")
    void aNaNRowGivesNaNLossAndGradientRows(Backend backend, boolean cosine, boolean swap, Reduction reduction) {
        int n = 5, d = 4, bad = 2;
        float[][] x = {random(n * d, 7), random(n * d, 8), random(n * d, 9)};
        x[2][bad * d + 1] = Float.NaN;
        TripletMarginLoss loss = TripletMarginLoss.create().withDistance(cosine ? TripletMarginLoss.Distance.COSINE
                : TripletMarginLoss.Distance.PAIRWISE).withMargin(2.0).withSwap(swap).withReduction(reduction).withBackend(backend);
        TripletMarginLoss.Result r = loss.forwardBackward(Tensor.of(x[0], n, d), Tensor.of(x[1], n, d), Tensor.of(x[2], n, d));
        float[] l = r.loss().toFloatArray();
        if (reduction == Reduction.NONE) {
            for (int i = 0; i < n; i++) assertEquals(i == bad, Float.isNaN(l[i]), "row " + i + " loss " + l[i]);
        } else {
            assertTrue(Float.isNaN(l[0]), "MEAN over a NaN row: " + l[0]);
        }
        float[][] g = {r.gradAnchor().toFloatArray(), r.gradPositive().toFloatArray(), r.gradNegative().toFloatArray()};
        for (int j = 0; j < d; j++) {
            assertTrue(Float.isNaN(g[0][bad * d + j]), "gradAnchor of the NaN row, column " + j);
            assertTrue(Float.isNaN(g[2][bad * d + j]), "gradNegative of the NaN row, column " + j);
            if (swap) {
                assertTrue(Float.isNaN(g[1][bad * d + j]), "gradPositive of the NaN row, column " + j + " (swap: d(p, n) is NaN)");
            } else {
                assertEquals(0f, g[1][bad * d + j], "gradPositive of the NaN row, column " + j + " (d(a, p) is finite: 0 * it)");
            }
        }
        // the other rows: their row losses and gradients without the NaN row (for MEAN, scaled by 1/N of this batch)
        int[] keep = {0, 1, 3, 4};
        float[][] rest = new float[3][keep.length * d];
        for (int w = 0; w < 3; w++) {
            for (int q = 0; q < keep.length; q++) System.arraycopy(x[w], keep[q] * d, rest[w], q * d, d);
        }
        TripletMarginLoss.Result clean = loss.withReduction(Reduction.SUM).forwardBackward(Tensor.of(rest[0], keep.length, d),
                Tensor.of(rest[1], keep.length, d), Tensor.of(rest[2], keep.length, d));
        double scale = reduction == Reduction.MEAN ? 1.0 / n : 1.0;
        Tensor[] cleanGrads = {clean.gradAnchor(), clean.gradPositive(), clean.gradNegative()};
        for (int w = 0; w < 3; w++) {
            float[] want = cleanGrads[w].toFloatArray(), got = new float[keep.length * d];
            for (int q = 0; q < keep.length; q++) System.arraycopy(g[w], keep[q] * d, got, q * d, d);
            double[] scaled = new double[want.length];
            for (int i = 0; i < want.length; i++) scaled[i] = want[i] * scale;
            assertClose(scaled, got, 1e-6, "input " + w + " gradient of the finite rows");
        }
        if (reduction == Reduction.NONE) {
            float[] none = loss.forward(Tensor.of(rest[0], keep.length, d), Tensor.of(rest[1], keep.length, d),
                    Tensor.of(rest[2], keep.length, d)).toFloatArray();
            for (int q = 0; q < keep.length; q++) assertEquals(none[q], l[keep[q]], 0f, "row " + keep[q] + " loss");
        }
    }

    /** forwardBackward into the caller's tensors writes what the allocating form returns, for every reduction. */
    @ParameterizedTest(name = "{0} cosine={1} p={2} swap={3} {4}")
    @MethodSource("variants")
    void intoTheCallersTensorsEqualsTheAllocatingForm(Backend backend, boolean cosine, double p, boolean swap, Reduction red) {
        int n = 11, d = 7;
        Tensor a = Tensor.of(random(n * d, 11), n, d), pos = Tensor.of(random(n * d, 12), n, d);
        Tensor neg = Tensor.of(random(n * d, 13), n, d);
        TripletMarginLoss loss = TripletMarginLoss.create().withDistance(cosine ? TripletMarginLoss.Distance.COSINE
                : TripletMarginLoss.Distance.PAIRWISE).withP(p).withSwap(swap).withMargin(0.9).withReduction(red).withBackend(backend);
        TripletMarginLoss.Result want = loss.forwardBackward(a, pos, neg);
        Tensor l = red == Reduction.NONE ? Tensor.of(new float[n], n) : Tensor.of(new float[] {Float.NaN}, 1);
        float[] stale = random(n * d, 14); // whatever the buffers held is overwritten
        Tensor ga = Tensor.of(stale.clone(), n, d), gp = Tensor.of(stale.clone(), n, d), gn = Tensor.of(stale.clone(), n, d);
        loss.forwardBackward(a, pos, neg, l, ga, gp, gn);
        assertClose(Approx.toDouble(want.loss().toFloatArray()), l.toFloatArray(), 0, "loss");
        assertClose(Approx.toDouble(want.gradAnchor().toFloatArray()), ga.toFloatArray(), 0, "gradAnchor");
        assertClose(Approx.toDouble(want.gradPositive().toFloatArray()), gp.toFloatArray(), 0, "gradPositive");
        assertClose(Approx.toDouble(want.gradNegative().toFloatArray()), gn.toFloatArray(), 0, "gradNegative");
    }

    private static float[] random(int count, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[count];
        for (int i = 0; i < count; i++) x[i] = (float) r.nextGaussian();
        return x;
    }
}
