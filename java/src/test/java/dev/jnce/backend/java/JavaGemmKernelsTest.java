package dev.jnce.backend.java;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Each GEMM kernel with each packing of a transposed operand, whatever this machine prefers: the
 * scalar one, the Vector API one of 2-vector panels and the one of 6 x 4 and 4 x 4 tiles of sixteen
 * lanes (64-column panels), on strided operands whose sizes fall below, at and past the kernels' tiles,
 * panels and blocks (rows 1-130, columns 1-300 with panels cut short and a block of 256 columns
 * followed by a narrow one, depths across the 128-deep blocks), all four transposes, C's rows
 * padded, against a float64 reference; and the lower triangle of A Aᵀ likewise.
 */
class JavaGemmKernelsTest {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    private static List<JavaGemm> gemms() {
        List<JavaGemm> all = new ArrayList<>(List.of(new JavaGemm(JavaGemm.SCALAR, JavaGemm.SCALAR_TRANSPOSER)));
        if (VectorSupport.present()) {
            for (JavaGemm.Block block : List.of(JavaGemmVector.GENERIC, JavaGemmVector.WIDE)) {
                all.add(new JavaGemm(block, JavaGemm.SCALAR_TRANSPOSER));
                all.add(new JavaGemm(block, JavaGemmVector.transposer(8)));
                if (block.panel() % 16 == 0) all.add(new JavaGemm(block, JavaGemmVector.transposer(16)));
            }
        }
        return all;
    }

    private static float[] gaussians(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian();
        return v;
    }

    /** (m, n, k) */
    private static final int[][] SHAPES = {{1, 1, 1}, {3, 15, 7}, {4, 16, 128}, {5, 17, 129}, {6, 31, 64},
            {7, 33, 1}, {13, 63, 130}, {64, 64, 128}, {65, 65, 256}, {130, 100, 300}, {9, 129, 40},
            {66, 255, 33}, {12, 256, 129}, {70, 257, 17}, {6, 300, 200},
            {10, 65, 7}, {11, 64, 130}, {17, 128, 256}}; // the wide kernel's rows: 6 + 4, 6 + 4 + 1, 12 + 4 + 1

    @Test
    void everyKernelAndPackingMatchesFloat64() {
        Random r = new Random(7);
        int cases = 0;
        try (Arena arena = Arena.ofShared()) {
            for (JavaGemm gemm : gemms()) {
                for (int[] s : SHAPES) {
                    for (int t = 0; t < 4; t++) {
                        boolean ta = (t & 1) != 0, tb = (t & 2) != 0;
                        int m = s[0], n = s[1], k = s[2];
                        int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 5, ldc = n + 2;
                        float[] a = gaussians(r, (ta ? k : m) * lda), b = gaussians(r, (tb ? n : k) * ldb);
                        float[] c0 = gaussians(r, m * ldc);
                        float alpha = 0.5f + r.nextFloat(), beta = (t & 1) == 0 ? 0f : 0.75f;
                        MemorySegment as = arena.allocateFrom(F, a), bs = arena.allocateFrom(F, b), cs = arena.allocateFrom(F, c0);
                        gemm.gemm(ta, tb, m, n, k, alpha, as, lda, bs, ldb, beta, cs, ldc);
                        for (int i = 0; i < m; i++) {
                            for (int j = 0; j < ldc; j++) {
                                float got = cs.getAtIndex(F, (long) i * ldc + j);
                                if (j >= n) { // padding untouched
                                    assertEquals(c0[i * ldc + j], got, 0f, "padding at (" + i + ", " + j + ")");
                                    continue;
                                }
                                double sum = 0, size = 0;
                                for (int p = 0; p < k; p++) {
                                    double x = a[ta ? p * lda + i : i * lda + p], y = b[tb ? j * ldb + p : p * ldb + j];
                                    sum += x * y;
                                    size += Math.abs(x * y);
                                }
                                double want = alpha * sum + beta * c0[i * ldc + j];
                                assertEquals(want, got, 2e-6 * (alpha * size + Math.abs(beta * c0[i * ldc + j])) + 1e-30,
                                        gemm + " (" + m + ", " + n + ", " + k + ") transA=" + ta + " transB=" + tb + " at (" + i + ", " + j + ")");
                            }
                        }
                        cases++;
                    }
                }
            }
        }
        assertEquals(gemms().size() * SHAPES.length * 4, cases);
        assertTrue(cases >= 60);
    }

    @Test
    void everyKernelsLowerTriangleMatchesFloat64() {
        Random r = new Random(11);
        try (Arena arena = Arena.ofShared()) {
            for (JavaGemm gemm : gemms()) {
                for (int[] nk : new int[][] {{1, 3}, {17, 5}, {63, 129}, {64, 128}, {65, 64}, {200, 33}, {300, 130}}) {
                    int n = nk[0], k = nk[1], lda = k + 1, ldc = n + 16;
                    float[] a = gaussians(r, n * lda);
                    MemorySegment as = arena.allocateFrom(F, a), cs = arena.allocate(F, (long) n * ldc);
                    float alpha = 0.75f;
                    gemm.syrkLower(n, k, alpha, as, lda, cs, ldc);
                    for (int i = 0; i < n; i++) {
                        for (int j = 0; j <= i; j++) {
                            double sum = 0, size = 0;
                            for (int p = 0; p < k; p++) {
                                double x = (double) a[i * lda + p] * a[j * lda + p];
                                sum += x;
                                size += Math.abs(x);
                            }
                            assertEquals(alpha * sum, cs.getAtIndex(F, (long) i * ldc + j), 2e-6 * alpha * size + 1e-30,
                                    gemm + " syrk (" + n + ", " + k + ") at (" + i + ", " + j + ")");
                        }
                    }
                }
            }
        }
    }
}
