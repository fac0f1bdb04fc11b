package dev.jnce.ops;

import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.harness.Case;
import dev.jnce.harness.Family;
import dev.jnce.harness.Gen;
import dev.jnce.harness.Numeric;

import java.util.Arrays;

/**
 * Fuzz cases of {@link HardNegatives}: mining by the diagonal, by labels and by a mask, into new
 * or the caller's indices, with k from 0 to more than the row has (and absurdly large), ties,
 * infinities and NaN similarities; gather and its scatter-add backward, with indices out of
 * range. The oracle is {@link SimilarityReference#mine} (a full sort) and plain loops.
 */
public final class HardNegativesFuzz implements Family {

    @Override
    public int weight() {
        return 6;
    }

    @Override
    public void run(Case c) {
        switch (c.g.nextInt(3)) {
            case 0 -> mine(c);
            case 1 -> gather(c);
            default -> gatherBackward(c);
        }
    }

    private static void mine(Case c) {
        Gen g = c.g;
        int by = g.nextInt(3); // diagonal, labels, mask
        boolean into = g.chance(0.4);
        c.op("HardNegatives.mine" + new String[] {"", "(labels)", "(mask)"}[by] + (into ? "(into)" : ""));
        int n = g.dim(1), m = g.dim(1);
        float[] sim = g.chance(0.3) ? ties(g, n * m) : g.gaussians(n * m, false);
        if (g.chance(0.1)) sim[g.nextInt(sim.length)] = g.pick(Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY);
        long[] ql = null, kl = null;
        long[] mask = null;
        boolean[] positive = new boolean[n * m];
        if (by == 1) {
            int classes = g.between(1, 5);
            ql = g.longs(n, 0, classes);
            kl = g.longs(m, 0, classes);
        } else if (by == 2) {
            mask = new long[n * m];
            for (int i = 0; i < mask.length; i++) mask[i] = g.chance(0.25) ? g.pick(1L, -3L, 7L) : 0;
        }
        int fewest = m;
        for (int i = 0; i < n; i++) {
            int negatives = 0;
            for (int j = 0; j < m; j++) {
                positive[i * m + j] = by == 0 ? i == j : by == 1 ? ql[i] == kl[j] : mask[i * m + j] != 0;
                if (!positive[i * m + j]) negatives++;
            }
            fewest = Math.min(fewest, negatives);
        }
        long k = g.chance(0.08) ? g.pick(Long.MAX_VALUE, 1L << 40, (long) Integer.MAX_VALUE + 1) : g.chance(0.1) ? 0 : g.between(1, Math.max(1, m));
        c.note("n=" + n + " m=" + m + " k=" + k + " fewest=" + fewest);
        long[] ss = {n, m};
        c.in("sim", ss, DType.FLOAT32);
        if (by == 1) {
            c.in("queryLabels", new long[] {n}, DType.INT32, DType.INT64);
            c.in("keyLabels", new long[] {m}, DType.INT32, DType.INT64);
        }
        if (by == 2) c.in("mask", ss, DType.INT32, DType.INT64);
        boolean huge = k > m;
        if (into && !huge) {
            c.out("indices", DType.INT64, n, k);
            c.overlaps(Case.Expect.REJECT);
        }
        String fault = g.chance(0.12) ? g.pick("nan", "negative-k", "labels-shape") : null;
        if (fault != null && fault.equals("labels-shape") && by != 1) fault = "nan";
        if (fault == null) {
            c.plan(0.3);
            // k above what a row has: an error naming k (for an absurd k, before anything is allocated)
            if (c.expectation() != Case.Expect.REJECT && k > fewest) c.reject(IllegalArgumentException.class, null, "k");
            else if (k > fewest) c.alsoNames("k");
        } else {
            c.note("valueFault=" + fault);
            if (fault.equals("nan")) sim[g.nextInt(sim.length)] = Float.NaN;
            c.reject(IllegalArgumentException.class, null, fault.equals("nan") ? "sim" : fault.equals("negative-k") ? "k" : "queryLabels");
            if (k > fewest) c.alsoNames("k");
        }
        if (c.expectation() != Case.Expect.REJECT) {
            long[] ref = SimilarityReference.mine(sim, n, m, (int) k, positive);
            double[] e = new double[ref.length];
            for (int i = 0; i < ref.length; i++) e[i] = ref[i];
            c.expect("indices", e, 0);
        }
        final long[] qf = ql, kf = kl, mf = mask;
        final String vf = fault;
        c.run(() -> {
            HardNegatives op = "negative-k".equals(vf) ? HardNegatives.create(c.g.pick(-1L, Long.MIN_VALUE)) : HardNegatives.create(k);
            op = c.on(op, op::withBackend);
            Tensor st = c.tensor("sim", sim);
            Tensor qt = by != 1 ? null : "labels-shape".equals(vf) ? Tensor.zeros(DType.INT64, n + 1) : c.tensor("queryLabels", qf);
            Tensor kt = by != 1 ? null : c.tensor("keyLabels", kf);
            Tensor mt = by != 2 ? null : c.tensor("mask", mf);
            Tensor out;
            if (into && !huge) {
                out = c.tensor("indices", new long[(int) (n * k)]);
                switch (by) {
                    case 0 -> op.mine(st, out);
                    case 1 -> op.mine(st, qt, kt, out);
                    default -> op.mineMasked(st, mt, out);
                }
            } else {
                out = switch (by) {
                    case 0 -> op.mine(st);
                    case 1 -> op.mine(st, qt, kt);
                    default -> op.mineMasked(st, mt);
                };
            }
            c.got("indices", floats(out.toLongArray()));
        });
    }

    /** Values from a handful, so that rows hold ties. */
    private static float[] ties(Gen g, int count) {
        float[] x = new float[count];
        for (int i = 0; i < count; i++) x[i] = g.pick(-1f, 0f, 0.5f, 2f);
        return x;
    }

    private static float[] floats(long[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) f[i] = v[i];
        return f;
    }

    private static void gather(Case c) {
        Gen g = c.g;
        boolean into = g.chance(0.5);
        c.op("HardNegatives.gather" + (into ? "(into)" : ""));
        int m = g.dim(1), d = g.dim(1, false), n = g.dim(1), k = g.between(0, 4);
        float[] keys = g.gaussians(m * d, false);
        long[] idx = g.longs(n * k, 0, m);
        c.note("m=" + m + " d=" + d + " n=" + n + " k=" + k);
        c.in("keys", new long[] {m, d}, DType.FLOAT32);
        c.in("indices", new long[] {n, k}, DType.INT32, DType.INT64);
        if (into) c.out("out", n, k, d);
        c.overlaps(Case.Expect.REJECT);
        String fault = g.chance(0.15) && n * k > 0 ? "range" : null;
        if (fault == null) {
            c.plan(0.3);
        } else {
            idx[g.nextInt(idx.length)] = g.pick((long) m, -1L, c.arg("indices").dtype() == DType.INT32 ? Integer.MAX_VALUE : Long.MAX_VALUE);
            c.note("valueFault=range");
            c.reject(IllegalArgumentException.class, null, "indices");
        }
        if (c.expectation() != Case.Expect.REJECT) {
            double[] e = new double[n * k * d];
            for (int r = 0; r < n * k; r++) for (int j = 0; j < d; j++) e[r * d + j] = keys[(int) idx[r] * d + j];
            c.expect("out", e, 0);
        }
        c.run(() -> {
            Tensor kt = c.tensor("keys", keys), it = c.tensor("indices", idx);
            if (into) {
                Tensor out = c.output("out");
                HardNegatives.gather(kt, it, out);
                c.got("out", out);
            } else {
                c.got("out", HardNegatives.gather(kt, it));
            }
        });
    }

    private static void gatherBackward(Case c) {
        Gen g = c.g;
        c.op("HardNegatives.gatherBackward");
        int m = g.dim(1), d = g.dim(1, false), n = g.dim(1), k = g.between(0, 4);
        float[] grad = g.gaussians(n * k * d, false), initial = g.gaussians(m * d, false);
        long[] idx = g.longs(n * k, 0, m);
        c.note("m=" + m + " d=" + d + " n=" + n + " k=" + k);
        c.in("grad", new long[] {n, k, d}, DType.FLOAT32);
        c.in("indices", new long[] {n, k}, DType.INT32, DType.INT64);
        c.out("gradKeys", m, d).anyRows(); // M is gradKeys' own: any number of rows is valid
        c.overlaps(Case.Expect.REJECT);
        String fault = g.chance(0.15) && n * k > 0 ? "range" : null;
        if (fault == null) {
            c.plan(0.3);
        } else {
            idx[g.nextInt(idx.length)] = g.pick((long) m, -1L);
            c.note("valueFault=range");
            c.reject(IllegalArgumentException.class, null, "indices");
        }
        if (c.expectation() != Case.Expect.REJECT) {
            double[] e = Numeric.toDouble(initial), bound = new double[m * d];
            for (int r = 0; r < n * k; r++) {
                for (int j = 0; j < d; j++) {
                    e[(int) idx[r] * d + j] += grad[r * d + j];
                    bound[(int) idx[r] * d + j] += 4 * 6e-8 * (Math.abs(grad[r * d + j]) + Math.abs(initial[(int) idx[r] * d + j]));
                }
            }
            c.expect("gradKeys", e, 1e-5, bound); // float32 additions in (n, k) order
        }
        c.run(() -> {
            Tensor gt = c.tensor("grad", grad), it = c.tensor("indices", idx);
            Tensor gk = c.output("gradKeys", initial);
            HardNegatives.gatherBackward(gt, it, gk);
            c.got("gradKeys", gk);
        });
    }
}
