package dev.jnce.bench;

import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.loss.TripletMarginLoss;
import dev.jnce.ops.HardNegatives;

import java.io.IOException;

/**
 * The two pair ops that have no GEMM (triplet margin loss and hard-negative mining), timed in a fresh JVM with the peak resident memory
 * they add (as {@link InfoNceProbe} does), for bench/scripts/pair_ops_vs_torch.sh:
 * <ul>
 * <li>{@code triplet}: {@link TripletMarginLoss} forward+backward (p = 2, margin 1, MEAN) over
 *     anchor, positive, negative (N,D);</li>
 * <li>{@code mining}: {@link HardNegatives#mine} of the K = D most similar non-positive keys per
 *     query from an (N,N) similarity matrix (positives on the diagonal).</li>
 * </ul>
 *
 * <pre>java -cp benchmarks.jar dev.jnce.bench.PairOpsProbe BACKEND FORM N D REPS</pre>
 * Prints {@code jnce BACKEND FORM N D seconds peak_added_bytes} (best of REPS).
 */
public final class PairOpsProbe {
    private PairOpsProbe() {
    }

    public static void main(String[] args) throws IOException {
        String backend = args[0], form = args[1];
        int n = Integer.parseInt(args[2]), d = Integer.parseInt(args[3]), reps = Integer.parseInt(args[4]);
        Kernels k = (Kernels) Backends.get(backend);
        boolean mining = switch (form) {
            case "triplet" -> false;
            case "mining" -> true;
            default -> throw new IllegalArgumentException("FORM: triplet or mining, not " + form);
        };
        Tensor a = mining ? InfoNceProbe.random(n, n, 1) : InfoNceProbe.random(n, d, 1);
        Tensor p = mining ? null : InfoNceProbe.random(n, d, 2), neg = mining ? null : InfoNceProbe.random(n, d, 3);
        TripletMarginLoss triplet = TripletMarginLoss.create().withBackend(k);
        HardNegatives miner = HardNegatives.create(d).withBackend(k);
        long before = InfoNceProbe.peakRss();
        double best = Double.MAX_VALUE;
        for (int r = 0; r < reps; r++) {
            long start = System.nanoTime();
            if (mining) {
                try (Tensor indices = miner.mine(a)) {
                    indices.segment();
                }
            } else {
                try (TripletMarginLoss.Result res = triplet.forwardBackward(a, p, neg)) {
                    res.loss().item();
                }
            }
            best = Math.min(best, (System.nanoTime() - start) / 1e9);
        }
        System.out.printf("jnce %s %s %d %d %.6f %d%n", backend, form, n, d, best, InfoNceProbe.peakRss() - before);
    }
}
