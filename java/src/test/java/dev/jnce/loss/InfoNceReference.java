package dev.jnce.loss;

import dev.jnce.Reduction;

/**
 * InfoNCE in float64, every form written from its definition: the reference the tests judge
 * every backend by (its finite differences give the expected gradients, tau's included).
 */
final class InfoNceReference {
    /** The forms of {@link InfoNce}; keys/negatives mean what each form's call means by them. */
    enum Form { TWO_TOWER, ONE_TENSOR, SHARED, EXPLICIT, LABELS, MASK }

    /**
     * A configured loss: d the width, k the explicit negatives per query; labels or the (N,M)
     * mask for the several-positives forms; skip leaves rows without a positive out.
     */
    record Spec(Form form, int d, int k, boolean normalize, boolean decoupled, Reduction reduction, boolean skip,
                long[] queryLabels, long[] keyLabels, int[] mask) {
        static Spec of(Form form, int d, int k, boolean normalize, boolean decoupled, Reduction reduction) {
            return new Spec(form, d, k, normalize, decoupled, reduction, false, null, null, null);
        }
    }

    private InfoNceReference() {
    }

    /**
     * Row losses (NONE; 0 for skipped rows) or the reduced loss. keys: (N,D) keys, positives or
     * (M,D) keys; negatives: (M,D) shared or (N,K,D) explicit; both ignored where unused.
     */
    static double[] loss(Spec s, double[] queries, double[] keys, double[] negatives, double tau) {
        int d = s.d(), n = queries.length / d;
        double[] qh = prep(queries, d, s.normalize());
        double[] kh = switch (s.form()) {
            case ONE_TENSOR -> qh;
            case SHARED -> prep(concat(keys, negatives), d, s.normalize());
            default -> prep(keys, d, s.normalize());
        };
        double[] nh = s.form() == Form.EXPLICIT ? prep(negatives, d, s.normalize()) : null;
        double[] rows = new double[n];
        int counted = 0;
        for (int i = 0; i < n; i++) {
            double[] logits;
            if (s.form() == Form.EXPLICIT) {
                logits = new double[s.k() + 1];
                logits[0] = dot(qh, i, kh, i, d) / tau;
                for (int j = 0; j < s.k(); j++) logits[1 + j] = dot(qh, i, nh, i * s.k() + j, d) / tau;
            } else {
                logits = new double[kh.length / d];
                for (int j = 0; j < logits.length; j++) logits[j] = dot(qh, i, kh, j, d) / tau;
            }
            int positive = s.form() == Form.EXPLICIT ? 0 : i;
            if (s.form() == Form.LABELS || s.form() == Form.MASK) {
                double[] target = new double[logits.length];
                int count = 0;
                for (int j = 0; j < logits.length; j++) {
                    boolean pos = s.form() == Form.LABELS ? s.queryLabels()[i] == s.keyLabels()[j] : s.mask()[i * logits.length + j] != 0;
                    if (pos) {
                        target[j] = 1;
                        count++;
                    }
                }
                if (count == 0) {
                    if (!s.skip()) throw new IllegalArgumentException("row " + i + " has no positive");
                    continue;
                }
                double lse = logSumExp(logits, -1);
                for (int j = 0; j < logits.length; j++) rows[i] -= target[j] / count * (logits[j] - lse);
            } else if (s.decoupled()) {
                rows[i] = logSumExp(logits, positive) - logits[positive];
            } else {
                rows[i] = logSumExp(logits, -1) - logits[positive];
            }
            counted++;
        }
        if (s.reduction() == Reduction.NONE) return rows;
        double total = 0;
        for (double r : rows) total += r;
        return new double[] {s.reduction() == Reduction.MEAN ? total / counted : total};
    }

    /** The sum of {@link #loss}: what the gradients are gradients of. */
    static double scalar(Spec s, double[] queries, double[] keys, double[] negatives, double tau) {
        double total = 0;
        for (double v : loss(s, queries, keys, negatives, tau)) total += v;
        return total;
    }

    /** x / max(||x||, 1e-12) row by row (F.normalize), or x itself. */
    static double[] prep(double[] x, int d, boolean normalize) {
        if (!normalize) return x;
        double[] y = new double[x.length];
        for (int r = 0; r < x.length / d; r++) {
            double norm = Math.sqrt(dot(x, r, x, r, d));
            for (int c = 0; c < d; c++) y[r * d + c] = x[r * d + c] / Math.max(norm, 1e-12);
        }
        return y;
    }

    private static double dot(double[] a, int ra, double[] b, int rb, int d) {
        double s = 0;
        for (int c = 0; c < d; c++) s += a[ra * d + c] * b[rb * d + c];
        return s;
    }

    /** log sum exp over the row, leaving out index {@code skip} (-1: none). */
    private static double logSumExp(double[] x, int skip) {
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < x.length; j++) if (j != skip) max = Math.max(max, x[j]);
        double sum = 0;
        for (int j = 0; j < x.length; j++) if (j != skip) sum += Math.exp(x[j] - max);
        return max + Math.log(sum);
    }

    private static double[] concat(double[] a, double[] b) {
        double[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
