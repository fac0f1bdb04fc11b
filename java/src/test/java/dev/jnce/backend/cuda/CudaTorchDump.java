package dev.jnce.backend.cuda;

import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.backend.CrossEntropyCall;
import dev.jnce.Reduction;
import dev.jnce.testutil.Reductions;

import java.io.IOException;
import java.io.Writer;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Runs every GPU op of the CUDA backend on fixed inputs and writes inputs and outputs as raw
 * little-endian files plus a manifest, for bench/gpu/compare_torch.py to recompute with PyTorch
 * on the same GPU (forward and gradients). Then times the speed shapes of CudaTiming unless told not to
 * (adding its N=32768 InfoNCE outputs to the manifest, for the float64 reference).
 *
 * <p>{@code java ... dev.jnce.backend.cuda.CudaTorchDump <out-dir> [--no-timing]}; with {@code --host}, only
 * {@link OpCases} on the cpu backend (no GPU needed), for {@code JNCE_TORCH_DEVICE=cpu compare_torch.py}.
 */
public final class CudaTorchDump {
    private final Path dir;
    private final CudaBackend gpu;
    private final List<String> manifest = new ArrayList<>();

    private CudaTorchDump(Path dir, CudaBackend gpu) {
        this.dir = dir;
        this.gpu = gpu;
    }

    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args[0]);
        Files.createDirectories(dir);
        if (List.of(args).contains("--host")) { // OpCases on the cpu backend: checks compare_torch.py where no GPU is
            List<String> lines = new ArrayList<>();
            try (TensorScope scope = TensorScope.open()) {
                new OpCases((dev.jnce.backend.Kernels) Backends.get("cpu"), dev.jnce.Device.HOST, dir, lines).all();
            }
            Files.write(dir.resolve("manifest.txt"), lines);
            System.out.println("wrote " + lines.size() + " host cases to " + dir);
            return;
        }
        CudaBackend gpu = (CudaBackend) Backends.get("cuda");
        System.out.println("device: " + gpu.description());
        CudaTorchDump d = new CudaTorchDump(dir, gpu);
        try (TensorScope scope = TensorScope.open()) {
            d.crossEntropyCases();
            d.normalizeCase();
            for (GemmMode m : GemmMode.values()) d.gemmCase(m);
            d.infoNceCase(256, 128, 0.07f);
            new OpCases(gpu, dev.jnce.Device.cuda(0), dir, d.manifest).all();
        }
        System.out.println("wrote " + d.manifest.size() + " cases to " + dir);
        if (!List.of(args).contains("--no-timing")) CudaTiming.run(gpu, dir.resolve("jnce_timing.txt"), dir, d.manifest);
        try (Writer w = Files.newBufferedWriter(dir.resolve("manifest.txt"))) {
            for (String line : d.manifest) w.write(line + "\n");
        }
    }

    private void crossEntropyCases() throws IOException {
        long[][] shapes = {{64, 1000}, {16, 32003}, {8, 131072}};
        String[] configs = {"plain", "weight+ignore", "smooth", "probs+smooth", "mask+zloss+lse", "weight+smooth+ignore"};
        int k = 0;
        for (long[] s : shapes) {
            for (String cfg : configs) {
                for (Reduction r : Reductions.all()) ceCase("ce" + k++, s[0], s[1], cfg, r);
            }
        }
    }

    private void ceCase(String name, long n, long c, String cfg, Reduction r) throws IOException {
        Tensor logits = Tensor.of(CudaTestSupport.normal(n * 13 + c, (int) (n * c), 3.0), n, c);
        boolean probs = cfg.contains("probs"), weight = cfg.contains("weight"), ignore = cfg.contains("ignore");
        boolean mask = cfg.contains("mask"), lse = cfg.contains("lse");
        float smoothing = cfg.contains("smooth") ? 0.1f : 0f, zLoss = cfg.contains("zloss") ? 1e-3f : 0f;
        Tensor targets = null, p = null, w = null, m = null;
        if (probs) {
            p = Tensor.of(CudaCrossEntropyTest.softmax(CudaTestSupport.normal(n + c, (int) (n * c), 1.0), (int) c), n, c);
        } else {
            long[] y = new long[(int) n];
            for (int i = 0; i < n; i++) y[i] = ignore && i % 5 == 3 ? -100 : (i * 7919L) % c;
            targets = Tensor.of(y);
        }
        if (weight) {
            float[] wv = CudaTestSupport.normal(c + 1, (int) c, 0.5);
            for (int j = 0; j < c; j++) wv[j] = Math.abs(wv[j]) + 0.25f;
            w = Tensor.of(wv);
        }
        if (mask) {
            int[] mv = new int[(int) n];
            for (int i = 0; i < n; i++) mv[i] = i % 4 == 0 ? 0 : 1;
            m = Tensor.of(mv);
        }
        var dev = CudaTestSupport.device();
        Tensor loss = r == Reduction.NONE ? Tensor.zeros(dev, DType.FLOAT32, n) : Tensor.zeros(dev, DType.FLOAT32);
        Tensor grad = Tensor.zeros(dev, DType.FLOAT32, n, c);
        Tensor l = lse ? Tensor.zeros(dev, DType.FLOAT32, n) : null;
        gpu.crossEntropy().crossEntropy(new CrossEntropyCall(logits.to(dev), CudaTestSupport.onGpu(targets),
                CudaTestSupport.onGpu(p), CudaTestSupport.onGpu(m), CudaTestSupport.onGpu(w), -100, smoothing, zLoss, r,
                false, loss, grad, l));
        StringBuilder line = new StringBuilder(String.format(Locale.ROOT,
                "op=cross_entropy name=%s N=%d C=%d reduction=%s smoothing=%s z_loss=%s", name, n, c, r, smoothing, zLoss));
        line.append(save(name, "logits", logits)).append(save(name, "targets", targets)).append(save(name, "probs", p))
                .append(save(name, "weight", w)).append(save(name, "mask", m)).append(save(name, "loss", loss))
                .append(save(name, "grad", grad)).append(save(name, "lse", l));
        manifest.add(line.toString());
    }

    private void normalizeCase() throws IOException {
        int n = 300, d = 768;
        float[] xv = CudaTestSupport.normal(3, n * d, 1.0);
        for (int j = 0; j < d; j++) xv[j] = 0; // row 0 is zero: the clamped branch
        Tensor x = Tensor.of(xv, n, d), dy = Tensor.of(CudaTestSupport.normal(4, n * d, 1.0), n, d);
        var dev = CudaTestSupport.device();
        Tensor y = Tensor.zeros(dev, DType.FLOAT32, n, d), dx = Tensor.zeros(dev, DType.FLOAT32, n, d);
        gpu.similarity().normalize(x.to(dev), 1e-12f, y);
        gpu.similarity().normalizeBackward(x.to(dev), dy.to(dev), 1e-12f, dx);
        manifest.add("op=normalize name=norm N=" + n + " D=" + d + " eps=1e-12" + save("norm", "x", x)
                + save("norm", "dy", dy) + save("norm", "y", y) + save("norm", "dx", dx));
    }

    private void gemmCase(GemmMode mode) throws IOException {
        int m = 512, n = 384, k = 640;
        String name = "gemm_" + mode.name().toLowerCase(Locale.ROOT);
        Tensor a = Tensor.of(CudaTestSupport.normal(5, m * k, 1.0), m, k), b = Tensor.of(CudaTestSupport.normal(6, n * k, 1.0), n, k);
        Tensor c = Tensor.zeros(CudaTestSupport.device(), DType.FLOAT32, m, n);
        CudaBackend modal = mode == GemmMode.FP32 ? gpu : new CudaBackend(0, mode);
        modal.similarity().gemm(false, true, 1f, a.to(c.device()), b.to(c.device()), 0f, c);
        manifest.add("op=gemm name=" + name + " mode=" + mode + " M=" + m + " N=" + n + " K=" + k + " transB=1"
                + save(name, "a", a) + save(name, "b", b) + save(name, "c", c));
    }

    /** Normalize, similarity GEMM / t, CE with the diagonal as targets, and the whole backward on the GPU. */
    private void infoNceCase(int n, int d, float t) throws IOException {
        var dev = CudaTestSupport.device();
        Tensor q = Tensor.of(CudaTestSupport.normal(7, n * d, 1.0), n, d), k = Tensor.of(CudaTestSupport.normal(8, n * d, 1.0), n, d);
        long[] y = new long[n];
        for (int i = 0; i < n; i++) y[i] = i;
        InfoNce.Result r = InfoNce.forwardBackward(gpu, q.to(dev), k.to(dev), Tensor.of(y).to(dev), t);
        manifest.add("op=infonce name=infonce N=" + n + " D=" + d + " temperature=" + t + save("infonce", "q", q)
                + save("infonce", "k", k) + save("infonce", "loss", r.loss()) + save("infonce", "dq", r.dq())
                + save("infonce", "dk", r.dk()));
    }

    /** Writes the tensor (copied to the host) as raw little-endian bytes; " key=file:dtype:shape" or "". */
    private String save(String name, String key, Tensor t) throws IOException {
        if (t == null) return "";
        Tensor host = t.to(dev.jnce.Device.HOST);
        String file = name + "_" + key + ".bin";
        MemorySegment s = host.segment();
        Files.write(dir.resolve(file), s.toArray(ValueLayout.JAVA_BYTE));
        StringBuilder shape = new StringBuilder();
        for (long v : host.shape()) shape.append(shape.isEmpty() ? "" : "x").append(v);
        return " " + key + "=" + file + ":" + host.dtype() + ":" + (shape.isEmpty() ? "scalar" : shape);
    }
}
