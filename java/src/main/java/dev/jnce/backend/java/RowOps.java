package dev.jnce.backend.java;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Row primitives of the softmax kernels, on float32 rows addressed by (segment, byte offset).
 * This class is the scalar reference; {@link VectorRowOps} overrides them with SIMD.
 */
class RowOps {
    static final RowOps SCALAR = new RowOps();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    /** Softmax statistics of a row, read once: maximum, sum of exp(x - max), and whether it holds NaN/+Inf. */
    record Stats(float max, double sum, boolean bad) {
        /** log-sum-exp, or NaN for a bad or all -Inf row. */
        double lse() {
            return bad || sum == 0 ? Double.NaN : max + Math.log(sum);
        }
    }

    Stats stats(MemorySegment x, long off, int c) {
        float m = -Float.MAX_VALUE;
        double sum = 0;
        boolean bad = false;
        for (int j = 0; j < c; j++) {
            float v = x.get(F, off + 4L * j);
            bad |= !(v <= Float.MAX_VALUE);
            if (v > m) {
                sum *= Math.exp((double) m - v);
                m = v;
            }
            sum += Math.exp((double) v - m);
        }
        return new Stats(m, sum, bad);
    }

    /** sum_j w_j x_j, with w_j = 1 when w is null. */
    double dot(MemorySegment x, long off, MemorySegment w, int c) {
        double s = 0;
        for (int j = 0; j < c; j++) s += (w == null ? 1f : w.getAtIndex(F, j)) * x.get(F, off + 4L * j);
        return s;
    }

    /** sum_j x_j y_j over c floats at byte offsets xOff and yOff, products exact in double, four partial sums. */
    double dotDouble(MemorySegment x, long xOff, MemorySegment y, long yOff, int c) {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int j = 0;
        for (; j + 4 <= c; j += 4) {
            s0 += (double) x.get(F, xOff + 4L * j) * y.get(F, yOff + 4L * j);
            s1 += (double) x.get(F, xOff + 4L * j + 4) * y.get(F, yOff + 4L * j + 4);
            s2 += (double) x.get(F, xOff + 4L * j + 8) * y.get(F, yOff + 4L * j + 8);
            s3 += (double) x.get(F, xOff + 4L * j + 12) * y.get(F, yOff + 4L * j + 12);
        }
        for (; j < c; j++) s0 += (double) x.get(F, xOff + 4L * j) * y.get(F, yOff + 4L * j);
        return (s0 + s1) + (s2 + s3);
    }

    /** {@link #dotDouble(MemorySegment, long, MemorySegment, long, int)} on heap rows at element offsets: the same sums in the same order. */
    double dotDouble(float[] x, int xo, float[] y, int yo, int c) {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int j = 0;
        for (; j + 4 <= c; j += 4) {
            s0 += (double) x[xo + j] * y[yo + j];
            s1 += (double) x[xo + j + 1] * y[yo + j + 1];
            s2 += (double) x[xo + j + 2] * y[yo + j + 2];
            s3 += (double) x[xo + j + 3] * y[yo + j + 3];
        }
        for (; j < c; j++) s0 += (double) x[xo + j] * y[yo + j];
        return (s0 + s1) + (s2 + s3);
    }

    /** {@link #dotDouble(float[], int, float[], int, int)} with y a segment's row from element yo: the same sums in the same order. */
    double dotDouble(float[] x, int xo, MemorySegment y, long yo, int c) {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int j = 0;
        for (; j + 4 <= c; j += 4) {
            s0 += (double) x[xo + j] * y.getAtIndex(F, yo + j);
            s1 += (double) x[xo + j + 1] * y.getAtIndex(F, yo + j + 1);
            s2 += (double) x[xo + j + 2] * y.getAtIndex(F, yo + j + 2);
            s3 += (double) x[xo + j + 3] * y.getAtIndex(F, yo + j + 3);
        }
        for (; j < c; j++) s0 += (double) x[xo + j] * y.getAtIndex(F, yo + j);
        return (s0 + s1) + (s2 + s3);
    }

    /** x . x over c floats from element xo, with {@link #dotDouble(float[], int, float[], int, int)}'s bits. */
    double squaresDouble(float[] x, int xo, int c) {
        return dotDouble(x, xo, x, xo, c);
    }

    /** x . x into out[0] and x . y into out[1], each with {@link #dotDouble(float[], int, float[], int, int)}'s bits. */
    void dotPairDouble(float[] x, float[] y, int o, int c, double[] out) {
        out[0] = dotDouble(x, o, x, o, c);
        out[1] = dotDouble(x, o, y, o, c);
    }

    /** {@link #dotDouble(float[], int, float[], int, int)} of x against four rows of y at once, each with its bits. */
    void dotDouble4(float[] x, int xo, float[] y, int y0, int y1, int y2, int y3, int c, double[] out) {
        out[0] = dotDouble(x, xo, y, y0, c);
        out[1] = dotDouble(x, xo, y, y1, c);
        out[2] = dotDouble(x, xo, y, y2, c);
        out[3] = dotDouble(x, xo, y, y3, c);
    }

    /**
     * softplus(x_t) into sp and sigmoid(x_t) into sig for t &lt; n (BCE with logits' terms at target
     * 0): here in double, one exponential an element; {@link VectorRowOps} on float lanes.
     */
    void softplusSigmoid(float[] x, int from, int n, float[] sp, float[] sig) {
        for (int t = from; t < n; t++) {
            double v = x[t], e = Math.exp(-Math.abs(v)), r = 1 / (1 + e);
            sp[t] = (float) (Math.max(v, 0) + Math.log1p(e));
            sig[t] = (float) (v >= 0 ? r : e * r);
        }
    }

    /**
     * Row r's gradients of BPR's pairs, written straight to the results: q a heap block (row r at
     * r d), p's row from element pAt and its k negatives' rows from element nAt of their
     * segments; dn_j = g_j q from element at of dn (k rows), dq = sum_j g_j n_j + g0 p and
     * dp = g0 q at element at2 of dq and dp, with g = the row's coefficients from element go.
     */
    void pairGradients(float[] q, int r, MemorySegment p, long pAt, MemorySegment n, long nAt, int k, int d, float[] g, int go,
                       float g0, MemorySegment dq, MemorySegment dp, long at2, MemorySegment dn, long at) {
        pairGradients(q, r, p, pAt, n, nAt, k, d, g, go, g0, dq, dp, at2, dn, at, 0);
    }

    /** Columns [from, d) of {@link #pairGradients}. */
    static void pairGradients(float[] q, int r, MemorySegment p, long pAt, MemorySegment n, long nAt, int k, int d, float[] g,
                              int go, float g0, MemorySegment dq, MemorySegment dp, long at2, MemorySegment dn, long at,
                              int from) {
        int qo = r * d;
        for (int c = from; c < d; c++) {
            float acc = 0, qc = q[qo + c];
            for (int j = 0; j < k; j++) {
                acc = Math.fma(g[go + j], n.getAtIndex(F, nAt + (long) j * d + c), acc);
                dn.setAtIndex(F, at + (long) j * d + c, g[go + j] * qc);
            }
            dq.setAtIndex(F, at2 + c, Math.fma(g0, p.getAtIndex(F, pAt + c), acc));
            dp.setAtIndex(F, at2 + c, g0 * qc);
        }
    }

    /** y_j = x_j * a in float: c floats of a heap row from element off into a segment from element yAt. */
    void scaleInto(float[] x, int off, int c, float a, MemorySegment y, long yAt) {
        for (int j = 0; j < c; j++) y.setAtIndex(F, yAt + j, x[off + j] * a);
    }

    /** sum_j (x1_j - x2_j + eps)^2 in double, element offsets in bytes (the triplet loss's p = 2 distance, squared). */
    double squaredDistance(MemorySegment x1, long off1, MemorySegment x2, long off2, int c, double eps) {
        double sum = 0;
        for (int j = 0; j < c; j++) {
            double e = (double) x1.get(F, off1 + 4L * j) - (double) x2.get(F, off2 + 4L * j) + eps;
            sum += e * e;
        }
        return sum;
    }

    /**
     * g1_j += (float) (u * e_j) and g2_j -= (float) (u * e_j) for e_j = x1_j - x2_j + eps in double
     * (the p = 2 distance's gradient times u / distance); offsets in bytes, all four rows at off.
     */
    void distanceGradAdd(MemorySegment x1, MemorySegment x2, long off, int c, double eps, double u, MemorySegment g1,
                         MemorySegment g2) {
        for (int j = 0; j < c; j++) {
            long at = off + 4L * j;
            float w = (float) (u * ((double) x1.get(F, at) - (double) x2.get(F, at) + eps));
            g1.set(F, at, g1.get(F, at) + w);
            g2.set(F, at, g2.get(F, at) - w);
        }
    }

    /**
     * out_j = (float) (a * y_j - b * x_j), in double (the L2 normalisation's backward): c floats of
     * heap rows from element o into a segment from element outAt.
     */
    void combineDoubleInto(double a, float[] y, double b, float[] x, int o, int c, MemorySegment out, long outAt) {
        for (int j = 0; j < c; j++) out.setAtIndex(F, outAt + j, (float) (a * y[o + j] - b * x[o + j]));
    }

    /** out_j = exp(x_j - max) * a - k * w_j (w_j = 1 when w is null); out may be x. */
    void expScaledMinus(MemorySegment x, long off, int c, float max, float a, float k, MemorySegment w,
                        MemorySegment out, long outOff) {
        for (int j = 0; j < c; j++) {
            float wj = w == null ? 1f : w.getAtIndex(F, j);
            out.set(F, outOff + 4L * j, (float) Math.exp(x.get(F, off + 4L * j) - max) * a - k * wj);
        }
    }

    /**
     * The largest and smallest entry of a row and whether it holds NaN or +Inf: the first of the
     * cached three passes (min: whether every x - max lies in the exponential's range); dot:
     * what {@link #peakDot} adds, else 0.
     */
    record Peak(float max, float min, boolean bad, double dot) {
    }

    Peak peak(MemorySegment x, long off, int c) {
        float m = -Float.MAX_VALUE, lo = Float.POSITIVE_INFINITY;
        boolean bad = false;
        for (int j = 0; j < c; j++) {
            float v = x.get(F, off + 4L * j);
            bad |= !(v <= Float.MAX_VALUE);
            if (v > m) m = v;
            if (v < lo) lo = v;
        }
        return new Peak(m, lo, bad, 0);
    }

    /** peak with dot = {@link #dot}(x, off, w, c), in the same read of the row. */
    Peak peakDot(MemorySegment x, long off, int c, MemorySegment w) {
        Peak p = peak(x, off, c);
        return new Peak(p.max(), p.min(), p.bad(), dot(x, off, w, c));
    }

    /**
     * out_j = exp(x_j - p.max()) for a row p describes, not bad (out must not overlap x, or be
     * null to store nothing); returns sum_j out_j in double, the same with or without out.
     */
    double expInto(MemorySegment x, long off, int c, Peak p, MemorySegment out, long outOff) {
        return expInto(x, off, c, p.max(), out, outOff);
    }

    double expInto(MemorySegment x, long off, int c, float max, MemorySegment out, long outOff) {
        double sum = 0;
        for (int j = 0; j < c; j++) {
            float e = (float) Math.exp(x.get(F, off + 4L * j) - max);
            if (out != null) out.set(F, outOff + 4L * j, e);
            sum += e;
        }
        return sum;
    }

    /** out_j = out_j * a - k * w_j in place (w_j = 1 when w is null): expScaledMinus once expInto has run. */
    void scaleMinus(MemorySegment out, long outOff, int c, float a, float k, MemorySegment w) {
        for (int j = 0; j < c; j++) {
            float wj = w == null ? 1f : w.getAtIndex(F, j);
            out.set(F, outOff + 4L * j, out.get(F, outOff + 4L * j) * a - k * wj);
        }
    }

    /** acc_j = max(acc_j, x_j) for j in [from, c): a column-wise maximum; NaN stays NaN. */
    void maxInto(MemorySegment x, long off, int from, int c, float[] acc) {
        for (int j = from; j < c; j++) acc[j] = Math.max(acc[j], x.get(F, off + 4L * j));
    }

    /** acc_j += exp(x_j - max_j) for j in [from, c): column-wise softmax sums. */
    void sumExpInto(MemorySegment x, long off, int from, int c, float[] max, float[] acc) {
        for (int j = from; j < c; j++) acc[j] += (float) Math.exp(x.get(F, off + 4L * j) - max[j]);
    }

    /** out_j += exp(x_j - max_j) * scale_j for j in [from, c). */
    void addExpScaled(MemorySegment x, long off, int from, int c, float[] max, float[] scale, MemorySegment out, long outOff) {
        for (int j = from; j < c; j++) {
            out.set(F, outOff + 4L * j, out.get(F, outOff + 4L * j) + (float) Math.exp(x.get(F, off + 4L * j) - max[j]) * scale[j]);
        }
    }

    /**
     * SigLIP's pairs x_j, j in [from, n), of one row of logits whose positive is column i (none
     * when i >= n): sums[0] += the losses -log sigmoid(+-(x_j + bias)), sums[1] += the gradients
     * sigmoid(x_j + bias) - [j = i], also written to g when not null (g may be x).
     */
    void sigmoidPairs(MemorySegment x, long off, int from, int n, long i, float bias, MemorySegment g, long gOff,
                      double[] sums) {
        double[] terms = new double[3];
        for (int j = from; j < n; j++) { // BCE with logits, target [j = i]: the terms jnce_siglip_fwd_bwd takes too
            BinaryElementwise.bceLogitsTerms(x.get(F, off + 4L * j) + bias, j == i ? 1 : 0, 1, terms);
            sums[0] += terms[0];
            sums[1] += terms[1];
            if (g != null) g.set(F, gOff + 4L * j, (float) terms[1]);
        }
    }

    /**
     * The element-wise binary losses' 8-lane-style fast path (see {@link BinaryElementwise}): works
     * on elements [from, to) of an unweighted op and returns where it stopped; the caller finishes
     * the rest with the double formulas. The scalar reference does nothing and returns from.
     * op: {@link BinaryElementwise#BCE}, {@link BinaryElementwise#BCE_LOGITS} or
     * {@link BinaryElementwise#SIGMOID_FOCAL} (params alpha, gamma).
     */
    long binaryBlock(int op, float[] params, MemorySegment x, MemorySegment y, long from, long to, float scale,
                     MemorySegment loss, MemorySegment gx, MemorySegment gy, double[] sum) {
        return from;
    }

    /**
     * KL divergence's SIMD path (see {@link JavaDivergence}): values [from, to), losses stored when
     * out is non-null, their sum added to sum[0], gradients times scale; returns where it stopped.
     * The scalar reference does nothing and returns from.
     */
    long klBlock(MemorySegment x, MemorySegment t, long from, long to, boolean logTarget, double scale,
                 MemorySegment out, MemorySegment gx, MemorySegment gt, double[] sum) {
        return from;
    }

    /**
     * Entropy's (q null) or distribution cross-entropy's SIMD path over values [from, to) of a row:
     * adds sum p log q (p log p) to sum[0], gradients times -s; returns where it stopped.
     */
    long distributionBlock(MemorySegment p, MemorySegment q, long from, long to, double s, MemorySegment gp,
                           MemorySegment gq, double[] sum) {
        return from;
    }
}
