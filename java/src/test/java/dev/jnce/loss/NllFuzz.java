package dev.jnce.loss;

import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.harness.Case;
import dev.jnce.harness.Family;
import dev.jnce.harness.Gen;
import dev.jnce.harness.Numeric;

/**
 * Fuzz cases of {@link NllLoss}: log-probabilities and {@link NllLoss#fromProbabilities()},
 * weights, ignore index, every reduction and zero-when-all-ignored, allocating and into-buffer
 * forms, non-finite inputs and bad values. The oracle is {@link NllReference}.
 */
public final class NllFuzz implements Family {
    private static final double TOL = 2e-4;

    @Override
    public int weight() {
        return 7;
    }

    @Override
    public void run(Case c) {
        Gen g = c.g;
        int form = g.nextInt(3);
        c.op("NllLoss." + (form == 0 ? "forward" : form == 1 ? "forwardBackward" : "forwardBackward(into)"));
        int n = g.dim(1), cc = g.dim(1);
        boolean probs = g.chance(0.4), weighted = g.chance(0.35), zeroIfEmpty = g.chance(0.3);
        Reduction reduction = Numeric.reduction(g);
        long ignore = g.pick(-100L, -100L, 0L, (long) g.nextInt(cc), -1L);
        float[] x = probs ? g.uniform(n * cc, 0, 1) : logSoftmax(g.gaussians(n * cc, true), n, cc);
        if (probs && g.chance(0.2)) x[g.nextInt(x.length)] = g.pick(0f, 1f, 1e-40f, Float.MIN_VALUE, 1e-30f);
        String poison = "none";
        if (g.chance(0.12)) {
            int k = g.nextInt(x.length);
            x[k] = probs ? Float.NaN : g.pick(Float.NaN, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY);
            poison = "x[" + k + "]=" + x[k];
        }
        long[] targets = new long[n];
        for (int i = 0; i < n; i++) targets[i] = g.chance(0.15) ? ignore : g.nextInt(cc);
        float[] w = weighted ? g.uniform(cc, 0.1, 2) : null;
        c.note("n=" + n + " c=" + cc + " probs=" + probs + " weight=" + weighted + " reduction=" + reduction + " ignore=" + ignore
                + " zeroIfEmpty=" + zeroIfEmpty + " poison=" + poison);

        long[] inputShape = {n, cc};
        c.in("input", inputShape, DType.FLOAT32);
        c.in("targets", new long[] {n}, DType.INT32, DType.INT64);
        if (weighted) c.in("weight", new long[] {cc}, DType.FLOAT32).optional();
        if (form == 2) {
            Case.Arg l = c.out("loss", reduction == Reduction.NONE ? new long[] {n} : g.pick(new long[0], new long[] {1}));
            if (reduction != Reduction.NONE) l.oneElement();
            c.out("grad", inputShape);
            c.allowAlias("grad", "input");
            c.overlaps(Case.Expect.REJECT);
        }
        String fault = g.chance(0.2) ? g.pick("target-range", "weight-nonfinite", "prob-range", "input-shape", "targets-float",
                "weight-shape", "option") : null;
        if (fault == null) c.plan(0.4);
        else fault = valueFault(c, fault, n, cc, probs, x, targets, w, ignore);
        if (c.expectation() != Case.Expect.REJECT) {
            NllReference ref = new NllReference(w == null ? null : Numeric.toDouble(w), ignore, probs, reduction);
            double[] xd = Numeric.toDouble(x);
            double[] loss = ref.loss(xd, targets, n, cc), grad = ref.grad(xd, targets, n, cc);
            if (reduction == Reduction.MEAN && zeroIfEmpty && countedWeight(targets, w, ignore) == 0) {
                loss = new double[] {0};
                grad = new double[n * cc];
            }
            c.expect("loss", loss, TOL);
            if (form > 0) c.expect("grad", grad, TOL);
        }
        final String vf = fault;
        c.run(() -> {
            Tensor input = "input-shape".equals(vf) ? Tensor.zeros(DType.FLOAT32, c.g.pick(new long[] {n}, new long[] {0, cc},
                    new long[] {n, 0}, new long[] {n, cc, 1})) : c.tensor("input", x);
            Tensor tg = "targets-float".equals(vf) ? Tensor.zeros(DType.FLOAT32, n) : c.tensor("targets", targets);
            Tensor wt = weighted ? ("weight-shape".equals(vf) ? Tensor.zeros(DType.FLOAT32, cc + 1) : c.tensor("weight", w)) : null;
            NllLoss nll = c.on(probs ? NllLoss.fromProbabilities() : NllLoss.create(),
                    b -> (probs ? NllLoss.fromProbabilities() : NllLoss.create()).withBackend(b));
            if ("option".equals(vf)) nll = nll.withReduction(c.g.pick(Reduction.BATCHMEAN, null));
            nll = nll.withReduction(reduction).withWeight(wt).withIgnoreIndex(ignore).withZeroWhenAllIgnored(zeroIfEmpty);
            switch (form) {
                case 0 -> c.got("loss", nll.forward(input, tg));
                case 1 -> {
                    try (LossResult r = nll.forwardBackward(input, tg)) {
                        c.got("loss", r.loss());
                        c.got("grad", r.grad());
                    }
                }
                default -> {
                    Tensor loss = c.output("loss"), grad = c.output("grad");
                    nll.forwardBackward(input, tg, loss, grad);
                    c.got("loss", loss);
                    c.got("grad", grad);
                }
            }
        });
    }

    private static String valueFault(Case c, String fault, int n, int cc, boolean probs, float[] x, long[] targets, float[] w,
                                     long ignore) {
        Gen g = c.g;
        switch (fault) {
            case "target-range" -> {
                boolean int32 = c.arg("targets").dtype() == DType.INT32;
                long bad = g.pick((long) cc, -1L, int32 ? Integer.MAX_VALUE : Long.MAX_VALUE, -101L);
                if (bad == ignore) bad = cc;
                targets[g.nextInt(n)] = bad;
                c.reject(IllegalArgumentException.class, null, "targets");
            }
            case "weight-nonfinite" -> {
                if (w == null) return null;
                w[g.nextInt(cc)] = g.pick(Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY);
                c.reject(IllegalArgumentException.class, null, "weight");
            }
            case "prob-range" -> {
                if (!probs) return null;
                int row = -1;
                for (int i = 0; i < n && row < 0; i++) if (targets[i] != ignore) row = i;
                if (row < 0) return null;
                x[row * cc + (int) targets[row]] = g.pick(-0.5f, 1.5f, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, -Float.MIN_VALUE);
                c.reject(IllegalArgumentException.class, null, "input", "targets");
            }
            case "input-shape" -> c.reject(IllegalArgumentException.class, null, "input", "targets", "weight");
            case "targets-float" -> c.reject(IllegalArgumentException.class, null, "targets");
            case "weight-shape" -> {
                if (w == null) return null;
                c.reject(IllegalArgumentException.class, null, "weight");
            }
            case "option" -> c.reject(IllegalArgumentException.class, null, "reduction");
            default -> throw new AssertionError(fault);
        }
        c.note("valueFault=" + fault);
        return fault;
    }

    private static double countedWeight(long[] targets, float[] w, long ignore) {
        double s = 0;
        for (long t : targets) if (t != ignore) s += w == null ? 1 : w[(int) t];
        return s;
    }

    /** Row-wise log-softmax in float64, rounded to float (finite rows in, finite rows out). */
    static float[] logSoftmax(float[] x, int n, int c) {
        float[] out = new float[x.length];
        for (int i = 0; i < n; i++) {
            double max = Double.NEGATIVE_INFINITY, s = 0;
            for (int j = 0; j < c; j++) max = Math.max(max, x[i * c + j]);
            for (int j = 0; j < c; j++) s += Math.exp(x[i * c + j] - max);
            for (int j = 0; j < c; j++) out[i * c + j] = (float) (x[i * c + j] - max - Math.log(s));
        }
        return out;
    }
}
