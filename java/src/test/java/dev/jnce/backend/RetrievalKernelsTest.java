package dev.jnce.backend;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.ContrastiveKernels.RetrievalTargets;
import dev.jnce.testutil.ScopedTest;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.SplittableRandom;
import java.util.stream.Stream;

import static dev.jnce.testutil.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@link ContrastiveKernels#retrievalCrossEntropy} with the corrections that leave a plain
 * softmax cross-entropy (a logQ or sampling-probability bias, a margin, in-batch columns and a
 * self column taken out), on every backend, against a float64 loop of its definition: losses,
 * gradients and their sum at the targets, with and without gradients. Rows holding NaN or +Inf
 * in a column left in (loss and gradient NaN), +Inf in a column taken out (no effect), and a
 * corrected logit past float's range (s = 3e38, b = -3e38: the softmax is taken in double).
 */
class RetrievalKernelsTest extends ScopedTest {
    /** (rows, m, target column, self column, in-batch columns, bias: 0 none, 1 logQ, 2 probability, margin, special rows). */
    static Stream<Arguments> cases() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(
                Arguments.of(b, 4, 9, 0, -1, 0, 0, 0f, false),
                Arguments.of(b, 4, 12, 0, -1, 4, 1, 0f, false),    // sampled softmax: the other rows' positives out
                Arguments.of(b, 5, 11, 2, 0, 0, 2, 0.3f, false),   // a self column, sampling probabilities, a margin
                Arguments.of(b, 6, 40, 3, 1, 6, 1, 0.5f, false),
                Arguments.of(b, 4, 9, 1, -1, 4, 1, 0.25f, true))); // special rows
    }

    @ParameterizedTest(name = "{0} ({1},{2}) target={3} self={4} inBatch={5} bias={6} margin={7} special={8}")
    @MethodSource("cases")
    void matchesItsDefinitionInFloat64(Backend backend, int rows, int m, int targetColumn, int selfColumn, int inBatch, int biasKind,
                                       float margin, boolean special) {
        SplittableRandom random = new SplittableRandom(rows * 131L + m * 7L + biasKind);
        float[] s = new float[rows * m], bias = biasKind == 0 ? null : new float[m];
        for (int k = 0; k < s.length; k++) s[k] = (float) (2 * random.nextGaussian());
        for (int j = 0; bias != null && j < m; j++) {
            bias[j] = biasKind == 1 ? (float) (-2 - 4 * random.nextDouble()) : (float) random.nextDouble(); // logQ, or Q
        }
        if (special) {
            s[0 * m + 5] = Float.NaN;                   // row 0: NaN in a column left in
            s[1 * m + 0] = Float.POSITIVE_INFINITY;     // row 1: +Inf in an in-batch column, taken out
            s[2 * m + 6] = 3e38f;                       // row 2: z = 3e38 - (-3e38) leaves float's range
            bias[6] = -3e38f;
            s[3 * m + 7] = Float.POSITIVE_INFINITY;     // row 3: +Inf left in
        }
        for (boolean gradients : new boolean[] {true, false}) {
            Tensor logits = Tensor.of(s.clone(), rows, m), loss = Tensor.zeros(DType.FLOAT32, rows);
            RetrievalTargets t = new RetrievalTargets(targetColumn, selfColumn, -1, bias == null ? null : Tensor.of(bias.clone(), m),
                    biasKind == 2, null, inBatch, margin, 0f);
            double atTargets = ((Kernels) backend).contrastive().retrievalCrossEntropy(logits, null, t, loss, gradients);
            double[] wantLoss = new double[rows], wantGrad = new double[rows * m];
            double wantAtTargets = reference(s, bias, biasKind == 2, rows, m, targetColumn, selfColumn, inBatch, margin, wantLoss, wantGrad);
            String what = backend.name() + (gradients ? " forward and backward" : " forward");
            assertClose(wantLoss, loss.toFloatArray(), 2e-6, what + ": loss");
            if (gradients) {
                assertClose(wantGrad, logits.toFloatArray(), 2e-6, what + ": gradient");
                assertClose(new double[] {wantAtTargets}, new float[] {(float) atTargets}, 2e-6, what + ": sum at the targets");
            } else {
                assertEquals(0.0, atTargets, what + ": no gradient, no sum");
            }
        }
    }

    /** The definition in float64, outputs rounded to float as the kernels store them; returns the sum of the gradients at the targets. */
    private static double reference(float[] s, float[] bias, boolean probability, int rows, int m, int targetColumn, int selfColumn,
                                    int inBatch, float margin, double[] loss, double[] grad) {
        double total = 0;
        for (int i = 0; i < rows; i++) {
            int target = targetColumn + i;
            double[] z = new double[m];
            for (int j = 0; j < m; j++) {
                double b = bias == null ? 0 : probability ? Math.log(Math.min(1, Math.max(1e-6, bias[j]))) : bias[j];
                z[j] = s[i * m + j] - b;
            }
            double zt = z[target] - margin;
            for (int j = 0; j < Math.min(inBatch, m); j++) z[j] = Double.NEGATIVE_INFINITY;
            z[target] = zt;
            if (selfColumn >= 0 && selfColumn + i < m) z[selfColumn + i] = Double.NEGATIVE_INFINITY;
            double max = Double.NEGATIVE_INFINITY;
            boolean bad = false;
            for (double v : z) {
                bad |= Double.isNaN(v) || v == Double.POSITIVE_INFINITY;
                if (v > max) max = v;
            }
            double sum = 0;
            for (double v : z) sum += v == Double.NEGATIVE_INFINITY ? 0 : Math.exp(v - max);
            double lse = max + Math.log(sum);
            loss[i] = bad ? Double.NaN : (float) (lse - z[target]);
            for (int j = 0; j < m; j++) {
                double g = bad ? Double.NaN : (z[j] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(z[j] - max) / sum) - (j == target ? 1 : 0);
                grad[i * m + j] = (float) g;
            }
            total += grad[i * m + target];
        }
        return total;
    }
}
