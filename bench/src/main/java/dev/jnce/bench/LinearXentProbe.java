package dev.jnce.bench;

import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.SimilarityKernels;
import dev.jnce.loss.LinearCrossEntropy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Fused linear cross-entropy forward+backward ({@link LinearCrossEntropy}: hidden (N,D),
 * classifier (V,D), bias (V), targets (N)) against the three GEMMs it needs at the same shapes
 * (S = h Wᵀ, dH = G W, dW = Gᵀ h, with S and G one (N,V) buffer), and the peak resident memory
 * the loss adds, in a fresh JVM: what bench/scripts/linear_xent_vs_torch.sh prints beside PyTorch.
 * The GEMM reference holds the whole (N,V) matrix, so it runs only when N·V·4 bytes fit in
 * GEMM_LIMIT (8 GiB); it alternates with the loss, rep by rep, after the loss's peak is read.
 *
 * <pre>java -cp benchmarks.jar dev.jnce.bench.LinearXentProbe BACKEND N D V REPS [BLOCK_ROWS [BIAS]]</pre>
 * BLOCK_ROWS: {@link LinearCrossEntropy#withBlockRows} (default 0: about 64 MiB of logits); BIAS:
 * 1 (default) with a bias b, 0 without.
 * Prints {@code jnce BACKEND linear N D V seconds peak_added_bytes},
 * {@code jnce BACKEND linear-blas N D V seconds} and {@code jnce BACKEND linear-blas-blocked N D V
 * seconds rows}: the same three GEMMs over the loss's row blocks (rows at a time, dW accumulated),
 * what blocking alone costs on this BLAS (best of REPS each). The default block is about 64 MiB
 * of logits, as the loss's without a soft-cap. {@code jnce BACKEND linear-warm-blas N D V bytes}: the
 * loss's peak added memory in one more step, once OpenBLAS's per-thread packing buffers exist (the
 * first peak includes them: any program's first large GEMMs touch them); -1 where the peak cannot
 * be reset.
 */
public final class LinearXentProbe {
    private static final long GEMM_LIMIT = 8L << 30;

    private LinearXentProbe() {
    }

    public static void main(String[] args) throws IOException {
        String backend = args[0];
        int n = Integer.parseInt(args[1]), d = Integer.parseInt(args[2]), v = Integer.parseInt(args[3]);
        int reps = Integer.parseInt(args[4]);
        long blockRows = args.length > 5 ? Long.parseLong(args[5]) : 0;
        boolean withBias = args.length <= 6 || !args[6].equals("0");
        Kernels k = (Kernels) Backends.get(backend);
        Tensor h = InfoNceProbe.random(n, d, 1), w = InfoNceProbe.random(v, d, 2), b = InfoNceProbe.random(1, v, 3).reshape(v);
        k.similarity().scale(0.03f, w); // logits of a few units, as a trained head's
        long[] targets = new long[n];
        for (int i = 0; i < n; i++) targets[i] = (i * 7919L) % v;
        Tensor y = Tensor.of(targets);
        long before = InfoNceProbe.peakRss();
        LinearCrossEntropy loss = LinearCrossEntropy.create().withBackend(k).withBlockRows(blockRows);
        boolean gemms = (long) n * v * 4 <= GEMM_LIMIT;
        // the loss and its GEMMs alternate, so that both see the same machine (a shared VM drifts)
        Tensor s = null, dh = null, dw = null;
        double best = Double.MAX_VALUE, blas = Double.MAX_VALUE, blocked = Double.MAX_VALUE;
        long block = loss.blockRows(n, v); // the loss's rows
        long peak = 0;
        try {
            for (int r = 0; r < reps; r++) {
                long start = System.nanoTime();
                try (LinearCrossEntropy.Result res = loss.forwardBackward(h, w, withBias ? b : null, y)) {
                    res.loss().item();
                }
                best = Math.min(best, (System.nanoTime() - start) / 1e9);
                if (r == 0) peak = InfoNceProbe.peakRss() - before; // before the GEMMs' (N, V) matrix exists
                if (!gemms) continue;
                if (s == null) {
                    s = Tensor.zerosUnscoped(DType.FLOAT32, n, v);
                    dh = Tensor.zerosUnscoped(DType.FLOAT32, n, d);
                    dw = Tensor.zerosUnscoped(DType.FLOAT32, v, d);
                }
                SimilarityKernels sim = k.similarity();
                start = System.nanoTime();
                sim.gemm(false, true, 1f, h, w, 0f, s);
                sim.gemm(false, false, 1f, s, w, 0f, dh);
                sim.gemm(true, false, 1f, s, h, 0f, dw);
                blas = Math.min(blas, (System.nanoTime() - start) / 1e9);
                // the same GEMMs in the loss's row blocks, nothing else: what blocking alone costs
                Tensor sb = s.rows(0, block);
                start = System.nanoTime();
                for (long r0 = 0; r0 < n; r0 += block) {
                    long rows = Math.min(block, n - r0);
                    Tensor g = rows == block ? sb : s.rows(0, rows), hb = h.rows(r0, rows);
                    sim.gemm(false, true, 1f, hb, w, 0f, g);
                    sim.gemm(false, false, 1f, g, w, 0f, dh.rows(r0, rows));
                    sim.gemm(true, false, 1f, g, hb, r0 == 0 ? 0f : 1f, dw);
                }
                blocked = Math.min(blocked, (System.nanoTime() - start) / 1e9);
            }
        } finally {
            for (Tensor t : new Tensor[] {s, dh, dw}) if (t != null) t.close();
        }
        // the loss's own peak once OpenBLAS's per-thread packing buffers exist (the first GEMMs touch
        // them, in any program): the high-water mark reset (/proc/self/clear_refs), one more step
        long own = -1;
        if (resetPeakRss()) {
            long base = rss();
            try (LinearCrossEntropy.Result res = loss.forwardBackward(h, w, withBias ? b : null, y)) {
                res.loss().item();
            }
            own = InfoNceProbe.peakRss() - base;
        }
        System.out.printf("jnce %s linear %d %d %d %.6f %d%n", backend, n, d, v, best, peak);
        System.out.printf("jnce %s linear-warm-blas %d %d %d %d%n", backend, n, d, v, own);
        if (gemms) System.out.printf("jnce %s linear-blas %d %d %d %.6f%n", backend, n, d, v, blas);
        if (gemms) System.out.printf("jnce %s linear-blas-blocked %d %d %d %.6f %d%n", backend, n, d, v, blocked, block);
    }

    /** Resets this process's peak resident set (VmHWM) to its current size; false where Linux refuses. */
    private static boolean resetPeakRss() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    private static long rss() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
        return -1;
    }
}
