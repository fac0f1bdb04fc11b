package dev.jnce.loss;

import dev.jnce.Reduction;
import dev.jnce.testutil.Reductions;
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
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Entropy H(p) and cross-entropy H(p, q) of distributions on every backend against PyTorch's
 * golden data, the float64 reference, finite differences, the identity H(p,q) = H(p) + KL(p||q)
 * and the other backends. Bad input is in DivergenceArgumentsTest.
 */
class EntropyTest extends DivergenceTestBase {
    static Stream<Arguments> entropyCases() {
        return golden("entropy_");
    }

    static Stream<Arguments> crossCases() {
        return golden("cross_");
    }

    static Stream<Arguments> reductions() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(Reductions.all()).map(r -> Arguments.of(b, r)));
    }

    private static Entropy entropy(Backend b, Reduction r) {
        return Entropy.create().withReduction(r).withBackend(b);
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("entropyCases")
    void entropyMatchesPyTorchAndTheFloat64Reference(Backend backend, Golden.Case g) {
        int n = (int) g.integer("N"), c = (int) g.integer("C");
        Reduction reduction = Reduction.valueOf(g.text("reduction").toUpperCase());
        float[] p = g.floats("p");
        LossResult r = entropy(backend, reduction).forwardBackward(Tensor.of(p, n, c));
        assertClose(g.doubles("loss_f64"), r.loss().toFloatArray(), 1e-6, "loss vs float64");
        assertClose(g.doubles("loss"), r.loss().toFloatArray(), 2e-5, "loss vs torch float32");
        assertClose(g.doubles("grad_p_f64"), r.grad().toFloatArray(), 1e-6, "grad vs float64");
        assertClose(g.doubles("grad_p"), r.grad().toFloatArray(), 2e-5, "grad vs torch float32");
        double ref = DivergenceReference.rowScalar(DivergenceReference.entropyRows(toDouble(p), n, c), reduction);
        assertEquals(DivergenceReference.sum(g.doubles("loss_f64")), ref, 1e-12 * Math.max(1, ref), "reference");
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("crossCases")
    void crossEntropyMatchesPyTorchAndTheFloat64Reference(Backend backend, Golden.Case g) {
        int n = (int) g.integer("N"), c = (int) g.integer("C");
        Reduction reduction = Reduction.valueOf(g.text("reduction").toUpperCase());
        float[] p = g.floats("p"), q = g.floats("q");
        InputTargetResult r = entropy(backend, reduction).crossForwardBackward(Tensor.of(p, n, c), Tensor.of(q, n, c));
        assertClose(g.doubles("loss_f64"), r.loss().toFloatArray(), 1e-6, "loss vs float64");
        assertClose(g.doubles("loss"), r.loss().toFloatArray(), 2e-5, "loss vs torch float32");
        assertClose(g.doubles("grad_p_f64"), r.gradTarget().toFloatArray(), 1e-6, "grad p vs float64");
        assertClose(g.doubles("grad_p"), r.gradTarget().toFloatArray(), 2e-5, "grad p vs torch float32");
        assertClose(g.doubles("grad_q_f64"), r.gradInput().toFloatArray(), 1e-6, "grad q vs float64");
        assertClose(g.doubles("grad_q"), r.gradInput().toFloatArray(), 2e-5, "grad q vs torch float32");
        double ref = DivergenceReference.rowScalar(DivergenceReference.crossRows(toDouble(p), toDouble(q), n, c), reduction);
        assertEquals(DivergenceReference.sum(g.doubles("loss_f64")), ref, 1e-12 * Math.max(1, ref), "reference");
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("reductions")
    void gradientsMatchFiniteDifferencesInDouble(Backend backend, Reduction reduction) {
        int n = 3, c = 5;
        float[] p = distributions(n, c, 31), q = distributions(n, c, 32);
        double[] pd = toDouble(p), qd = toDouble(q);
        LossResult h = entropy(backend, reduction).forwardBackward(Tensor.of(p, n, c));
        double[] dh = Approx.finiteDifferences(
                v -> DivergenceReference.rowScalar(DivergenceReference.entropyRows(v, n, c), reduction), pd, 1e-6);
        assertClose(dh, h.grad().toFloatArray(), 1e-6, "dH(p)/dp");

        InputTargetResult x = entropy(backend, reduction).crossForwardBackward(Tensor.of(p, n, c), Tensor.of(q, n, c));
        double[] dp = Approx.finiteDifferences(
                v -> DivergenceReference.rowScalar(DivergenceReference.crossRows(v, qd, n, c), reduction), pd, 1e-6);
        double[] dq = Approx.finiteDifferences(
                v -> DivergenceReference.rowScalar(DivergenceReference.crossRows(pd, v, n, c), reduction), qd, 1e-6);
        assertClose(dp, x.gradTarget().toFloatArray(), 1e-6, "dH(p,q)/dp");
        assertClose(dq, x.gradInput().toFloatArray(), 1e-6, "dH(p,q)/dq");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void crossEntropyIsEntropyPlusKlDivergence(Backend backend) {
        for (int c : new int[] {2, 5, 50, 1000}) {
            for (long seed = 1; seed <= 3; seed++) {
                int n = 4;
                float[] p = distributions(n, c, seed * c), q = distributions(n, c, seed * c + 7);
                Tensor pt = Tensor.of(p, n, c), qt = Tensor.of(q, n, c);
                Entropy rows = entropy(backend, Reduction.NONE);
                float[] hpq = rows.cross(pt, qt).toFloatArray(), hp = rows.forward(pt).toFloatArray();
                float[] kl = KlDiv.create().withReduction(Reduction.NONE).withBackend(backend)
                        .forward(Tensor.of(log(q), n, c), pt).toFloatArray();
                for (int i = 0; i < n; i++) {
                    double klRow = 0;
                    for (int j = 0; j < c; j++) klRow += kl[i * c + j];
                    assertEquals(hpq[i], hp[i] + klRow, 1e-6 * Math.max(1, hpq[i]), "row " + i + " at C=" + c);
                }
                float mean = entropy(backend, Reduction.MEAN).cross(pt, qt).item();
                float batchKl = KlDiv.create().withReduction(Reduction.BATCHMEAN).withBackend(backend)
                        .forward(Tensor.of(log(q), n, c), pt).item();
                assertEquals(mean, entropy(backend, Reduction.MEAN).forward(pt).item() + batchKl, 1e-6 * Math.max(1, mean));
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void zeroProbabilitiesFollowTheDocumentedRules(Backend backend) {
        Tensor p = Tensor.of(new float[] {0f, 0.25f, 0.75f, 1f, 0f, 0f}, 2, 3);
        Tensor q = Tensor.of(new float[] {0f, 0.5f, 0.5f, 0.5f, 0.5f, 0f}, 2, 3);
        Entropy e = entropy(backend, Reduction.NONE);
        LossResult h = e.forwardBackward(p);
        assertEquals(-(0.25 * Math.log(0.25) + 0.75 * Math.log(0.75)), h.loss().toFloatArray()[0], 1e-7, "0 log 0 = 0");
        assertEquals(0f, h.loss().toFloatArray()[1], "a one-hot row has entropy 0");
        assertEquals(Float.POSITIVE_INFINITY, h.grad().toFloatArray()[0], "dH/dp = +Inf at p = 0");

        InputTargetResult x = e.crossForwardBackward(p, q);
        assertEquals(-(0.25 * Math.log(0.5) + 0.75 * Math.log(0.5)), x.loss().toFloatArray()[0], 1e-7, "p = q = 0 adds 0");
        assertEquals(0f, x.gradInput().toFloatArray()[0], "dH/dq = 0 where p = 0 (PyTorch's xlogy gives NaN)");
        assertEquals(Float.POSITIVE_INFINITY, x.gradTarget().toFloatArray()[0], "dH/dp = -log q = +Inf at q = 0");
        assertEquals((float) -Math.log(0.5), x.gradTarget().toFloatArray()[4], 1e-7, "dH/dp = -log q where p = 0");
        assertEquals(-Math.log(0.5), x.loss().toFloatArray()[1], 1e-7);
        InputTargetResult inf = e.crossForwardBackward(q, p);
        assertEquals(Float.POSITIVE_INFINITY, inf.loss().toFloatArray()[1], "q = 0 where p > 0 gives +Inf");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void agreesWithTheOtherBackendsAndTheReferenceOnLargeInputs(Backend backend) {
        for (int[] nc : new int[][] {{1, 2}, {3, 1000}, {2, 20000}, {64, 3000}}) {
            int n = nc[0], c = nc[1];
            float[] p = distributions(n, c, c), q = distributions(n, c, c + 3);
            Tensor pt = Tensor.of(p, n, c), qt = Tensor.of(q, n, c);
            InputTargetResult mine = entropy(backend, Reduction.SUM).crossForwardBackward(pt, qt);
            double ref = DivergenceReference.sum(DivergenceReference.crossRows(toDouble(p), toDouble(q), n, c));
            assertEquals(ref, mine.loss().item(), 1e-6 * ref, "reference at " + n + "x" + c);
            float mineH = entropy(backend, Reduction.SUM).forward(pt).item();
            for (Backend other : TestBackends.all()) {
                String what = backend + " vs " + other + " at " + n + "x" + c;
                InputTargetResult theirs = entropy(other, Reduction.SUM).crossForwardBackward(pt, qt);
                assertEquals(theirs.loss().item(), mine.loss().item(), 1e-6 * ref, what);
                assertClose(toDouble(theirs.gradTarget().toFloatArray()), mine.gradTarget().toFloatArray(), 1e-7, what);
                assertClose(toDouble(theirs.gradInput().toFloatArray()), mine.gradInput().toFloatArray(), 1e-7, what);
                assertEquals(entropy(other, Reduction.SUM).forward(pt).item(), mineH, 1e-6 * mineH, what);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void rowsWithinTheToleranceAreAccepted(Backend backend) {
        Tensor p = Tensor.of(new float[] {0.5f, 0.50005f}, 1, 2); // sums to 1 + 5e-5
        assertTrue(Float.isFinite(entropy(backend, Reduction.MEAN).forward(p).item()));
        Tensor loose = Tensor.of(new float[] {0.5f, 0.6f}, 1, 2);
        assertTrue(Float.isFinite(entropy(backend, Reduction.MEAN).withTolerance(0.2).forward(loose).item()));
        assertTrue(Float.isFinite(entropy(backend, Reduction.MEAN).withTolerance(Double.POSITIVE_INFINITY)
                .forward(Tensor.of(new float[] {3f, 4f}, 1, 2)).item()));
    }
}
