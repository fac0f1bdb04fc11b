package dev.jnce.bench;

import dev.jnce.Backends;
import dev.jnce.Tensor;
import dev.jnce.ops.Matmul;

import java.util.Arrays;

/**
 * The GEMM of {@link SimilarityBench#gemm} ({@code S (N,N) = A (N,D) . B (N,D)^T}, 2 N^2 D flops,
 * into a buffer) on two backends in one JVM, one call of each in turn, A B then B A, for the
 * ratio of their rates: as {@link BackendPairProbe} explains, separate JVMs minutes apart on
 * this shared machine compare two draws of its state, calls taken in turn see the same one.
 * Threads: jnce's thread count (-Djnce.threads / JNCE_NUM_THREADS) and OpenBLAS's
 * (OPENBLAS_NUM_THREADS), set alike by the caller.
 *
 * <pre>java -cp benchmarks.jar dev.jnce.bench.GemmPairProbe A B N D [PAIRS] [WARMUP]</pre>
 * Defaults 20 pairs after 5 untimed calls of each. Prints one line per pair
 * ({@code pair k A_ms B_ms B/A}) and a summary, {@code gemm N D A B median_A_ms median_B_ms
 * median_B/A min max GFLOP/s_A GFLOP/s_B}: B/A is A's rate over B's.
 */
public final class GemmPairProbe {
    private GemmPairProbe() {
    }

    public static void main(String[] args) {
        String[] names = {args[0], args[1]};
        int n = Integer.parseInt(args[2]), d = Integer.parseInt(args[3]);
        int pairs = args.length > 4 ? Integer.parseInt(args[4]) : 20, warmup = args.length > 5 ? Integer.parseInt(args[5]) : 5;
        try (Fixture fixture = new Fixture()) {
            Tensor a = fixture.gaussian(1f, n, d), b = fixture.gaussian(1f, n, d), s = fixture.zeros(n, n);
            Matmul[] m = {Matmul.create().withBackend(Backends.get(names[0])), Matmul.create().withBackend(Backends.get(names[1]))};
            for (int w = 0; w < warmup; w++) for (Matmul x : m) x.gemm(false, true, 1f, a, b, 0f, s);
            double[] ta = new double[pairs], tb = new double[pairs], ratio = new double[pairs];
            for (int k = 0; k < pairs; k++) {
                for (int turn = 0; turn < 2; turn++) {
                    int first = (k + turn) % 2; // A B, then B A
                    long start = System.nanoTime();
                    m[first].gemm(false, true, 1f, a, b, 0f, s);
                    double ms = (System.nanoTime() - start) / 1e6;
                    if (first == 0) ta[k] = ms;
                    else tb[k] = ms;
                }
                ratio[k] = tb[k] / ta[k];
                System.out.printf("pair %d %.3f %.3f %.4f%n", k, ta[k], tb[k], ratio[k]);
            }
            double[] sa = ta.clone(), sb = tb.clone(), sr = ratio.clone();
            Arrays.sort(sa);
            Arrays.sort(sb);
            Arrays.sort(sr);
            double flops = 2.0 * n * n * d;
            System.out.printf("gemm %d %d %s %s %.3f %.3f %.4f %.4f %.4f %.1f %.1f%n", n, d, names[0], names[1], sa[pairs / 2],
                    sb[pairs / 2], sr[pairs / 2], sr[0], sr[pairs - 1], flops / sa[pairs / 2] / 1e6, flops / sb[pairs / 2] / 1e6);
        }
    }
}
