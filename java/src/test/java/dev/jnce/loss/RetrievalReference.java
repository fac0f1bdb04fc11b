package dev.jnce.loss;

import dev.jnce.Reduction;

/**
 * The retrieval losses in double precision from their definitions (the golden generator's
 * semantics, java/src/test/python/golden_retrieval.py): InfoNCE with logQ, accidental hits,
 * margin, smoothing and every direction; shared negatives; sampled softmax; BPR. Inputs are
 * row-major flat arrays.
 */
final class RetrievalReference {
    enum Form { TWO_TOWER, SHARED, SAMPLED_SOFTMAX, BPR }

    record Spec(Form form, InfoNce.Direction direction, int d, boolean normalize, Reduction reduction, double margin,
                double smoothing, double[] logq, boolean probability, long[] ids, int k) {
    }

    private RetrievalReference() {
    }

    /** The loss: (N) for NONE, else one value. */
    static double[] loss(Spec s, double[] q, double[] keys, double[] neg, double tau) {
        int d = s.d(), n = q.length / d;
        double[] rows;
        if (s.form() == Form.BPR) {
            rows = new double[n];
            for (int i = 0; i < n; i++) {
                double pos = dot(q, i, keys, i, d), sum = 0;
                for (int j = 0; j < s.k(); j++) sum += softplus(dot(q, i, neg, i * s.k() + j, d) - pos);
                rows[i] = sum / s.k();
            }
        } else {
            double[] qh = prep(q, d, s.normalize()), kh = prep(keys, d, s.normalize());
            double[] bias = bias(s);
            if (s.form() != Form.TWO_TOWER) {
                double[] all = new double[keys.length + neg.length];
                System.arraycopy(kh, 0, all, 0, kh.length);
                System.arraycopy(prep(neg, d, s.normalize()), 0, all, kh.length, neg.length);
                rows = direction(qh, all, d, tau, s, bias, s.form() == Form.SAMPLED_SOFTMAX ? n : 0);
            } else {
                rows = switch (s.direction()) {
                    case QUERY_TO_KEY -> direction(qh, kh, d, tau, s, bias, 0);
                    case KEY_TO_QUERY -> direction(kh, qh, d, tau, s, null, 0);
                    case SYMMETRIC -> {
                        double[] a = direction(qh, kh, d, tau, s, bias, 0), b = direction(kh, qh, d, tau, s, null, 0);
                        for (int i = 0; i < n; i++) a[i] = (a[i] + b[i]) / 2;
                        yield a;
                    }
                    case BIDIRECTIONAL_GTE -> gte(qh, kh, d, tau, s);
                };
            }
        }
        if (s.reduction() == Reduction.NONE) return rows;
        double total = 0;
        for (double r : rows) total += r;
        return new double[] {s.reduction() == Reduction.MEAN ? total / n : total};
    }

    static double scalar(Spec s, double[] q, double[] keys, double[] neg, double tau) {
        double total = 0;
        for (double v : loss(s, q, keys, neg, tau)) total += v;
        return total;
    }

    /** Rows of a against candidates c, positive i in column i. */
    private static double[] direction(double[] a, double[] c, int d, double tau, Spec s, double[] bias, int inBatch) {
        int n = a.length / d, m = c.length / d;
        double[] rows = new double[n];
        for (int i = 0; i < n; i++) {
            double[] z = new double[m];
            for (int j = 0; j < m; j++) {
                boolean out = j != i && ((s.ids() != null && s.ids()[j] == s.ids()[i]) || j < inBatch);
                z[j] = out ? Double.NEGATIVE_INFINITY
                        : (dot(a, i, c, j, d) - (j == i ? s.margin() : 0)) / tau - (bias == null ? 0 : bias[j]);
            }
            rows[i] = smoothed(z, i, s.smoothing());
        }
        return rows;
    }

    private static double[] gte(double[] qh, double[] kh, int d, double tau, Spec s) {
        int n = qh.length / d;
        double[] rows = new double[n];
        for (int i = 0; i < n; i++) {
            double[] z = new double[4 * n];
            for (int j = 0; j < n; j++) {
                z[j] = (dot(qh, i, kh, j, d) - (j == i ? s.margin() : 0)) / tau;
                z[n + j] = j == i ? Double.NEGATIVE_INFINITY : dot(qh, i, qh, j, d) / tau;
                z[2 * n + j] = dot(qh, j, kh, i, d) / tau;
                z[3 * n + j] = j == i ? Double.NEGATIVE_INFINITY : dot(kh, j, kh, i, d) / tau;
            }
            rows[i] = smoothed(z, i, s.smoothing());
        }
        return rows;
    }

    /** (1 - eps)(lse - z_t) + eps (lse - mean of the finite z). */
    private static double smoothed(double[] z, int t, double eps) {
        double max = Double.NEGATIVE_INFINITY, sumZ = 0;
        int kept = 0;
        for (double v : z) {
            if (v == Double.NEGATIVE_INFINITY) continue;
            max = Math.max(max, v);
            sumZ += v;
            kept++;
        }
        double sum = 0;
        for (double v : z) if (v != Double.NEGATIVE_INFINITY) sum += Math.exp(v - max);
        double lse = max + Math.log(sum);
        return (1 - eps) * (lse - z[t]) + eps * (lse - sumZ / kept);
    }

    private static double[] bias(Spec s) {
        if (s.logq() == null) return null;
        double[] b = s.logq().clone();
        if (s.probability()) for (int j = 0; j < b.length; j++) b[j] = Math.log(Math.min(1, Math.max(1e-6, (float) b[j])));
        return b;
    }

    private static double[] prep(double[] x, int d, boolean normalize) {
        if (!normalize) return x;
        double[] y = new double[x.length];
        for (int r = 0; r < x.length / d; r++) {
            double norm = Math.sqrt(dot(x, r, x, r, d)), den = Math.max(norm, 1e-12);
            for (int c = 0; c < d; c++) y[r * d + c] = x[r * d + c] / den;
        }
        return y;
    }

    private static double dot(double[] a, int i, double[] b, int j, int d) {
        double s = 0;
        for (int c = 0; c < d; c++) s += a[i * d + c] * b[j * d + c];
        return s;
    }

    private static double softplus(double x) {
        return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
    }
}
