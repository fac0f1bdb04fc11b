package dev.jnce.internal;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.ContrastiveKernels.RetrievalTargets;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The retrieval cross-entropy ({@link dev.jnce.backend.ContrastiveKernels#retrievalCrossEntropy}:
 * logQ correction, accidental hits, margin, label smoothing over the candidates, a second block
 * of candidates in the same softmax) and BPR's pairs, on host memory for the cpu and java
 * backends. One pass per row over a block of logits, in double; rows run in parallel.
 */
public final class HostRetrieval {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    /** TFRS clips sampling probabilities to [1e-6, 1] before their log. */
    static final double MIN_PROBABILITY = 1e-6;

    /** Whether the exponentials may run on SIMD lanes: the JVM has jdk.incubator.vector and -Djnce.java.vector is not false. */
    private static final boolean LANES = lanes();

    private HostRetrieval() {
    }

    private static boolean lanes() {
        if (!ValueScan.vectorApiAllowed()) return false;
        try {
            double[] e = new double[2];
            LaneExp.shifted(new double[] {0, Double.NEGATIVE_INFINITY}, 0, e, 2, new double[LaneExp.lanes()]);
            return e[0] == 1 && e[1] == 0;
        } catch (LinkageError e) {
            return false;
        }
    }

    /**
     * The rows' losses into rowLoss and, when gradients, each logit's gradient in its place;
     * returns the sum of the rows' gradients at their targets. simd: the exponentials on SIMD
     * lanes ({@link LaneExp}) when the JVM allows, else {@link Math#exp} (the java backend with
     * its Vector API turned off).
     */
    public static double crossEntropy(Tensor s, Tensor s2, RetrievalTargets t, Tensor rowLoss, boolean gradients, boolean simd) {
        boolean onLanes = simd && LANES;
        int rows = Math.toIntExact(s.size(0)), m = Math.toIntExact(s.size(1)), m2 = s2 == null ? 0 : Math.toIntExact(s2.size(1));
        double[] bias = bias(t, m);
        long[] ids = t.columnIds() == null ? null : ids(t.columnIds());
        MemorySegment a = s.segment(), b = s2 == null ? null : s2.segment(), out = rowLoss.segment();
        double eps = t.labelSmoothing();
        double[] atTarget = new double[rows];
        int w = m + m2, inBatch = (int) Math.min(m, Math.max(0, t.inBatchColumns()));
        double margin = t.margin();
        // slices of about 16K logits: a small call (32 rows of 64) stays on its thread
        Parallel.forRange(rows, Math.max(1, 16384 / Math.max(1, w)), (begin, end) -> {
            double[] z = new double[w], e = new double[w];
            float[] row = new float[Math.max(m, m2)], g = new float[w];
            double[] lanes = onLanes ? new double[LaneExp.lanes()] : null;
            for (int i = (int) begin; i < end; i++) {
                int target = Math.toIntExact(t.targetColumn() + i);
                long self = t.selfColumn() >= 0 ? t.selfColumn() + i : -1, self2 = t.self2Column() >= 0 ? t.self2Column() + i : -1;
                // the row's logits in double, less their bias; then the columns taken out of its softmax
                // (-Infinity): the in-batch ones and those with the target's id, but the target; itself
                MemorySegment.copy(a, F, 4L * i * m, row, 0, m);
                if (bias == null) for (int j = 0; j < m; j++) z[j] = row[j];
                else for (int j = 0; j < m; j++) z[j] = row[j] - bias[j];
                if (m2 > 0) {
                    MemorySegment.copy(b, F, 4L * i * m2, row, 0, m2);
                    for (int j = 0; j < m2; j++) z[m + j] = row[j];
                }
                double atTarget0 = z[target] - margin;
                java.util.Arrays.fill(z, 0, inBatch, Double.NEGATIVE_INFINITY);
                if (ids != null) {
                    long id = ids[target];
                    for (int j = 0; j < m; j++) if (ids[j] == id) z[j] = Double.NEGATIVE_INFINITY;
                }
                z[target] = atTarget0;
                if (self >= 0 && self < m) z[(int) self] = Double.NEGATIVE_INFINITY;
                if (self2 >= 0 && self2 < m2) z[m + (int) self2] = Double.NEGATIVE_INFINITY;
                // the largest logit; a NaN or +Infinity anywhere kept makes the row's loss and gradient NaN
                double max = onLanes ? LaneExp.max(z, w, lanes) : Double.NEGATIVE_INFINITY;
                if (!onLanes) for (int j = 0; j < w; j++) max = Math.max(max, z[j]);
                boolean bad = !(max < Double.POSITIVE_INFINITY); // NaN or +Infinity (Math.max keeps a NaN)
                int kept = 0;
                double sumZ = 0;
                if (eps != 0) {
                    for (int j = 0; j < w; j++) {
                        if (z[j] != Double.NEGATIVE_INFINITY) {
                            kept++;
                            sumZ += z[j];
                        }
                    }
                }
                // exp(z - lse) below is e / sum: one exponential a logit
                double sum;
                if (onLanes) {
                    sum = LaneExp.shifted(z, max, e, w, lanes);
                } else {
                    for (int j = 0; j < w; j++) e[j] = z[j] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(z[j] - max);
                    sum = sum(e, w);
                }
                double lse = max + Math.log(sum);
                double loss = bad ? Double.NaN : (1 - eps) * (lse - z[target]) + (eps == 0 ? 0 : eps * (lse - sumZ / kept));
                out.setAtIndex(F, i, (float) loss);
                if (!gradients) continue;
                // g = softmax - the smoothed target, over the kept columns; 0 where taken out
                double inv = 1 / sum, share = eps == 0 ? 0 : eps / kept;
                if (bad) {
                    java.util.Arrays.fill(g, 0, w, Float.NaN);
                } else if (eps == 0) { // e is 0 where a column is taken out
                    for (int j = 0; j < w; j++) g[j] = (float) (e[j] * inv);
                } else {
                    for (int j = 0; j < w; j++) g[j] = z[j] == Double.NEGATIVE_INFINITY ? 0f : (float) (e[j] * inv - share);
                }
                double gt = bad ? Double.NaN : z[target] == Double.NEGATIVE_INFINITY ? 0 : e[target] * inv - share - (1 - eps);
                g[target] = (float) gt;
                atTarget[i] = gt;
                MemorySegment.copy(g, 0, a, F, 4L * i * m, m);
                if (m2 > 0) MemorySegment.copy(g, m, b, F, 4L * i * m2, m2);
            }
        });
        double total = 0;
        for (double g : atTarget) total += g; // in row order: the same sum on any thread count
        return total;
    }

    /** The sum of e[0..n) in four interleaved partial sums. */
    private static double sum(double[] e, int n) {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int j = 0;
        for (; j + 4 <= n; j += 4) {
            s0 += e[j];
            s1 += e[j + 1];
            s2 += e[j + 2];
            s3 += e[j + 3];
        }
        for (; j < n; j++) s0 += e[j];
        return (s0 + s1) + (s2 + s3);
    }

    /**
     * Whether t's corrections leave the plain softmax cross-entropy of corrected logits: one block
     * of candidates (no s2), no column ids, no label smoothing. A backend may then run
     * {@link #correct}, its own fused cross-entropy kernel and {@link #afterCrossEntropy} instead
     * of {@link #crossEntropy}: the same losses and gradients within float rounding (the corrected
     * logits are rounded to float once, and the kernel's exponentials are its own).
     */
    public static boolean plainAfterCorrection(Tensor s2, RetrievalTargets t) {
        return s2 == null && t.columnIds() == null && t.labelSmoothing() == 0f;
    }

    /**
     * The most logits of a block given the corrected path (256 KiB of float32, within a core's L2):
     * its correction pass and the kernel each read and write the block, where {@link
     * #crossEntropy} makes one pass. At (32, 64) the corrected path saved about 4 µs of a
     * sampled-softmax call; with no limit, two towers with a logQ correction at N = 4096, D = 256
     * (blocks of 1024 x 4096 logits, two threads) showed no gain beyond this machine's noise
     * (ad-hoc probes: the correction pass of such a block 3.1-3.7 ms, the host softmax about 11).
     */
    public static final long CORRECTED_MAX_LOGITS = 1 << 16;

    /**
     * Corrects the block s (R,M) in place for a plain cross-entropy, as {@link #crossEntropy} forms
     * its logits: z_ij = s_ij - b_j (in double, rounded once to float), z_it = s_it - b_t - margin,
     * and -Infinity in the columns taken out (in-batch ones other than t_i, then selfColumn + i);
     * targets (R) int64 receives t_i. A row that would hold a NaN or an infinity before the columns
     * are taken out (one of s, or a z past float's range) is left as it is and returned, by its
     * index, for {@link #afterCrossEntropy} to run through {@link #crossEntropy}: a fused kernel's
     * torch semantics differ there (+Infinity, not NaN). Null when every row was corrected.
     */
    public static float[][] correct(Tensor s, RetrievalTargets t, Tensor targets) {
        int rows = Math.toIntExact(s.size(0)), m = Math.toIntExact(s.size(1));
        double[] bias = bias(t, m);
        int inBatch = (int) Math.min(m, Math.max(0, t.inBatchColumns()));
        double margin = t.margin();
        MemorySegment a = s.segment(), ts = targets.segment();
        for (int i = 0; i < rows; i++) ts.setAtIndex(ValueLayout.JAVA_LONG, i, t.targetColumn() + i);
        float[][] left = new float[rows][];
        Parallel.forRange(rows, Math.max(1, 16384 / Math.max(1, m)), (begin, end) -> {
            float[] row = new float[m];
            for (int i = (int) begin; i < end; i++) {
                int target = Math.toIntExact(t.targetColumn() + i);
                long self = t.selfColumn() >= 0 ? t.selfColumn() + i : -1;
                MemorySegment.copy(a, F, 4L * i * m, row, 0, m);
                float atTarget = (float) ((bias == null ? row[target] : row[target] - bias[target]) - margin);
                boolean finite = Float.isFinite(atTarget);
                if (bias == null) {
                    for (int j = 0; j < m; j++) finite &= Float.isFinite(row[j]);
                } else {
                    for (int j = 0; j < m; j++) {
                        float z = (float) (row[j] - bias[j]);
                        finite &= Float.isFinite(z);
                        row[j] = z;
                    }
                }
                if (!finite) {
                    left[i] = new float[m];
                    MemorySegment.copy(a, F, 4L * i * m, left[i], 0, m);
                    continue;
                }
                java.util.Arrays.fill(row, 0, inBatch, Float.NEGATIVE_INFINITY);
                row[target] = atTarget;
                if (self >= 0 && self < m) row[(int) self] = Float.NEGATIVE_INFINITY;
                MemorySegment.copy(row, 0, a, F, 4L * i * m, m);
            }
        });
        for (float[] row : left) if (row != null) return left;
        return null;
    }

    /**
     * After the fused cross-entropy of {@link #correct}'s logits: the rows it left are put back
     * and run through {@link #crossEntropy}, one at a time. Returns the sum over the rows of the
     * gradient at their targets, in row order (0 without gradients), as {@link #crossEntropy} does.
     */
    public static double afterCrossEntropy(Tensor s, RetrievalTargets t, float[][] left, Tensor rowLoss, boolean gradients) {
        int rows = Math.toIntExact(s.size(0)), m = Math.toIntExact(s.size(1));
        MemorySegment a = s.segment();
        double total = 0;
        for (int i = 0; i < rows; i++) {
            if (left != null && left[i] != null) {
                MemorySegment.copy(left[i], 0, a, F, 4L * i * m, m);
                RetrievalTargets one = new RetrievalTargets(t.targetColumn() + i, t.selfColumn() >= 0 ? t.selfColumn() + i : -1,
                        -1, t.columnBias(), t.biasIsProbability(), null, t.inBatchColumns(), t.margin(), 0f);
                total += crossEntropy(s.rows(i, 1), null, one, rowLoss.rows(i, 1), gradients, true);
            } else if (gradients) {
                total += a.getAtIndex(F, (long) i * m + t.targetColumn() + i);
            }
        }
        return total;
    }

    public static void bprPairs(Tensor logits, Tensor rowLoss, Tensor grad) {
        int n = Math.toIntExact(logits.size(0)), c = Math.toIntExact(logits.size(1)), k = c - 1;
        MemorySegment l = logits.segment(), out = rowLoss.segment(), g = grad == null ? null : grad.segment();
        Parallel.forRange(n, 64, (begin, end) -> {
            for (long i = begin; i < end; i++) {
                double pos = l.getAtIndex(F, i * c), loss = 0, gPos = 0;
                for (int j = 1; j <= k; j++) {
                    double x = l.getAtIndex(F, i * c + j) - pos; // softplus(x) = -log sigmoid(-x)
                    double e = Math.exp(-Math.abs(x)); // one exponential serves both: exp(-x) for x >= 0, exp(x) below
                    loss += Math.max(x, 0) + Math.log1p(e);
                    double sig = x >= 0 ? 1 / (1 + e) : e / (1 + e);
                    if (g != null) g.setAtIndex(F, i * c + j, (float) (sig / k));
                    gPos -= sig / k;
                }
                out.setAtIndex(F, i, (float) (loss / k));
                if (g != null) g.setAtIndex(F, i * c, (float) gPos);
            }
        });
    }

    /** The per-column term subtracted from the logits, or null. */
    private static double[] bias(RetrievalTargets t, int m) {
        if (t.columnBias() == null) return null;
        float[] in = new float[m];
        MemorySegment.copy(t.columnBias().segment(), F, 0, in, 0, m);
        double[] out = new double[m];
        for (int j = 0; j < m; j++) {
            double v = in[j];
            out[j] = t.biasIsProbability() ? Math.log(Math.min(1.0, Math.max(MIN_PROBABILITY, v))) : v;
        }
        return out;
    }

    private static long[] ids(Tensor ids) {
        MemorySegment s = ids.segment();
        int m = Math.toIntExact(ids.numel());
        long[] out = new long[m];
        boolean wide = ids.dtype() == DType.INT64;
        for (int j = 0; j < m; j++) out[j] = wide ? s.getAtIndex(ValueLayout.JAVA_LONG, j) : s.getAtIndex(ValueLayout.JAVA_INT, j);
        return out;
    }
}
