package dev.jnce.backend;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.testutil.Reductions;
import dev.jnce.testutil.ScopedTest;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static dev.jnce.testutil.Approx.assertClose;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The explicit-negatives kernels on every backend against float64: the (N,K+1) logits of each
 * query against its positive and its own K negatives, and the three gradients given G, which
 * overwrite whatever the outputs held; and BPR's one-pass kernel where a backend has one, against
 * float64 and against the same backend's composed path (logits, pairs, reduction, gradients).
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

    static Stream<Arguments> bprCases() {
        return dev.jnce.testutil.TestBackends.all().stream().flatMap(b -> Stream.of(Reductions.all()).flatMap(red -> Stream.of(
                Arguments.of(b, red, 1, 1, 1, 1f), Arguments.of(b, red, 32, 4, 128, 1f), Arguments.of(b, red, 17, 17, 33, 3f),
                Arguments.of(b, red, 17, 300, 5, 30f), Arguments.of(b, red, 3000, 4, 128, 1f))));
    }

    /**
     * BPR's one pass: rows across a lane block (K = 17), more negatives than one chunk (K = 300,
     * scores up to about +-100), enough rows for several threads; outputs start as NaN.
     */
    @ParameterizedTest(name = "{0} {1} N={2} K={3} D={4} spread={5}")
    @MethodSource("bprCases")
    void bprLossMatchesFloat64AndTheComposedPath(Backend backend, Reduction red, int n, int k, int d, float spread) {
        ContrastiveKernels con = ((Kernels) backend).contrastive();
        SplittableRandom r = new SplittableRandom(n * 37L + k);
        float[] q = random(r, n * d), p = random(r, n * d), neg = random(r, n * k * d);
        for (int i = 0; i < q.length; i++) q[i] *= spread;
        double w = red == Reduction.MEAN ? 1.0 / n : 1.0, total = 0;
        double[] rows = new double[n], dq = new double[n * d], dp = new double[n * d], dn = new double[n * k * d];
        for (int i = 0; i < n; i++) {
            double s0 = 0, g0 = 0;
            for (int c = 0; c < d; c++) s0 += (double) q[i * d + c] * p[i * d + c];
            for (int j = 0; j < k; j++) {
                double s = 0;
                for (int c = 0; c < d; c++) s += (double) q[i * d + c] * neg[(i * k + j) * d + c];
                double x = s - s0, sig = 1 / (1 + Math.exp(-x)), g = w * sig / k;
                rows[i] += (Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)))) / k;
                g0 -= g;
                for (int c = 0; c < d; c++) {
                    dq[i * d + c] += g * neg[(i * k + j) * d + c];
                    dn[(i * k + j) * d + c] = g * q[i * d + c];
                }
            }
            for (int c = 0; c < d; c++) {
                dq[i * d + c] += g0 * p[i * d + c];
                dp[i * d + c] = g0 * q[i * d + c];
            }
            total += rows[i];
        }
        double[] loss = red == Reduction.NONE ? rows : new double[] {red == Reduction.MEAN ? total / n : total};
        Tensor qt = Tensor.of(q, n, d), pt = Tensor.of(p, n, d), nt = Tensor.of(neg, n, k, d);
        // x = s_k - s_0 of scores rounded to float: an error of about 2^-24 |s|, which the softplus and sigmoid pass on
        double xErr = 2e-7 * spread * Math.sqrt(d), gErr = w * (2e-7 + xErr) * spread;
        float[][] fused = bpr(con, red, qt, pt, nt, true);
        assumeTrue(fused != null, "this backend composes BPR from its steps (checked below for every backend)");
        float[][] composed = bpr(con, red, qt, pt, nt, false);
        for (float[][] got : new float[][][] {fused, composed}) {
            String path = got == fused ? "one pass: " : "composed: ";
            assertClose(loss, got[0], 2e-6 + xErr, path + "loss");
            assertClose(dq, got[1], 4 * gErr, path + "d q");
            assertClose(dp, got[2], 2 * gErr, path + "d p");
            assertClose(dn, got[3], gErr / k + 1e-12, path + "d n");
        }
    }

    /** BPR through the backend's one pass (null where it has none) or through its composed steps. */
    private static float[][] bpr(ContrastiveKernels con, Reduction red, Tensor q, Tensor p, Tensor neg, boolean onePass) {
        int n = (int) neg.size(0), k = (int) neg.size(1), d = (int) neg.size(2);
        float[] nan = new float[n * k * d];
        Arrays.fill(nan, Float.NaN);
        Tensor loss = Tensor.of(Arrays.copyOf(nan, red == Reduction.NONE ? n : 1), red == Reduction.NONE ? new long[] {n} : new long[0]);
        Tensor dq = Tensor.of(Arrays.copyOf(nan, n * d), n, d), dp = Tensor.of(Arrays.copyOf(nan, n * d), n, d);
        Tensor dn = Tensor.of(nan, n, k, d);
        if (onePass) {
            if (!con.bprLoss(q, p, neg, red, loss, dq, dp, dn)) return null;
        } else {
            Tensor logits = Tensor.zeros(DType.FLOAT32, n, k + 1), rows = Tensor.zeros(DType.FLOAT32, n);
            con.negativeLogits(q, p, neg, 1f, logits);
            con.bprPairs(logits, rows, logits);
            con.reduceRows(rows, null, red, n, loss);
            con.negativeLogitsBackward(logits, q, p, neg, red == Reduction.MEAN ? 1f / n : 1f, dq, dp, dn);
        }
        return new float[][] {loss.toFloatArray(), dq.toFloatArray(), dp.toFloatArray(), dn.toFloatArray()};
    }
}
