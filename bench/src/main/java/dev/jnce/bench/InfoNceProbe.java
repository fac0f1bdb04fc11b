package dev.jnce.bench;

import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.loss.InfoNce;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * InfoNCE forward+backward (two towers, cosine, in-batch negatives) against the three GEMMs it
 * needs, and the peak resident memory it adds, in a fresh JVM: what bench/scripts/infonce_vs_torch.sh
 * prints beside PyTorch. (JMH cannot see off-heap peaks, hence this probe.)
 *
 * <pre>java -cp benchmarks.jar dev.jnce.bench.InfoNceProbe BACKEND N D REPS</pre>
 * Prints: {@code jnce BACKEND infonce N D seconds peak_added_bytes} and {@code jnce BACKEND gemm3 N D seconds}.
 */
public final class InfoNceProbe {
    private InfoNceProbe() {
    }

    public static void main(String[] args) throws IOException {
        String backend = args[0];
        int n = Integer.parseInt(args[1]), d = Integer.parseInt(args[2]), reps = Integer.parseInt(args[3]);
        Kernels k = (Kernels) Backends.get(backend);
        Tensor q = random(n, d, 1), keys = random(n, d, 2);
        long before = peakRss();
        InfoNce loss = InfoNce.create().withTemperature(0.07f).withBackend(k);
        double best = Double.MAX_VALUE;
        for (int r = 0; r < reps; r++) {
            long start = System.nanoTime();
            try (InfoNce.Result res = loss.forwardBackward(q, keys)) {
                res.loss().item();
            }
            best = Math.min(best, (System.nanoTime() - start) / 1e9);
        }
        long peak = peakRss() - before;
        System.out.printf("jnce %s infonce %d %d %.6f %d%n", backend, n, d, best, peak);

        // The three GEMMs of the fused path: S = q kᵀ, dq = G k, dk = Gᵀ q.
        try (Tensor s = Tensor.zerosUnscoped(DType.FLOAT32, n, n); Tensor dq = Tensor.zerosUnscoped(DType.FLOAT32, n, d);
             Tensor dk = Tensor.zerosUnscoped(DType.FLOAT32, n, d)) {
            double gemm = Double.MAX_VALUE;
            for (int r = 0; r < reps; r++) {
                long start = System.nanoTime();
                k.similarity().gemm(false, true, 1f, q, keys, 0f, s);
                k.similarity().gemm(false, false, 1f, s, keys, 0f, dq);
                k.similarity().gemm(true, false, 1f, s, q, 0f, dk);
                gemm = Math.min(gemm, (System.nanoTime() - start) / 1e9);
            }
            System.out.printf("jnce %s gemm3 %d %d %.6f%n", backend, n, d, gemm);
        }
    }

    private static Tensor random(int n, int d, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        Tensor t = Tensor.zerosUnscoped(DType.FLOAT32, n, d);
        for (long i = 0; i < (long) n * d; i++) t.segment().setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) random.nextGaussian());
        return t;
    }

    /** VmHWM of this process, bytes. */
    static long peakRss() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
        return -1;
    }
}
