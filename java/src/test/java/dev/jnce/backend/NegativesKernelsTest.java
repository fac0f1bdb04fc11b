package dev.jnce.backend;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.testutil.ScopedTest;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static dev.jnce.testutil.Approx.assertClose;

/**
 * The explicit-negatives kernels on every backend against float64: the (N,K+1) logits of each
 * query against its positive and its own K negatives, and the three gradients given G, which
 * overwrite whatever the outputs held.
 */
class NegativesKernelsTest extends ScopedTest {

    static Stream<Arguments> cases() {
        return dev.jnce.testutil.TestBackends.all().stream().flatMap(b -> Stream.of(
                Arguments.of(b, 1, 1, 1), Arguments.of(b, 17, 64, 33), Arguments.of(b, 300, 7, 64)));
    }

    private static float[] random(SplittableRandom r, int size) {
        float[] x = new float[size];
        for (int i = 0; i < size; i++) x[i] = (float) r.nextDouble(-1, 1);
        return x;
    }

    @ParameterizedTest(name = "{0} N={1} K={2} D={3}")
    @MethodSource("cases")
    void matchFloat64(Backend backend, int n, int k, int d) {
        ContrastiveKernels sim = ((Kernels) backend).contrastive();
        SplittableRandom r = new SplittableRandom(n * 31L + k);
        float alpha = 1 / 0.07f;
        float[] q = random(r, n * d), p = random(r, n * d), neg = random(r, n * k * d), g = random(r, n * (k + 1));
        double[] logits = new double[n * (k + 1)], dq = new double[n * d], dp = new double[n * d], dn = new double[n * k * d];
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int c = 0; c < d; c++) s += (double) q[i * d + c] * p[i * d + c];
            logits[i * (k + 1)] = alpha * s;
            double g0 = alpha * (double) g[i * (k + 1)];
            for (int c = 0; c < d; c++) {
                dq[i * d + c] = g0 * p[i * d + c];
                dp[i * d + c] = g0 * q[i * d + c];
            }
            for (int j = 0; j < k; j++) {
                double t = 0, gj = alpha * (double) g[i * (k + 1) + 1 + j];
                for (int c = 0; c < d; c++) t += (double) q[i * d + c] * neg[(i * k + j) * d + c];
                logits[i * (k + 1) + 1 + j] = alpha * t;
                for (int c = 0; c < d; c++) {
                    dq[i * d + c] += gj * neg[(i * k + j) * d + c];
                    dn[(i * k + j) * d + c] = gj * q[i * d + c];
                }
            }
        }
        Tensor qt = Tensor.of(q, n, d), pt = Tensor.of(p, n, d), nt = Tensor.of(neg, n, k, d);
        Tensor lt = Tensor.zeros(DType.FLOAT32, n, k + 1);
        sim.negativeLogits(qt, pt, nt, alpha, lt);
        double scale = alpha * Math.sqrt(d);
        assertClose(logits, lt.toFloatArray(), 1e-6 * scale, "logits");

        float[] garbage = new float[n * k * d];
        Arrays.fill(garbage, Float.NaN);
        Tensor dqt = Tensor.of(Arrays.copyOf(garbage, n * d), n, d), dpt = Tensor.of(Arrays.copyOf(garbage, n * d), n, d);
        Tensor dnt = Tensor.of(garbage, n, k, d);
        sim.negativeLogitsBackward(Tensor.of(g, n, k + 1), qt, pt, nt, alpha, dqt, dpt, dnt);
        assertClose(dq, dqt.toFloatArray(), 2e-6 * scale * Math.sqrt(k), "d q");
        assertClose(dp, dpt.toFloatArray(), 1e-6 * alpha, "d p");
        assertClose(dn, dnt.toFloatArray(), 1e-6 * alpha, "d n");
    }
}
