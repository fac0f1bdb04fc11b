package dev.jnce.backend.java;

import dev.jnce.internal.Parallel;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Row-major float32 GEMM in Java, {@code C = alpha * op(A) * op(B) + beta * C}, laid out like
 * a BLAS: op(A) is cut into blocks of MC x KC and op(B) into KC x NC, each packed into a
 * contiguous heap array (transposes are undone while packing), and a {@link Block} kernel
 * multiplies packed blocks into a float accumulator block of C, which is added into C once per
 * depth block (the first applies beta). The loops run as in GotoBLAS: a block of B is packed once
 * and serves every row block of A a thread owns (packing it again for each row block of 64 had
 * cost two-thirds of the time: 48 against 141 GFLOP/s on one Zen 5 core at 4096 x 4096 x 256).
 * Row blocks of C run in parallel on {@link Parallel}, each thread with its own buffers.
 * {@link #SCALAR} is the plain kernel; {@link JavaGemmVector} the SIMD one.
 */
final class JavaGemm {
    /** Rows of C per block, depth per block, columns of C per block: ~320 KB of buffers. */
    static final int MC = 64, KC = 256, NC = 256;

    /**
     * {@code cb[mb][:cols] += ap[mb][kb] * bp[kb][:cols]}, row-major arrays: ap of width kb, bp and cb
     * of width nb, of which the first cols (&le; nb) columns are computed.
     */
    @FunctionalInterface
    interface Block {
        void multiply(float[] ap, float[] bp, float[] cb, int mb, int nb, int kb, int cols);
    }

    static final Block SCALAR = (ap, bp, cb, mb, nb, kb, cols) -> scalarRange(ap, bp, cb, 0, mb, 0, cols, nb, kb);

    private final Block block;

    JavaGemm(Block block) {
        this.block = block;
    }

    /** The SIMD kernel when allowed and the Vector API is present, else the scalar one. */
    static JavaGemm create(boolean allowVector) {
        Block vector = allowVector && VectorSupport.present() ? vectorBlock() : null;
        return new JavaGemm(vector != null ? vector : SCALAR);
    }

    boolean usesVectorApi() {
        return block != SCALAR;
    }

    private static Block vectorBlock() {
        try {
            return JavaGemmVector.BLOCK;
        } catch (LinkageError e) {
            return null;
        }
    }

    /**
     * The shared scalar routine: rows [r0,r1) and columns [j0,j1) of {@link Block#multiply}.
     * Also the tail of the SIMD kernel.
     */
    static void scalarRange(float[] ap, float[] bp, float[] cb, int r0, int r1, int j0, int j1, int nb, int kb) {
        for (int r = r0; r < r1; r++) {
            int c = r * nb;
            for (int p = 0; p < kb; p++) {
                float a = ap[r * kb + p];
                int b = p * nb;
                for (int j = j0; j < j1; j++) cb[c + j] = Math.fma(a, bp[b + j], cb[c + j]);
            }
        }
    }

    /**
     * C (m,n) = alpha * op(A) * op(B) + beta * C on row-major segments with row strides lda,
     * ldb, ldc (in floats); A is (m,k), or (k,m) when transA; B is (k,n), or (n,k) when transB.
     * As in BLAS, alpha = 0 does not read A or B (C becomes beta * C, NaN and infinities in A and
     * B do not reach it) and beta = 0 does not read C.
     */
    void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, MemorySegment a, long lda,
              MemorySegment b, long ldb, float beta, MemorySegment c, long ldc) {
        if (alpha == 0f) {
            scale(m, n, beta, c, ldc);
            return;
        }
        // Enough rows per thread that packing B once per thread stays a small cost.
        long minRows = Math.max(MC / 4, (1L << 20) / Math.max(1L, (long) n * k));
        Parallel.forRange(m, minRows, (begin, end) -> {
            Buffers buffers = Buffers.of((int) Math.min(MC, end - begin), Math.min(KC, k), Math.min(NC, n));
            // B's block is packed once per (columns, depth) block and serves every row block of this
            // thread; each depth block adds its product into C (the first one applies beta).
            for (int jc = 0; jc < n; jc += NC) {
                int nb = Math.min(NC, n - jc);
                for (int pc = 0; pc < k; pc += KC) {
                    int kb = Math.min(KC, k - pc);
                    pack(b, ldb, transB, pc, jc, kb, nb, buffers.b, buffers.row);
                    for (int ic = (int) begin; ic < end; ic += MC) {
                        int mb = (int) Math.min(MC, end - ic);
                        pack(a, lda, transA, ic, pc, mb, kb, buffers.a, buffers.row);
                        java.util.Arrays.fill(buffers.c, 0, mb * nb, 0f);
                        block.multiply(buffers.a, buffers.b, buffers.c, mb, nb, kb, nb);
                        writeBack(buffers.c, mb, nb, nb, alpha, pc == 0 ? beta : 1f, c, ldc, ic, jc, buffers.row);
                    }
                }
            }
        });
    }

    /**
     * The lower triangle of C (n,n) = alpha * A Aᵀ for A (n,k) with row strides lda and ldc: only
     * the blocks of C that reach the diagonal or below are computed (half the flops), so some
     * entries just above the diagonal are written too. Row blocks are taken in pairs, the
     * shortest with the longest, so that threads get equal work; as in {@link #gemm}, each block
     * of Aᵀ is packed once per thread and serves every one of its row blocks that reaches it.
     */
    void syrkLower(int n, int k, float alpha, MemorySegment a, long lda, MemorySegment c, long ldc) {
        if (alpha == 0f) { // BLAS: A is not read
            scale(n, n, 0f, c, ldc);
            return;
        }
        int blocks = (n + MC - 1) / MC;
        Parallel.forRange((blocks + 1) / 2, 1, (begin, end) -> {
            java.util.List<Integer> mine = new java.util.ArrayList<>(); // this thread's row blocks
            for (long pair = begin; pair < end; pair++) {
                mine.add((int) pair);
                if (blocks - 1 - pair != pair) mine.add((int) (blocks - 1 - pair)); // the middle block of an odd count, once
            }
            int top = 0; // columns any of them reaches: up to its diagonal
            for (int blk : mine) top = Math.max(top, Math.min(n, (blk + 1) * MC));
            Buffers buffers = Buffers.of(Math.min(MC, n), Math.min(KC, k), Math.min(NC, top));
            // As in gemm: each block of Aᵀ is packed once and serves every row block of this thread that reaches it.
            for (int jc = 0; jc < top; jc += NC) {
                int nb = Math.min(NC, top - jc);
                for (int pc = 0; pc < k; pc += KC) {
                    int kb = Math.min(KC, k - pc);
                    pack(a, lda, true, pc, jc, kb, nb, buffers.b, buffers.row);
                    for (int blk : mine) {
                        int ic = blk * MC, mb = Math.min(MC, n - ic);
                        if (jc >= ic + mb) continue;
                        int cols = Math.min(nb, ic + mb - jc);
                        pack(a, lda, false, ic, pc, mb, kb, buffers.a, buffers.row);
                        java.util.Arrays.fill(buffers.c, 0, mb * nb, 0f);
                        block.multiply(buffers.a, buffers.b, buffers.c, mb, nb, kb, cols);
                        writeBack(buffers.c, mb, cols, nb, alpha, pc == 0 ? 0f : 1f, c, ldc, ic, jc, buffers.row);
                    }
                }
            }
        });
    }

    /**
     * One thread's packed blocks of op(A) (mc x kc) and op(B) (kc x nc) and its accumulator block of
     * C (mc x nc), sized to the call. Those of small calls are kept, one set a thread, for its next
     * call: at (32, 32, 128) allocating and zeroing even 36 KB a call took about a quarter of an
     * InfoNCE call's time on this backend (its three products and the rest), and the 384 KB of
     * full blocks more than the products themselves. Larger sets are allocated a call, a small
     * cost beside their products.
     */
    private static final class Buffers {
        /** Floats of the largest set kept for a thread's next call (128 KB). */
        static final int KEPT_FLOATS = 1 << 15;
        private static final ThreadLocal<Buffers> KEPT = new ThreadLocal<>();

        final float[] a, b, c, row;
        final int mc, kc, nc;

        private Buffers(int mc, int kc, int nc) {
            this.mc = mc;
            this.kc = kc;
            this.nc = nc;
            a = new float[mc * kc];
            b = new float[kc * nc];
            c = new float[mc * nc];
            row = new float[Math.max(Math.max(mc, kc), nc)]; // one stored row, for packing and write-back
        }

        /**
         * Buffers of at least mc x kc, kc x nc and mc x nc for this thread. A thread uses one set at a
         * time: a product inside a parallel slice runs serially in that slice, and no product's
         * slice starts another product.
         */
        static Buffers of(int mc, int kc, int nc) {
            Buffers kept = KEPT.get();
            if (kept != null && kept.mc >= mc && kept.kc >= kc && kept.nc >= nc) return kept;
            int m = Math.max(mc, kept == null ? 0 : kept.mc), k = Math.max(kc, kept == null ? 0 : kept.kc);
            int n = Math.max(nc, kept == null ? 0 : kept.nc);
            if ((long) m * k + (long) k * n + (long) m * n > KEPT_FLOATS) return new Buffers(mc, kc, nc);
            Buffers grown = new Buffers(m, k, n);
            KEPT.set(grown);
            return grown;
        }
    }

    /**
     * Copies rows [r0, r0+rows) and columns [c0, c0+cols) of op(X) into out (rows x cols).
     * Stored as X (ld-strided rows) when !trans, as its transpose otherwise.
     */
    private static void pack(MemorySegment x, long ld, boolean trans, int r0, int c0, int rows, int cols, float[] out,
                             float[] row) {
        if (!trans) {
            for (int r = 0; r < rows; r++) {
                MemorySegment.copy(x, ValueLayout.JAVA_FLOAT, 4 * ((r0 + r) * ld + c0), out, r * cols, cols);
            }
            return;
        }
        for (int cc = 0; cc < cols; cc++) { // stored row c0+cc holds column cc of the block: one bulk read, then scatter
            MemorySegment.copy(x, ValueLayout.JAVA_FLOAT, 4 * ((c0 + cc) * ld + r0), row, 0, rows);
            for (int r = 0; r < rows; r++) out[r * cols + cc] = row[r];
        }
    }

    /** C (m,n) = beta * C, and 0 when beta = 0 whatever C held. */
    private static void scale(int m, int n, float beta, MemorySegment c, long ldc) {
        for (int r = 0; r < m; r++) {
            for (int j = 0; j < n; j++) {
                long at = r * ldc + j;
                c.setAtIndex(ValueLayout.JAVA_FLOAT, at, beta == 0f ? 0f : beta * c.getAtIndex(ValueLayout.JAVA_FLOAT, at));
            }
        }
    }

    /**
     * C block (mb x cols) = alpha * cb + beta * C block (beta = 0: C not read), cb's rows nb apart, a
     * row at a time through bulk copies.
     */
    private static void writeBack(float[] cb, int mb, int cols, int nb, float alpha, float beta, MemorySegment c, long ldc,
                                  int ic, int jc, float[] row) {
        for (int r = 0; r < mb; r++) {
            long at = 4 * ((ic + r) * ldc + jc);
            int off = r * nb;
            if (alpha != 1f) for (int j = 0; j < cols; j++) cb[off + j] = alpha * cb[off + j];
            // beta = 0 ignores C, NaN included, as BLAS does
            if (beta != 0f) {
                MemorySegment.copy(c, ValueLayout.JAVA_FLOAT, at, row, 0, cols);
                for (int j = 0; j < cols; j++) cb[off + j] = Math.fma(beta, row[j], cb[off + j]);
            }
            MemorySegment.copy(cb, off, c, ValueLayout.JAVA_FLOAT, at, cols);
        }
    }
}
