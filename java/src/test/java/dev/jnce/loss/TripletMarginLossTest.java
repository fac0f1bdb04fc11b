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

/**
 * The triplet margin loss on every backend against PyTorch's golden data, a float64 reference,
 * finite differences of it for all three inputs, and the other backends. Bad input is in
 * TripletMarginLossArgumentsTest.
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

    private static float[] random(int count, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[count];
        for (int i = 0; i < count; i++) x[i] = (float) r.nextGaussian();
        return x;
    }
}
