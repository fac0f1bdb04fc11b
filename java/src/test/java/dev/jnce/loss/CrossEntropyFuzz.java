package dev.jnce.loss;

import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.harness.Case;
import dev.jnce.harness.Family;
import dev.jnce.harness.Gen;
import dev.jnce.harness.Numeric;

/**
 * Fuzz cases of {@link CrossEntropy}: every form (allocating, into buffers, with and without row
 * mask, gradient and log-sum-exp), every option (weight, ignore index, label smoothing, z-loss,
 * zero-when-all-ignored), class-index and probability targets, non-finite logits, bad values and
 * options. The oracle is the float64 formula of jnce.h (checked against
 * {@link CrossEntropyReference} on finite data), with the documented non-finite rules.
 */
public final class CrossEntropyFuzz implements Family {
    private static final double TOL = 2e-4;

    @Override
    public int weight() {
        return 14;
    }

    @Override
    public void run(Case c) {
        Gen g = c.g;
        int form = g.nextInt(6);
        boolean into = form >= 4;
        c.op("CrossEntropy." + switch (form) {
            case 0 -> "forward";
            case 1 -> "forward(rowMask)";
            case 2 -> "forwardBackward";
            case 3 -> "forwardBackward(rowMask)";
            case 4 -> "forwardBackward(into)";
            default -> "forwardBackward(rowMask,into)";
        });
        int n = g.dim(1), cc = g.dim(2);
        boolean probs = g.chance(0.25);
        boolean mask = form == 1 || form == 3 || (form == 5 && g.chance(0.7));
        boolean weighted = g.chance(0.3);
        Reduction reduction = Numeric.reduction(g);
        long ignore = g.pick(-100L, -100L, 0L, (long) g.nextInt(cc), -1L);
        float eps = g.chance(0.6) ? 0f : g.pick(0.1f, 0.5f, 1f, Float.MIN_VALUE);
        float z = g.chance(0.7) ? 0f : g.pick(1e-4f, 0.5f, Float.MIN_VALUE, 1e30f);
        boolean zeroIfEmpty = g.chance(0.3);
        boolean wantGrad = form >= 2 && (form < 5 || g.chance(0.8));
        boolean wantLse = (form == 2 || form == 3) ? g.chance(0.4) : form == 5 && g.chance(0.5);

        float[] x = g.gaussians(n * cc, true);
        // -Inf beside a smoothing weight that float32 rounds to 0 (eps = Float.MIN_VALUE) has no one answer
        String poison = g.chance(0.15) && eps != Float.MIN_VALUE ? g.poison(x) : "none";
        if (g.chance(0.03) && eps != Float.MIN_VALUE) Gen.fillRow(x, g.nextInt(n), cc, Float.NEGATIVE_INFINITY);
        long[] targets = probs ? null : new long[n];
        float[] p = probs ? g.distributions(n, cc, g.pick(0.0, 0.05)) : null;
        if (probs && g.chance(0.2)) { // some exact zeros and one-hot rows
            int row = g.nextInt(n);
            for (int j = 0; j < cc; j++) p[row * cc + j] = 0;
            p[row * cc + g.nextInt(cc)] = 1;
        }
        if (!probs) {
            for (int i = 0; i < n; i++) targets[i] = g.chance(0.15) ? ignore : g.nextInt(cc);
        }
        int[] rowMask = mask ? new int[n] : null;
        if (mask) for (int i = 0; i < n; i++) rowMask[i] = g.chance(0.8) ? 1 : g.pick(0, 0, 2, -1);
        float[] w = weighted ? g.uniform(cc, 0.1, 2.0) : null;
        c.note("n=" + n + " c=" + cc + " probs=" + probs + " mask=" + mask + " weight=" + weighted + " reduction=" + reduction
                + " ignore=" + ignore + " eps=" + eps + " z=" + z + " zeroIfEmpty=" + zeroIfEmpty + " grad=" + wantGrad
                + " lse=" + wantLse + " poison=" + poison);

        long[] logitsShape = {n, cc};
        long[] targetsShape = probs ? new long[] {n, cc} : new long[] {n};
        // value and shape faults of this family, at most one, and not with a generic fault
        String valueFault = g.chance(0.2) ? g.pick("target-range", "weight-nonfinite", "probs-sum", "probs-negative",
                "option", "logits-shape", "targets-shape", "mask-shape", "weight-shape", "empty") : null;
        c.in("logits", logitsShape, DType.FLOAT32);
        if (probs) c.in("targets", targetsShape, DType.FLOAT32);
        else c.in("targets", targetsShape, DType.INT32, DType.INT64);
        if (mask) c.in("rowMask", new long[] {n}, DType.INT32).optional();
        if (weighted) c.in("weight", new long[] {cc}, DType.FLOAT32).optional();
        long[] lossShape = reduction == Reduction.NONE ? new long[] {n} : g.pick(new long[0], new long[] {1});
        if (into) {
            Case.Arg l = c.out("loss", lossShape);
            if (reduction != Reduction.NONE) l.oneElement();
            if (wantGrad) c.out("grad", logitsShape).optional();
            if (wantLse) c.out("lse", n).optional();
            c.allowAlias("grad", "logits");
            c.overlaps(Case.Expect.REJECT);
        }
        if (valueFault == null) c.plan(0.4);
        else valueFault = injectValueFault(c, valueFault, n, cc, probs, targets, p, w, rowMask, ignore, logitsShape);

        final float epsF = eps, zF = z;
        final long[] tShape = "targets-shape".equals(valueFault) ? g.pick(new long[] {n, 1}, new long[] {n + 1}, new long[0])
                : targetsShape;
        final long[] xShape = "logits-shape".equals(valueFault) ? g.pick(new long[] {(long) n * cc}, new long[] {n, cc, 1})
                : "empty".equals(valueFault) ? g.pick(new long[] {0, cc}, new long[] {n, 1}) : logitsShape;
        if (c.expectation() != Case.Expect.REJECT) {
            Ref r = reference(x, n, cc, targets, p, rowMask, w, ignore, eps, z, reduction, zeroIfEmpty);
            if (Numeric.allFinite(x)) crossCheck(r, x, n, cc, targets, p, rowMask, w, ignore, eps, z, reduction, zeroIfEmpty);
            c.expect("loss", r.loss, TOL);
            if (wantGrad) c.expect("grad", r.grad, TOL);
            if (wantLse) c.expect("lse", r.lse, TOL);
        }
        final Reduction red = reduction;
        final float[] wF = w;
        final String vf = valueFault;
        c.run(() -> {
            Tensor logits = "logits-shape".equals(vf) || "empty".equals(vf)
                    ? Tensor.zeros(DType.FLOAT32, xShape) : c.tensor("logits", x);
            Tensor tg = "targets-shape".equals(vf) ? Tensor.zeros(c.arg("targets").dtype(), tShape)
                    : c.tensor("targets", probs ? p : targets);
            Tensor rm = mask ? ("mask-shape".equals(vf) ? Tensor.zeros(DType.INT32, n + 1) : c.tensor("rowMask", toLongs(rowMask))) : null;
            Tensor wt = weighted ? ("weight-shape".equals(vf) ? Tensor.zeros(DType.FLOAT32, cc + 1) : c.tensor("weight", wF)) : null;
            CrossEntropy ce = c.on(CrossEntropy.create(), CrossEntropy.create()::withBackend).withReduction(red);
            if ("option".equals(vf)) {
                ce = switch (c.g.nextInt(4)) {
                    case 0 -> ce.withLabelSmoothing(c.g.pick(Float.NaN, -0.1f, 1.0001f, Float.POSITIVE_INFINITY, -Float.MIN_VALUE));
                    case 1 -> ce.withZLoss(c.g.badPositive(true));
                    case 2 -> ce.withReduction(c.g.pick(Reduction.BATCHMEAN, null));
                    default -> ce.withWeight(Tensor.zeros(DType.FLOAT32, cc, 1));
                };
            }
            ce = ce.withWeight(wt).withIgnoreIndex(ignore).withLabelSmoothing(epsF).withZLoss(zF)
                    .withZeroWhenAllIgnored(zeroIfEmpty).withLogSumExp(wantLse);
            switch (form) {
                case 0 -> c.got("loss", ce.forward(logits, tg));
                case 1 -> c.got("loss", ce.forward(logits, tg, rm));
                case 2, 3 -> {
                    try (CrossEntropy.Result res = form == 2 ? ce.forwardBackward(logits, tg) : ce.forwardBackward(logits, tg, rm)) {
                        c.got("loss", res.loss());
                        c.got("grad", res.grad());
                        if (wantLse) c.got("lse", res.lse());
                    }
                }
                default -> {
                    Tensor loss = c.output("loss");
                    Tensor grad = wantGrad ? c.output("grad") : null;
                    Tensor lse = wantLse ? c.output("lse") : null;
                    if (form == 4) ce.forwardBackward(logits, tg, loss, grad);
                    else ce.forwardBackward(logits, tg, rm, loss, grad, lse);
                    c.got("loss", loss);
                    if (grad != null) c.got("grad", grad);
                    if (lse != null) c.got("lse", lse);
                }
            }
        });
    }

    /** Breaks one value or shape; declares what the call must throw. Returns the fault's name. */
    private static String injectValueFault(Case c, String fault, int n, int cc, boolean probs, long[] targets, float[] p,
                                           float[] w, int[] rowMask, long ignore, long[] logitsShape) {
        Gen g = c.g;
        switch (fault) {
            case "target-range" -> {
                if (probs) return injectValueFault(c, "probs-sum", n, cc, true, targets, p, w, rowMask, ignore, logitsShape);
                boolean int32 = c.arg("targets").dtype() == DType.INT32;
                long bad = g.pick((long) cc, -1L, int32 ? Integer.MAX_VALUE : Long.MAX_VALUE,
                        int32 ? Integer.MIN_VALUE : Long.MIN_VALUE, (long) cc + 7, -101L);
                if (bad == ignore) bad = cc;
                targets[g.nextInt(n)] = bad;
                c.reject(IllegalArgumentException.class, null, "targets");
            }
            case "weight-nonfinite" -> {
                if (w == null) return null;
                w[g.nextInt(cc)] = g.pick(Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY);
                c.reject(IllegalArgumentException.class, null, "weight");
            }
            case "probs-sum", "probs-negative" -> {
                if (!probs) return null;
                int row = -1;
                for (int i = 0; i < n && row < 0; i++) if (rowMask == null || rowMask[i] != 0) row = i;
                if (row < 0) return null;
                if (fault.equals("probs-sum")) p[row * cc + g.nextInt(cc)] += g.pick(0.01f, 0.5f, Float.NaN, -0.01f);
                else p[row * cc + g.nextInt(cc)] = g.pick(-0.25f, Float.NEGATIVE_INFINITY, Float.NaN);
                c.reject(IllegalArgumentException.class, null, "targets");
            }
            case "option" -> c.reject(IllegalArgumentException.class, null, "labelSmoothing", "zLoss", "reduction", "weight");
            case "logits-shape", "empty" -> c.reject(IllegalArgumentException.class, null, "logits", "targets", "weight", "rowMask");
            case "targets-shape" -> c.reject(IllegalArgumentException.class, null, "targets");
            case "mask-shape" -> {
                if (rowMask == null) return null;
                c.reject(IllegalArgumentException.class, null, "rowMask");
            }
            case "weight-shape" -> {
                if (w == null) return null;
                c.reject(IllegalArgumentException.class, null, "weight");
            }
            default -> throw new AssertionError(fault);
        }
        c.note("valueFault=" + fault);
        return fault;
    }

    static long[] toLongs(int[] v) {
        long[] l = new long[v.length];
        for (int i = 0; i < v.length; i++) l[i] = v[i];
        return l;
    }

    /** Loss (N or 1), gradient (N,C) and every row's log-sum-exp (N) in float64. */
    record Ref(double[] loss, double[] grad, double[] lse) {
    }

    /** The formula of jnce.h, with its rules for non-finite logits (terms with q = 0 add nothing). */
    static Ref reference(float[] xf, int n, int c, long[] targets, float[] probs, int[] mask, float[] weight, long ignore,
                         double eps, double z, Reduction reduction, boolean zeroIfEmpty) {
        double[] rows = new double[n], lse = new double[n], grad = new double[n * c];
        double[][] gce = new double[n][], gz = new double[n][];
        double ce = 0, zs = 0, denom = 0;
        int counted = 0;
        for (int i = 0; i < n; i++) {
            double max = Double.NEGATIVE_INFINITY;
            boolean nan = false, posInf = false;
            for (int j = 0; j < c; j++) {
                double v = xf[i * c + j];
                nan |= Double.isNaN(v);
                posInf |= v == Double.POSITIVE_INFINITY;
                max = Math.max(max, v);
            }
            double sum = 0;
            for (int j = 0; j < c; j++) sum += Math.exp(xf[i * c + j] - max);
            // torch.logsumexp: NaN with a NaN, +Inf with +Inf, -Inf when every entry is -Inf
            lse[i] = nan ? Double.NaN : posInf ? Double.POSITIVE_INFINITY : max == Double.NEGATIVE_INFINITY ? max : max + Math.log(sum);
            boolean keep = (mask == null || mask[i] != 0) && (probs != null || targets[i] != ignore);
            if (!keep) continue;
            counted++;
            denom += probs != null || weight == null ? 1 : weight[(int) targets[i]]; // probabilities: the counted rows
            double l = posInf || max == Double.NEGATIVE_INFINITY ? Double.NaN : lse[i], sumq = 0; // such rows' loss is NaN
            double[] q = new double[c];
            // PyTorch's and the kernels' IEEE form: (1-eps) sum_j w_j t_j (lse - x_j) + eps/C sum_j w_j (lse - x_j),
            // where a zero coefficient at a -Inf logit gives NaN (0 * Inf), as torch's does
            double a = 0, b = 0;
            for (int j = 0; j < c; j++) {
                double wj = weight == null ? 1 : weight[j], d = l - xf[i * c + j];
                double t = probs != null ? probs[i * c + j] : j == targets[i] ? 1 : 0;
                q[j] = wj * ((1 - eps) * t + eps / c);
                sumq += q[j];
                if (probs != null || j == targets[i]) a += wj * t * d;
                if (eps > 0) b += wj * d;
            }
            double li = (1 - eps) * a + eps / c * b;
            rows[i] = li + (z == 0 ? 0 : z * l * l);
            ce += li;
            zs += l * l;
            gce[i] = new double[c];
            gz[i] = new double[c];
            for (int j = 0; j < c; j++) {
                double pj = posInf || nan ? Double.NaN : Math.exp(xf[i * c + j] - max) / sum;
                gce[i][j] = pj * sumq - q[j];
                gz[i][j] = z == 0 ? 0 : 2 * z * l * pj;
            }
        }
        double[] loss;
        double scale = 1, zscale = 1;
        switch (reduction) {
            case NONE -> loss = rows;
            case SUM -> loss = new double[] {ce + (z == 0 ? 0 : z * zs)};
            default -> {
                boolean empty = counted == 0 || denom == 0;
                loss = new double[] {empty ? (zeroIfEmpty ? 0 : Double.NaN) : ce / denom + (z > 0 ? z * zs / counted : 0)};
                scale = empty ? 0 : 1 / denom;
                zscale = counted == 0 ? 0 : 1.0 / counted;
            }
        }
        for (int i = 0; i < n; i++) {
            if (gce[i] == null) continue;
            for (int j = 0; j < c; j++) grad[i * c + j] = scale * gce[i][j] + zscale * gz[i][j];
        }
        return new Ref(loss, grad, lse);
    }

    /** On finite data the formula agrees with the suite's own reference (a check of the harness itself). */
    private static void crossCheck(Ref r, float[] x, int n, int c, long[] targets, float[] p, int[] mask, float[] w, long ignore,
                                   double eps, double z, Reduction reduction, boolean zeroIfEmpty) {
        double[] wd = w == null ? null : Numeric.toDouble(w), pd = p == null ? null : Numeric.toDouble(p);
        double[] other = CrossEntropyReference.loss(Numeric.toDouble(x), n, c,
                new CrossEntropyReference.Options(targets, pd, wd, ignore, eps, z, mask, reduction, zeroIfEmpty));
        for (int i = 0; i < other.length; i++) {
            if (Double.compare(other[i], r.loss[i]) != 0 && Math.abs(other[i] - r.loss[i]) > 1e-9 * Math.max(1, Math.abs(other[i]))) {
                throw new AssertionError("fuzz harness: the cross-entropy formula disagrees with CrossEntropyReference at "
                        + i + ": " + r.loss[i] + " vs " + other[i]);
            }
        }
    }
}
