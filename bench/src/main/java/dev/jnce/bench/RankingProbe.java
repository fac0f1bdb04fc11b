package dev.jnce.bench;

import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.metrics.BinaryScores;
import dev.jnce.metrics.ItemSets;
import dev.jnce.metrics.TopK;
import dev.jnce.ops.Matmul;

import java.io.IOException;
import java.util.SplittableRandom;

/**
 * The evaluation metrics' two heavy steps, timed for bench/scripts/ranking_vs_torch.sh:
 * <ul>
 * <li>{@code topk}: {@link TopK#fromEmbeddings} of the K best of M items for N queries, scores
 *     queries (N,D) · items (M,D)ᵀ in row blocks, E random items excluded per query; beside it
 *     ({@code topk-blas}) the same row blocks' GEMMs alone into the same buffer, the floor the
 *     fused sweep is judged against. Both in this JVM, alternating, best of REPS each.</li>
 * <li>{@code auc}: {@link BinaryScores#rocAuc} of N float32 scores (Gaussian, labels 1 with
 *     probability 0.3, scores of positives shifted by 0.5), the sort included.</li>
 * </ul>
 *
 * <pre>java -cp benchmarks.jar dev.jnce.bench.RankingProbe BACKEND topk N M D K REPS [BLOCK_ROWS]
 * java -cp benchmarks.jar dev.jnce.bench.RankingProbe BACKEND auc N REPS</pre>
 * Prints {@code jnce BACKEND topk N M D K seconds peak_added_bytes blockRows=R} and
 * {@code jnce BACKEND topk-blas N M D K seconds}, or {@code jnce BACKEND auc N seconds}.
 */
public final class RankingProbe {
    static final int EXCLUDED_PER_QUERY = 20;

    private RankingProbe() {
    }

    public static void main(String[] args) throws IOException {
        String backend = args[0], form = args[1];
        Kernels k = (Kernels) Backends.get(backend);
        if (form.equals("auc")) {
            auc(backend, Integer.parseInt(args[2]), Integer.parseInt(args[3]));
            return;
        }
        if (!form.equals("topk")) throw new IllegalArgumentException("FORM: topk or auc, not " + form);
        int n = Integer.parseInt(args[2]), m = Integer.parseInt(args[3]), d = Integer.parseInt(args[4]);
        int top = Integer.parseInt(args[5]), reps = Integer.parseInt(args[6]);
        int blockRows = args.length > 7 ? Integer.parseInt(args[7]) : 0;
        Tensor queries = InfoNceProbe.random(n, d, 1), items = InfoNceProbe.random(m, d, 2);
        ItemSets exclude = exclusions(n, m, 3);
        TopK selector = TopK.of(top).withBackend(k).withBlockRows(blockRows);
        int rows = selector.blockRows(n, m);
        Matmul matmul = Matmul.create().withBackend(k);
        long before = InfoNceProbe.peakRss();
        double best = Double.MAX_VALUE, bestBlas = Double.MAX_VALUE;
        long peak = 0;
        for (int r = 0; r < reps; r++) {
            long start = System.nanoTime();
            try (Tensor indices = selector.fromEmbeddings(queries, items, exclude)) {
                indices.segment();
            }
            best = Math.min(best, (System.nanoTime() - start) / 1e9);
            peak = Math.max(peak, InfoNceProbe.peakRss() - before);
            start = System.nanoTime();
            try (Tensor block = Tensor.zerosUnscoped(DType.FLOAT32, rows, m)) { // the sweep's GEMMs alone
                for (long r0 = 0; r0 < n; r0 += rows) {
                    long b = Math.min(rows, n - r0);
                    matmul.gemm(false, true, 1f, queries.rows(r0, b), items, 0f, block.rows(0, b));
                }
            }
            bestBlas = Math.min(bestBlas, (System.nanoTime() - start) / 1e9);
        }
        System.out.printf("jnce %s topk %d %d %d %d %.6f %d blockRows=%d%n", backend, n, m, d, top, best, peak, rows);
        System.out.printf("jnce %s topk-blas %d %d %d %d %.6f%n", backend, n, m, d, top, bestBlas);
    }

    /** EXCLUDED_PER_QUERY random items per query (repeats possible), as training interactions would be. */
    static ItemSets exclusions(int n, int m, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int[][] rows = new int[n][EXCLUDED_PER_QUERY];
        for (int[] row : rows) for (int e = 0; e < row.length; e++) row[e] = random.nextInt(m);
        return ItemSets.of(rows);
    }

    private static void auc(String backend, int n, int reps) {
        SplittableRandom random = new SplittableRandom(4);
        float[] scores = new float[n];
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            labels[i] = random.nextDouble() < 0.3 ? 1 : 0;
            scores[i] = (float) (random.nextGaussian() + 0.5 * labels[i]);
        }
        double best = Double.MAX_VALUE, auc = 0;
        for (int r = 0; r < reps; r++) {
            long start = System.nanoTime();
            auc = BinaryScores.of(scores, labels).rocAuc();
            best = Math.min(best, (System.nanoTime() - start) / 1e9);
        }
        System.out.printf("jnce %s auc %d %.6f auc=%.6f%n", backend, n, best, auc);
    }
}
