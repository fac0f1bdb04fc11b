package dev.jnce.backend.java;

import dev.jnce.backend.ContrastiveKernels.SymmetricTargets;
import dev.jnce.internal.Parallel;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * {@link JavaSymmetricXent}'s gradient on SIMD lanes from the lower triangle alone, in two sweeps
 * over its tiles of 64 x 64: the first reads each tile once and adds its rows' and its columns'
 * softmax statistics (max, sum of exponentials) into the rows they belong to (entry (i, j) is
 * in row i and, as s_ji, in row j); the second reads it again and writes g + gᵀ, {@code h_ij =
 * w (exp(s_ij - m_i) / S_i + exp(s_ij - m_j) / S_j)}, into the tile and its mirror, after which
 * the targets' shares are taken off point by point. Excluded pairs (a row's own, the decoupled
 * targets) are -Inf in the tile's copy. That is the least traffic the full gradient allows (read
 * the lower triangle twice, write the whole matrix once); mirroring the lower triangle first,
 * softmax by full rows and symmetrising after read and wrote the matrix three times more.
 * Decoupled targets need each row's target's target to be the row (offset 0 or N/2):
 * {@link #takes}. {@link #runProduct}: the same statistics, then df = alpha (g + gᵀ) f with g + gᵀ
 * formed a 256 x 256 block at a time and multiplied in place of being written.
 */
final class JavaSymmetricTiles {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int TILE = 64;
    private static final float NEG_INF = Float.NEGATIVE_INFINITY;

    private JavaSymmetricTiles() {
    }

    /** Whether these targets go by tiles: label targets, or one target a row whose target's target is the row. */
    static boolean takes(int n, SymmetricTargets t) {
        if (TILE % S.length() != 0) return false;
        if (t.labels() != null) return true;
        long o = Math.floorMod(t.offset(), n);
        return !t.decoupled() || (2 * o) % n == 0;
    }

    /** Per slice of the first sweep: its rows' statistics and NaN/+Inf marks, and its tile buffers. */
    private static final class Part {
        final double[] max, sum;
        final boolean[] bad;
        /**
         * A tile's scratch (its logits, then h), written whole before each tile reads it and used
         * within one tile's work: shared by the parts a thread makes, kept from call to call (a
         * small call made and zeroed 32 KiB of it a part).
         */
        final float[] a, t;

        Part(int n) {
            float[][] scratch = TILE_SCRATCH.get();
            a = scratch[0];
            t = scratch[1];
            max = new double[n];
            sum = new double[n];
            bad = new boolean[n];
            Arrays.fill(max, Double.NEGATIVE_INFINITY);
        }
    }

    private static final ThreadLocal<float[][]> TILE_SCRATCH =
            ThreadLocal.withInitial(() -> new float[][] {new float[TILE * TILE], new float[TILE * TILE]});

    /**
     * g (N,N), rows ld apart, holds the logits' lower triangle on entry and, with gradient, g + gᵀ in
     * full on return (without, g is only read); rowLoss receives the rows' losses. w: the
     * gradient's weight (1/counted for MEAN).
     */
    static void run(MemorySegment g, long ld, int n, SymmetricTargets t, float w, int[][] positives, double[] rowLoss,
                    boolean gradient) {
        boolean labels = positives != null;
        Shares sh = statistics(g, ld, n, t, w, positives, rowLoss);
        if (!gradient) return;
        float[] m = sh.m, c = sh.c;
        boolean[] skip = sh.skip;
        int side = (n + TILE - 1) / TILE;
        tiles(side, begin -> new Part(0), (p, i0, j0) -> gradient(g, ld, n, i0, j0, t, labels, m, c, p));
        // the targets' shares: h_ij = g_ij + g_ji takes w t_ij and w t_ji off
        for (int i = 0; i < n; i++) {
            if (skip[i]) continue;
            if (labels) {
                float share = (float) ((double) w / (positives[i].length - 1));
                for (int j : positives[i]) {
                    if (j == i) continue;
                    subtract(g, ld, i, j, share);
                    subtract(g, ld, j, i, share);
                }
            } else {
                int p = target(i, n, t);
                subtract(g, ld, i, p, w);
                subtract(g, ld, p, i, w);
            }
        }
    }

    /** Rows (and columns) of the fused product's blocks: a block of h (256 KiB), its transpose and its rows of f stay in L2. */
    private static final int BLOCK = 256;

    /**
     * The loss as {@link #run}, and df = alpha (g + gᵀ) f without writing g + gᵀ anywhere: the
     * lower triangle's blocks of BLOCK x BLOCK, (I, J) with J <= I, each formed in a buffer from
     * its 64 x 64 tiles (a diagonal block in full), its targets' shares taken off there, then
     * multiplied where it lies by the GEMM's kernel: df[I] += h f[J] and, below the diagonal,
     * df[J] += hᵀ f[I], into one accumulator a slice, summed at the end. Against the tiles' sweep
     * that writes g + gᵀ over the whole matrix and a GEMM that packs it again, the logits' lower
     * triangle is read once more and nothing is written. f and df: (n, d) float32, contiguous.
     */
    static void runProduct(MemorySegment g, long ld, int n, SymmetricTargets t, float w, int[][] positives, double[] rowLoss,
                           float alpha, MemorySegment f, int d, MemorySegment df) {
        boolean labels = positives != null;
        Shares sh = statistics(g, ld, n, t, w, positives, rowLoss);
        int[][] sorted = labels ? sortedGroups(positives) : null;
        JavaGemm.Block kernel = JavaGemmVector.BLOCK;
        int blocks = (n + BLOCK - 1) / BLOCK;
        // one accumulator a slice, summed in the slices' order: the same bits whichever thread ran which
        java.util.SortedMap<Long, float[]> sums = new java.util.TreeMap<>();
        Parallel.forRange((blocks + 1) / 2, 1, (begin, end) -> {
            float[] acc = new float[Math.multiplyExact(n, d)];
            synchronized (sums) {
                sums.put(begin, acc);
            }
            Product pr = Product.forThread(n, d, kernel.panel());
            for (long pair = begin; pair < end; pair++) {
                int a = (int) pair, b = blocks - 1 - a;
                blockRow(g, ld, n, t, labels, w, sh, sorted, f, d, kernel, pr, acc, a);
                if (b != a) blockRow(g, ld, n, t, labels, w, sh, sorted, f, d, kernel, pr, acc, b);
            }
        });
        float[] total = null;
        for (float[] o : sums.values()) {
            if (total == null) {
                total = o;
                continue;
            }
            for (int e = 0; e < total.length; e++) total[e] += o[e];
        }
        for (int e = 0; e < total.length; e++) total[e] *= alpha;
        MemorySegment.copy(total, 0, df, F, 0, total.length);
    }

    /** A slice's buffers for the fused product. */
    private static final class Product {
        final Part part = new Part(0);
        final float[] h, ht;
        final float[] group = new float[JavaGemm.MAX_GROUP * BLOCK];
        final float[] fi, fj, cb;
        final int panel;

        /**
         * Buffers for blocks of at most b rows and columns, b = min(BLOCK, n rounded up to a
         * tile): a small call's (n = 32) were 256 x 256 floats twice, made and zeroed afresh on
         * every call (half a MiB: a tenth of java's one-tensor call at (32, 128) went to that memset).
         */
        Product(int b, int d, int panel) {
            this.panel = panel;
            h = new float[b * b];
            ht = new float[b * b];
            fi = new float[b * d];
            fj = new float[b * d];
            cb = new float[b * d];
        }

        boolean fits(int b, int d, int panel) {
            return this.panel == panel && h.length >= b * b && fi.length >= b * d;
        }

        /**
         * This thread's buffers, kept from call to call (every one is written before it is read:
         * h and ht whole for each block, the packed rows, cb cleared or overwritten by the kernel)
         * and made anew only when a call needs larger ones; small calls, whose work is a few
         * microseconds, no longer make and zero a slice's buffers each time.
         */
        static Product forThread(int n, int d, int panel) {
            int b = Math.min(BLOCK, (n + TILE - 1) / TILE * TILE);
            Product p = KEPT.get();
            if (p == null || !p.fits(b, d, panel)) {
                p = new Product(b, d, panel);
                if ((long) b * d <= KEEP_FLOATS) KEPT.set(p); // not a large call's (n x d) buffers: 256 x 512 at most
            }
            return p;
        }

        private static final int KEEP_FLOATS = BLOCK * 512;
        private static final ThreadLocal<Product> KEPT = new ThreadLocal<>();
    }

    /** Each group of rows of one label, in increasing order (a copy where it was not), shared by its rows as positives' are. */
    private static int[][] sortedGroups(int[][] positives) {
        java.util.Map<int[], int[]> done = new java.util.IdentityHashMap<>();
        int[][] out = new int[positives.length][];
        for (int i = 0; i < positives.length; i++) {
            out[i] = done.computeIfAbsent(positives[i], group -> {
                int[] copy = group.clone();
                Arrays.sort(copy);
                return copy;
            });
        }
        return out;
    }

    /** Rows r0.. of f, (rows, d), packed as the kernel's B operand: panels of the kernel's width ({@link JavaGemm#bAt}). */
    static void packRows(MemorySegment f, int d, int r0, int rows, int panel, float[] out) {
        for (int start = 0; start < d; start += panel) {
            int width = Math.min(panel, d - start), base = start * rows;
            for (int r = 0; r < rows; r++) MemorySegment.copy(f, F, 4 * ((long) (r0 + r) * d + start), out, base + r * width, width);
        }
    }

    /** cb = ap (mb x kb) times the packed B (kb x d), added to rows r0.. of acc. */
    private static void multiplyAdd(JavaGemm.Block kernel, float[] ap, float[] bp, float[] cb, int mb, int kb, int d, float[] acc,
                                    int r0) {
        if (!kernel.overwrites()) Arrays.fill(cb, 0, mb * d, 0f);
        kernel.multiply(ap, bp, cb, mb, d, kb, d);
        int base = r0 * d, lanes = S.length(), e = 0, count = mb * d;
        for (; e + lanes <= count; e += lanes) {
            FloatVector.fromArray(S, acc, base + e).add(FloatVector.fromArray(S, cb, e)).intoArray(acc, base + e);
        }
        for (; e < count; e++) acc[base + e] += cb[e];
    }

    /**
     * ht (cols, rows) = hᵀ of h (rows, cols): groups of the transposer's width of h's rows,
     * copied out whole, transposed in registers (a value at a time, every store went to another
     * cache line: at N = 16384 the (N/256)²/2 blocks' transposes were the largest part of the
     * step after the products).
     */
    static void transpose(float[] h, int rows, int cols, float[] ht, float[] group) {
        JavaGemm.Transposer tr = JavaGemmVector.TRANSPOSER;
        int w = tr.width(), r = 0;
        for (; r + w <= rows; r += w) {
            System.arraycopy(h, r * cols, group, 0, w * cols);
            tr.transpose(group, cols, ht, rows, r); // ht[q rows + r + t] = h[(r + t) cols + q]
        }
        for (; r < rows; r++) for (int q = 0; q < cols; q++) ht[q * rows + r] = h[r * cols + q];
    }

    /** Block row I: its blocks (I, J), J <= I, formed and multiplied. */
    private static void blockRow(MemorySegment g, long ld, int n, SymmetricTargets t, boolean labels, float w, Shares sh,
                                 int[][] sorted, MemorySegment f, int d, JavaGemm.Block kernel, Product pr, float[] acc,
                                 int bi) {
        int i0 = bi * BLOCK, rows = Math.min(BLOCK, n - i0);
        packRows(f, d, i0, rows, pr.panel, pr.fi);
        for (int bj = 0; bj <= bi; bj++) {
            int j0 = bj * BLOCK, cols = Math.min(BLOCK, n - j0);
            boolean diagonal = bi == bj;
            float[] h = pr.h;
            // the block's tiles; on the diagonal the tiles below it and their mirrors (its diagonal tiles come in full)
            for (int ti = 0; ti < rows; ti += TILE) {
                for (int tj = 0; tj < (diagonal ? ti + 1 : cols); tj += TILE) {
                    tileH(g, ld, n, i0 + ti, j0 + tj, t, labels, sh.m, sh.c, pr.part);
                    float[] x = pr.part.t;
                    int tr = Math.min(TILE, rows - ti), tc = Math.min(TILE, cols - tj);
                    for (int r = 0; r < tr; r++) System.arraycopy(x, r * TILE, h, (ti + r) * cols + tj, tc);
                    if (diagonal && ti != tj) {
                        for (int r = 0; r < tr; r++) for (int q = 0; q < tc; q++) h[(tj + q) * cols + ti + r] = x[r * TILE + q];
                    }
                }
            }
            shares(n, t, labels, w, sh, sorted, h, i0, rows, j0, cols);
            packRows(f, d, j0, cols, pr.panel, pr.fj);
            multiplyAdd(kernel, h, pr.fj, pr.cb, rows, cols, d, acc, i0); // df[I] += h f[J]
            if (!diagonal) {
                transpose(h, rows, cols, pr.ht, pr.group);
                multiplyAdd(kernel, pr.ht, pr.fi, pr.cb, cols, rows, d, acc, j0); // df[J] += hᵀ f[I]
            }
        }
    }

    /**
     * The targets' shares taken off block (i0.., j0..) of h, rows wide: h_ij loses w for j = p(i)
     * and w for i = p(j) (one target a row), or w / |P(i)| + w / |P(j)| where i and j share a
     * label (label targets); as {@link #run} takes them off point by point.
     */
    private static void shares(int n, SymmetricTargets t, boolean labels, float w, Shares sh, int[][] sorted, float[] h,
                               int i0, int rows, int j0, int cols) {
        for (int r = 0; r < rows; r++) {
            int i = i0 + r;
            if (sh.skip[i]) continue;
            if (labels) {
                int[] group = sorted[i];
                float share = (float) ((double) w / (group.length - 1));
                int from = Arrays.binarySearch(group, j0);
                for (int k = from >= 0 ? from : -from - 1; k < group.length && group[k] < j0 + cols; k++) {
                    int j = group[k];
                    if (j != i) h[r * cols + j - j0] = h[r * cols + j - j0] - share - share; // j's share is i's: one group
                }
            } else {
                int p = target(i, n, t);
                if (p >= j0 && p < j0 + cols) h[r * cols + p - j0] -= w;
            }
        }
        if (labels) return;
        for (int q = 0; q < cols; q++) { // i = p(j): the share g_ji gives h_ij
            int j = j0 + q, p = target(j, n, t);
            if (!sh.skip[j] && p >= i0 && p < i0 + rows) h[(p - i0) * cols + q] -= w;
        }
    }

    /** The rows' shifts m_i and weights c_i = w / S_i (h takes exp(s - m_i) c_i), and which rows are skipped. */
    private record Shares(float[] m, float[] c, boolean[] skip) {
    }

    /** The first sweep: the rows' losses into rowLoss, and their {@link Shares}. */
    private static Shares statistics(MemorySegment g, long ld, int n, SymmetricTargets t, float w, int[][] positives,
                                     double[] rowLoss) {
        boolean labels = positives != null;
        double[] positive = new double[n];
        boolean[] skip = new boolean[n];
        for (int i = 0; i < n; i++) { // the positives' logits, before the gradient overwrites them
            if (labels) {
                if (positives[i].length < 2) {
                    skip[i] = true;
                    continue;
                }
                double s = 0;
                for (int j : positives[i]) if (j != i) s += at(g, ld, i, j);
                positive[i] = s / (positives[i].length - 1);
            } else {
                positive[i] = at(g, ld, i, target(i, n, t));
            }
        }
        int side = (n + TILE - 1) / TILE;
        // each slice's part under its first pair, merged in that order: the same sums whichever
        // thread ran which slice (forward alone and forward + backward give the same bits)
        java.util.SortedMap<Long, Part> parts = new java.util.TreeMap<>();
        tiles(side, begin -> {
            Part p = new Part(n);
            synchronized (parts) {
                parts.put(begin, p);
            }
            return p;
        }, (p, i0, j0) -> stats(g, ld, n, i0, j0, t, labels, p));
        // the rows' shift and weight: h takes exp(s - m_i) * c_i with c_i = w / S_i
        float[] m = new float[side * TILE], c = new float[side * TILE];
        for (int i = 0; i < n; i++) {
            double mx = Double.NEGATIVE_INFINITY, sm = 0;
            boolean bad = false;
            for (Part p : parts.values()) {
                bad |= p.bad[i];
                double pm = p.max[i];
                if (pm == Double.NEGATIVE_INFINITY) continue;
                if (pm > mx) {
                    sm = sm * Math.exp(mx - pm) + p.sum[i];
                    mx = pm;
                } else {
                    sm += p.sum[i] * Math.exp(pm - mx);
                }
            }
            m[i] = mx == Double.NEGATIVE_INFINITY ? 0f : (float) mx;
            if (skip[i]) {
                rowLoss[i] = 0;
                c[i] = 0f;
            } else if (bad || !(sm > 0) || Double.isNaN(mx)) {
                rowLoss[i] = Double.NaN;
                c[i] = Float.NaN;
            } else {
                rowLoss[i] = mx + Math.log(sm) - positive[i];
                c[i] = (float) (w / sm);
            }
        }
        return new Shares(m, c, skip);
    }

    private static int target(int i, int n, SymmetricTargets t) {
        return (int) Math.floorMod(i + t.offset(), (long) n);
    }

    /** S_ij from the lower triangle. */
    private static float at(MemorySegment g, long ld, int i, int j) {
        return g.getAtIndex(F, Math.max(i, j) * ld + Math.min(i, j));
    }

    private static void subtract(MemorySegment g, long ld, int i, int j, float v) {
        long k = i * ld + j;
        g.setAtIndex(F, k, g.getAtIndex(F, k) - v);
    }

    @FunctionalInterface
    private interface TileTask {
        void run(Part part, int i0, int j0);
    }

    /** Every tile (i0, j0) of the lower triangle, tile rows paired for balance, one Part a slice. */
    private static void tiles(int side, java.util.function.LongFunction<Part> part, TileTask task) {
        Parallel.forRange((side + 1) / 2, 1, (begin, end) -> {
            Part p = part.apply(begin);
            for (long pair = begin; pair < end; pair++) {
                int a = (int) pair, b = side - 1 - a;
                for (int blk = 0; blk <= a; blk++) task.run(p, a * TILE, blk * TILE);
                if (b != a) for (int blk = 0; blk <= b; blk++) task.run(p, b * TILE, blk * TILE);
            }
        });
    }

    /**
     * Tile (i0, j0) into a (TILE wide): entries past the matrix -Inf; a diagonal tile (i0 = j0)
     * completed from its lower half; the pairs no row may take (its own, a decoupled target) -Inf.
     */
    private static void load(MemorySegment g, long ld, int n, int i0, int j0, SymmetricTargets t, boolean labels, float[] a) {
        int rows = Math.min(TILE, n - i0), cols = Math.min(TILE, n - j0);
        boolean diagonal = i0 == j0;
        for (int r = 0; r < rows; r++) {
            int take = diagonal ? r + 1 : cols;
            MemorySegment.copy(g, F, 4 * ((i0 + r) * ld + j0), a, r * TILE, take);
            Arrays.fill(a, r * TILE + take, (r + 1) * TILE, NEG_INF);
        }
        if (rows < TILE) Arrays.fill(a, rows * TILE, TILE * TILE, NEG_INF);
        if (diagonal) {
            for (int r = 0; r < rows; r++) for (int q = 0; q < r; q++) a[q * TILE + r] = a[r * TILE + q];
            if (t.excludeSelf()) for (int r = 0; r < rows; r++) a[r * TILE + r] = NEG_INF;
        }
        if (!labels && t.decoupled()) { // each row's target; the target's own row marks the mirrored entry
            for (int r = 0; r < rows; r++) {
                int p = target(i0 + r, n, t) - j0;
                if (p >= 0 && p < cols && (diagonal || j0 + p <= i0 + r)) a[r * TILE + p] = NEG_INF;
            }
        }
    }

    /** The first sweep's tile: its rows' statistics, and (off the diagonal) its columns'. */
    private static void stats(MemorySegment g, long ld, int n, int i0, int j0, SymmetricTargets t, boolean labels, Part p) {
        float[] a = p.a;
        load(g, ld, n, i0, j0, t, labels, a);
        int rows = Math.min(TILE, n - i0), cols = Math.min(TILE, n - j0);
        boolean diagonal = i0 == j0;
        int lanes = S.length();
        for (int r = 0; r < rows; r++) {
            FloatVector mx = FloatVector.broadcast(S, NEG_INF);
            boolean bad = false;
            for (int q = 0; q < TILE; q += lanes) {
                FloatVector v = FloatVector.fromArray(S, a, r * TILE + q);
                VectorMask<Float> notBelowInf = v.compare(VectorOperators.LT, Float.POSITIVE_INFINITY).not();
                bad |= notBelowInf.anyTrue(); // NaN or +Inf
                mx = mx.max(v);
            }
            if (bad) {
                p.bad[i0 + r] = true;
                if (!diagonal) for (int q = 0; q < cols; q++) if (!(a[r * TILE + q] < Float.POSITIVE_INFINITY)) p.bad[j0 + q] = true;
                continue;
            }
            float m = mx.reduceLanes(VectorOperators.MAX);
            if (m == NEG_INF) continue;
            FloatVector sum = FloatVector.zero(S);
            for (int q = 0; q < TILE; q += lanes) {
                sum = sum.add(FloatVector.fromArray(S, a, r * TILE + q).sub(m).lanewise(VectorOperators.EXP));
            }
            add(p, i0 + r, m, sum.reduceLanes(VectorOperators.ADD));
        }
        if (diagonal) return; // its full rows hold its columns
        for (int q = 0; q < TILE; q += lanes) {
            FloatVector mx = FloatVector.broadcast(S, NEG_INF);
            for (int r = 0; r < rows; r++) mx = mx.max(FloatVector.fromArray(S, a, r * TILE + q));
            // a column of -Inf alone shifts by 0 (exp(-Inf - -Inf) would be NaN); NaN columns are marked bad above
            FloatVector shift = mx.blend(0f, mx.compare(VectorOperators.EQ, NEG_INF));
            FloatVector sum = FloatVector.zero(S);
            for (int r = 0; r < rows; r++) sum = sum.add(FloatVector.fromArray(S, a, r * TILE + q).sub(shift).lanewise(VectorOperators.EXP));
            float[] ms = p.t;
            mx.intoArray(ms, 0);
            sum.intoArray(ms, lanes);
            for (int l = 0; l < lanes && q + l < cols; l++) {
                float cm = ms[l];
                if (cm == NEG_INF || Float.isNaN(cm)) continue;
                add(p, j0 + q + l, cm, ms[lanes + l]);
            }
        }
    }

    /** Adds a part (max m, sum s of exp(x - m)) to row i's running statistics. */
    private static void add(Part p, int i, double m, double s) {
        double mx = p.max[i];
        if (m > mx) {
            p.sum[i] = p.sum[i] * Math.exp(mx - m) + s;
            p.max[i] = m;
        } else {
            p.sum[i] += s * Math.exp(m - mx);
        }
    }

    /** The second sweep's tile: h over it, written to the tile and (off the diagonal) its mirror. */
    private static void gradient(MemorySegment g, long ld, int n, int i0, int j0, SymmetricTargets t, boolean labels,
                                 float[] m, float[] c, Part p) {
        tileH(g, ld, n, i0, j0, t, labels, m, c, p);
        float[] a = p.a, h = p.t;
        int rows = Math.min(TILE, n - i0), cols = Math.min(TILE, n - j0);
        for (int r = 0; r < rows; r++) MemorySegment.copy(h, r * TILE, g, F, 4 * ((i0 + r) * ld + j0), cols);
        if (i0 == j0) return; // symmetric within: both halves written
        for (int r = 0; r < rows; r++) for (int q = 0; q < cols; q++) a[q * TILE + r] = h[r * TILE + q];
        for (int q = 0; q < cols; q++) MemorySegment.copy(a, q * TILE, g, F, 4 * ((j0 + q) * ld + i0), rows);
    }

    /** h over tile (i0, j0) into p.t (TILE wide; a diagonal tile in full), before the targets' shares; p.a holds the tile's logits. */
    private static void tileH(MemorySegment g, long ld, int n, int i0, int j0, SymmetricTargets t, boolean labels,
                              float[] m, float[] c, Part p) {
        float[] a = p.a, h = p.t;
        load(g, ld, n, i0, j0, t, labels, a);
        int rows = Math.min(TILE, n - i0);
        int lanes = S.length();
        for (int r = 0; r < rows; r++) {
            float mi = m[i0 + r], ci = c[i0 + r];
            for (int q = 0; q < TILE; q += lanes) {
                FloatVector v = FloatVector.fromArray(S, a, r * TILE + q);
                FloatVector mj = FloatVector.fromArray(S, m, j0 + q), cj = FloatVector.fromArray(S, c, j0 + q);
                v.sub(mi).lanewise(VectorOperators.EXP).mul(ci)
                        .add(v.sub(mj).lanewise(VectorOperators.EXP).mul(cj))
                        .intoArray(h, r * TILE + q);
            }
        }
    }
}
