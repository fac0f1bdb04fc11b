package dev.jnce.loss;

import dev.jnce.Reduction;
import dev.jnce.testutil.Reductions;
import dev.jnce.Backend;
import dev.jnce.Tensor;
import dev.jnce.loss.PairLossesSupport.Outcome;
import dev.jnce.testutil.Golden;
import dev.jnce.testutil.ScopedTest;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.stream.Stream;

import static dev.jnce.loss.PairLossesSupport.assertBackendsAgree;
import static dev.jnce.loss.PairLossesSupport.assertDirectionalDerivative;
import static dev.jnce.loss.PairLossesSupport.assertGradientsMatchFiniteDifferences;
import static dev.jnce.loss.PairLossesSupport.assertMatchesGolden;
import static dev.jnce.loss.PairLossesSupport.flag;
import static dev.jnce.loss.PairLossesSupport.gaussian;
import static dev.jnce.loss.PairLossesSupport.reduction;
import static dev.jnce.testutil.Approx.assertClose;
import static dev.jnce.testutil.Approx.toDouble;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * NT-Xent (SimCLR) on every backend against PyTorch's golden data (pairs.txt), the float64
 * reference, finite differences of it for the views and the temperature, and the other backends.
 * Bad input is in PairLossesArgumentsTest.
 */
class NtXentTest extends ScopedTest {
    static Stream<Arguments> goldenCases() {
        return PairLossesSupport.goldenCases("ntxent");
    }

    private static NtXent configured(Golden.Case g, Backend backend) {
        return NtXent.create().withTemperature(g.floats("tau")[0]).withNormalize(flag(g, "normalize"))
                .withDecoupled(flag(g, "decoupled")).withReduction(reduction(g)).withBackend(backend);
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("goldenCases")
    void matchesPyTorchAndTheFloat64Reference(Backend backend, Golden.Case g) {
        int rows = (int) g.integer("N"), d = (int) g.integer("D");
        float tau = g.floats("tau")[0];
        Outcome o = Outcome.of(configured(g, backend).forwardBackward(Tensor.of(g.floats("views"), rows, d)));
        assertMatchesGolden(g, o, new String[] {"views"}, new String[] {"tau"}, 1 / tau, 5e-7, 1e-6);
        double[] reference = PairLossesReference.ntXent(g.doubles("views"), rows, d, tau, flag(g, "normalize"),
                flag(g, "decoupled"), reduction(g));
        assertArrayEquals(g.doubles("loss_f64"), reference, 1e-12, "the float64 reference is torch's float64");
    }

    static Stream<Arguments> variants() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(true, false).flatMap(normalize ->
                Stream.of(true, false).flatMap(decoupled ->
                        Stream.of(Reductions.all()).map(r -> Arguments.of(b, normalize, decoupled, r)))));
    }

    @ParameterizedTest(name = "{0} normalize={1} decoupled={2} {3}")
    @MethodSource("variants")
    void gradientsOfViewsAndTemperatureMatchFiniteDifferences(Backend backend, boolean normalize, boolean decoupled,
                                                             Reduction reduction) {
        int rows = 6, d = 5;
        float tau = 0.4f;
        float[] views = gaussian(11, rows, d);
        Outcome o = Outcome.of(NtXent.create().withTemperature(tau).withNormalize(normalize).withDecoupled(decoupled)
                .withReduction(reduction).withBackend(backend).forwardBackward(Tensor.of(views, rows, d)));
        PairLossesSupport.Reference f = (in, s) -> PairLossesReference.sum(
                PairLossesReference.ntXent(in[0], rows, d, s[0], normalize, decoupled, reduction));
        double[][] inputs = {toDouble(views)};
        double[] scalars = {tau};
        assertClose(PairLossesReference.ntXent(inputs[0], rows, d, tau, normalize, decoupled, reduction), o.loss(), 2e-6,
                "loss vs float64");
        assertGradientsMatchFiniteDifferences(o, inputs, scalars, f, 1e-5, backend + " " + reduction);
    }

    @Test
    void backendsAgreeOnALargeBatch() {
        int rows = 256, d = 64; // N = 128 samples
        float tau = 0.2f;
        float[] views = gaussian(3, rows, d);
        Outcome o = assertBackendsAgree(b -> Outcome.of(NtXent.create().withTemperature(tau).withBackend(b)
                .forwardBackward(Tensor.of(views, rows, d))), 2e-6);
        PairLossesSupport.Reference f = (in, s) -> PairLossesReference.ntXent(in[0], rows, d, s[0], true, false, Reduction.MEAN)[0];
        double[][] inputs = {toDouble(views)};
        assertEquals(f.loss(inputs, new double[] {tau}), o.loss()[0], 1e-5, "loss vs float64");
        assertDirectionalDerivative(o, inputs, new double[] {tau}, f, 1e-5);
    }

    /** 200 views: tiles of 64 with a partial one; decoupled, per row (the symmetric kernels' other paths). */
    @Test
    void backendsAgreeOnALargeDecoupledBatchPerRow() {
        int rows = 200, d = 16;
        float tau = 0.1f;
        float[] views = gaussian(4, rows, d);
        Outcome o = assertBackendsAgree(b -> Outcome.of(NtXent.create().withTemperature(tau).withDecoupled(true)
                .withReduction(Reduction.NONE).withBackend(b).forwardBackward(Tensor.of(views, rows, d))), 2e-6);
        double[] want = PairLossesReference.ntXent(toDouble(views), rows, d, tau, true, true, Reduction.NONE);
        assertClose(java.util.Arrays.copyOf(want, rows), o.loss(), 2e-6, "per-row loss vs float64");
        PairLossesSupport.Reference f = (in, s) -> PairLossesReference.ntXent(in[0], rows, d, s[0], true, true, Reduction.SUM)[0];
        assertDirectionalDerivative(o, new double[][] {toDouble(views)}, new double[] {tau}, f, 1e-5);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void defaultsAreSimClrsAndSwappingTheViewsPermutesTheResult(Backend backend) {
        int n = 4, d = 3;
        float[] views = gaussian(5, 2 * n, d);
        float[] swapped = new float[views.length];
        System.arraycopy(views, n * d, swapped, 0, n * d);
        System.arraycopy(views, 0, swapped, n * d, n * d);
        NtXent loss = NtXent.create().withBackend(backend);
        Outcome o = Outcome.of(loss.forwardBackward(Tensor.of(views, 2 * n, d)));
        Outcome s = Outcome.of(loss.forwardBackward(Tensor.of(swapped, 2 * n, d)));
        assertEquals(PairLossesReference.ntXent(toDouble(views), 2 * n, d, 0.5, true, false, Reduction.MEAN)[0], o.loss()[0], 2e-6,
                "temperature 0.5, cosine similarity, MEAN");
        assertEquals(o.loss()[0], s.loss()[0], 1e-6);
        Tensor raw = Tensor.of(views, 2 * n, d);
        Outcome.of(loss.withNormalize(false).withDecoupled(true).forwardBackward(raw));
        assertArrayEquals(views, raw.toFloatArray(), "the views are left as they were");
        assertEquals(o.scalarGrads()[0], s.scalarGrads()[0], 1e-5);
        for (int i = 0; i < n * d; i++) {
            assertEquals(o.grads()[0][i], s.grads()[0][i + n * d], 1e-6, "view 1 <-> view 2");
            assertEquals(o.grads()[0][i + n * d], s.grads()[0][i], 1e-6, "view 2 <-> view 1");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void identicalViewsOfOrthogonalSamplesGiveTheClosedForm(Backend backend) {
        // N = 2 samples along e1 and e2, both views equal: row i sees its positive at cos 1 and
        // two negatives at cos 0, so loss = log(e^{1/tau} + 2) - 1/tau for every row.
        float[] views = {1, 0, 0, 1, 1, 0, 0, 1};
        float tau = 0.25f;
        try (EmbeddingResult r = NtXent.create().withTemperature(tau).withBackend(backend).forwardBackward(Tensor.of(views, 4, 2))) {
            assertEquals(Math.log(Math.exp(4) + 2) - 4, r.loss().item(), 1e-6);
            assertArrayEquals(new long[] {4, 2}, r.grad().shape(), "d loss / d views: (2N, D), the one gradient");
        }
        try (EmbeddingResult r = NtXent.create().withTemperature(tau).withDecoupled(true).withBackend(backend)
                .forwardBackward(Tensor.of(views, 4, 2))) {
            assertEquals(Math.log(2) - 4, r.loss().item(), 1e-6, "decoupled: the positive leaves the denominator");
        }
    }
}
