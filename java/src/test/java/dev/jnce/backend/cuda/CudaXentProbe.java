package dev.jnce.backend.cuda;

import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Device;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.backend.CrossEntropyCall;

import java.util.Locale;

/**
 * The fused cross-entropy's time beside a copy of its bytes, for the kernel shape the environment
 * variable JNCE_CUDA_XENT_CLUSTER picks (bench/gpu/verify.sh runs it once per shape), and its row
 * losses and three gradient rows against a float64 recomputation on the host. Needs a GPU.
 */
public final class CudaXentProbe {
    private CudaXentProbe() {
    }

    public static void main(String[] args) {
        CudaBackend gpu = (CudaBackend) Backends.get("cuda");
        String shape = System.getenv().getOrDefault("JNCE_CUDA_XENT_CLUSTER", "(default)");
        long[][] shapes = {{8192, 128000}, {32768, 32768}, {8192, 32000}, {4096, 50304}};
        for (long[] nc : shapes) {
            long n = nc[0], c = nc[1];
            Device dev = gpu.device();
            try (Tensor logits = CudaTiming.fill(gpu, n, c); Tensor y = CudaTiming.targets(n, c).to(dev);
                 Tensor rows = Tensor.zeros(dev, DType.FLOAT32, n); Tensor grad = Tensor.zeros(dev, DType.FLOAT32, n, c)) {
                long bytes = 4 * n * c;
                double copy = CudaTiming.median(() -> gpu.context().copy(logits.segment(), grad.segment(), bytes), gpu);
                CrossEntropyCall call = new CrossEntropyCall(logits, y, null, null, null, -100, 0f, 0f, Reduction.NONE, false,
                        rows, grad, null);
                double ms = CudaTiming.median(() -> gpu.crossEntropy().crossEntropy(call), gpu);
                double err = check(logits, y, rows, grad, n, c);
                System.out.printf(Locale.ROOT, "xent shape %s (%d,%d): copy %.3f ms, cross-entropy %.3f ms = %.2f of the copy's "
                        + "bandwidth; max rel err vs float64 %.2e%n", shape, n, c, copy, ms, copy / ms, err);
            }
        }
    }

    /** Largest error of the row losses and of rows 0, 63 and n-1 of the gradient, relative to max(1, |reference|). */
    private static double check(Tensor logits, Tensor y, Tensor rows, Tensor grad, long n, long c) {
        float[] loss = rows.toFloatArray();
        long[] target = y.to(Device.HOST).toLongArray();
        double worst = 0;
        double[][] ref = new double[64][];
        for (int r = 0; r < 64 && r < n; r++) {
            try (Tensor row = logits.rows(r, 1).to(Device.HOST)) {
                float[] x = row.toFloatArray();
                double m = Double.NEGATIVE_INFINITY, s = 0;
                for (float v : x) m = Math.max(m, v);
                for (float v : x) s += Math.exp(v - m);
                double lse = m + Math.log(s);
                double[] p = new double[(int) c];
                for (int j = 0; j < c; j++) p[j] = Math.exp(x[j] - lse);
                ref[r] = new double[] {lse};
                ref[r] = concat(ref[r], x, p);
            }
        }
        for (int i = 0; i < n; i++) {
            double[] r = ref[i % 64];
            double want = r[0] - r[1 + (int) target[i]];
            worst = Math.max(worst, Math.abs(loss[i] - want) / Math.max(1, Math.abs(want)));
        }
        for (long i : new long[] {0, 63, n - 1}) {
            try (Tensor row = grad.rows(i, 1).to(Device.HOST)) {
                float[] g = row.toFloatArray();
                double[] r = ref[(int) (i % 64)];
                for (int j = 0; j < c; j++) {
                    double want = r[1 + (int) c + j] - (j == target[(int) i] ? 1 : 0);
                    worst = Math.max(worst, Math.abs(g[j] - want) / Math.max(1, Math.abs(want)));
                }
            }
        }
        return worst;
    }

    /** {lse, x..., p...} */
    private static double[] concat(double[] head, float[] x, double[] p) {
        double[] out = new double[1 + x.length + p.length];
        out[0] = head[0];
        for (int j = 0; j < x.length; j++) out[1 + j] = x[j];
        System.arraycopy(p, 0, out, 1 + x.length, p.length);
        return out;
    }
}
