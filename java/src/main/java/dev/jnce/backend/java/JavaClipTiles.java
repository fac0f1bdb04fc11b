package dev.jnce.backend.java;

import dev.jnce.internal.Parallel;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * CLIP's towers' gradients without writing G = d loss / d s: da = alpha G b and db = alpha Gᵀ a,
 * G formed from s a block of BLOCK x BLOCK at a time ({@link JavaClipXent.Stats} give its
 * coefficients) and multiplied where it lies by the GEMM's kernel: da[I] += G[I,J] b[J], and
 * db[J]ᵀ += a[I]ᵀ G[I,J] into one (D, N) accumulator a slice, summed in the slices' order at the
 * end. Against writing G over s and two GEMMs that pack it again, s is read once and nothing of
 * N x N is written. The entries: where every row and column maximum lies within
 * {@link #FACTOR_RANGE} of the others, one exponential at the middle shift c serves both
 * softmaxes, G_ij = exp(s_ij - c) (a_i + b_j) with a_i = w / (2 s_i) exp(c - m_i), b_j =
 * w / (2 s'_j) exp(c - m'_j) (as native/src/cpu/clip_xent.c forms it); else two,
 * G_ij = w / (2 s_i) exp(s_ij - m_i) + w / (2 s'_j) exp(s_ij - m'_j). The pair (i, i) is taken
 * in double: w/2 (exp(s_ii - lse_i) + exp(s_ii - lse'_i)) - w. {@link #sums}: the statistics
 * themselves in one sweep where one shift serves. Loaded only when the Vector API is present.
 */
final class JavaClipTiles {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    /** Rows and columns of a block: the block (256 KiB) in both layouts and its towers' rows stay in L2. */
    private static final int BLOCK = 256;
    /**
     * The widest spread of the maxima at which one shift serves: exp(s - c) then lies in
     * [e^-87, e^5] for every entry within 77 of its row's and column's maxima, the range that
     * holds the softmaxes' weight.
     */
    private static final float FACTOR_RANGE = 10f;

    private JavaClipTiles() {
    }

    /** Whether the kernel's panels take whole vectors of this machine's lanes. */
    static boolean takes() {
        return JavaGemmVector.BLOCK.panel() % S.length() == 0;
    }

    /** The rows' and columns' maxima and sums of exp(x - max), none of them met NaN or +Inf. */
    record Sums(float[] rmax, double[] rsum, float[] cmax, double[] csum) {
    }

    /** Rows' exponentials summed on float lanes between folds into double: 32 vectors, as {@link VectorRowOps}' row statistics. */
    private static final int ROW_FOLD = 32;
    /** Rows whose exponentials a column sums in float between folds into double. */
    private static final int COLUMN_FOLD = 64;
    /** How far above the running shift an entry may lie before the shift rises to it: exp(x - shift) <= e^16. */
    private static final float SHIFT_MARGIN = 16f;

    /** A slice's column statistics in the one-sweep pass, all at one running shift. */
    private static final class ColumnPart {
        final float[] max, acc;
        final double[] sum;
        float shift = Float.NEGATIVE_INFINITY;
        int pending;

        ColumnPart(int n) {
            max = new float[n];
            acc = new float[n];
            sum = new double[n];
            Arrays.fill(max, Float.NEGATIVE_INFINITY);
        }

        void fold() {
            for (int j = 0; j < sum.length; j++) sum[j] += acc[j];
            Arrays.fill(acc, 0f);
            pending = 0;
        }
    }

    /**
     * s's statistics in one sweep and one exponential an entry, as native/src/cpu/clip_xent.c's
     * shared first pass: each slice of rows keeps one running shift C (raised, and its sums
     * rescaled, where an entry lies more than {@link #SHIFT_MARGIN} above it); every entry's
     * exp(x - C) goes to its row's sum and its column's, the row's brought to its own maximum at
     * the row's end, the columns' at the end across slices. Holds where every maximum is finite
     * and all lie within {@link #FACTOR_RANGE} of each other (each sum then holds a term of at
     * least e^-10 relative to the shift); null where not, or where an entry is NaN or +Inf: the
     * caller sweeps rows and columns each at its own maxima. The column sums are added in the
     * slices' order: the same bits whichever thread ran which slice.
     */
    static Sums sums(MemorySegment s, long ld, int n) {
        float[] rmax = new float[n];
        double[] rsum = new double[n];
        java.util.SortedMap<Long, ColumnPart> parts = new java.util.TreeMap<>();
        java.util.concurrent.atomic.AtomicBoolean failed = new java.util.concurrent.atomic.AtomicBoolean();
        Parallel.forRange(n, JavaSimilarity.rowsPerSlice(n), (begin, end) -> {
            ColumnPart p = new ColumnPart(n);
            float[] buf = new float[S.length()];
            for (int i = (int) begin; i < end; i++) {
                if (!row(s, ld, n, i, p, rmax, rsum, buf)) {
                    failed.set(true);
                    return;
                }
                if (++p.pending == COLUMN_FOLD || i + 1 == end) p.fold();
            }
            synchronized (parts) {
                parts.put(begin, p);
            }
        });
        if (failed.get()) return null;
        float top = Float.NEGATIVE_INFINITY;
        float[] cmax = new float[n];
        Arrays.fill(cmax, Float.NEGATIVE_INFINITY);
        for (ColumnPart p : parts.values()) {
            top = Math.max(top, p.shift);
            for (int j = 0; j < n; j++) cmax[j] = Math.max(cmax[j], p.max[j]);
        }
        float lo = Float.POSITIVE_INFINITY, hi = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            float r = rmax[i], c = cmax[i];
            if (!(r > Float.NEGATIVE_INFINITY && c > Float.NEGATIVE_INFINITY)) return null;
            lo = Math.min(lo, Math.min(r, c));
            hi = Math.max(hi, Math.max(r, c));
        }
        if (!(hi - lo <= FACTOR_RANGE)) return null;
        double[] csum = new double[n];
        for (ColumnPart p : parts.values()) {
            double scale = Math.exp((double) p.shift - top);
            for (int j = 0; j < n; j++) csum[j] += p.sum[j] * scale;
        }
        for (int j = 0; j < n; j++) csum[j] *= Math.exp((double) top - cmax[j]);
        return new Sums(rmax, rsum, cmax, csum);
    }

    /** Row i of the one-sweep pass: its maximum and sum into rmax and rsum, its entries into p's columns; false on NaN or +Inf. */
    private static boolean row(MemorySegment s, long ld, int n, int i, ColumnPart p, float[] rmax, double[] rsum, float[] buf) {
        int lanes = S.length(), whole = n - n % lanes, pending = 0;
        long at = 4L * i * ld;
        float[] cm = p.max, acc = p.acc;
        float c = p.shift;
        FloatVector vc = FloatVector.broadcast(S, c), limit = FloatVector.broadcast(S, c + SHIFT_MARGIN);
        FloatVector rm = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY), racc = FloatVector.zero(S);
        double rs = 0;
        for (int q = 0; q < whole; q += lanes) {
            FloatVector v = FloatVector.fromMemorySegment(S, s, at + 4L * q, ORDER);
            if (v.compare(VectorOperators.LE, limit).not().anyTrue()) { // above the margin, or NaN
                float bm = v.reduceLanes(VectorOperators.MAX);
                if (v.test(VectorOperators.IS_NAN).anyTrue() || !(bm < Float.POSITIVE_INFINITY)) return false;
                if (c > Float.NEGATIVE_INFINITY) {
                    double scale = Math.exp((double) c - bm);
                    rs = (rs + VectorMath.sumLanes(racc, buf)) * scale;
                    racc = FloatVector.zero(S);
                    pending = 0;
                    rescale(p, scale);
                }
                c = bm;
                p.shift = c;
                vc = FloatVector.broadcast(S, c);
                limit = FloatVector.broadcast(S, c + SHIFT_MARGIN);
            }
            rm = rm.max(v);
            v.max(FloatVector.fromArray(S, cm, q)).intoArray(cm, q);
            FloatVector e = VectorMath.expNonpos(v.sub(vc)); // v - c <= SHIFT_MARGIN: the polynomial holds there as below 0
            racc = racc.add(e);
            e.add(FloatVector.fromArray(S, acc, q)).intoArray(acc, q);
            if (++pending == ROW_FOLD) {
                rs += VectorMath.sumLanes(racc, buf);
                racc = FloatVector.zero(S);
                pending = 0;
            }
        }
        if (pending > 0) rs += VectorMath.sumLanes(racc, buf);
        float m = whole > 0 ? rm.reduceLanes(VectorOperators.MAX) : Float.NEGATIVE_INFINITY;
        for (int q = whole; q < n; q++) {
            float v = s.get(F, at + 4L * q);
            if (!(v <= c + SHIFT_MARGIN)) {
                if (!(v < Float.POSITIVE_INFINITY)) return false; // NaN or +Inf
                if (c > Float.NEGATIVE_INFINITY) {
                    double scale = Math.exp((double) c - v);
                    rs *= scale;
                    rescale(p, scale);
                }
                c = v;
                p.shift = c;
            }
            m = Math.max(m, v);
            cm[q] = Math.max(cm[q], v);
            float e = (float) Math.exp((double) v - c);
            rs += e;
            acc[q] += e;
        }
        rmax[i] = m;
        rsum[i] = rs * Math.exp((double) c - m);
        return true;
    }

    /** The slice's column sums (pending and folded) times scale: its shift has risen. */
    private static void rescale(ColumnPart p, double scale) {
        float f = (float) scale;
        for (int j = 0; j < p.sum.length; j++) {
            p.sum[j] *= scale;
            p.acc[j] *= f;
        }
    }

    /** A slice's buffers. */
    private static final class Part {
        final float[] h, hp, cb, daAcc, dbt;

        /** Blocks of at most n rows: a small call allocates and zeroes no more than it uses. */
        Part(int n, int d) {
            int side = Math.min(BLOCK, n);
            h = new float[side * side];
            hp = new float[side * side];
            cb = new float[side * d];
            daAcc = new float[side * d];
            dbt = new float[Math.multiplyExact(n, d)];
        }
    }

    /**
     * s (n, n), rows ld floats apart; a, b, da, db (n, d) float32, contiguous; st: s's
     * statistics, none of its rows or columns bad.
     */
    static void run(MemorySegment s, long ld, int n, JavaClipXent.Stats st, float alpha, MemorySegment a, MemorySegment b, int d,
                    MemorySegment da, MemorySegment db) {
        JavaGemm.Block kernel = JavaGemmVector.BLOCK;
        int panel = kernel.panel(), blocks = (n + BLOCK - 1) / BLOCK;
        float lo = Float.POSITIVE_INFINITY, hi = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            lo = Math.min(lo, Math.min(st.rmax()[i], st.cmax()[i]));
            hi = Math.max(hi, Math.max(st.rmax()[i], st.cmax()[i]));
        }
        boolean shared = hi - lo <= FACTOR_RANGE;
        float c = 0.5f * (lo + hi);
        float[] ar = new float[n], bc = new float[n];
        for (int i = 0; shared && i < n; i++) {
            ar[i] = (float) (st.rcoef()[i] * Math.exp((double) c - st.rmax()[i]));
            bc[i] = (float) (st.ccoef()[i] * Math.exp((double) c - st.cmax()[i]));
        }
        // b's blocks packed as the kernel's B operand, a's blocks transposed (d, rows) as its A operand
        float[][] bPacked = new float[blocks][], aT = new float[blocks][];
        Parallel.forRange(blocks, 1, (begin, end) -> {
            for (int k = (int) begin; k < end; k++) {
                int r0 = k * BLOCK, rows = Math.min(BLOCK, n - r0);
                bPacked[k] = new float[rows * d];
                JavaSymmetricTiles.packRows(b, d, r0, rows, panel, bPacked[k]);
                float[] t = new float[rows * d], row = new float[d];
                for (int r = 0; r < rows; r++) {
                    MemorySegment.copy(a, F, 4L * (r0 + r) * d, row, 0, d);
                    for (int q = 0; q < d; q++) t[q * rows + r] = row[q];
                }
                aT[k] = t;
            }
        });
        java.util.SortedMap<Long, Part> parts = new java.util.TreeMap<>();
        Parallel.forRange(blocks, 1, (begin, end) -> {
            Part p = new Part(n, d);
            synchronized (parts) {
                parts.put(begin, p);
            }
            for (int bi = (int) begin; bi < end; bi++) {
                int i0 = bi * BLOCK, rows = Math.min(BLOCK, n - i0);
                Arrays.fill(p.daAcc, 0f);
                for (int bj = 0; bj < blocks; bj++) {
                    int j0 = bj * BLOCK, cols = Math.min(BLOCK, n - j0);
                    form(s, ld, st, shared, c, ar, bc, i0, rows, j0, cols, panel, p);
                    // da[I] += G b[J]
                    if (!kernel.overwrites()) Arrays.fill(p.cb, 0, rows * d, 0f);
                    kernel.multiply(p.h, bPacked[bj], p.cb, rows, d, cols, d);
                    add(p.cb, 0, p.daAcc, 0, rows * d);
                    // db[J]ᵀ += a[I]ᵀ G
                    if (!kernel.overwrites()) Arrays.fill(p.cb, 0, d * cols, 0f);
                    kernel.multiply(aT[bi], p.hp, p.cb, d, cols, rows, cols);
                    for (int q = 0; q < d; q++) add(p.cb, q * cols, p.dbt, q * n + j0, cols);
                }
                for (int e = 0; e < rows * d; e++) p.daAcc[e] *= alpha;
                MemorySegment.copy(p.daAcc, 0, da, F, 4L * i0 * d, rows * d);
            }
        });
        float[] total = null;
        for (Part p : parts.values()) {
            if (total == null) {
                total = p.dbt;
                continue;
            }
            add(p.dbt, 0, total, 0, total.length);
        }
        float[] row = new float[d];
        for (int j = 0; j < n; j++) { // (d, n) -> (n, d), a row of db at a time
            for (int q = 0; q < d; q++) row[q] = alpha * total[q * n + j];
            MemorySegment.copy(row, 0, db, F, 4L * j * d, d);
        }
    }

    /** to[t..t+count) += from[f..f+count). */
    private static void add(float[] from, int f, float[] to, int t, int count) {
        int lanes = S.length(), e = 0;
        for (; e + lanes <= count; e += lanes) {
            FloatVector.fromArray(S, to, t + e).add(FloatVector.fromArray(S, from, f + e)).intoArray(to, t + e);
        }
        for (; e < count; e++) to[t + e] += from[f + e];
    }

    /**
     * Block (i0.., j0..) of G into p.h (rows x cols, row-major: the kernel's A operand) and p.hp
     * (the same packed in panels: its B operand).
     */
    private static void form(MemorySegment s, long ld, JavaClipXent.Stats st, boolean shared, float c, float[] ar, float[] bc,
                             int i0, int rows, int j0, int cols, int panel, Part p) {
        float[] h = p.h, hp = p.hp;
        int lanes = S.length(), whole = cols - cols % lanes, lastPanel = cols - cols % panel;
        FloatVector vc = FloatVector.broadcast(S, c);
        for (int r = 0; r < rows; r++) {
            int i = i0 + r;
            long at = 4L * ((long) i * ld + j0);
            float ai = ar[i], ci = st.rcoef()[i], mi = st.rmax()[i];
            FloatVector va = FloatVector.broadcast(S, ai), vci = FloatVector.broadcast(S, ci), vmi = FloatVector.broadcast(S, mi);
            for (int q = 0; q < whole; q += lanes) {
                FloatVector x = FloatVector.fromMemorySegment(S, s, at + 4L * q, ORDER), g;
                if (shared) {
                    // s - c <= FACTOR_RANGE / 2: the polynomial holds there as below 0
                    g = VectorMath.expNonpos(x.sub(vc)).mul(va.add(FloatVector.fromArray(S, bc, j0 + q)));
                } else {
                    g = VectorMath.expNonpos(x.sub(vmi)).mul(vci)
                            .add(VectorMath.expNonpos(x.sub(FloatVector.fromArray(S, st.cmax(), j0 + q)))
                                    .mul(FloatVector.fromArray(S, st.ccoef(), j0 + q)));
                }
                g.intoArray(h, r * cols + q);
                int start = q - q % panel, w = start < lastPanel ? panel : cols - start;
                g.intoArray(hp, start * rows + r * w + q - start);
            }
            for (int q = whole; q < cols; q++) {
                int j = j0 + q;
                double x = s.get(F, at + 4L * q);
                float g = shared ? (float) (Math.exp(x - c) * (ai + bc[j]))
                        : (float) (ci * Math.exp(x - mi) + st.ccoef()[j] * Math.exp(x - st.cmax()[j]));
                h[r * cols + q] = g;
                hp[JavaGemm.bAt(r, q, cols, rows, panel)] = g;
            }
            if (i >= j0 && i < j0 + cols) {
                double x = s.getAtIndex(F, (long) i * ld + i), w = st.w();
                float g = (float) (0.5 * w * (Math.exp(x - st.rlse()[i]) + Math.exp(x - st.clse()[i])) - w);
                h[r * cols + i - j0] = g;
                hp[JavaGemm.bAt(r, i - j0, cols, rows, panel)] = g;
            }
        }
    }
}
