package dev.jnce.loss;

import dev.jnce.Backend;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.testutil.ScopedTest;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * BPR (Rendle et al. 2009) on rows wide enough for the kernels' blocked paths, on every backend,
 * against a float64 reference: widths of several vectors and with a tail (D = 128, 100, 70, 16),
 * K a multiple of four and not (the four-at-a-time scores and the rest), every reduction; and
 * rows of K D &gt; 2^20 floats, whose negatives {@code java} reads where they lie instead of
 * through a heap block.
 * row_i = (1/K) sum_k softplus(q_i.n_ik - q_i.p_i); dq_i = g_i0 p_i + sum_k g_ik n_ik,
 * dp_i = g_i0 q_i, dn_ik = g_ik q_i with g_ik = w sigmoid(x_ik) / K, g_i0 = -sum_k g_ik.
 */
class BprWideRowsTest extends ScopedTest {
    private static final int[][] SHAPES = {{32, 4, 128}, {7, 5, 100}, {3, 9, 70}, {5, 4, 16}, {2, 1, 130}, {2, 1030, 1024}};

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.ScopedTest#backends")
    void lossAndGradientsMatchTheFloat64Reference(Backend backend) {
        SplittableRandom rnd = new SplittableRandom(7);
        for (int[] shape : SHAPES) {
            int n = shape[0], k = shape[1], d = shape[2];
            float[] q = gaussian(rnd, n * d, 0.3), p = gaussian(rnd, n * d, 0.3), neg = gaussian(rnd, n * k * d, 0.3);
            for (Reduction red : new Reduction[] {Reduction.MEAN, Reduction.SUM, Reduction.NONE}) {
                String what = backend.name() + " (" + n + ", " + k + ", " + d + ") " + red;
                double w = red == Reduction.MEAN ? 1.0 / n : 1.0;
                double[] rows = new double[n], dq = new double[n * d], dp = new double[n * d], dn = new double[n * k * d];
                for (int i = 0; i < n; i++) {
                    double s0 = dot(q, i * d, p, i * d, d), g0 = 0, sum = 0;
                    for (int j = 0; j < k; j++) {
                        double x = (float) dot(q, i * d, neg, (i * k + j) * d, d) - (float) s0;
                        sum += Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
                        double g = w / (1 + Math.exp(-x)) / k;
                        g0 -= g;
                        for (int c = 0; c < d; c++) {
                            dq[i * d + c] += g * neg[(i * k + j) * d + c];
                            dn[(i * k + j) * d + c] = g * q[i * d + c];
                        }
                    }
                    rows[i] = sum / k;
                    for (int c = 0; c < d; c++) {
                        dq[i * d + c] += g0 * p[i * d + c];
                        dp[i * d + c] = g0 * q[i * d + c];
                    }
                }
                try (InfoNce.Result r = BprLoss.create().withReduction(red).withBackend(backend)
                        .forwardBackward(Tensor.of(q, n, d), Tensor.of(p, n, d), Tensor.of(neg, n, k, d))) {
                    float[] loss = r.loss().toFloatArray();
                    if (red == Reduction.NONE) {
                        for (int i = 0; i < n; i++) assertEquals(rows[i], loss[i], 2e-6 * Math.max(1, Math.abs(rows[i])), what + " row " + i);
                    } else {
                        double total = 0;
                        for (double v : rows) total += v;
                        double want = red == Reduction.MEAN ? total / n : total;
                        assertEquals(want, loss[0], 2e-6 * Math.max(1, Math.abs(want)), what + " loss");
                    }
                    close(dq, r.gradQueries().toFloatArray(), what + " dq");
                    close(dp, r.gradKeys().toFloatArray(), what + " dp");
                    close(dn, r.gradNegatives().toFloatArray(), what + " dn");
                }
            }
        }
    }

    private static void close(double[] want, float[] got, String what) {
        assertEquals(want.length, got.length, what + " size");
        double scale = 1e-30;
        for (double v : want) scale = Math.max(scale, Math.abs(v));
        for (int t = 0; t < want.length; t++) {
            assertEquals(want[t], got[t], 1e-5 * scale, what + " at " + t);
        }
    }

    private static double dot(float[] a, int ao, float[] b, int bo, int d) {
        double s = 0;
        for (int c = 0; c < d; c++) s += (double) a[ao + c] * b[bo + c];
        return s;
    }

    private static float[] gaussian(SplittableRandom rnd, int size, double scale) {
        float[] x = new float[size];
        for (int t = 0; t < size; t++) {
            double u = rnd.nextDouble(1e-12, 1), v = rnd.nextDouble();
            x[t] = (float) (scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
        }
        return x;
    }
}
