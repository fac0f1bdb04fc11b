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
import org.junit.jupiter.params.provider.ValueSource;

import java.util.stream.Stream;

import static dev.jnce.loss.PairLossesSupport.assertBackendsAgree;
import static dev.jnce.loss.PairLossesSupport.assertDirectionalDerivative;
import static dev.jnce.loss.PairLossesSupport.assertGradientsMatchFiniteDifferences;
import static dev.jnce.loss.PairLossesSupport.flag;
import static dev.jnce.loss.PairLossesSupport.gaussian;
import static dev.jnce.loss.PairLossesSupport.reduction;
import static dev.jnce.testutil.Approx.assertClose;
import static dev.jnce.testutil.Approx.toDouble;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The symmetric CLIP loss on every backend against PyTorch's golden data (pairs.txt), the float64
 * reference, finite differences of it for both towers, the logit scale and the bias, a batch of
 * two worked by hand, and the other backends. Bad input is in PairLossesArgumentsTest.
 */
class ClipLossTest extends ScopedTest {
    static Stream<Arguments> goldenCases() {
        return PairLossesSupport.goldenCases("clip");
    }

    private static ClipLoss configured(Golden.Case g, Backend backend) {
        return ClipLoss.create().withLogitScale(g.floats("scale")[0]).withBias(g.floats("bias")[0])
                .withNormalize(flag(g, "normalize")).withReduction(reduction(g)).withBackend(backend);
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("goldenCases")
    void matchesPyTorchAndTheFloat64Reference(Backend backend, Golden.Case g) {
        Outcome o = PairLossesSupport.assertTwoTowerGolden(g, configured(g, backend)::forwardBackward, PairLossesReference::clip);
        assertEquals(0.0, o.scalarGrads()[1], "a bias shifts every logit of a row alike: its gradient is exactly 0");
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("goldenCases")
    void sweptInRowBlocksMatchesPyTorchAndTheFloat64Reference(Backend backend, Golden.Case g) {
        Outcome o = PairLossesSupport.assertTwoTowerGolden(g, configured(g, backend).withBlockRows(2)::forwardBackward,
                PairLossesReference::clip);
        assertEquals(0.0, o.scalarGrads()[1], "the bias's gradient is 0 on the swept path too");
    }

    static Stream<Arguments> variants() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(true, false).flatMap(normalize ->
                Stream.of(Reductions.all()).flatMap(r -> Stream.of(0L, 2L).map(rows -> Arguments.of(b, normalize, r, rows)))));
    }

    @ParameterizedTest(name = "{0} normalize={1} {2} blockRows={3}")
    @MethodSource("variants")
    void gradientsOfTowersScaleAndBiasMatchFiniteDifferences(Backend backend, boolean normalize, Reduction reduction,
                                                             long blockRows) {
        int n = 5, d = 4;
        float scale = 2.5f, bias = -1.5f;
        float[] a = gaussian(21, n, d), b = gaussian(22, n, d);
        Outcome o = Outcome.of(ClipLoss.create().withLogitScale(scale).withBias(bias).withNormalize(normalize)
                .withReduction(reduction).withBackend(backend).withBlockRows(blockRows)
                .forwardBackward(Tensor.of(a, n, d), Tensor.of(b, n, d)));
        PairLossesSupport.Reference f = (in, s) -> PairLossesReference.sum(
                PairLossesReference.clip(in[0], in[1], n, d, s[0], s[1], normalize, reduction));
        double[][] inputs = {toDouble(a), toDouble(b)};
        assertClose(PairLossesReference.clip(inputs[0], inputs[1], n, d, scale, bias, normalize, reduction), o.loss(), 2e-6,
                "loss vs float64");
        assertGradientsMatchFiniteDifferences(o, inputs, new double[] {scale, bias}, f, 1e-5, backend + " " + reduction);
    }

    /**
     * N = 700, D = 20, not normalised: where the cpu backend forms d loss / d logits in tiles of
     * up to 256 x 256 and multiplies each where it lies (four row bands of 175, three tile
     * columns, the last 188 wide; the tiles take N >= 8 threads D) and the java backend in blocks
     * of 256 (the last 188: a partial panel and lanes past the last whole vector; the same rule
     * for N), every backend's towers' gradients match the float64 gradient entry by entry:
     * g_ij = (P_ij + Q_ij) / (2N) - [i = j] / N, P the rows' softmax and Q the columns' of
     * z = scale a bᵀ, da_i = scale sum_j g_ij b_j, db_j = scale sum_i g_ij a_i. At scale 0.4
     * every row's and column's maximum lies within 10 of the others (one exponential at one shift
     * serves both softmaxes); at 3 they spread wider (each softmax at its own maxima).
     */
    @ParameterizedTest
    @ValueSource(floats = {0.4f, 3f})
    void towersGradientsOfAWideBatchMatchFloat64(float scale) {
        int n = 700, d = 20;
        float[] a = gaussian(91, n, d), b = gaussian(92, n, d);
        double[][] z = new double[n][n];
        double[] rowLse = new double[n], colLse = new double[n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double dot = 0;
                for (int k = 0; k < d; k++) dot += (double) a[i * d + k] * b[j * d + k];
                z[i][j] = scale * dot;
            }
        }
        double lossSum = 0;
        for (int i = 0; i < n; i++) {
            double r = Double.NEGATIVE_INFINITY, c = Double.NEGATIVE_INFINITY, rs = 0, cs = 0;
            for (int j = 0; j < n; j++) r = Math.max(r, z[i][j]);
            for (int j = 0; j < n; j++) c = Math.max(c, z[j][i]);
            for (int j = 0; j < n; j++) rs += Math.exp(z[i][j] - r);
            for (int j = 0; j < n; j++) cs += Math.exp(z[j][i] - c);
            rowLse[i] = r + Math.log(rs);
            colLse[i] = c + Math.log(cs);
            lossSum += (rowLse[i] + colLse[i]) / 2 - z[i][i];
        }
        double[] da = new double[n * d], db = new double[n * d], daSize = new double[n * d], dbSize = new double[n * d];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double g = (Math.exp(z[i][j] - rowLse[i]) + Math.exp(z[i][j] - colLse[j])) / (2.0 * n) - (i == j ? 1.0 / n : 0);
                for (int k = 0; k < d; k++) {
                    da[i * d + k] += scale * g * b[j * d + k];
                    daSize[i * d + k] += Math.abs(scale * g * b[j * d + k]);
                    db[j * d + k] += scale * g * a[i * d + k];
                    dbSize[j * d + k] += Math.abs(scale * g * a[i * d + k]);
                }
            }
        }
        for (Backend backend : TestBackends.all()) {
            Outcome o = Outcome.of(ClipLoss.create().withLogitScale(scale).withNormalize(false).withBackend(backend)
                    .forwardBackward(Tensor.of(a, n, d), Tensor.of(b, n, d)));
            assertEquals(lossSum / n, o.loss()[0], 1e-6 * lossSum / n, backend.name() + ": loss");
            double worst = 0;
            for (int k = 0; k < n * d; k++) {
                worst = Math.max(worst, Math.abs(o.grads()[0][k] - da[k]) / (daSize[k] + 1e-30));
                worst = Math.max(worst, Math.abs(o.grads()[1][k] - db[k]) / (dbSize[k] + 1e-30));
            }
            assertTrue(worst < 1e-5, backend.name() + ": largest error of d loss / d a or b, relative to its terms' magnitude: " + worst);
        }
    }

    @Test
    void backendsAgreeOnALargeBatch() {
        defaultLossOnEveryBackend(150, 64, 31); // two whole 64-wide tiles and a partial one
    }

    /**
     * N = 512: the cpu backend lays the logits 528 floats apart (its logit row stride), so its
     * GEMMs write and read, and its kernel reads, rows of a padded buffer; every backend agrees
     * and the loss and a directional derivative match the float64 reference.
     */
    @Test
    void backendsAgreeOnABatchInPaddedRows() {
        for (Backend b : TestBackends.all()) {
            if (b.name().equals("cpu")) assertEquals(528, ((dev.jnce.backend.Kernels) b).contrastive().logitRowStride(512), "cpu's stride");
        }
        defaultLossOnEveryBackend(512, 16, 33);
    }

    /**
     * N = 517, D = 8: blocks of 256, 256 and 5 rows and columns where cpu's tiles and java's
     * blocks run (N >= 8 threads D), the last narrower than a vector of sixteen lanes and than
     * a packed panel; every backend agrees with the others and with float64.
     */
    @Test
    void backendsAgreeWhereTheLastBlockIsNarrowerThanAVector() {
        defaultLossOnEveryBackend(517, 8, 35);
    }

    /** The default loss on (n, d) towers from seeds seed and seed + 1: backends agree, float64 loss and directional derivative. */
    private static void defaultLossOnEveryBackend(int n, int d, long seed) {
        float scale = 1 / 0.07f;
        float[] a = gaussian(seed, n, d), b = gaussian(seed + 1, n, d);
        Outcome o = assertBackendsAgree(k -> Outcome.of(ClipLoss.create().withBackend(k)
                .forwardBackward(Tensor.of(a, n, d), Tensor.of(b, n, d))), 2e-6);
        PairLossesSupport.Reference f = (in, s) -> PairLossesReference.clip(in[0], in[1], n, d, s[0], 0, true, Reduction.MEAN)[0];
        double[][] inputs = {toDouble(a), toDouble(b)};
        assertEquals(f.loss(inputs, new double[] {scale}), o.loss()[0], 1e-5, "default: scale 1/0.07, cosine, MEAN");
        assertDirectionalDerivative(o, inputs, new double[] {scale}, f, 1e-5);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void twoPairsWorkedByHand(Backend backend) {
        // a = (e1, e2), b = (e1, e1 + e2) normalised: logits s * [[1, c], [0, c]] with c = 1/sqrt(2).
        // Rows: softplus(-(1 - c) s) and softplus(-c s); columns: softplus(-s) and log 2 (a tie).
        float s = 3f;
        double c = 1 / Math.sqrt(2);
        Tensor a = Tensor.of(new float[] {1, 0, 0, 1}, 2, 2), b = Tensor.of(new float[] {1, 0, 1, 1}, 2, 2);
        Outcome o = Outcome.of(ClipLoss.create().withLogitScale(s).withReduction(Reduction.NONE).withBackend(backend)
                .forwardBackward(a, b));
        double[] expected = {0.5 * (softplus(-(1 - c) * s) + softplus(-s)), 0.5 * (softplus(-c * s) + Math.log(2))};
        assertClose(expected, o.loss(), 1e-6, "per-pair losses");
        // d/ds: each term softplus(-k s) gives -k sigmoid(-k s); the tie gives 0.
        double dScale = 0.5 * (-c * sigmoid(-c * s) - (1 - c) * sigmoid(-(1 - c) * s) - sigmoid(-s));
        assertEquals(dScale, o.scalarGrads()[0], 1e-6, "d loss / d scale");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void swappingTheTowersSwapsTheGradientsAndBiasChangesNothing(Backend backend) {
        int n = 6, d = 8;
        Tensor a = Tensor.of(gaussian(41, n, d), n, d), b = Tensor.of(gaussian(42, n, d), n, d);
        ClipLoss loss = ClipLoss.create().withLogitScale(7f).withBackend(backend);
        Outcome ab = Outcome.of(loss.forwardBackward(a, b)), ba = Outcome.of(loss.forwardBackward(b, a));
        Outcome biased = Outcome.of(loss.withBias(-4f).forwardBackward(a, b));
        assertEquals(ab.loss()[0], ba.loss()[0], 1e-6);
        assertClose(toDouble(ab.grads()[0]), ba.grads()[1], 1e-6, "d/da = d/db swapped");
        assertClose(toDouble(ab.grads()[1]), ba.grads()[0], 1e-6, "d/db = d/da swapped");
        assertEquals(ab.scalarGrads()[0], ba.scalarGrads()[0], 1e-6);
        assertEquals(ab.loss()[0], biased.loss()[0], 0f, "softmax ignores a bias");
        assertEquals(0.0, biased.scalarGrads()[1]);
        assertArrayEquals(gaussian(41, n, d), a.toFloatArray(), "the inputs are left as they were");
        Outcome raw = Outcome.of(loss.withNormalize(false).forwardBackward(a, a));
        assertArrayEquals(gaussian(41, n, d), a.toFloatArray(), "also when the same tensor is both towers, unnormalised");
        assertClose(toDouble(raw.grads()[0]), raw.grads()[1], 1e-6, "a = b: both gradients alike");
    }

    private static double softplus(double x) {
        return Math.log1p(Math.exp(x));
    }

    private static double sigmoid(double x) {
        return 1 / (1 + Math.exp(-x));
    }

    /**
     * Past 1 GiB of N×N logits (N > 16384) CLIP sweeps row blocks by itself: at N = 16400 no
     * whole-matrix buffer is held, and sampled pairs' losses equal the float64 symmetric loss.
     */
    @Test
    void aBatchPastTheFullMatrixBudgetSweepsBlocksByItself() {
        int n = 16400, d = 4;
        float scale = 5f;
        float[] a = gaussian(51, n, d), b = gaussian(52, n, d);
        InfoNce.releaseWorkspace();
        try (PairedResult r = ClipLoss.create().withLogitScale(scale).withReduction(Reduction.NONE)
                .withBackend(TestBackends.all().get(0)).forwardBackward(Tensor.of(a, n, d), Tensor.of(b, n, d))) {
            org.junit.jupiter.api.Assertions.assertTrue(Workspace.idleBytes() < 256L << 20,
                    "logit buffers held: " + Workspace.idleBytes() + " bytes");
            float[] loss = r.loss().toFloatArray();
            double[] ua = unitRows(a, n, d), ub = unitRows(b, n, d);
            for (int i = 0; i < n; i += 1999) { // (lse of row i + lse of column i) / 2 - s_ii
                double row = lse(ua, ub, i, n, d, scale), column = lse(ub, ua, i, n, d, scale);
                double sii = 0;
                for (int c = 0; c < d; c++) sii += scale * ua[i * d + c] * ub[i * d + c];
                assertEquals(0.5 * (row + column) - sii, loss[i], 1e-4, "loss of pair " + i);
            }
        }
    }

    private static double[] unitRows(float[] x, int n, int d) {
        double[] u = new double[n * d];
        for (int i = 0; i < n; i++) {
            double norm = 0;
            for (int c = 0; c < d; c++) norm += (double) x[i * d + c] * x[i * d + c];
            norm = Math.max(Math.sqrt(norm), 1e-12);
            for (int c = 0; c < d; c++) u[i * d + c] = x[i * d + c] / norm;
        }
        return u;
    }

    /** log sum_j exp(scale <p_i, q_j>). */
    private static double lse(double[] p, double[] q, int i, int n, int d, double scale) {
        double[] s = new double[n];
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < n; j++) {
            double dot = 0;
            for (int c = 0; c < d; c++) dot += p[i * d + c] * q[j * d + c];
            s[j] = scale * dot;
            max = Math.max(max, s[j]);
        }
        double sum = 0;
        for (double v : s) sum += Math.exp(v - max);
        return max + Math.log(sum);
    }
}
