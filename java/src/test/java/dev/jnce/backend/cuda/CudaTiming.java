package dev.jnce.backend.cuda;

import dev.jnce.DType;
import dev.jnce.Device;
import dev.jnce.Tensor;
import dev.jnce.backend.CrossEntropyCall;
import dev.jnce.Reduction;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Wall-clock timings on the GPU of fused cross-entropy at (8192, 128000) and InfoNCE at N=32768, D=512 (each call followed by a wait for
 * the stream, median of several runs), written one line per measurement for RESULTS.md.
 */
final class CudaTiming {
    private static final int WARMUP = 3, RUNS = 10;

    private CudaTiming() {
    }

    static void run(CudaBackend gpu, Path out) throws IOException {
        List<String> lines = new ArrayList<>();
        lines.add("device: " + gpu.description());
        crossEntropy(gpu, 8192, 128000, lines);
        for (GemmMode mode : GemmMode.values()) infoNce(mode == GemmMode.FP32 ? gpu : new CudaBackend(0, mode), 32768, 512, lines);
        Files.write(out, lines);
        lines.forEach(System.out::println);
    }

    private static void crossEntropy(CudaBackend gpu, long n, long c, List<String> lines) {
        Device dev = gpu.device();
        try (Tensor logits = fill(gpu, n, c); Tensor y = targets(n, c).to(dev);
             Tensor loss = Tensor.zeros(dev, DType.FLOAT32); Tensor grad = Tensor.zeros(dev, DType.FLOAT32, n, c)) {
            CrossEntropyCall call = new CrossEntropyCall(logits, y, null, null, null, -100, 0f, 0f, Reduction.MEAN, false,
                    loss, grad, null);
            double ms = median(() -> gpu.crossEntropy().crossEntropy(call), gpu);
            double gbs = 12.0 * n * c / (ms * 1e-3) / 1e9;
            lines.add(String.format(Locale.ROOT, "jnce cross_entropy fwd+bwd (%d,%d) float32: %.3f ms, %.0f GB/s at 12 B/logit",
                    n, c, ms, gbs));
        }
    }

    private static void infoNce(CudaBackend gpu, int n, int d, List<String> lines) {
        Device dev = gpu.device();
        long[] y = new long[n];
        for (int i = 0; i < n; i++) y[i] = i;
        try (Tensor q = Tensor.of(CudaTestSupport.normal(1, n * d, 1.0), n, d).to(dev);
             Tensor k = Tensor.of(CudaTestSupport.normal(2, n * d, 1.0), n, d).to(dev); Tensor t = Tensor.of(y).to(dev);
             Tensor s = Tensor.zeros(dev, DType.FLOAT32, n, n); Tensor g = Tensor.zeros(dev, DType.FLOAT32, n, d)) {
            double all = median(() -> {
                InfoNce.Result r = InfoNce.forwardBackward(gpu, q, k, t, 0.07f);
                r.loss().close();
                r.dq().close();
                r.dk().close();
            }, gpu);
            double gemms = median(() -> {
                gpu.similarity().gemm(false, true, 1f, q, k, 0f, s);
                gpu.similarity().gemm(false, false, 1f, s, k, 0f, g);
                gpu.similarity().gemm(true, false, 1f, s, q, 0f, g);
            }, gpu);
            lines.add(String.format(Locale.ROOT, "jnce infonce fwd+bwd N=%d D=%d GEMM %s: %.3f ms; its three GEMMs alone %.3f ms "
                    + "(ratio %.2f)", n, d, gpu.similarity() instanceof CudaSimilarity cs ? cs.mode() : "?", all, gemms, all / gemms));
        }
    }

    /** (n,c) logits on the GPU: a (64,c) random block copied down the rows. */
    private static Tensor fill(CudaBackend gpu, long n, long c) {
        Tensor dst = Tensor.zeros(gpu.device(), DType.FLOAT32, n, c);
        int rows = 64;
        try (Tensor block = Tensor.of(CudaTestSupport.normal(9, (int) (rows * c), 3.0), rows, c)) {
            long bytes = rows * c * 4;
            for (long i = 0; i < n; i += rows) {
                gpu.context().fromHost(block.segment(), MemorySegment.ofAddress(dst.segment().address() + i * c * 4),
                        Math.min(bytes, (n - i) * c * 4));
            }
        }
        return dst;
    }

    private static Tensor targets(long n, long c) {
        long[] y = new long[(int) n];
        for (int i = 0; i < n; i++) y[i] = (i * 7919L) % c;
        return Tensor.of(y);
    }

    private static double median(Runnable op, CudaBackend gpu) {
        for (int i = 0; i < WARMUP; i++) op.run();
        gpu.context().synchronize();
        double[] ms = new double[RUNS];
        for (int i = 0; i < RUNS; i++) {
            long t0 = System.nanoTime();
            op.run();
            gpu.context().synchronize();
            ms[i] = (System.nanoTime() - t0) / 1e6;
        }
        java.util.Arrays.sort(ms);
        return ms[RUNS / 2];
    }
}
