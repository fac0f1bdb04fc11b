package dev.jnce.backend.java;

import dev.jnce.Tensor;
import dev.jnce.backend.SimilarityKernels;
import dev.jnce.internal.Parallel;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The similarity family in Java, the same algorithms as native/src/cpu/similarity.c: GEMM on
 * {@link JavaGemm}; L2 normalisation on heap copies of row blocks through {@link RowOps} (SIMD
 * lanes where present), row cosine in scalar code, sums in double; level-1 operations in plain
 * loops, the dot product in double.
 * Triplet loss and mining are in {@link JavaPair}, the contrastive passes in {@link JavaContrastive}.
 */
final class JavaSimilarity implements SimilarityKernels {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final JavaSimilarity SCALAR = new JavaSimilarity(JavaGemm.create(false), RowOps.SCALAR);

    private final JavaGemm gemm;
    private final RowOps rows;

    private JavaSimilarity(JavaGemm gemm, RowOps rows) {
        this.gemm = gemm;
        this.rows = rows;
    }

    /** Holds the SIMD instance, made only when first asked for. */
    private static final class Vector {
        static final JavaSimilarity INSTANCE = vector();

        private static JavaSimilarity vector() {
            RowOps rows = VectorSupport.rowOps();
            return new JavaSimilarity(JavaGemm.create(true), rows != null ? rows : RowOps.SCALAR);
        }
    }

    static JavaSimilarity of(boolean vector) {
        return vector ? Vector.INSTANCE : SCALAR;
    }

    @Override
    public void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c) {
        int m = Math.toIntExact(c.size(0)), n = Math.toIntExact(c.size(1));
        int k = Math.toIntExact(transA ? a.size(0) : a.size(1));
        gemm.gemm(transA, transB, m, n, k, alpha, a.segment(), a.size(1), b.segment(), b.size(1), beta, c.segment(), n);
    }

    @Override
    public void syrk(float alpha, Tensor a, Tensor c) {
        gemm.syrkLower(Math.toIntExact(a.size(0)), Math.toIntExact(a.size(1)), alpha, a.segment(), a.size(1),
                c.segment(), c.size(1));
    }

    /** x[xo..xo+d) . y[yo..yo+d) in double, element offsets. */
    static double dot(MemorySegment x, long xo, MemorySegment y, long yo, long d) {
        return RowOps.SCALAR.dotDouble(x, 4 * xo, y, 4 * yo, Math.toIntExact(d));
    }

    /** Rows per parallel slice: about 32k values, as in C. */
    static long rowsPerSlice(long d) {
        return Math.max(1, 32768 / d);
    }

    /**
     * Floats of the heap copies in which a thread normalises rows (two of them, 32 KiB each, kept
     * for the thread's next call), each with PAD floats spare at both ends so that no cache line
     * is shared with another thread's arrays. Rows are copied in in bulk, a block of rows at a
     * time, and each row's result written from there straight to the output: through per-access
     * segment reads a (32, 128) normalisation took about 1.3 µs, on heap copies 0.85, and the
     * segment code slowed further wherever the JIT had also seen heap segments (3.4 µs); writing
     * the results back through the heap copy as well (a bulk copy out) took (65536, 256) on two
     * threads of an AMD EPYC (Zen 5) VM 4.2-5.0 ms forward and 7.9-8.3 ms backward, against
     * 2.9-3.3 and 6.2 written straight (`cpu` 2.2-2.4 and 4.1-4.4 in the same runs; ad-hoc).
     */
    private static final int HEAP_ROWS = 8192, PAD = 16;
    private static final ThreadLocal<float[][]> HEAP_COPIES = ThreadLocal.withInitial(
            () -> new float[][] {new float[HEAP_ROWS + 2 * PAD], new float[HEAP_ROWS + 2 * PAD]});

    /** Two heap copies of at least one row of d floats from index PAD on: the kept pair, or a new pair for longer rows. */
    private static float[][] heapCopies(int d) {
        return d <= HEAP_ROWS ? HEAP_COPIES.get() : new float[][] {new float[d + 2 * PAD], new float[d + 2 * PAD]};
    }

    @Override
    public void normalize(Tensor x, float eps, Tensor y) {
        long d = x.size(-1);
        int di = Math.toIntExact(d); // a row of 2^31 floats or more is refused, not cut
        MemorySegment xs = x.segment(), ys = y.segment();
        Parallel.forRange(x.numel() / d, rowsPerSlice(d), (begin, end) -> {
            float[] buf = heapCopies(di)[0];
            int block = (buf.length - 2 * PAD) / di;
            for (long i0 = begin; i0 < end; i0 += block) { // y may be x: each block is read before it is written
                int n = (int) Math.min(block, end - i0);
                MemorySegment.copy(xs, F, 4 * i0 * d, buf, PAD, n * di);
                long at = i0 * d;
                for (int o = PAD; o < PAD + n * di; o += di, at += d) { // each row scaled straight into y
                    rows.scaleInto(buf, o, di, (float) (1.0 / Math.max(Math.sqrt(rows.squaresDouble(buf, o, di)), eps)), ys, at);
                }
            }
        });
    }

    @Override
    public void normalizeBackward(Tensor x, Tensor dy, float eps, Tensor dx) {
        long d = x.size(-1);
        int di = Math.toIntExact(d); // a row of 2^31 floats or more is refused, not cut
        MemorySegment xs = x.segment(), dys = dy.segment(), dxs = dx.segment();
        Parallel.forRange(x.numel() / d, rowsPerSlice(d), (begin, end) -> {
            float[][] copies = heapCopies(di);
            float[] xb = copies[0], g = copies[1];
            double[] dots = new double[2];
            int block = (xb.length - 2 * PAD) / di;
            for (long i0 = begin; i0 < end; i0 += block) { // dx may be dy: each block is read before it is written
                int n = (int) Math.min(block, end - i0);
                MemorySegment.copy(xs, F, 4 * i0 * d, xb, PAD, n * di);
                MemorySegment.copy(dys, F, 4 * i0 * d, g, PAD, n * di);
                long at = i0 * d;
                for (int o = PAD; o < PAD + n * di; o += di, at += d) { // each row's dx written straight to dx
                    rows.dotPairDouble(xb, g, o, di, dots); // x . x and x . dy in one pass
                    double norm = Math.sqrt(dots[0]);
                    if (norm < eps) { // clamp_min passes no gradient to the norm
                        rows.scaleInto(g, o, di, (float) (1.0 / eps), dxs, at);
                        continue;
                    }
                    double a = 1.0 / norm, b = dots[1] / (norm * norm * norm);
                    rows.combineDoubleInto(a, g, b, xb, o, di, dxs, at);
                }
            }
        });
    }

    /** The cosine of rows at offsets o1, o2 and the clamped norms c = max(||x||, eps). */
    record Cosine(double cos, double c1, double c2) {
        static Cosine of(MemorySegment x1, long o1, MemorySegment x2, long o2, long d, double eps) {
            double c1 = Math.max(Math.sqrt(dot(x1, o1, x1, o1, d)), eps);
            double c2 = Math.max(Math.sqrt(dot(x2, o2, x2, o2, d)), eps);
            return new Cosine(dot(x1, o1, x2, o2, d) / (c1 * c2), c1, c2);
        }

        /** Adds u * dcos/dx1 to g1 and u * dcos/dx2 to g2 (either may be null), rows at offsets. */
        void gradAdd(MemorySegment x1, long o1, MemorySegment x2, long o2, long d, double u,
                     MemorySegment g1, long go1, MemorySegment g2, long go2) {
            double a = u / (c1 * c2), b1 = u * cos / (c1 * c1), b2 = u * cos / (c2 * c2);
            for (long j = 0; j < d; j++) {
                double v1 = x1.getAtIndex(F, o1 + j), v2 = x2.getAtIndex(F, o2 + j);
                if (g1 != null) g1.setAtIndex(F, go1 + j, g1.getAtIndex(F, go1 + j) + (float) (a * v2 - b1 * v1));
                if (g2 != null) g2.setAtIndex(F, go2 + j, g2.getAtIndex(F, go2 + j) + (float) (a * v1 - b2 * v2));
            }
        }
    }

    @Override
    public void cosineSimilarity(Tensor x1, Tensor x2, float eps, Tensor out) {
        long d = x1.size(1);
        MemorySegment a = x1.segment(), b = x2.segment(), o = out.segment();
        Parallel.forRange(x1.size(0), rowsPerSlice(d), (begin, end) -> {
            for (long i = begin; i < end; i++) o.setAtIndex(F, i, (float) Cosine.of(a, i * d, b, i * d, d, eps).cos());
        });
    }

    @Override
    public void cosineSimilarityBackward(Tensor x1, Tensor x2, Tensor dOut, float eps, Tensor dx1, Tensor dx2) {
        long d = x1.size(1);
        MemorySegment a = x1.segment(), b = x2.segment(), u = dOut.segment();
        MemorySegment g1 = dx1 == null ? null : dx1.segment(), g2 = dx2 == null ? null : dx2.segment();
        if (g1 != null) g1.fill((byte) 0);
        if (g2 != null) g2.fill((byte) 0);
        Parallel.forRange(x1.size(0), rowsPerSlice(d), (begin, end) -> {
            for (long i = begin; i < end; i++) {
                long o = i * d;
                Cosine.of(a, o, b, o, d, eps).gradAdd(a, o, b, o, d, u.getAtIndex(F, i), g1, o, g2, o);
            }
        });
    }



    // ---- level 1 ------------------------------------------------------------------------------

    /** Elements per parallel slice of the level-1 loops, and per partial sum of the dot product. */
    private static final long LEVEL1_SLICE = 1 << 15;

    @Override
    public double dot(Tensor x, Tensor y) {
        MemorySegment a = x.segment(), b = y.segment();
        long n = x.numel(), slices = (n + LEVEL1_SLICE - 1) / LEVEL1_SLICE;
        double[] partial = new double[Math.toIntExact(slices)];
        Parallel.forRange(slices, 1, (begin, end) -> {
            for (long s = begin; s < end; s++) {
                long from = s * LEVEL1_SLICE;
                partial[(int) s] = rows.dotDouble(a, 4 * from, b, 4 * from, (int) Math.min(LEVEL1_SLICE, n - from));
            }
        });
        double sum = 0;
        for (double p : partial) sum += p; // in slice order: the same sum on any thread count
        return sum;
    }

    @Override
    public void scale(float alpha, Tensor x) {
        MemorySegment a = x.segment();
        Parallel.forRange(x.numel(), LEVEL1_SLICE, (begin, end) -> {
            for (long i = begin; i < end; i++) a.setAtIndex(F, i, alpha * a.getAtIndex(F, i));
        });
    }

    @Override
    public void axpy(float alpha, Tensor x, Tensor y) {
        MemorySegment a = x.segment(), b = y.segment();
        Parallel.forRange(x.numel(), LEVEL1_SLICE, (begin, end) -> {
            for (long i = begin; i < end; i++) b.setAtIndex(F, i, b.getAtIndex(F, i) + alpha * a.getAtIndex(F, i));
        });
    }

    @Override
    public void copy(Tensor x, Tensor y) {
        MemorySegment.copy(x.segment(), 0, y.segment(), 0, x.numel() * 4);
    }

    @Override
    public void fill(float value, Tensor x) {
        MemorySegment a = x.segment();
        for (long i = 0, n = x.numel(); i < n; i++) a.setAtIndex(F, i, value);
    }
}
