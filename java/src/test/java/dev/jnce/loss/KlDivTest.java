package dev.jnce.loss;

import dev.jnce.Reduction;
import dev.jnce.Backend;
import dev.jnce.Tensor;
import dev.jnce.testutil.Approx;
import dev.jnce.testutil.Golden;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.stream.Stream;

import static dev.jnce.loss.DivergenceReference.distributions;
import static dev.jnce.loss.DivergenceReference.log;
import static dev.jnce.testutil.Approx.assertClose;
import static dev.jnce.testutil.Approx.toDouble;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * KL divergence on every backend against PyTorch's golden data, the float64 reference, finite
 * differences and the other backends. Bad input is in DivergenceArgumentsTest.
 */
class KlDivTest extends DivergenceTestBase {
    static Stream<Arguments> goldenCases() {
        return golden("kl_");
    }

    static Stream<Arguments> settings() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(Reduction.values())
                .flatMap(r -> Stream.of(Arguments.of(b, r, false), Arguments.of(b, r, true))));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("goldenCases")
    void matchesPyTorchAndTheFloat64Reference(Backend backend, Golden.Case g) {
        long[] shape = g.longs("shape");
        Reduction reduction = Reduction.valueOf(g.text("reduction").toUpperCase());
        boolean logTarget = g.integer("log_target") == 1;
        float[] x = g.floats("input"), t = g.floats("target");
        InputTargetResult r = KlDiv.create().withReduction(reduction).withLogTarget(logTarget).withBackend(backend)
                .forwardBackward(Tensor.of(x, shape), Tensor.of(t, shape));

        assertArrayEquals(reduction == Reduction.NONE ? shape : new long[0], r.loss().shape(), "loss shape");
        float[] loss = r.loss().toFloatArray();
        assertClose(g.doubles("loss_f64"), loss, 1e-6, "loss vs float64");
        assertClose(g.doubles("loss"), loss, 2e-5, "loss vs torch float32");
        assertClose(g.doubles("grad_input_f64"), r.gradInput().toFloatArray(), 1e-6, "grad input vs float64");
        assertClose(g.doubles("grad_input"), r.gradInput().toFloatArray(), 2e-5, "grad input vs torch float32");
        assertClose(g.doubles("grad_target_f64"), r.gradTarget().toFloatArray(), 1e-6, "grad target vs float64");
        assertClose(g.doubles("grad_target"), r.gradTarget().toFloatArray(), 2e-5, "grad target vs torch float32");

        double ref = DivergenceReference.klScalar(toDouble(x), toDouble(t), logTarget, reduction, shape[0]);
        assertEquals(DivergenceReference.sum(g.doubles("loss_f64")), ref, 1e-12 * Math.max(1, Math.abs(ref)), "reference");
    }

    @ParameterizedTest(name = "{0} {1} logTarget={2}")
    @MethodSource("settings")
    void gradientsMatchFiniteDifferencesInDouble(Backend backend, Reduction reduction, boolean logTarget) {
        int n = 3, c = 4;
        float[] x = log(distributions(n, c, 5)), p = distributions(n, c, 6);
        float[] t = logTarget ? log(p) : p;
        InputTargetResult r = KlDiv.create().withReduction(reduction).withLogTarget(logTarget).withBackend(backend)
                .forwardBackward(Tensor.of(x, n, c), Tensor.of(t, n, c));

        double[] xd = toDouble(x), td = toDouble(t);
        double[] dx = Approx.finiteDifferences(v -> DivergenceReference.klScalar(v, td, logTarget, reduction, n), xd, 1e-6);
        double[] dt = Approx.finiteDifferences(v -> DivergenceReference.klScalar(xd, v, logTarget, reduction, n), td, 1e-6);
        assertClose(dx, r.gradInput().toFloatArray(), 1e-6, "d/d input");
        assertClose(dt, r.gradTarget().toFloatArray(), 1e-6, "d/d target");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void reductionsAreConsistentAndBatchmeanIsTheMeanKlPerRow(Backend backend) {
        long[] shape = {2, 3, 4}; // batchmean divides by size(0) = 2, mean by all 24 values
        float[] x = log(distributions(6, 4, 1)), t = distributions(6, 4, 2);
        Tensor in = Tensor.of(x, shape), tg = Tensor.of(t, shape);
        KlDiv kl = KlDiv.create().withBackend(backend);
        double sum = DivergenceReference.sum(toDouble(kl.withReduction(Reduction.NONE).forward(in, tg).toFloatArray()));
        assertEquals(sum, kl.withReduction(Reduction.SUM).forward(in, tg).item(), 1e-6);
        assertEquals(sum / 24, kl.forward(in, tg).item(), 1e-7, "MEAN (the default) divides by every value");
        assertEquals(sum / 2, kl.withReduction(Reduction.BATCHMEAN).forward(in, tg).item(), 1e-6);
        assertEquals(kl.forward(in, tg).item(), kl.forwardBackward(in, tg).loss().item(), "forward = forwardBackward");

        float[] sumGrad = kl.withReduction(Reduction.SUM).forwardBackward(in, tg).gradTarget().toFloatArray();
        float[] batchGrad = kl.withReduction(Reduction.BATCHMEAN).forwardBackward(in, tg).gradTarget().toFloatArray();
        for (int k = 0; k < sumGrad.length; k++) assertEquals(sumGrad[k] / 2, batchGrad[k], 1e-7);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void zeroTargetsAddNothingAndFollowPyTorchsGradient(Backend backend) {
        float[] x = {-1f, -2f, -0.5f}, t = {0f, 0.3f, 0.7f};
        InputTargetResult r = KlDiv.create().withReduction(Reduction.SUM).withBackend(backend)
                .forwardBackward(Tensor.of(x, 1, 3), Tensor.of(t, 1, 3));
        double want = 0.3 * (Math.log(0.3f) + 2) + 0.7 * (Math.log(0.7f) + 0.5);
        assertEquals(want, r.loss().item(), 1e-6, "0 log 0 = 0");
        assertEquals(0f, Math.abs(r.gradInput().toFloatArray()[0]), "d/d input = -t = 0");
        assertTrue(Float.isNaN(r.gradTarget().toFloatArray()[0]), "d/d target at t = 0 is NaN, as PyTorch's");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void agreesWithTheOtherBackendsAndTheReferenceOnLargeInputs(Backend backend) {
        // 2 x 4099 crosses the 4096-value block of the partial sums; 64 x 3000 runs on threads
        for (int[] nc : new int[][] {{1, 2}, {2, 4099}, {1, 20000}, {64, 3000}}) {
            int n = nc[0], c = nc[1];
            float[] x = log(distributions(n, c, c)), t = distributions(n, c, c + 1);
            Tensor in = Tensor.of(x, n, c), tg = Tensor.of(t, n, c);
            KlDiv kl = KlDiv.create().withReduction(Reduction.BATCHMEAN);
            InputTargetResult mine = kl.withBackend(backend).forwardBackward(in, tg);
            double ref = DivergenceReference.klScalar(toDouble(x), toDouble(t), false, Reduction.BATCHMEAN, n);
            assertEquals(ref, mine.loss().item(), 1e-6 * Math.max(1, ref), "reference at " + n + "x" + c);
            for (Backend other : TestBackends.all()) {
                InputTargetResult theirs = kl.withBackend(other).forwardBackward(in, tg);
                String what = backend + " vs " + other + " at " + n + "x" + c;
                assertEquals(theirs.loss().item(), mine.loss().item(), 1e-6 * Math.max(1, ref), what);
                assertClose(toDouble(theirs.gradInput().toFloatArray()), mine.gradInput().toFloatArray(), 1e-7, what);
                assertClose(toDouble(theirs.gradTarget().toFloatArray()), mine.gradTarget().toFloatArray(), 1e-7, what);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void aScalarInputWorksWithoutBatchmean(Backend backend) {
        Tensor x = Tensor.scalar(-1.0f), t = Tensor.scalar(0.25f);
        double want = 0.25 * (Math.log(0.25) + 1);
        assertEquals(want, KlDiv.create().withBackend(backend).forward(x, t).item(), 1e-7);
        assertEquals(0, KlDiv.create().withReduction(Reduction.NONE).withBackend(backend).forward(x, t).rank());
    }
}
