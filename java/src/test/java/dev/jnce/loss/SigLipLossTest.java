package dev.jnce.loss;

import dev.jnce.Reduction;
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
import static dev.jnce.loss.PairLossesSupport.flag;
import static dev.jnce.loss.PairLossesSupport.gaussian;
import static dev.jnce.loss.PairLossesSupport.reduction;
import static dev.jnce.testutil.Approx.assertClose;
import static dev.jnce.testutil.Approx.toDouble;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The SigLIP pairwise sigmoid loss on every backend against PyTorch's golden data (pairs.txt),
 * the float64 reference, finite differences of it for both towers, the logit scale and the bias,
 * a single pair by hand, and the other backends. Bad input is in PairLossesArgumentsTest.
 */
class SigLipLossTest extends ScopedTest {
    static Stream<Arguments> goldenCases() {
        return PairLossesSupport.goldenCases("siglip");
    }

    private static SigLipLoss configured(Golden.Case g, Backend backend) {
        return SigLipLoss.create().withLogitScale(g.floats("scale")[0]).withBias(g.floats("bias")[0])
                .withNormalize(flag(g, "normalize")).withReduction(reduction(g)).withBackend(backend);
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("goldenCases")
    void matchesPyTorchAndTheFloat64Reference(Backend backend, Golden.Case g) {
        PairLossesSupport.assertTwoTowerGolden(g, configured(g, backend)::forwardBackward, PairLossesReference::sigLip);
    }

    static Stream<Arguments> variants() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(true, false).flatMap(normalize ->
                Stream.of(Reduction.MEAN, Reduction.SUM).map(r -> Arguments.of(b, normalize, r))));
    }

    @ParameterizedTest(name = "{0} normalize={1} {2}")
    @MethodSource("variants")
    void gradientsOfTowersScaleAndBiasMatchFiniteDifferences(Backend backend, boolean normalize, Reduction reduction) {
        int n = 5, d = 4;
        float scale = 4f, bias = -2f;
        float[] a = gaussian(51, n, d), b = gaussian(52, n, d);
        Outcome o = Outcome.of(SigLipLoss.create().withLogitScale(scale).withBias(bias).withNormalize(normalize)
                .withReduction(reduction).withBackend(backend).forwardBackward(Tensor.of(a, n, d), Tensor.of(b, n, d)));
        PairLossesSupport.Reference f = (in, s) -> PairLossesReference.sigLip(in[0], in[1], n, d, s[0], s[1], normalize, reduction)[0];
        double[][] inputs = {toDouble(a), toDouble(b)};
        double[] scalars = {scale, bias};
        assertClose(new double[] {f.loss(inputs, scalars)}, o.loss(), 2e-6, "loss vs float64");
        assertGradientsMatchFiniteDifferences(o, inputs, scalars, f, 1e-5, backend + " " + reduction);
    }

    @Test
    void backendsAgreeOnALargeBatch() {
        int n = 128, d = 64;
        float[] a = gaussian(61, n, d), b = gaussian(62, n, d);
        Outcome o = assertBackendsAgree(k -> Outcome.of(SigLipLoss.create().withBackend(k)
                .forwardBackward(Tensor.of(a, n, d), Tensor.of(b, n, d))), 2e-6);
        PairLossesSupport.Reference f = (in, s) -> PairLossesReference.sigLip(in[0], in[1], n, d, s[0], s[1], true, Reduction.MEAN)[0];
        double[][] inputs = {toDouble(a), toDouble(b)};
        double[] scalars = {10, -10};
        assertEquals(f.loss(inputs, scalars), o.loss()[0], 1e-5, "default: scale 10, bias -10, cosine, MEAN");
        assertDirectionalDerivative(o, inputs, scalars, f, 1e-5);
    }

    /**
     * N = 512: the cpu backend lays the logits 528 floats apart (its logit row stride), in whole
     * and in row blocks of 200 (views of the padded buffer); every backend agrees, and the loss
     * and a directional derivative match the float64 reference.
     */
    @Test
    void backendsAgreeOnABatchInPaddedRows() {
        int n = 512, d = 16;
        for (Backend b : TestBackends.all()) {
            if (b.name().equals("cpu")) assertEquals(n + 16, ((dev.jnce.backend.Kernels) b).contrastive().logitRowStride(n), "cpu's stride");
        }
        float[] a = gaussian(63, n, d), b = gaussian(64, n, d);
        PairLossesSupport.Reference f = (in, s) -> PairLossesReference.sigLip(in[0], in[1], n, d, s[0], s[1], true, Reduction.MEAN)[0];
        double[][] inputs = {toDouble(a), toDouble(b)};
        double[] scalars = {10, -10};
        for (long rows : new long[] {n, 200}) {
            Outcome o = assertBackendsAgree(k -> Outcome.of(SigLipLoss.create().withBackend(k).withBlockRows(rows)
                    .forwardBackward(Tensor.of(a, n, d), Tensor.of(b, n, d))), 2e-6);
            assertEquals(f.loss(inputs, scalars), o.loss()[0], 1e-5, "blocks of " + rows + ": loss vs float64");
            assertDirectionalDerivative(o, inputs, scalars, f, 1e-5);
        }
    }

    /**
     * N = 700, D = 20, not normalised: where the cpu backend forms d loss / d logits in tiles of
     * up to 256 x 256 and multiplies each where it lies (four row bands of 175, three tile
     * columns, the last 188 wide, D not a multiple of 16; the tiles take N >= 8 threads D), in
     * whole and in row blocks of 350 (db added block after block), every backend's towers'
     * gradients match the float64 gradient entry by entry:
     * da_i = (scale / N) sum_j g_ij b_j, db_j = (scale / N) sum_i g_ij a_i, with
     * g_ij = sigmoid(scale a_i . b_j + bias) - [i = j].
     */
    @Test
    void towersGradientsOfAWideBatchMatchFloat64() {
        int n = 700, d = 20;
        float scale = 0.5f, bias = -2f;
        float[] a = gaussian(81, n, d), b = gaussian(82, n, d);
        double[] da = new double[n * d], db = new double[n * d], daSize = new double[n * d], dbSize = new double[n * d];
        double lossSum = 0;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double dot = 0;
                for (int k = 0; k < d; k++) dot += (double) a[i * d + k] * b[j * d + k];
                double z = scale * dot + bias, g = 1 / (1 + Math.exp(-z)) - (i == j ? 1 : 0), w = scale * g / n;
                lossSum += i == j ? Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
                for (int k = 0; k < d; k++) {
                    da[i * d + k] += w * b[j * d + k];
                    daSize[i * d + k] += Math.abs(w * b[j * d + k]);
                    db[j * d + k] += w * a[i * d + k];
                    dbSize[j * d + k] += Math.abs(w * a[i * d + k]);
                }
            }
        }
        for (Backend backend : TestBackends.all()) {
            for (long rows : new long[] {n, 350}) {
                Outcome o = Outcome.of(SigLipLoss.create().withLogitScale(scale).withBias(bias).withNormalize(false)
                        .withBackend(backend).withBlockRows(rows).forwardBackward(Tensor.of(a, n, d), Tensor.of(b, n, d)));
                String who = backend.name() + ", blocks of " + rows;
                assertEquals(lossSum / n, o.loss()[0], 1e-6 * lossSum / n, who + ": loss");
                double worst = 0;
                for (int k = 0; k < n * d; k++) {
                    worst = Math.max(worst, Math.abs(o.grads()[0][k] - da[k]) / (daSize[k] + 1e-30));
                    worst = Math.max(worst, Math.abs(o.grads()[1][k] - db[k]) / (dbSize[k] + 1e-30));
                }
                assertTrue(worst < 1e-5, who + ": largest error of d loss / d a or b, relative to its terms' magnitude: " + worst);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void onePairAndTwoPairsWorkedByHand(Backend backend) {
        // One pair at cos 1: z = s + bias, loss = softplus(-z); d/ds = -sigmoid(-z), d/dbias likewise.
        float s = 10f, bias = -10f;
        Outcome one = Outcome.of(SigLipLoss.create().withBackend(backend)
                .forwardBackward(Tensor.of(new float[] {3, 4}, 1, 2), Tensor.of(new float[] {0.6f, 0.8f}, 1, 2)));
        assertEquals(Math.log(2), one.loss()[0], 1e-6, "z = 10 - 10 = 0");
        assertEquals(-0.5, one.scalarGrads()[0], 1e-6);
        assertEquals(-0.5, one.scalarGrads()[1], 1e-6);
        // Two orthogonal pairs, a = b = (e1, e2): diagonal z = s + bias, off-diagonal z = bias (label -1).
        Outcome two = Outcome.of(SigLipLoss.create().withLogitScale(s).withBias(bias).withReduction(Reduction.SUM)
                .withBackend(backend).forwardBackward(Tensor.of(new float[] {1, 0, 0, 1}, 2, 2), Tensor.of(new float[] {2, 0, 0, 5}, 2, 2)));
        assertEquals(2 * Math.log(2) + 2 * Math.log1p(Math.exp(bias)), two.loss()[0], 1e-6);
        double sigB = 1 / (1 + Math.exp(-bias));
        assertEquals(2 * -0.5 + 2 * sigB, two.scalarGrads()[1], 1e-6, "d/dbias = sum of (sigmoid(z) - target)");
        assertEquals(2 * -0.5, two.scalarGrads()[0], 1e-6, "d/dscale: only the diagonal has cos != 0");
    }

    static Stream<Arguments> blockCases() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(1L, 3L, 64L, 200L).map(rows -> Arguments.of(b, rows)));
    }

    @ParameterizedTest(name = "{0} blocks of {1} rows")
    @MethodSource("blockCases")
    void blocksOfRowsGiveTheWholeMatrixResult(Backend backend, long rows) {
        int n = 130, d = 16; // 130 = 43 blocks of 3 + 1, 2 blocks of 64 + 2; 200 holds the whole matrix
        float[] a = gaussian(71, n, d), b = gaussian(72, n, d);
        SigLipLoss loss = SigLipLoss.create().withLogitScale(6f).withBias(-3f).withBackend(backend);
        Outcome whole = Outcome.of(loss.withBlockRows(n).forwardBackward(Tensor.of(a, n, d), Tensor.of(b, n, d)));
        Outcome blocks = Outcome.of(loss.withBlockRows(rows).forwardBackward(Tensor.of(a, n, d), Tensor.of(b, n, d)));
        PairLossesSupport.Reference f = (in, s) -> PairLossesReference.sigLip(in[0], in[1], n, d, s[0], s[1], true, Reduction.MEAN)[0];
        assertEquals(f.loss(new double[][] {toDouble(a), toDouble(b)}, new double[] {6, -3}), blocks.loss()[0], 1e-5, "loss vs float64");
        assertClose(toDouble(whole.loss()), blocks.loss(), 1e-6, "loss");
        assertClose(toDouble(whole.grads()[0]), blocks.grads()[0], 1e-6, "d loss / d a");
        assertClose(toDouble(whole.grads()[1]), blocks.grads()[1], 1e-6, "d loss / d b");
        assertClose(whole.scalarGrads(), new float[] {(float) blocks.scalarGrads()[0], (float) blocks.scalarGrads()[1]}, 1e-6,
                "d loss / d scale, d loss / d bias");
    }
}
