package dev.jnce.backend.cuda;

import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Device;
import dev.jnce.Tensor;
import dev.jnce.backend.CrossEntropyCall;
import dev.jnce.backend.Kernels;
import dev.jnce.Reduction;
import dev.jnce.loss.CrossEntropy;
import dev.jnce.loss.InfoNce;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Wall-clock timings on the GPU (each call followed by a wait for the stream; median of several
 * runs after warm-up), one line per measurement, with the machine limit measured beside each:
 * <ul>
 *   <li>fused cross-entropy forward+backward at (8192, 128000) against a device-to-device copy of
 *       the same bytes (read the logits, write the gradient);</li>
 *   <li>InfoNCE two towers (public {@link InfoNce}, into the caller's buffers) at N=32768, D=512 in
 *       each GEMM mode, against its three cuBLAS GEMMs at full size; its outputs are written for
 *       compare_torch.py to measure against a float64 reference;</li>
 *   <li>InfoNCE two towers at N=1,048,576, D=128 in row blocks: time and peak device memory;</li>
 *   <li>cpu against cuda for cross-entropy and InfoNCE over a range of sizes (where the GPU starts to win).</li>
 * </ul>
 */
final class CudaTiming {
    private static final int WARMUP = 3, RUNS = 10;
    private static final double GIB = 1L << 30;

    private CudaTiming() {
    }

    static void run(CudaBackend gpu, Path out, Path dump, List<String> manifest) throws IOException {
        List<String> lines = new ArrayList<>();
        Consumer<String> say = line -> {
            lines.add(line);
            System.out.println(line);
        };
        say.accept("device: " + gpu.description());
        crossEntropy(gpu, 8192, 128000, say);
        for (GemmMode mode : GemmMode.values()) {
            infoNce(mode == GemmMode.FP32 ? gpu : new CudaBackend(0, mode), 32768, 512, say, dump, manifest);
        }
        for (GemmMode mode : new GemmMode[] {GemmMode.FP32, GemmMode.TF32}) {
            infoNceHuge(mode == GemmMode.FP32 ? gpu : new CudaBackend(0, mode), 1 << 20, 128, say);
        }
        scaling(gpu, say);
        Files.write(out, lines);
    }

    private static void crossEntropy(CudaBackend gpu, long n, long c, Consumer<String> say) {
        Device dev = gpu.device();
        try (Tensor logits = fill(gpu, n, c); Tensor y = targets(n, c).to(dev);
             Tensor loss = Tensor.zeros(dev, DType.FLOAT32); Tensor grad = Tensor.zeros(dev, DType.FLOAT32, n, c)) {
            CrossEntropyCall call = new CrossEntropyCall(logits, y, null, null, null, -100, 0f, 0f, Reduction.MEAN, false,
                    loss, grad, null);
            long bytes = 4 * n * c;
            double copy = median(() -> gpu.context().copy(logits.segment(), grad.segment(), bytes), gpu);
            double ms = median(() -> gpu.crossEntropy().crossEntropy(call), gpu);
            CrossEntropy api = CrossEntropy.create();
            double viaApi = median(() -> api.forwardBackward(logits, y, loss, grad), gpu);
            double copyAgain = median(() -> gpu.context().copy(logits.segment(), grad.segment(), bytes), gpu);
            double best = Math.min(copy, copyAgain);
            say.accept(String.format(Locale.ROOT, "copy d2d of the logits' bytes (%d,%d) float32: %.3f ms and %.3f ms, %.0f GB/s "
                    + "(read + write)", n, c, copy, copyAgain, 2.0 * bytes / (best * 1e-3) / 1e9));
            say.accept(String.format(Locale.ROOT, "jnce cross_entropy fwd+bwd (%d,%d) float32: kernel %.3f ms, public CrossEntropy "
                    + "%.3f ms; %.0f GB/s at 8 B/logit = %.2f of the copy's bandwidth", n, c, ms, viaApi,
                    2.0 * bytes / (ms * 1e-3) / 1e9, best / ms));
        }
    }

    private static void infoNce(CudaBackend gpu, int n, int d, Consumer<String> say, Path dump, List<String> manifest)
            throws IOException {
        Device dev = gpu.device();
        GemmMode mode = ((CudaSimilarity) gpu.similarity()).mode();
        Tensor qh = Tensor.of(CudaTestSupport.normal(1, n * d, 1.0), n, d), kh = Tensor.of(CudaTestSupport.normal(2, n * d, 1.0), n, d);
        try (qh; kh; Tensor q = qh.to(dev); Tensor k = kh.to(dev); Tensor loss = Tensor.zeros(dev, DType.FLOAT32);
             Tensor dq = Tensor.zeros(dev, DType.FLOAT32, n, d); Tensor dk = Tensor.zeros(dev, DType.FLOAT32, n, d)) {
            InfoNce blocks = InfoNce.create().withTemperature(0.07f).withBackend(gpu);
            InfoNce whole = blocks.withBlockRows(n);
            gpu.context().resetPeak();
            long before = gpu.context().allocatedBytes();
            double inBlocks = median(() -> blocks.forwardBackward(q, k, loss, dq, dk), gpu);
            long peakBlocks = gpu.context().peakAllocatedBytes() - before;
            InfoNce.releaseWorkspace();
            gpu.context().resetPeak();
            double all = median(() -> whole.forwardBackward(q, k, loss, dq, dk), gpu);
            long peakWhole = gpu.context().peakAllocatedBytes() - before;
            InfoNce.releaseWorkspace();
            double gemms, xent;
            try (Tensor s = Tensor.zeros(dev, DType.FLOAT32, n, n); Tensor g = Tensor.zeros(dev, DType.FLOAT32, n, d);
                 Tensor y = targets(n, n).to(dev); Tensor rows = Tensor.zeros(dev, DType.FLOAT32, n)) {
                gemms = median(() -> {
                    gpu.similarity().gemm(false, true, 1f, q, k, 0f, s);
                    gpu.similarity().gemm(false, false, 1f, s, k, 0f, g);
                    gpu.similarity().gemm(true, false, 1f, s, q, 0f, g);
                }, gpu);
                gpu.similarity().gemm(false, true, 1f / 0.07f, q, k, 0f, s);
                CrossEntropyCall call = new CrossEntropyCall(s, y, null, null, null, -100, 0f, 0f, Reduction.NONE, false,
                        rows, s, null);
                xent = median(() -> gpu.crossEntropy().crossEntropy(call), gpu);
            }
            double flops = 3 * 2.0 * n * (double) n * d;
            say.accept(String.format(Locale.ROOT, "jnce infonce two towers fwd+bwd N=%d D=%d GEMM %s: blocks of 1 GiB %.3f ms "
                    + "(ratio %.2f, peak added %.2f GiB), whole matrix %.3f ms (ratio %.2f, peak added %.2f GiB); its three "
                    + "GEMMs alone %.3f ms (%.1f TFLOP/s)", n, d, mode, inBlocks, inBlocks / gemms, peakBlocks / GIB, all,
                    all / gemms, peakWhole / GIB, gemms, flops / (gemms * 1e-3) / 1e12));
            say.accept(String.format(Locale.ROOT, "  of which at most: the fused cross-entropy over the (%d,%d) logits in place "
                    + "%.3f ms (%.0f GB/s at 8 B/logit); the rest (normalisation, value checks, reductions) %.3f ms", n, n, xent,
                    8.0 * n * (double) n / (xent * 1e-3) / 1e9, all - gemms - xent));
            // the outputs of the last (whole-matrix) call, for the float64 reference in compare_torch.py
            String name = "infonce_big_" + mode.name().toLowerCase(Locale.ROOT);
            StringBuilder line = new StringBuilder("op=infonce_big name=" + name + " mode=" + mode + " N=" + n + " D=" + d
                    + " temperature=0.07");
            if (mode == GemmMode.FP32) {
                line.append(save(dump, "infonce_big", "q", qh)).append(save(dump, "infonce_big", "k", kh));
            } else {
                line.append(" q=infonce_big_q.bin:").append(DType.FLOAT32).append(':').append(n).append('x').append(d)
                        .append(" k=infonce_big_k.bin:").append(DType.FLOAT32).append(':').append(n).append('x').append(d);
            }
            line.append(save(dump, name, "loss", loss)).append(save(dump, name, "dq", dq)).append(save(dump, name, "dk", dk));
            manifest.add(line.toString());
        }
    }

    /** N=1M two towers in row blocks: one timed call after a warm-up at a small N; time and peak device memory. */
    private static void infoNceHuge(CudaBackend gpu, int n, int d, Consumer<String> say) {
        Device dev = gpu.device();
        GemmMode mode = ((CudaSimilarity) gpu.similarity()).mode();
        InfoNce loss = InfoNce.create().withTemperature(0.07f).withBackend(gpu);
        try (Tensor a = uniform(3, 4096L * d, 4096, d, dev); Tensor b = uniform(4, 4096L * d, 4096, d, dev);
             InfoNce.Result warm = loss.forwardBackward(a, b)) {
            gpu.context().synchronize();
        }
        InfoNce.releaseWorkspace();
        long before = gpu.context().allocatedBytes();
        try (Tensor q = uniform(11, (long) n * d, n, d, dev); Tensor k = uniform(12, (long) n * d, n, d, dev)) {
            long inputs = gpu.context().allocatedBytes() - before;
            gpu.context().resetPeak();
            long t0 = System.nanoTime();
            float value;
            try (InfoNce.Result r = loss.forwardBackward(q, k)) {
                value = r.loss().toFloatArray()[0];
            }
            double s = (System.nanoTime() - t0) / 1e9;
            long peak = gpu.context().peakAllocatedBytes() - before;
            double flops = 3 * 2.0 * n * (double) n * d;
            say.accept(String.format(Locale.ROOT, "jnce infonce two towers fwd+bwd N=%d D=%d GEMM %s in row blocks (default, "
                    + "about 1 GiB of logits): %.2f s (%.1f TFLOP/s of its GEMMs' flops), loss %.6f; peak device memory held by "
                    + "jnce %.2f GiB (inputs %.2f GiB of it); the N x N logits would be %.0f GiB", n, d, mode, s,
                    flops / s / 1e12, value, peak / GIB, inputs / GIB, 4.0 * n * (double) n / GIB));
        }
        InfoNce.releaseWorkspace();
    }

    /** cpu against cuda over a range of sizes (public classes, into the caller's buffers; the cpu's threads as it starts). */
    private static void scaling(CudaBackend gpu, Consumer<String> say) {
        if (!Backends.isAvailable("cpu")) {
            say.accept("scaling: the cpu backend is not available here: " + Backends.unavailableReason("cpu"));
            return;
        }
        Kernels cpu = (Kernels) Backends.get("cpu");
        say.accept("scaling: cpu is " + cpu.description());
        for (long[] s : new long[][] {{32, 1000}, {256, 32000}, {2048, 32000}, {8192, 32000}}) {
            long n = s[0], c = s[1];
            double[] ms = new double[2];
            int i = 0;
            for (Kernels k : new Kernels[] {cpu, gpu}) {
                Device dev = k.device();
                CrossEntropy ce = CrossEntropy.create().withBackend(k);
                try (Tensor x = Tensor.of(CudaTestSupport.normal(n + c, (int) (n * c), 2.0), n, c); Tensor xd = x.to(dev);
                     Tensor y = targets(n, c).to(dev); Tensor loss = Tensor.zeros(dev, DType.FLOAT32);
                     Tensor g = Tensor.zeros(dev, DType.FLOAT32, n, c)) {
                    ms[i++] = median(() -> ce.forwardBackward(xd, y, loss, g), gpu);
                }
            }
            say.accept(String.format(Locale.ROOT, "scaling cross_entropy (%d,%d): cpu %.4f ms, cuda %.4f ms, cpu/cuda %.2f",
                    n, c, ms[0], ms[1], ms[0] / ms[1]));
        }
        for (int n : new int[] {256, 1024, 4096, 16384}) {
            int d = 256;
            double[] ms = new double[2];
            int i = 0;
            for (Kernels k : new Kernels[] {cpu, gpu}) {
                Device dev = k.device();
                InfoNce loss = InfoNce.create().withTemperature(0.07f).withBackend(k);
                try (Tensor q = Tensor.of(CudaTestSupport.normal(n, n * d, 1.0), n, d).to(dev);
                     Tensor kk = Tensor.of(CudaTestSupport.normal(n + 1, n * d, 1.0), n, d).to(dev);
                     Tensor l = Tensor.zeros(dev, DType.FLOAT32); Tensor dq = Tensor.zeros(dev, DType.FLOAT32, n, d);
                     Tensor dk = Tensor.zeros(dev, DType.FLOAT32, n, d)) {
                    ms[i++] = median(() -> loss.forwardBackward(q, kk, l, dq, dk), gpu);
                }
            }
            say.accept(String.format(Locale.ROOT, "scaling infonce two towers N=%d D=%d: cpu %.4f ms, cuda %.4f ms, cpu/cuda %.2f",
                    n, d, ms[0], ms[1], ms[0] / ms[1]));
        }
        InfoNce.releaseWorkspace();
    }

    /** (n,c) logits on the GPU: a (64,c) random block copied down the rows. */
    static Tensor fill(CudaBackend gpu, long n, long c) {
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

    /** Uniform values in [-1, 1) on the device, made on the host in one pass. */
    private static Tensor uniform(long seed, long count, int n, int d, Device dev) {
        SplittableRandom r = new SplittableRandom(seed);
        try (Tensor host = Tensor.zeros(DType.FLOAT32, n, d)) {
            MemorySegment s = host.segment();
            for (long i = 0; i < count; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (2 * r.nextDouble() - 1));
            return host.to(dev);
        }
    }

    static Tensor targets(long n, long c) {
        long[] y = new long[(int) n];
        for (int i = 0; i < n; i++) y[i] = (i * 7919L) % c;
        return Tensor.of(y);
    }

    static double median(Runnable op, CudaBackend gpu) {
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

    /** Writes the tensor (copied to the host) as raw little-endian bytes; " key=file:dtype:shape". */
    private static String save(Path dir, String name, String key, Tensor t) throws IOException {
        try (Tensor host = t.to(Device.HOST)) {
            String file = name + "_" + key + ".bin";
            Files.write(dir.resolve(file), host.segment().toArray(ValueLayout.JAVA_BYTE));
            StringBuilder shape = new StringBuilder();
            for (long v : host.shape()) shape.append(shape.isEmpty() ? "" : "x").append(v);
            return " " + key + "=" + file + ":" + host.dtype() + ":" + (shape.isEmpty() ? "scalar" : shape);
        }
    }
}
