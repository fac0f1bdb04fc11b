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
 * The packed block of op(B) is stored as panels of the kernel's {@link Block#panel()} columns, each
 * panel's rows one after another, so that a kernel sweeping a panel reads it contiguously and
 * keeps it in L1 while it runs down the rows of A (B's rows {@code nb} floats apart had put a
 * panel's lines into a few cache sets: the Vector API kernel ran at 0.62 of OpenBLAS's AVX-512
 * rate on one Xeon core).
 * Row blocks of C run in parallel on {@link Parallel}, each thread with its own buffers.
 * {@link #SCALAR} is the plain kernel; {@link JavaGemmVector} the SIMD one.
 */
final class JavaGemm {
    /**
     * Rows of C per block, depth per block, columns of C per block: at most 128 KiB of A, 2 MiB of B
     * and 256 KiB of C a thread (the kernels step through the depth in parts that keep a panel's
     * share in L1). Fewer, larger blocks pack A and add partial products into C less often: on one
     * Xeon core NC 256 -> 1024 took a 4096 x 4096 x 256 product from 0.64 to 0.71 of OpenBLAS's
     * rate, and KC 256 -> 512 the one-tensor InfoNCE step's products at N = 8192, D = 256 (a depth
     * of 8192) from 0.270 to 0.244 s on two threads.
     */
    static final int MC = 64, KC = 512, NC = 1024;

    /**
     * The depth of a block of a product n columns wide: KC, deeper for narrow products (up to 4 KC
     * while the packed block of B stays within 1 MiB), whose C block is added to once per depth
     * block: the one-tensor InfoNCE gradient (g + gᵀ) f at N = 16384, D = 128 is a product 128
     * columns wide and 16384 deep, whose partial products' read-add-write of C had taken a tenth
     * of its time with blocks 512 deep.
     */
    static int depthBlock(long n) {
        long fit = (1L << 18) / Math.max(1, Math.min(NC, n));
        return (int) Math.max(KC, Math.min(4L * KC, fit));
    }

    /**
     * {@code cb[mb][:cols] += ap[mb][kb] * op(B)[kb][:cols]}: ap row-major of width kb, cb row-major
     * of width nb, of which the first cols (&le; nb) columns are computed; op(B) (kb x nb) packed in
     * panels of {@link #panel()} columns as {@link #bAt} places them.
     */
    interface Block {
        /** Columns of a packed panel of op(B). */
        int panel();

        /** Whether multiply sets cb's computed columns (cb = ap * op(B)) rather than adding into them. */
        default boolean overwrites() {
            return false;
        }

        void multiply(float[] ap, float[] bp, float[] cb, int mb, int nb, int kb, int cols);
    }

    /**
     * Where op(B)[p][j] of a packed block (kb x nb) lies: panel q = j / panel holds columns
     * [q * panel, q * panel + w) with w = min(panel, nb - q * panel), from index q * panel * kb,
     * its rows w floats apart.
     */
    static int bAt(int p, int j, int nb, int kb, int panel) {
        int start = j - j % panel, w = Math.min(panel, nb - start);
        return start * kb + p * w + (j - start);
    }

    static final Block SCALAR = new Block() {
        @Override
        public int panel() {
            return 16;
        }

        @Override
        public void multiply(float[] ap, float[] bp, float[] cb, int mb, int nb, int kb, int cols) {
            scalarRange(ap, bp, cb, 0, mb, 0, cols, nb, kb, 16);
        }
    };

    /**
     * The packing of a transposed operand: width() of its stored rows, each of rows floats, one
     * after another in group, become width() neighbouring columns of the packed block from column
     * cc, {@code out[r * cols + cc + t] = group[t * rows + r]}.
     */
    interface Transposer {
        int width();

        void transpose(float[] group, int rows, float[] out, int cols, int cc);
    }

    /**
     * Eight columns at a time: each row of out gets eight neighbouring values. One stored row at a
     * time wrote every value to another cache line, and packing the kᵀ of a (32, 32, 128) q kᵀ
     * took 2.8 of its 4.6 µs.
     */
    static final Transposer SCALAR_TRANSPOSER = new Transposer() {
        @Override
        public int width() {
            return 8;
        }

        @Override
        public void transpose(float[] group, int rows, float[] out, int cols, int cc) {
            for (int r = 0, o = cc; r < rows; r++, o += cols) {
                for (int t = 0; t < 8; t++) out[o + t] = group[t * rows + r];
            }
        }
    };

    /** The most columns a {@link Transposer} takes at once (sixteen float lanes). */
    static final int MAX_GROUP = 16;

    private final Block block;
    private final Transposer transposer;

    JavaGemm(Block block, Transposer transposer) {
        if (transposer.width() > MAX_GROUP) throw new IllegalArgumentException("transposer width " + transposer.width());
        if (block.panel() % transposer.width() != 0) {
            throw new IllegalArgumentException("panel " + block.panel() + " not a multiple of the transposer width " + transposer.width());
        }
        this.block = block;
        this.transposer = transposer;
    }

    /** The SIMD kernel and transposes when allowed and the Vector API is present, else the scalar ones. */
    static JavaGemm create(boolean allowVector) {
        if (allowVector && VectorSupport.present()) {
            try {
                return new JavaGemm(JavaGemmVector.BLOCK, JavaGemmVector.TRANSPOSER);
            } catch (LinkageError e) {
                // the scalar code below
            }
        }
        return new JavaGemm(SCALAR, SCALAR_TRANSPOSER);
    }

    @Override
    public String toString() {
        return "JavaGemm[" + (block == SCALAR ? "scalar" : "vector") + " panels of " + block.panel() + ", transposes of "
                + transposer.width() + "]";
    }

    boolean usesVectorApi() {
        return block != SCALAR;
    }

    /**
     * The shared scalar routine: rows [r0,r1) and columns [j0,j1) of {@link Block#multiply}.
     * Also the tail of the SIMD kernel.
     */
    static void scalarRange(float[] ap, float[] bp, float[] cb, int r0, int r1, int j0, int j1, int nb, int kb,
                            int panel) {
        for (int start = j0 - j0 % panel; start < j1; start += panel) { // panel by panel
            int w = Math.min(panel, nb - start), from = Math.max(j0, start), to = Math.min(j1, start + w);
            for (int r = r0; r < r1; r++) {
                int c = r * nb;
                for (int p = 0; p < kb; p++) {
                    float a = ap[r * kb + p];
                    int b = start * kb + p * w - start;
                    for (int j = from; j < to; j++) cb[c + j] = Math.fma(a, bp[b + j], cb[c + j]);
                }
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
        int kc = depthBlock(n);
        // Enough rows per thread that packing B once per thread stays a small cost.
        long minRows = Math.max(MC / 4, (1L << 20) / Math.max(1L, (long) n * k));
        Parallel.forRange(m, minRows, (begin, end) -> {
            Buffers buffers = Buffers.of((int) Math.min(MC, end - begin), Math.min(kc, k), Math.min(NC, n));
            // B's block is packed once per (columns, depth) block and serves every row block of this
            // thread; each depth block adds its product into C (the first one applies beta).
            for (int jc = 0; jc < n; jc += NC) {
                int nb = Math.min(NC, n - jc);
                for (int pc = 0; pc < k; pc += kc) {
                    int kb = Math.min(kc, k - pc);
                    pack(b, ldb, transB, pc, jc, kb, nb, block.panel(), buffers.b, buffers.group);
                    for (int ic = (int) begin; ic < end; ic += MC) {
                        int mb = (int) Math.min(MC, end - ic);
                        pack(a, lda, transA, ic, pc, mb, kb, kb, buffers.a, buffers.group);
                        if (!block.overwrites()) java.util.Arrays.fill(buffers.c, 0, mb * nb, 0f);
                        block.multiply(buffers.a, buffers.b, buffers.c, mb, nb, kb, nb);
                        writeBack(buffers.c, mb, nb, nb, alpha, pc == 0 ? beta : 1f, c, ldc, ic, jc, buffers.group);
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
                    pack(a, lda, true, pc, jc, kb, nb, block.panel(), buffers.b, buffers.group);
                    for (int blk : mine) {
                        int ic = blk * MC, mb = Math.min(MC, n - ic);
                        if (jc >= ic + mb) continue;
                        int cols = Math.min(nb, ic + mb - jc);
                        pack(a, lda, false, ic, pc, mb, kb, kb, buffers.a, buffers.group);
                        if (!block.overwrites()) java.util.Arrays.fill(buffers.c, 0, mb * nb, 0f);
                        block.multiply(buffers.a, buffers.b, buffers.c, mb, nb, kb, cols);
                        writeBack(buffers.c, mb, cols, nb, alpha, pc == 0 ? 0f : 1f, c, ldc, ic, jc, buffers.group);
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

        final float[] a, b, c, group;
        final int mc, kc, nc;

        private Buffers(int mc, int kc, int nc) {
            this.mc = mc;
            this.kc = kc;
            this.nc = nc;
            a = new float[mc * kc];
            b = new float[kc * nc];
            c = new float[mc * nc];
            group = new float[MAX_GROUP * Math.max(Math.max(mc, kc), nc)]; // stored rows for packing, a row of C for write-back
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
     * Copies rows [r0, r0+rows) and columns [c0, c0+cols) of op(X) into out in panels of panel
     * columns ({@link #bAt}; panel &ge; cols: plainly row-major). Stored as X (ld-strided rows)
     * when !trans, as its transpose otherwise: then a group of the transposer's width of stored
     * rows is read at a time (into group) and transposed. The panel is a multiple of that width,
     * so a group never straddles two panels.
     */
    private void pack(MemorySegment x, long ld, boolean trans, int r0, int c0, int rows, int cols, int panel,
                      float[] out, float[] group) {
        if (!trans) {
            if (panel >= cols && ld == cols) { // stored contiguously: one bulk copy (a copy a row cost about 10 ns each)
                MemorySegment.copy(x, ValueLayout.JAVA_FLOAT, 4 * (r0 * ld + c0), out, 0, rows * cols);
                return;
            }
            for (int start = 0; start < cols; start += panel) {
                int w = Math.min(panel, cols - start), base = start * rows;
                for (int r = 0; r < rows; r++) {
                    MemorySegment.copy(x, ValueLayout.JAVA_FLOAT, 4 * ((r0 + r) * ld + c0 + start), out, base + r * w, w);
                }
            }
            return;
        }
        int width = transposer.width(), cc = 0;
        for (; cc + width <= cols; cc += width) { // stored rows c0+cc.. hold columns cc.. of the block
            if (ld == rows) {
                MemorySegment.copy(x, ValueLayout.JAVA_FLOAT, 4 * ((c0 + cc) * ld + r0), group, 0, width * rows);
            } else {
                for (int t = 0; t < width; t++) {
                    MemorySegment.copy(x, ValueLayout.JAVA_FLOAT, 4 * ((c0 + cc + t) * ld + r0), group, t * rows, rows);
                }
            }
            int start = cc - cc % panel, w = Math.min(panel, cols - start);
            transposer.transpose(group, rows, out, w, start * rows + cc - start);
        }
        for (; cc < cols; cc++) { // the last columns, one stored row each
            MemorySegment.copy(x, ValueLayout.JAVA_FLOAT, 4 * ((c0 + cc) * ld + r0), group, 0, rows);
            int start = cc - cc % panel, w = Math.min(panel, cols - start), at = start * rows + cc - start;
            for (int r = 0; r < rows; r++) out[at + r * w] = group[r];
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
        if (beta == 0f && ldc == nb && cols == nb) { // C's rows contiguous: one bulk copy
            int all = mb * nb;
            if (alpha != 1f) for (int j = 0; j < all; j++) cb[j] = alpha * cb[j];
            MemorySegment.copy(cb, 0, c, ValueLayout.JAVA_FLOAT, 4 * (ic * ldc + jc), all);
            return;
        }
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
