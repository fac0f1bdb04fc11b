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

    private HostRetrieval() {
    }

    public static double crossEntropy(Tensor s, Tensor s2, RetrievalTargets t, Tensor rowLoss, boolean gradients) {
        int rows = Math.toIntExact(s.size(0)), m = Math.toIntExact(s.size(1)), m2 = s2 == null ? 0 : Math.toIntExact(s2.size(1));
        double[] bias = bias(t, m);
        long[] ids = t.columnIds() == null ? null : ids(t.columnIds());
        MemorySegment a = s.segment(), b = s2 == null ? null : s2.segment(), out = rowLoss.segment();
        double eps = t.labelSmoothing();
        double[] atTarget = new double[rows];
        // slices of about 16K logits: a small call (32 rows of 64) stays on its thread
        Parallel.forRange(rows, Math.max(1, 16384 / Math.max(1, m + m2)), (begin, end) -> {
            double[] z = new double[m + m2], e = new double[m + m2];
            for (int i = (int) begin; i < end; i++) {
                int target = Math.toIntExact(t.targetColumn() + i);
                long self = t.selfColumn() >= 0 ? t.selfColumn() + i : -1, self2 = t.self2Column() >= 0 ? t.self2Column() + i : -1;
                double max = Double.NEGATIVE_INFINITY, sumZ = 0;
                int kept = 0;
                boolean bad = false;
                for (int j = 0; j < m + m2; j++) {
                    double v;
                    if (j < m) {
                        boolean out1 = j == self || (j != target && (ids != null && ids[j] == ids[target]
                                || j < t.inBatchColumns()));
                        v = out1 ? Double.NEGATIVE_INFINITY : a.getAtIndex(F, (long) i * m + j) - (bias == null ? 0 : bias[j]);
                        if (j == target) v -= t.margin();
                    } else {
                        v = j - m == self2 ? Double.NEGATIVE_INFINITY : b.getAtIndex(F, (long) i * m2 + j - m);
                    }
                    z[j] = v;
                    if (Double.isNaN(v) || v == Double.POSITIVE_INFINITY) bad = true;
                    if (v != Double.NEGATIVE_INFINITY) {
                        kept++;
                        sumZ += v;
                        if (v > max) max = v;
                    }
                }
                double sum = 0;
                for (int j = 0; j < m + m2; j++) { // exp(z - lse) below is e / sum: one exponential a logit
                    e[j] = z[j] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(z[j] - max);
                    sum += e[j];
                }
                double lse = max + Math.log(sum);
                double loss = bad ? Double.NaN : (1 - eps) * (lse - z[target]) + (eps == 0 ? 0 : eps * (lse - sumZ / kept));
                out.setAtIndex(F, i, (float) loss);
                if (!gradients) continue;
                for (int j = 0; j < m + m2; j++) {
                    double g;
                    if (bad) g = Double.NaN;
                    else if (z[j] == Double.NEGATIVE_INFINITY) g = 0;
                    else g = e[j] / sum - (j == target ? 1 - eps : 0) - eps / kept;
                    if (j == target) atTarget[i] = g;
                    if (j < m) a.setAtIndex(F, (long) i * m + j, (float) g);
                    else b.setAtIndex(F, (long) i * m2 + j - m, (float) g);
                }
            }
        });
        double total = 0;
        for (double g : atTarget) total += g; // in row order: the same sum on any thread count
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
        MemorySegment b = t.columnBias().segment();
        double[] out = new double[m];
        for (int j = 0; j < m; j++) {
            double v = b.getAtIndex(F, j);
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
