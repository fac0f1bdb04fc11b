package dev.jnce.backend.java;

import dev.jnce.Backends;
import dev.jnce.Tensor;
import dev.jnce.backend.ContrastiveKernels;
import dev.jnce.backend.ContrastiveKernels.SymmetricTargets;
import dev.jnce.internal.Parallel;
import dev.jnce.Reduction;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * {@link dev.jnce.backend.ContrastiveKernels#symmetricCrossEntropy} in Java. Same meaning as
 * native/src/cpu/symmetric_xent.c. With the Vector API, sweeps over the lower triangle's tiles
 * ({@link JavaSymmetricTiles}: the statistics, then, with a gradient buffer, g + gᵀ). Without it
 * (or for a decoupled target whose target's target is another row) the lower triangle is
 * mirrored into the gradient buffer, each full row gets the softmax statistics and its gradient
 * in place ({@link RowOps}), and g + gᵀ is formed tile by tile; without a gradient buffer each
 * row reads its column part from the lower triangle, in scalar code. Label targets (SupCon) are
 * each row's other rows with its label, found once per call.
 */
final class JavaSymmetricXent {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final int TILE = 64;

    private JavaSymmetricXent() {
    }

    static void run(RowOps ops, Tensor s, SymmetricTargets t, Tensor loss, Tensor grad) {
        int n = Math.toIntExact(s.size(0));
        long ld = s.size(1);
        MemorySegment src = s.segment();
        double[] rowLoss = new double[n];
        int[][] positives = t.labels() == null ? null : positivesByLabel(t.labels().toLongArray(), t.skipEmpty());
        int counted = n;
        for (int i = 0; positives != null && i < n; i++) if (skipped(positives, i)) counted--;
        boolean byTiles = ops != RowOps.SCALAR && JavaSymmetricTiles.takes(n, t);
        if (grad == null && byTiles) {
            JavaSymmetricTiles.run(src, ld, n, t, 1f, positives, rowLoss, false);
        } else if (grad == null) {
            Parallel.forRange(n, 64, (begin, end) -> {
                for (long i = begin; i < end; i++) rowLoss[(int) i] = forwardRow(src, ld, n, (int) i, t, positives);
            });
        } else {
            MemorySegment g = grad.segment();
            long gld = grad.size(1);
            if (g.address() != src.address()) {
                for (long i = 0; i < n; i++) MemorySegment.copy(src, 4 * i * ld, g, 4 * i * gld, 4 * (i + 1));
            }
            float w = t.reduction() == Reduction.MEAN ? (float) (1.0 / Math.max(counted, 1)) : 1f;
            if (byTiles) {
                JavaSymmetricTiles.run(g, gld, n, t, w, positives, rowLoss, true);
            } else {
                tiles(n, (i0, j0) -> mirrorTile(g, gld, n, i0, j0));
                Parallel.forRange(n, 64, (begin, end) -> {
                    for (long i = begin; i < end; i++) rowLoss[(int) i] = gradientRow(ops, g, gld, n, (int) i, t, w, positives);
                });
                tiles(n, (i0, j0) -> symmetrizeTile(g, gld, n, i0, j0));
            }
        }
        writeLoss(t, rowLoss, counted, loss);
    }

    /**
     * The loss and df = alpha (g + gᵀ) f in one pass that writes no g ({@link JavaSymmetricTiles#runProduct}),
     * where the tiles take these targets and f, df are (N, D) contiguous; false (nothing done) elsewhere.
     */
    static boolean gradient(RowOps ops, Tensor s, SymmetricTargets t, Tensor loss, float alpha, Tensor f, Tensor df) {
        int n = Math.toIntExact(s.size(0));
        long d = f.size(1);
        // its accumulators, one (N, D) float array a thread, take at most an eighth of the heap
        long heapShare = Runtime.getRuntime().maxMemory() / 8 / Math.max(1, Backends.threads());
        if (ops == RowOps.SCALAR || !JavaSymmetricTiles.takes(n, t) || n * d > Integer.MAX_VALUE - 64 || 4L * n * d > heapShare
                || f.segment().byteSize() != 4L * n * d || df.segment().byteSize() != 4L * n * d) {
            return false;
        }
        double[] rowLoss = new double[n];
        int[][] positives = t.labels() == null ? null : positivesByLabel(t.labels().toLongArray(), t.skipEmpty());
        int counted = n;
        for (int i = 0; positives != null && i < n; i++) if (skipped(positives, i)) counted--;
        float w = t.reduction() == Reduction.MEAN ? (float) (1.0 / Math.max(counted, 1)) : 1f;
        JavaSymmetricTiles.runProduct(s.segment(), s.size(1), n, t, w, positives, rowLoss, alpha, f.segment(), (int) d,
                df.segment());
        writeLoss(t, rowLoss, counted, loss);
        return true;
    }

    private static void writeLoss(SymmetricTargets t, double[] rowLoss, int counted, Tensor loss) {
        MemorySegment out = loss.segment();
        if (t.reduction() == Reduction.NONE) {
            for (int i = 0; i < rowLoss.length; i++) out.setAtIndex(F, i, (float) rowLoss[i]);
            return;
        }
        double total = 0;
        for (double l : rowLoss) total += l;
        out.setAtIndex(F, 0, (float) (t.reduction() == Reduction.MEAN ? (counted == 0 ? Double.NaN : total / counted) : total));
    }

    /**
     * Row i's positives for label targets: the rows with its label, itself included (skipped by
     * the users). A label on one row only is an error, or with skipEmpty a group of one: the row
     * is then left out ({@link #skipped}).
     */
    private static int[][] positivesByLabel(long[] labels, boolean skipEmpty) {
        int[][] out = new int[labels.length][];
        for (int[] group : Labels.indicesByLabel(labels).values()) {
            if (group.length < 2 && !skipEmpty) {
                throw new IllegalArgumentException("labels: row " + group[0] + " has no positive (label " + labels[group[0]]
                        + " on no other row)");
            }
            for (int r : group) out[r] = group;
        }
        return out;
    }

    /** A row of label targets without positive, left out (loss 0, no gradient row). */
    private static boolean skipped(int[][] positives, int i) {
        return positives != null && positives[i].length < 2;
    }

    private static long target(int i, int n, SymmetricTargets t) {
        return (i + t.offset()) % n;
    }

    private static boolean candidate(int i, long j, int n, SymmetricTargets t) {
        return !(t.excludeSelf() && j == i) && !(t.decoupled() && j == target(i, n, t));
    }

    /** Row i's loss from the lower triangle alone: S_ij is s[i][j] for j <= i, s[j][i] above. */
    private static double forwardRow(MemorySegment s, long ld, int n, int i, SymmetricTargets t, int[][] positives) {
        if (skipped(positives, i)) return 0;
        float m = -Float.MAX_VALUE;
        double sum = 0;
        boolean bad = false;
        for (int j = 0; j < n; j++) {
            float v = s.getAtIndex(F, j <= i ? i * ld + j : j * ld + i);
            bad |= !(v < Float.POSITIVE_INFINITY);
            if (!candidate(i, j, n, t)) continue;
            if (v > m) {
                sum *= Math.exp((double) m - v);
                m = v;
            }
            sum += Math.exp((double) v - m);
        }
        double positive = 0;
        if (positives == null) {
            long p = target(i, n, t);
            positive = s.getAtIndex(F, Math.max(i, p) * ld + Math.min(i, p));
        } else {
            for (int j : positives[i]) if (j != i) positive += s.getAtIndex(F, Math.max(i, j) * ld + Math.min(i, j));
            positive /= positives[i].length - 1;
        }
        return bad ? Double.NaN : m + Math.log(sum) - positive;
    }

    /** Row i (full, mirrored) becomes g_i = w (softmax - target distribution); returns its loss. */
    private static double gradientRow(RowOps ops, MemorySegment g, long ld, int n, int i, SymmetricTargets t, float w,
                                      int[][] positives) {
        long row = i * ld, p = target(i, n, t);
        if (skipped(positives, i)) {
            g.asSlice(4 * row, 4L * n).fill((byte) 0);
            return 0;
        }
        double positive = 0;
        if (positives == null) {
            positive = g.getAtIndex(F, row + p);
        } else {
            for (int j : positives[i]) if (j != i) positive += g.getAtIndex(F, row + j);
            positive /= positives[i].length - 1;
        }
        if (t.excludeSelf()) g.setAtIndex(F, row + i, Float.NEGATIVE_INFINITY);
        if (t.decoupled() && positives == null) g.setAtIndex(F, row + p, Float.NEGATIVE_INFINITY);
        RowOps.Stats st = ops.stats(g, 4 * row, n);
        if (st.bad() || st.sum() == 0) {
            for (long j = 0; j < n; j++) g.setAtIndex(F, row + j, Float.NaN);
            return Double.NaN;
        }
        ops.expScaledMinus(g, 4 * row, n, st.max(), (float) (w / st.sum()), 0f, null, g, 4 * row);
        if (positives == null) {
            g.setAtIndex(F, row + p, g.getAtIndex(F, row + p) - w);
        } else {
            float share = (float) ((double) w / (positives[i].length - 1));
            for (int j : positives[i]) if (j != i) g.setAtIndex(F, row + j, g.getAtIndex(F, row + j) - share);
        }
        return st.lse() - positive;
    }

    @FunctionalInterface
    private interface TileTask {
        void run(int i0, int j0);
    }

    /** Runs task on every tile (i0, j0) of the lower triangle, tile rows paired for balance. */
    private static void tiles(int n, TileTask task) {
        int side = (n + TILE - 1) / TILE;
        Parallel.forRange((side + 1) / 2, 1, (begin, end) -> {
            for (long pair = begin; pair < end; pair++) {
                int a = (int) pair, b = side - 1 - a;
                for (int blk = 0; blk <= a; blk++) task.run(a * TILE, blk * TILE);
                if (b != a) for (int blk = 0; blk <= b; blk++) task.run(b * TILE, blk * TILE);
            }
        });
    }

    /** s[j][i] = s[i][j] for the lower entries of tile (i0, j0). */
    private static void mirrorTile(MemorySegment g, long ld, int n, int i0, int j0) {
        int rows = Math.min(TILE, n - i0), cols = Math.min(TILE, n - j0);
        if (i0 == j0) {
            for (int i = i0; i < i0 + rows; i++) {
                for (int j = j0; j < i; j++) g.setAtIndex(F, j * ld + i, g.getAtIndex(F, i * ld + j));
            }
            return;
        }
        float[][] buf = SCRATCH.get();
        float[] a = read(g, ld, i0, j0, rows, cols, buf[0]), t = buf[1];
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) t[c * TILE + r] = a[r * TILE + c];
        write(g, ld, j0, i0, cols, rows, t);
    }

    /** g[i][j] = g[j][i] = g[i][j] + g[j][i] over tile (i0, j0); the diagonal doubles. */
    private static void symmetrizeTile(MemorySegment g, long ld, int n, int i0, int j0) {
        int rows = Math.min(TILE, n - i0), cols = Math.min(TILE, n - j0);
        if (i0 == j0) {
            for (int i = i0; i < i0 + rows; i++) {
                for (int j = j0; j <= i; j++) {
                    float h = g.getAtIndex(F, i * ld + j) + g.getAtIndex(F, j * ld + i);
                    g.setAtIndex(F, i * ld + j, h);
                    g.setAtIndex(F, j * ld + i, h);
                }
            }
            return;
        }
        float[][] buf = SCRATCH.get();
        float[] a = read(g, ld, i0, j0, rows, cols, buf[0]), b = read(g, ld, j0, i0, cols, rows, buf[1]);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                float h = a[r * TILE + c] + b[c * TILE + r];
                a[r * TILE + c] = h;
                b[c * TILE + r] = h;
            }
        }
        write(g, ld, i0, j0, rows, cols, a);
        write(g, ld, j0, i0, cols, rows, b);
    }

    /** Two TILE x TILE blocks per thread, reused: a fresh pair per tile made the heap grow by hundreds of MiB. */
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[2][TILE * TILE]);

    /** The (rows, cols) block at (r0, c0) into out (TILE wide), one bulk copy per row. */
    private static float[] read(MemorySegment g, long ld, int r0, int c0, int rows, int cols, float[] out) {
        for (int r = 0; r < rows; r++) MemorySegment.copy(g, F, 4 * ((r0 + r) * ld + c0), out, r * TILE, cols);
        return out;
    }

    private static void write(MemorySegment g, long ld, int r0, int c0, int rows, int cols, float[] in) {
        for (int r = 0; r < rows; r++) MemorySegment.copy(in, r * TILE, g, F, 4 * ((r0 + r) * ld + c0), cols);
    }
}
