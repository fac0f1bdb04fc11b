package dev.jnce.bench;

import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.SimilarityKernels;
import dev.jnce.loss.ClipLoss;
import dev.jnce.loss.EmbeddingResult;
import dev.jnce.loss.InfoNce;
import dev.jnce.loss.NtXent;
import dev.jnce.loss.PairedResult;
import dev.jnce.loss.SigLipLoss;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * InfoNCE forward+backward (cosine, tau 0.07) against the BLAS calls it needs, and the peak
 * resident memory it adds, in a fresh JVM: what bench/scripts/infonce_vs_torch.sh prints beside
 * PyTorch. (JMH cannot see off-heap peaks, hence this probe.) FORM is
 * <ul>
 * <li>{@code infonce}: two towers, queries and keys (N,D); its BLAS: three GEMMs (S = q kᵀ,
 *     dq = G k, dk = Gᵀ q);</li>
 * <li>{@code onetensor}: one tensor (N,D), positives on the diagonal of f fᵀ / tau; its BLAS: SYRK (the lower
 *     triangle of f fᵀ) and one GEMM ((G + Gᵀ) f);</li>
 * <li>{@code ntxent}: N views = both views of N/2 samples (SimCLR); BLAS as onetensor.</li>
 * <li>{@code supcon}: one tensor with labels i mod (N/8) (supervised contrastive, 8 rows a
 *     class); BLAS as onetensor.</li>
 * <li>{@code labels}: two towers, query and key labels i mod (N/8) (several positives per row,
 *     8 a row); BLAS as infonce.</li>
 * <li>{@code clip}: CLIP's symmetric loss ({@link ClipLoss}, logit scale 1/0.07) over two towers;
 *     BLAS as infonce.</li>
 * <li>{@code siglip}: SigLIP's pairwise sigmoid loss ({@link SigLipLoss}, scale 10, bias -10)
 *     over two towers; BLAS as infonce.</li>
 * <li>{@code negatives}: explicit negatives, queries and positives (N,D) and K = 64 negatives
 *     per query (N,K,D); no GEMM (its "BLAS" line times the three GEMMs of an N×N batch, for
 *     scale only).</li>
 * </ul>
 *
 * <pre>java -cp benchmarks.jar dev.jnce.bench.InfoNceProbe BACKEND N D REPS [FORM [BLOCK_ROWS]]</pre>
 * BLOCK_ROWS: {@link InfoNce#withBlockRows} (default 0: automatic for two tensors, the symmetric
 * path for one; below N the one-tensor forms sweep blocks too).
 * Prints: {@code jnce BACKEND FORM N D seconds peak_added_bytes} and
 * {@code jnce BACKEND FORM-blas N D seconds} (best of REPS each, after WARMUP = 2 untimed steps on each side),
 * then {@code jnce BACKEND FORM-paired N D median min max pairs=7}: the step's time over its BLAS
 * calls' in PAIRS pairs run back to back in alternating order (the median is the ratio to judge:
 * both sides of a pair see the machine in the same state), and, where the form's passes sweep
 * N×N logits (BLOCK_ROWS 0), {@code jnce BACKEND FORM-traffic N D seconds}: the least memory
 * traffic of those passes alone ({@link #passFloats}), best of REPS, so that BLAS + traffic is
 * the step's limit on this machine.
 */
public final class InfoNceProbe {
    /** Where the traffic probe's reads go, so that they are not optimised away. */
    static volatile long sink;

    /** K of the negatives form. */
    private static final int NEGATIVES = 64;

    private InfoNceProbe() {
    }

    public static void main(String[] args) throws IOException {
        String backend = args[0];
        int n = Integer.parseInt(args[1]), d = Integer.parseInt(args[2]), reps = Integer.parseInt(args[3]);
        String form = args.length > 4 ? args[4] : "infonce";
        long blockRows = args.length > 5 ? Long.parseLong(args[5]) : 0;
        Kernels k = (Kernels) Backends.get(backend);
        boolean twoTowers = form.equals("infonce") || form.equals("labels") || form.equals("clip") || form.equals("siglip")
                || form.equals("negatives");
        Tensor q = random(n, d, 1), keys = twoTowers ? random(n, d, 2) : q;
        long[] labels = new long[n];
        for (int i = 0; i < n; i++) labels[i] = i % (n / 8);
        Tensor classes = Tensor.of(labels);
        Tensor negatives = form.equals("negatives")
                ? Tensor.wrap(random(n * NEGATIVES, d, 3).segment(), DType.FLOAT32, n, NEGATIVES, d) : null;
        long before = peakRss();
        InfoNce loss = InfoNce.create().withTemperature(0.07f).withBackend(k).withBlockRows(blockRows);
        NtXent ntXent = NtXent.create().withTemperature(0.07f).withBackend(k).withBlockRows(blockRows);
        ClipLoss clip = ClipLoss.create().withLogitScale(1 / 0.07f).withBackend(k);
        SigLipLoss sigLip = SigLipLoss.create().withBackend(k);
        // WARMUP untimed steps first: the first steps fault in the workspace, OpenBLAS's buffers and
        // the JIT's code (seen: 2.07, 0.81, 0.76 s, then 0.69-0.70 s a step at N=16384, D=128)
        double best = Double.MAX_VALUE;
        for (int r = -WARMUP; r < reps; r++) {
            double t = step(form, loss, ntXent, clip, sigLip, q, keys, classes, negatives);
            if (r >= 0) best = Math.min(best, t);
        }
        long peak = peakRss() - before;
        System.out.printf("jnce %s %s %d %d %.6f %d%n", backend, form, n, d, best, peak);

        try (Tensor s = Tensor.zerosUnscoped(DType.FLOAT32, n, n); Tensor dq = Tensor.zerosUnscoped(DType.FLOAT32, n, d);
             Tensor dk = Tensor.zerosUnscoped(DType.FLOAT32, n, d)) {
            SimilarityKernels sim = k.similarity();
            double blas = Double.MAX_VALUE;
            for (int r = -WARMUP; r < reps; r++) { // warmed up as the step is
                double t = blas(sim, twoTowers, q, keys, s, dq, dk);
                if (r >= 0) blas = Math.min(blas, t);
            }
            System.out.printf("jnce %s %s-blas %d %d %.6f%n", backend, form, n, d, blas);
            // the step and its BLAS calls in alternating order, each pair seeing the machine in the
            // same state: the median of the pairs' ratios (this VM's speed moves by 10-30% within
            // minutes, which the two best-of figures above, taken a minute apart, fold into their ratio)
            double[] ratios = new double[PAIRS];
            for (int r = 0; r < PAIRS; r++) {
                boolean stepFirst = r % 2 == 0;
                double t1 = stepFirst ? step(form, loss, ntXent, clip, sigLip, q, keys, classes, negatives)
                        : blas(sim, twoTowers, q, keys, s, dq, dk);
                double t2 = stepFirst ? blas(sim, twoTowers, q, keys, s, dq, dk)
                        : step(form, loss, ntXent, clip, sigLip, q, keys, classes, negatives);
                ratios[r] = stepFirst ? t1 / t2 : t2 / t1;
            }
            java.util.Arrays.sort(ratios);
            System.out.printf("jnce %s %s-paired %d %d %.4f %.4f %.4f pairs=%d%n", backend, form, n, d, ratios[PAIRS / 2],
                    ratios[0], ratios[PAIRS - 1], PAIRS);
            long[] floats = passFloats(form, n);
            if (floats != null && blockRows == 0) {
                try (Tensor to = Tensor.zerosUnscoped(DType.FLOAT32, n, n)) {
                    double traffic = Double.MAX_VALUE;
                    for (int r = -WARMUP; r < reps; r++) {
                        double t = traffic(s.segment(), to.segment(), floats[0], floats[1]);
                        if (r >= 0) traffic = Math.min(traffic, t);
                    }
                    System.out.printf("jnce %s %s-traffic %d %d %.6f%n", backend, form, n, d, traffic);
                }
            }
        }
    }

    /**
     * The least memory traffic of the form's passes over the logits beyond what its BLAS calls
     * move, as {floats read, floats read and written}: the one-tensor forms read the lower
     * triangle once (row statistics) and read and write it once (the gradient over it); two
     * towers and SigLIP read the N×N logits once and write the gradient once; CLIP reads them
     * once more for its column statistics. Null where the form has no N×N pass (explicit negatives).
     */
    static long[] passFloats(String form, long n) {
        long all = n * n, lower = n * (n + 1) / 2;
        return switch (form) {
            case "onetensor", "ntxent", "supcon" -> new long[] {lower, lower};
            case "infonce", "labels", "siglip" -> new long[] {0, all};
            case "clip" -> new long[] {all, all};
            default -> null;
        };
    }

    /**
     * Seconds to read {@code read} floats of {@code from} (one load a 64-byte line) and copy
     * {@code copy} floats of it into {@code to}, each split over the jnce thread count
     * ({@code JNCE_NUM_THREADS}, else the processors): the memory limit of the passes, measured
     * beside the step in the same JVM.
     */
    static double traffic(MemorySegment from, MemorySegment to, long read, long copy) {
        int threads = Math.min(Backends.threads(), 64); // the native kernels use at most 64
        long[] sums = new long[threads];
        Thread[] workers = new Thread[threads];
        long start = System.nanoTime();
        for (int w = 0; w < threads; w++) {
            int id = w;
            workers[w] = Thread.ofPlatform().start(() -> {
                long r0 = read * id / threads * 4 & -64, r1 = read * (id + 1) / threads * 4 & -64;
                long acc = 0;
                for (long off = r0; off < r1; off += 64) acc += from.get(ValueLayout.JAVA_LONG, off);
                long c0 = copy * id / threads * 4, c1 = copy * (id + 1) / threads * 4;
                MemorySegment.copy(from, c0, to, c0, c1 - c0);
                sums[id] = acc;
            });
        }
        for (Thread t : workers) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        sink = java.util.Arrays.stream(sums).sum(); // the reads are used
        return seconds;
    }

    /** One timed step of the form, in seconds. */
    static double step(String form, InfoNce loss, NtXent ntXent, ClipLoss clip, SigLipLoss sigLip, Tensor q,
                               Tensor keys, Tensor classes, Tensor negatives) {
        long start = System.nanoTime();
        if (form.equals("clip") || form.equals("siglip")) {
            try (PairedResult res = form.equals("clip") ? clip.forwardBackward(q, keys) : sigLip.forwardBackward(q, keys)) {
                res.loss().item();
            }
        } else if (form.equals("onetensor") || form.equals("ntxent") || form.equals("supcon")) {
            try (EmbeddingResult res = switch (form) {
                case "onetensor" -> loss.forwardBackward(q);
                case "ntxent" -> ntXent.forwardBackward(q);
                default -> loss.forwardBackwardLabels(q, classes);
            }) {
                res.loss().item();
            }
        } else {
            try (InfoNce.Result res = switch (form) {
                case "infonce" -> loss.forwardBackward(q, keys);
                case "labels" -> loss.forwardBackwardLabels(q, keys, classes, classes);
                case "negatives" -> loss.forwardBackwardNegatives(q, keys, negatives);
                default -> throw new IllegalArgumentException("FORM: infonce, onetensor, ntxent, supcon, labels, clip, siglip or negatives, not " + form);
            }) {
                res.loss().item();
            }
        }
        return (System.nanoTime() - start) / 1e9;
    }

    /** The BLAS calls the step makes, timed, in seconds: three GEMMs for two towers, SYRK + one GEMM for one tensor. */
    private static double blas(SimilarityKernels sim, boolean twoTowers, Tensor q, Tensor keys, Tensor s, Tensor dq, Tensor dk) {
        long start = System.nanoTime();
        if (twoTowers) {
            sim.gemm(false, true, 1f, q, keys, 0f, s);
            sim.gemm(false, false, 1f, s, keys, 0f, dq);
            sim.gemm(true, false, 1f, s, q, 0f, dk);
        } else {
            sim.syrk(1f, q, s);
            sim.gemm(false, false, 1f, s, q, 0f, dq);
        }
        return (System.nanoTime() - start) / 1e9;
    }

    /** Step and BLAS pairs timed back to back for the paired ratio (odd: its median is one pair's). */
    static final int PAIRS = 7;

    /** Untimed steps before the timed ones, on both sides. */
    static final int WARMUP = 2;

    static Tensor random(int n, int d, long seed) {
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
