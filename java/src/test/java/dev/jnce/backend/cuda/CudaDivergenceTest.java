package dev.jnce.backend.cuda;

import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.backend.DivergenceKernels;
import dev.jnce.backend.Kernels;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static dev.jnce.backend.cuda.CudaTestSupport.cuda;
import static dev.jnce.backend.cuda.CudaTestSupport.normal;
import static dev.jnce.backend.cuda.CudaTestSupport.onGpu;
import static dev.jnce.backend.cuda.CudaTestSupport.reference;
import static dev.jnce.testutil.Approx.assertClose;
import static dev.jnce.testutil.Approx.toDouble;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * KL divergence (probability and log targets, zeros among the targets, every reduction with
 * 'batchmean'), entropy and cross-entropy of distributions (zeros among p and q), perplexity and the
 * distribution check on the GPU against the CPU kernels. Needs a GPU.
 */
@Tag("cuda")
class CudaDivergenceTest {
    private static final double TOL = 1e-5;

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (long[] s : new long[][] {{5, 7}, {64, 3000}, {3, 70000}})
            for (Reduction r : Reduction.values()) out.add(Arguments.of(s[0], s[1], r));
        return out.stream();
    }

    @ParameterizedTest(name = "({0},{1}) {2}")
    @MethodSource("cases")
    void matchesTheCpuKernels(long n, long c, Reduction reduction) {
        CudaBackend gpu = cuda();
        Kernels ref = reference();
        try (TensorScope scope = TensorScope.open()) {
            Tensor x = Tensor.of(logSoftmaxRows(normal(n + c, (int) (n * c), 2.0), (int) c), n, c);
            Tensor p = Tensor.of(withZeros(softmaxRows(normal(n * 3 + c, (int) (n * c), 2.0), (int) c)), n, c);
            Tensor q = Tensor.of(softmaxRows(normal(n * 5 + c, (int) (n * c), 2.0), (int) c), n, c);
            for (boolean logTarget : new boolean[] {false, true}) {
                Tensor t = logTarget ? q : p; // as log-targets, q's values in [0, 1] are as good as any
                Tensor[] want = kl(ref, x, t, n, c, logTarget, reduction);
                Tensor[] got = kl(gpu, onGpu(x), onGpu(t), n, c, logTarget, reduction);
                for (int k = 0; k < 3; k++)
                    assertClose(toDouble(want[k].toFloatArray()), got[k].toFloatArray(), TOL, "kl_div logTarget " + logTarget + " " + k);
            }
            if (reduction == Reduction.BATCHMEAN) return; // the row losses take NONE, MEAN and SUM
            Tensor[] want = dist(ref, p, null, reduction), got = dist(gpu, onGpu(p), null, reduction);
            for (int k = 0; k < 2; k++) assertClose(toDouble(want[k].toFloatArray()), got[k].toFloatArray(), TOL, "entropy " + k);
            want = dist(ref, p, q, reduction);
            got = dist(gpu, onGpu(p), onGpu(q), reduction);
            for (int k = 0; k < 3; k++) assertClose(toDouble(want[k].toFloatArray()), got[k].toFloatArray(), TOL, "dist_xent " + k);
        }
    }

    @Test
    void perplexityAndTheDistributionCheckMatchTheCpu() {
        CudaBackend gpu = cuda();
        Kernels ref = reference();
        try (TensorScope scope = TensorScope.open()) {
            int m = 5000;
            Tensor losses = Tensor.of(normal(3, m, 0.5), m);
            long[] keys = new long[m];
            for (int k = 0; k < m; k++) keys[k] = k % 7 == 0 ? -100 : k % 11;
            for (Tensor kt : new Tensor[] {Tensor.of(keys), Tensor.of(toInt(keys))}) {
                Tensor pw = Tensor.zeros(DType.FLOAT32), gw = Tensor.zeros(DType.FLOAT32, m);
                ref.divergence().perplexity(losses, kt, -100, Float.NaN, pw, gw);
                Tensor pg = Tensor.zeros(CudaTestSupport.device(), DType.FLOAT32), gg = Tensor.zeros(CudaTestSupport.device(), DType.FLOAT32, m);
                gpu.divergence().perplexity(onGpu(losses), onGpu(kt), -100, Float.NaN, pg, gg);
                assertClose(toDouble(pw.toFloatArray()), pg.toFloatArray(), TOL, "perplexity");
                assertClose(toDouble(gw.toFloatArray()), gg.toFloatArray(), TOL, "its gradient");
            }
            long[] none = new long[m];
            java.util.Arrays.fill(none, -100);
            Tensor pg = Tensor.zeros(CudaTestSupport.device(), DType.FLOAT32);
            gpu.divergence().perplexity(onGpu(losses), onGpu(Tensor.of(none)), -100, 7f, pg, null);
            assertClose(new double[] {7}, pg.toFloatArray(), 0, "all ignored");
            float[] rows = softmaxRows(normal(4, 40, 1.0), 10);
            rows[23] = -0.5f;
            Tensor r = Tensor.of(rows, 4, 10);
            DivergenceKernels.RowFault want = ref.divergence().firstNonDistribution(r, 1e-3);
            assertEquals(want, gpu.divergence().firstNonDistribution(onGpu(r), 1e-3));
        }
    }

    private static Tensor[] kl(Kernels k, Tensor x, Tensor t, long n, long c, boolean logTarget, Reduction r) {
        var dev = x.device();
        Tensor loss = r == Reduction.NONE ? Tensor.zeros(dev, DType.FLOAT32, n, c) : Tensor.zeros(dev, DType.FLOAT32);
        Tensor gx = Tensor.zeros(dev, DType.FLOAT32, n, c), gt = Tensor.zeros(dev, DType.FLOAT32, n, c);
        k.divergence().klDiv(x, t, n, c, logTarget, r, loss, gx, gt);
        return new Tensor[] {loss, gx, gt};
    }

    private static Tensor[] dist(Kernels k, Tensor p, Tensor q, Reduction r) {
        var dev = p.device();
        long n = p.size(0), c = p.size(1);
        Tensor loss = r == Reduction.NONE ? Tensor.zeros(dev, DType.FLOAT32, n) : Tensor.zeros(dev, DType.FLOAT32);
        Tensor gp = Tensor.zeros(dev, DType.FLOAT32, n, c), gq = q == null ? null : Tensor.zeros(dev, DType.FLOAT32, n, c);
        if (q == null) k.divergence().entropy(p, r, loss, gp);
        else k.divergence().distributionCrossEntropy(p, q, r, loss, gp, gq);
        return new Tensor[] {loss, gp, gq};
    }

    private static float[] softmaxRows(float[] x, int c) {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length / c; i++) {
            double m = Double.NEGATIVE_INFINITY, s = 0;
            for (int j = 0; j < c; j++) m = Math.max(m, x[i * c + j]);
            for (int j = 0; j < c; j++) s += Math.exp(x[i * c + j] - m);
            for (int j = 0; j < c; j++) out[i * c + j] = (float) (Math.exp(x[i * c + j] - m) / s);
        }
        return out;
    }

    private static float[] logSoftmaxRows(float[] x, int c) {
        float[] p = softmaxRows(x, c);
        for (int i = 0; i < p.length; i++) p[i] = (float) Math.log(Math.max(p[i], 1e-30f));
        return p;
    }

    /** Every 13th value made 0 (0 log 0 terms, NaN d/dt in KL). */
    private static float[] withZeros(float[] p) {
        for (int i = 0; i < p.length; i += 13) p[i] = 0f;
        return p;
    }

    private static int[] toInt(long[] v) {
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) out[i] = (int) v[i];
        return out;
    }
}
