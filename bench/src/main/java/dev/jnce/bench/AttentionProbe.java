package dev.jnce.bench;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.ops.Matmul;
import dev.jnce.ops.ScaledDotProductAttention;

import java.io.IOException;
import java.util.SplittableRandom;

/**
 * Scaled dot-product attention forward+backward for bench/scripts/sdpa_vs_torch.sh, in a fresh JVM:
 * the best of REPS steps, the peak resident memory the step added, and the machine's sgemm rate
 * measured in the same process (a square 2048³ product through {@link Matmul}), from which the
 * step's GEMM-flop bound follows: 7 products of 2·L·S·d flops a batch-head (2 forward: Q Kᵀ and
 * P V; 5 backward: Q Kᵀ again, Pᵀ dO, dO Vᵀ, dS K, dSᵀ Q), half of them under a causal mask.
 *
 * <pre>java -cp benchmarks.jar dev.jnce.bench.AttentionProbe BACKEND B H L D REPS CAUSAL(0|1)</pre>
 * Prints {@code jnce BACKEND sdpa B H L D seconds peak_added_bytes} and
 * {@code jnce BACKEND sgemm GFLOP/s bound_seconds}.
 */
public final class AttentionProbe {
    private AttentionProbe() {
    }

    public static void main(String[] args) throws IOException {
        Backend backend = Backends.get(args[0]);
        int b = Integer.parseInt(args[1]), h = Integer.parseInt(args[2]), l = Integer.parseInt(args[3]), d = Integer.parseInt(args[4]);
        int reps = Integer.parseInt(args[5]);
        boolean causal = args.length > 6 && args[6].equals("1");
        SplittableRandom random = new SplittableRandom(7);
        float[] q = new float[b * h * l * d], k = new float[q.length], v = new float[q.length], up = new float[q.length];
        for (float[] a : new float[][] {q, k, v, up}) for (int i = 0; i < a.length; i++) a[i] = (float) random.nextGaussian();
        ScaledDotProductAttention op = ScaledDotProductAttention.create().withCausal(causal).withBackend(backend);
        double rateBefore = sgemmRate(backend);
        double best = Double.MAX_VALUE;
        long peak = 0;
        try (TensorScope scope = TensorScope.open()) {
            Tensor tq = Tensor.of(q, b, h, l, d), tk = Tensor.of(k, b, h, l, d), tv = Tensor.of(v, b, h, l, d), tu = Tensor.of(up, b, h, l, d);
            for (int r = 0; r < reps; r++) {
                long before = InfoNceProbe.peakRss();
                long start = System.nanoTime();
                try (ScaledDotProductAttention.Result out = op.forward(tq, tk, tv);
                     ScaledDotProductAttention.Gradients g = op.backward(tq, tk, tv, null, out, tu)) {
                    best = Math.min(best, (System.nanoTime() - start) / 1e9);
                }
                peak = Math.max(peak, InfoNceProbe.peakRss() - before);
            }
        }
        System.out.printf("jnce %s sdpa %d %d %d %d %.6f %d%n", args[0], b, h, l, d, best, peak);
        double rateAfter = sgemmRate(backend), rate = Math.max(rateBefore, rateAfter);
        System.out.printf("# sgemm GFLOP/s before the attention steps %.1f, after %.1f%n", rateBefore / 1e9, rateAfter / 1e9);
        double flops = 7.0 * 2 * l * (double) l * d * b * h * (causal ? 0.5 : 1.0);
        System.out.printf("jnce %s sgemm %.1f %.6f%n", args[0], rate / 1e9, flops / rate);
    }

    /** Flop/s of a 2048³ float32 product on this backend, best of 3. */
    static double sgemmRate(Backend backend) {
        int n = 2048;
        try (TensorScope scope = TensorScope.open()) {
            Tensor a = Tensor.zeros(DType.FLOAT32, n, n), c = Tensor.zeros(DType.FLOAT32, n, n);
            Matmul mm = Matmul.create().withBackend(backend);
            double best = Double.MAX_VALUE;
            for (int r = 0; r < 4; r++) {
                long start = System.nanoTime();
                mm.multiply(a, false, a, false, c);
                if (r > 0) best = Math.min(best, (System.nanoTime() - start) / 1e9);
            }
            return 2.0 * n * n * (double) n / best;
        }
    }
}
