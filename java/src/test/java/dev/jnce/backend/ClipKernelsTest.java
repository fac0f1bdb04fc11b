package dev.jnce.backend;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.Reduction;
import dev.jnce.testutil.Reductions;
import dev.jnce.testutil.ScopedTest;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static dev.jnce.testutil.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * CLIP's cross-entropy kernel on every backend against float64: the softmax over each row and
 * over each column of one matrix, for every reduction, in place, into another buffer and forward
 * only; rows whose maxima lie far apart (the kernels' two-exp path); a row whose first entries
 * lie far below the rest (a one-shift pass's shift rising within it); NaN and +Inf spoiling
 * exactly their rows and columns.
 */
class ClipKernelsTest extends ScopedTest {
    private static final int N = 131;

    static Stream<Arguments> cases() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(Reductions.all()).flatMap(r -> Stream.of(
                Arguments.of(b, r, 0f, 0), Arguments.of(b, r, 2.5f, 0), Arguments.of(b, r, 0f, 16), Arguments.of(b, r, 0f, 128))));
    }

    /**
     * Logits in [-8, 8), row i shifted by rowShift * i; the first low entries of row 0 in
     * [-21, -20) (the rest of row 0 and every column's maximum stay where they were): a pass
     * that keeps one running shift from the first entries it reads must raise it within the row
     * (16: at its second vector of sixteen lanes; 128: in the columns past the last whole vector).
     */
    private static float[] logits(float rowShift, int low) {
        SplittableRandom random = new SplittableRandom(11);
        float[] s = new float[N * N];
        for (int i = 0; i < N; i++) for (int j = 0; j < N; j++) s[i * N + j] = rowShift * i + (float) random.nextDouble(-8, 8);
        for (int j = 0; j < low; j++) s[j] = (float) random.nextDouble(-21, -20);
        if (low > 0) { // row 0's maximum among its last entries, the first of them 27 above the low ones
            s[128] = 7f;
            s[N - 1] = 7.5f;
        }
        return s;
    }

    @ParameterizedTest(name = "{0} {1} row shift {2}, {3} low entries in row 0")
    @MethodSource("cases")
    void matchesFloat64(Backend backend, Reduction reduction, float rowShift, int low) {
        ContrastiveKernels sim = ((Kernels) backend).contrastive();
        float[] values = logits(rowShift, low);
        double[] pairs = new double[N], g = new double[N * N];
        reference(values, reduction, pairs, g);
        double total = Arrays.stream(pairs).sum();
        double[] wantLoss = reduction == Reduction.NONE ? pairs
                : new double[] {reduction == Reduction.MEAN ? total / N : total};
        long[] lossShape = reduction == Reduction.NONE ? new long[] {N} : new long[0];
        double tol = 2e-6 * (reduction == Reduction.MEAN ? 1.0 / N : 1.0);

        Tensor s = Tensor.of(values, N, N);
        Tensor forwardOnly = Tensor.zeros(DType.FLOAT32, lossShape);
        sim.clipCrossEntropy(s, reduction, forwardOnly, null);
        assertClose(wantLoss, forwardOnly.toFloatArray(), 2e-6, "loss, forward only");

        Tensor loss = Tensor.zeros(DType.FLOAT32, lossShape), grad = Tensor.zeros(DType.FLOAT32, N, N);
        sim.clipCrossEntropy(s, reduction, loss, grad);
        assertClose(wantLoss, loss.toFloatArray(), 2e-6, "loss");
        assertClose(g, grad.toFloatArray(), tol, "d loss / d s");
        assertEquals(values[N + 2], s.toFloatArray()[N + 2], "s is left alone");

        sim.clipCrossEntropy(s, reduction, loss, s);
        assertClose(g, s.toFloatArray(), tol, "d loss / d s in place");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void nonFiniteSpoilsItsRowAndColumn(Backend backend) {
        ContrastiveKernels sim = ((Kernels) backend).contrastive();
        float[] values = logits(0f, 0);
        values[100 * N + 7] = Float.NaN;                 // row 100, column 7
        values[20 * N + 9] = Float.POSITIVE_INFINITY;    // row 20, column 9
        Tensor s = Tensor.of(values, N, N), loss = Tensor.zeros(DType.FLOAT32, N);
        sim.clipCrossEntropy(s, Reduction.NONE, loss, s);
        float[] l = loss.toFloatArray(), g = s.toFloatArray();
        for (int i = 0; i < N; i++) {
            boolean spoilt = i == 7 || i == 9 || i == 20 || i == 100;
            assertEquals(spoilt, Float.isNaN(l[i]), "pair " + i + ": loss " + l[i]);
            for (int j = 0; j < N; j++) {
                boolean nan = i == 20 || i == 100 || j == 7 || j == 9;
                assertEquals(nan, Float.isNaN(g[i * N + j]), "g[" + i + "][" + j + "] = " + g[i * N + j]);
            }
        }
        assertTrue(Float.isFinite(l[0]));
    }

    /** loss per pair: (lse of row i + lse of column i) / 2 - s_ii; g = d loss / d s (MEAN: of the mean). */
    private static void reference(float[] s, Reduction reduction, double[] pairs, double[] g) {
        double w = reduction == Reduction.MEAN ? 1.0 / N : 1.0;
        double[] rlse = new double[N], clse = new double[N];
        for (int i = 0; i < N; i++) {
            double mr = Double.NEGATIVE_INFINITY, mc = Double.NEGATIVE_INFINITY, sr = 0, sc = 0;
            for (int j = 0; j < N; j++) {
                mr = Math.max(mr, s[i * N + j]);
                mc = Math.max(mc, s[j * N + i]);
            }
            for (int j = 0; j < N; j++) {
                sr += Math.exp(s[i * N + j] - mr);
                sc += Math.exp(s[j * N + i] - mc);
            }
            rlse[i] = mr + Math.log(sr);
            clse[i] = mc + Math.log(sc);
            pairs[i] = 0.5 * (rlse[i] + clse[i]) - s[i * N + i];
        }
        for (int i = 0; i < N; i++) {
            for (int j = 0; j < N; j++) {
                double x = s[i * N + j];
                g[i * N + j] = 0.5 * w * (Math.exp(x - rlse[i]) + Math.exp(x - clse[j])) - (i == j ? w : 0);
            }
        }
    }
}
