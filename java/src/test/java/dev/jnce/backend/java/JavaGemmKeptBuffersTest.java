package dev.jnce.backend.java;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The GEMM keeps the packing buffers of small products for its thread's next call: products of
 * shapes that grow, shrink and change transposes, one after the other on one thread and on
 * several threads at once, each against a float64 reference, so that a kept buffer's stale
 * contents or another thread's never reach a result.
 */
class JavaGemmKeptBuffersTest {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    /** (m, n, k): small ones kept, a large one (above the kept size) between them, then small again. */
    private static final int[][] SHAPES = {{32, 32, 128}, {7, 5, 3}, {32, 64, 128}, {64, 64, 64}, {1, 1, 1},
            {200, 300, 260}, {33, 17, 129}, {16, 48, 64}, {32, 32, 128}, {5, 70, 9}};

    private static double[] reference(boolean ta, boolean tb, int m, int n, int k, float alpha, float[] a, float[] b,
                                      float beta, float[] c0) {
        double[] c = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) s += (double) a[ta ? p * m + i : i * k + p] * b[tb ? j * k + p : p * n + j];
                c[i * n + j] = alpha * s + beta * c0[i * n + j];
            }
        }
        return c;
    }

    private static float[] gaussians(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian();
        return v;
    }

    /** Every shape in turn with each transpose pair, on the calling thread; returns the cases run. */
    private static int run(JavaGemm gemm, long seed) {
        Random r = new Random(seed);
        int cases = 0;
        try (Arena arena = Arena.ofShared()) { // shared: the product's slices run on the pool's threads too
            for (int[] s : SHAPES) {
                for (int t = 0; t < 4; t++) {
                    boolean ta = (t & 1) != 0, tb = (t & 2) != 0;
                    int m = s[0], n = s[1], k = s[2];
                    float[] a = gaussians(r, m * k), b = gaussians(r, k * n), c0 = gaussians(r, m * n);
                    float alpha = 0.5f + r.nextFloat(), beta = t == 3 ? 0.25f : 0f;
                    MemorySegment as = arena.allocateFrom(F, a), bs = arena.allocateFrom(F, b), cs = arena.allocateFrom(F, c0);
                    gemm.gemm(ta, tb, m, n, k, alpha, as, ta ? m : k, bs, tb ? k : n, beta, cs, n);
                    double[] want = reference(ta, tb, m, n, k, alpha, a, b, beta, c0);
                    for (int i = 0; i < m * n; i++) {
                        assertEquals(want[i], cs.getAtIndex(F, i), 1e-5 * (Math.sqrt(k) + 1) * 4,
                                "(" + m + ", " + n + ", " + k + ") transA=" + ta + " transB=" + tb + " at " + i);
                    }
                    cases++;
                }
            }
        }
        return cases;
    }

    @Test
    void shapesInTurnOnOneThreadMatchFloat64() {
        for (JavaGemm gemm : List.of(JavaGemm.create(true), JavaGemm.create(false))) {
            assertEquals(SHAPES.length * 4 * 2, run(gemm, 1) + run(gemm, 2)); // twice: the second run starts with kept buffers
        }
    }

    @Test
    void threadsAtOnceEachMatchFloat64() throws Exception {
        JavaGemm gemm = JavaGemm.create(true);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<Integer>> runs = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                long seed = 100 + t;
                runs.add(pool.submit(() -> run(gemm, seed)));
            }
            for (Future<Integer> f : runs) assertEquals(SHAPES.length * 4, f.get());
        } finally {
            pool.shutdown();
        }
    }
}
