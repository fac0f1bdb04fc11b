package dev.jnce.backend;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.ContrastiveKernels;
import dev.jnce.backend.ContrastiveKernels.PairSums;
import dev.jnce.testutil.ScopedTest;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.SplittableRandom;
import java.util.stream.Stream;

import static dev.jnce.testutil.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * SigLIP's pairwise sigmoid kernel on every backend against float64: the two sums and the
 * gradient, in place, into another buffer and the sums alone, for sizes around the vector
 * widths, with logits that saturate the sigmoid on both sides, and for blocks of rows (the
 * positive at column i + offset, or past the last column); a NaN logit.
 */
class SigLipKernelsTest extends ScopedTest {

    static Stream<Arguments> cases() {
        return dev.jnce.testutil.TestBackends.all().stream().flatMap(b -> Stream.of(
                Arguments.of(b, 1, 1, 0, 10f, -10f), Arguments.of(b, 9, 9, 0, 10f, -10f), Arguments.of(b, 70, 70, 0, 10f, -10f),
                Arguments.of(b, 131, 131, 0, 3f, 0.5f), Arguments.of(b, 64, 64, 0, 60f, 5f),
                Arguments.of(b, 16, 100, 40, 10f, -10f), Arguments.of(b, 16, 100, 90, 10f, -10f)));
    }

    @ParameterizedTest(name = "{0} ({1},{2}) offset {3} scale {4} bias {5}")
    @MethodSource("cases")
    void matchesFloat64(Backend backend, int n, int m, int offset, float scale, float bias) {
        ContrastiveKernels sim = ((Kernels) backend).contrastive();
        SplittableRandom random = new SplittableRandom(n + m);
        float[] s = new float[n * m];
        for (int k = 0; k < s.length; k++) s[k] = scale * (float) random.nextDouble(-1, 1);
        double wantLoss = 0, wantGrad = 0;
        double[] g = new double[n * m];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < m; j++) {
                boolean positive = j == i + offset;
                double z = s[i * m + j] + bias, y = positive ? 1 : -1;
                wantLoss += Math.log1p(Math.exp(-Math.abs(y * z))) + Math.max(-y * z, 0); // -log sigmoid(y z)
                g[i * m + j] = 1 / (1 + Math.exp(-z)) - (positive ? 1 : 0);
                wantGrad += g[i * m + j];
            }
        }
        Tensor x = Tensor.of(s, n, m), grad = Tensor.zeros(DType.FLOAT32, n, m);
        PairSums alone = sim.sigLipPairs(x, offset, bias, null);
        PairSums sums = sim.sigLipPairs(x, offset, bias, grad);
        double tol = 1e-6 * Math.max(1, Math.abs(wantLoss));
        assertEquals(wantLoss, alone.loss(), tol, "loss, sums alone");
        assertEquals(wantLoss, sums.loss(), tol, "loss");
        assertEquals(wantGrad, sums.grad(), 1e-6 * Math.max(1, Math.abs(wantGrad)) + 1e-7 * n * m, "sum of the gradient");
        assertClose(g, grad.toFloatArray(), 3e-7, "d sum / d s");
        assertEquals(s[n * m - 1], x.toFloatArray()[n * m - 1], "s is left alone");
        PairSums inPlace = sim.sigLipPairs(x, offset, bias, x);
        assertEquals(sums.loss(), inPlace.loss(), 0, "loss in place");
        assertClose(g, x.toFloatArray(), 3e-7, "d sum / d s in place");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void nanMakesTheSumsNan(Backend backend) {
        ContrastiveKernels sim = ((Kernels) backend).contrastive();
        float[] s = new float[40 * 40];
        s[3 * 40 + 11] = Float.NaN;
        Tensor x = Tensor.of(s, 40, 40);
        PairSums sums = sim.sigLipPairs(x, 0, -1f, x);
        assertTrue(Double.isNaN(sums.loss()) && Double.isNaN(sums.grad()), "sums " + sums);
        float[] g = x.toFloatArray();
        assertTrue(Float.isNaN(g[3 * 40 + 11]) && Float.isFinite(g[3 * 40 + 12]), "only its entry of the gradient is NaN");
    }
}
