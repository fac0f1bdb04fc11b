package dev.jnce.loss;

import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.harness.Case;
import dev.jnce.harness.Family;
import dev.jnce.harness.Gen;
import dev.jnce.harness.Numeric;

import java.util.Arrays;

/**
 * Fuzz cases of {@link KlDiv}, {@link Entropy} (entropy and cross-entropy of distributions) and
 * {@link Perplexity} (targets, mask and logits forms): every reduction, allocating and
 * into-buffer forms, rows that are not distributions, masks that are not 0/1, every token left
 * out. The oracle is {@link DivergenceReference} with the documented gradients.
 */
public final class DivergenceFuzz implements Family {
    private static final double TOL = 2e-4;

    @Override
    public int weight() {
        return 10;
    }

    @Override
    public void run(Case c) {
        switch (c.g.nextInt(3)) {
            case 0 -> klDiv(c);
            case 1 -> entropy(c);
            default -> perplexity(c);
        }
    }

    private static long[] shape(Gen g) {
        int rank = g.pick(0, 1, 2, 2, 3);
        long[] s = new long[rank];
        for (int i = 0; i < rank; i++) s[i] = g.dim(1, rank < 3);
        return s;
    }

    private static int numel(long[] s) {
        long n = 1;
        for (long d : s) n *= d;
        return (int) n;
    }

    private static void klDiv(Case c) {
        Gen g = c.g;
        int form = g.nextInt(3);
        c.op("KlDiv." + (form == 0 ? "forward" : form == 1 ? "forwardBackward" : "forwardBackward(into)"));
        long[] s = shape(g);
        int numel = numel(s);
        boolean logTarget = g.chance(0.4);
        Reduction reduction = g.pick(Reduction.values());
        float[] x = g.gaussians(numel, false);
        float[] t = logTarget ? g.gaussians(numel, false) : g.uniform(numel, 0, 1);
        if (!logTarget && g.chance(0.3)) t[g.nextInt(numel)] = 0;
        String poison = "none";
        if (g.chance(0.1)) {
            int k = g.nextInt(numel);
            x[k] = g.pick(Float.NaN, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY);
            poison = "x[" + k + "]=" + x[k];
        }
        boolean wantGi = form != 2 || g.chance(0.7), wantGt = form != 2 || g.chance(0.7);
        c.note("shape=" + Arrays.toString(s) + " logTarget=" + logTarget + " reduction=" + reduction + " poison=" + poison);
        c.in("input", s, DType.FLOAT32);
        c.in("target", s, DType.FLOAT32);
        if (form == 2) {
            Case.Arg l = c.out("loss", reduction == Reduction.NONE ? s : g.pick(new long[0], new long[] {1}));
            if (reduction != Reduction.NONE) l.oneElement();
            if (wantGi) c.out("gradInput", s).optional();
            if (wantGt) c.out("gradTarget", s).optional();
            c.overlaps(Case.Expect.REJECT);
        }
        boolean batchmeanScalar = reduction == Reduction.BATCHMEAN && s.length == 0;
        String fault = batchmeanScalar ? "batchmean-scalar" : g.chance(0.1) ? g.pick("shape", "empty") : null;
        if (fault == null) {
            c.plan(0.35);
        } else {
            c.note("valueFault=" + fault);
            c.reject(IllegalArgumentException.class, null, fault.equals("shape") ? "target" : "input");
        }
        if (c.expectation() != Case.Expect.REJECT) {
            long n = s.length == 0 ? 1 : s[0];
            double scale = DivergenceReference.klScale(reduction, n, numel);
            double[] xd = Numeric.toDouble(x), td = Numeric.toDouble(t);
            double[] pw = DivergenceReference.klPointwise(xd, td, logTarget);
            double[] gi = new double[numel], gt = new double[numel];
            for (int k = 0; k < numel; k++) {
                gi[k] = scale * (logTarget ? -Math.exp(td[k]) : -td[k]);
                gt[k] = scale * (logTarget ? Math.exp(td[k]) * (td[k] - xd[k] + 1) : td[k] == 0 ? Double.NaN : Math.log(td[k]) + 1 - xd[k]);
            }
            c.expect("loss", reduction == Reduction.NONE ? pw : new double[] {Numeric.sum(pw) * scale}, TOL);
            if (form == 1 || form == 2 && wantGi) c.expect("gradInput", gi, TOL);
            if (form == 1 || form == 2 && wantGt) c.expect("gradTarget", gt, TOL);
        }
        final String vf = fault;
        c.run(() -> {
            KlDiv op = c.on(KlDiv.create(), KlDiv.create()::withBackend).withReduction(reduction).withLogTarget(logTarget);
            Tensor in = "empty".equals(vf) ? Tensor.zeros(DType.FLOAT32, 0, 3) : c.tensor("input", x);
            Tensor tg = "shape".equals(vf) || "empty".equals(vf) ? Tensor.zeros(DType.FLOAT32, numel + 1) : c.tensor("target", t);
            switch (form) {
                case 0 -> c.got("loss", op.forward(in, tg));
                case 1 -> {
                    try (InputTargetResult r = op.forwardBackward(in, tg)) {
                        c.got("loss", r.loss());
                        c.got("gradInput", r.gradInput());
                        c.got("gradTarget", r.gradTarget());
                    }
                }
                default -> {
                    Tensor loss = c.output("loss");
                    Tensor gi = wantGi ? c.output("gradInput") : null, gt = wantGt ? c.output("gradTarget") : null;
                    op.forwardBackward(in, tg, loss, gi, gt);
                    c.got("loss", loss);
                    if (gi != null) c.got("gradInput", gi);
                    if (gt != null) c.got("gradTarget", gt);
                }
            }
        });
    }

    private static void entropy(Case c) {
        Gen g = c.g;
        boolean cross = g.chance(0.5);
        int form = g.nextInt(3);
        c.op("Entropy." + (cross ? "cross" : "entropy") + (form == 0 ? ".forward" : form == 1 ? ".forwardBackward" : ".forwardBackward(into)"));
        int n = g.dim(1), k = g.dim(1);
        Reduction reduction = Numeric.reduction(g);
        double tolerance = g.pick(Entropy.DEFAULT_TOLERANCE, 1e-2, 0.0, Double.POSITIVE_INFINITY);
        float[] p = g.distributions(n, k, g.pick(0.0, 0.05));
        float[] q = cross ? g.distributions(n, k, g.pick(0.05, 0.5)) : null;
        if (g.chance(0.2) && k > 1) { // exact zeros in p (and maybe q where p is zero too)
            int row = g.nextInt(n), j = g.nextInt(k);
            float moved = p[row * k + j];
            p[row * k + j] = 0;
            p[row * k + (j + 1) % k] += moved;
            if (cross && g.chance(0.5)) {
                float mq = q[row * k + j];
                q[row * k + j] = 0;
                q[row * k + (j + 1) % k] += mq;
            }
        }
        if (tolerance == 0) { // a tolerance of 0 accepts only rows that sum to 1 exactly in double
            for (int i = 0; i < n; i++) {
                double sp = 0, sq = 0;
                for (int j = 0; j < k; j++) {
                    sp += p[i * k + j];
                    if (cross) sq += q[i * k + j];
                }
                if (sp != 1 || cross && sq != 1) {
                    c.mayReject(sp != 1 ? "p" : "q");
                }
            }
        }
        boolean wantG1 = form != 2 || g.chance(0.7), wantG2 = cross && (form != 2 || g.chance(0.7));
        c.note("n=" + n + " c=" + k + " reduction=" + reduction + " tolerance=" + tolerance);
        long[] s = {n, k};
        c.in("p", s, DType.FLOAT32);
        if (cross) c.in("q", s, DType.FLOAT32);
        if (form == 2) {
            Case.Arg l = c.out("loss", reduction == Reduction.NONE ? new long[] {n} : g.pick(new long[0], new long[] {1}));
            if (reduction != Reduction.NONE) l.oneElement();
            if (cross) {
                if (wantG1) c.out("gradP", s).optional();
                if (wantG2) c.out("gradQ", s).optional();
            } else if (wantG1) {
                c.out("grad", s).optional();
            }
            c.overlaps(Case.Expect.REJECT);
        }
        String fault = g.chance(0.2) ? g.pick("row-sum", "negative", "nonfinite", "rank", "q-shape", "tolerance") : null;
        if (fault != null && fault.equals("q-shape") && !cross) fault = "rank";
        if (fault == null) {
            c.plan(0.35);
        } else {
            c.note("valueFault=" + fault);
            float[] victim = cross && g.chance(0.5) ? q : p;
            String vname = victim == p ? "p" : "q";
            switch (fault) {
                case "row-sum" -> {
                    if (tolerance == Double.POSITIVE_INFINITY) tolerance = Entropy.DEFAULT_TOLERANCE;
                    victim[g.nextInt(n * k)] += (float) Math.max(0.01, 3 * tolerance);
                    c.reject(IllegalArgumentException.class, null, vname);
                }
                case "negative", "nonfinite" -> {
                    victim[g.nextInt(n * k)] = fault.equals("negative") ? g.pick(-0.1f, -Float.MIN_VALUE) : g.pick(Float.NaN, Float.POSITIVE_INFINITY);
                    c.reject(IllegalArgumentException.class, null, vname);
                }
                case "rank" -> c.reject(IllegalArgumentException.class, null, "p");
                case "q-shape" -> c.reject(IllegalArgumentException.class, null, "q");
                default -> c.reject(IllegalArgumentException.class, null, "tolerance");
            }
        }
        if (c.expectation() != Case.Expect.REJECT) {
            double scale = Numeric.scale(reduction, n);
            double[] pd = Numeric.toDouble(p), qd = cross ? Numeric.toDouble(q) : pd;
            double[] rows = cross ? DivergenceReference.crossRows(pd, qd, n, k) : DivergenceReference.entropyRows(pd, n, k);
            double[] g1 = new double[n * k], g2 = new double[n * k];
            for (int e = 0; e < n * k; e++) {
                if (cross) {
                    g1[e] = scale * -Math.log(qd[e]);                          // d/dp
                    g2[e] = pd[e] == 0 ? 0 : scale * -pd[e] / qd[e];           // d/dq
                } else {
                    g1[e] = scale * -(Math.log(pd[e]) + 1);
                }
            }
            c.expect("loss", Numeric.reduce(rows, reduction, n), TOL);
            if (cross) {
                if (form == 1 || form == 2 && wantG1) c.expect("gradP", g1, TOL);
                if (form == 1 || form == 2 && wantG2) c.expect("gradQ", g2, TOL);
            } else if (form == 1 || form == 2 && wantG1) {
                c.expect("grad", g1, TOL);
            }
        }
        final String vf = fault;
        final double tol = tolerance;
        c.run(() -> {
            Entropy op = c.on(Entropy.create(), Entropy.create()::withBackend).withReduction(reduction);
            if ("tolerance".equals(vf)) op = op.withTolerance(c.g.pick(-1e-3, Double.NaN, Double.NEGATIVE_INFINITY));
            op = op.withTolerance(tol);
            Tensor pt = "rank".equals(vf) ? Tensor.zeros(DType.FLOAT32, c.g.pick(new long[] {n * k}, new long[] {n, k, 1}, new long[0]))
                    : c.tensor("p", p);
            Tensor qt = !cross ? null : "q-shape".equals(vf) ? Tensor.zeros(DType.FLOAT32, n, k + 1) : c.tensor("q", q);
            if (!cross) {
                switch (form) {
                    case 0 -> c.got("loss", op.forward(pt));
                    case 1 -> {
                        try (LossResult r = op.forwardBackward(pt)) {
                            c.got("loss", r.loss());
                            c.got("grad", r.grad());
                        }
                    }
                    default -> {
                        Tensor loss = c.output("loss"), grad = wantG1 ? c.output("grad") : null;
                        op.forwardBackward(pt, loss, grad);
                        c.got("loss", loss);
                        if (grad != null) c.got("grad", grad);
                    }
                }
                return;
            }
            switch (form) {
                case 0 -> c.got("loss", op.cross(pt, qt));
                case 1 -> {
                    try (InputTargetResult r = op.crossForwardBackward(pt, qt)) {
                        c.got("loss", r.loss());
                        c.got("gradQ", r.gradInput());
                        c.got("gradP", r.gradTarget());
                    }
                }
                default -> {
                    Tensor loss = c.output("loss");
                    Tensor gp = wantG1 ? c.output("gradP") : null, gq = wantG2 ? c.output("gradQ") : null;
                    op.crossForwardBackward(pt, qt, loss, gp, gq);
                    c.got("loss", loss);
                    if (gp != null) c.got("gradP", gp);
                    if (gq != null) c.got("gradQ", gq);
                }
            }
        });
    }

    private static void perplexity(Case c) {
        Gen g = c.g;
        int kind = g.nextInt(3); // targets, mask, logits
        int form = g.nextInt(kind == 2 ? 2 : 3);
        String[] kinds = {"targets", "masked", "logits"};
        c.op("Perplexity." + kinds[kind] + "." + (form == 0 && kind < 2 ? "forward" : form == 1 || kind == 2 && form == 0
                ? "forwardBackward" : "forwardBackward(into)"));
        if (kind == 2 && form == 1) form = 2;
        boolean into = form == 2;
        boolean one = g.chance(0.3);
        long ignore = g.pick(-100L, -100L, 0L, 3L);
        long[] s;
        float[] losses = null, logits = null;
        long[] keys;
        int n, cc = 0;
        if (kind == 2) {
            n = g.dim(1);
            cc = g.dim(2);
            s = new long[] {n, cc};
            logits = g.gaussians(n * cc, false);
            keys = new long[n];
            for (int i = 0; i < n; i++) keys[i] = g.chance(0.2) ? ignore : g.nextInt(cc);
        } else {
            s = shape(g);
            n = numel(s);
            losses = g.uniform(n, 0, g.pick(1.0, 5.0, 100.0));
            if (g.chance(0.1)) losses[g.nextInt(n)] = g.pick(Float.NaN, Float.POSITIVE_INFINITY);
            keys = new long[n];
            for (int i = 0; i < n; i++) {
                keys[i] = kind == 1 ? (g.chance(0.8) ? 1 : 0) : g.chance(0.2) ? ignore : g.between(0, 9);
            }
        }
        if (g.chance(0.08)) Arrays.fill(keys, kind == 1 ? 0 : ignore); // every token left out
        boolean wantGrad = kind == 2 || form == 1 || into && g.chance(0.7);
        c.note("shape=" + Arrays.toString(s) + " ignore=" + ignore + " allIgnoredOne=" + one);
        String keyName = kind == 1 ? "mask" : "targets";
        if (kind == 2) {
            c.in("logits", s, DType.FLOAT32);
            c.in("targets", new long[] {n}, DType.INT32, DType.INT64);
        } else {
            c.in("tokenLosses", s, DType.FLOAT32);
            c.in(keyName, s, DType.INT32, DType.INT64);
        }
        if (into) {
            c.out("perplexity", g.pick(new long[0], new long[] {1})).oneElement();
            if (wantGrad) {
                c.out("grad", s).optional(); // null: the perplexity alone
            }
            if (kind == 2) {
                c.allowAlias("grad", "logits");
                c.overlaps(Case.Expect.REJECT);
            } else {
                c.overlaps(Case.Expect.REJECT);
            }
        }
        String fault = g.chance(0.15) ? g.pick("mask-value", "keys-float", "keys-shape", "target-range") : null;
        if (fault != null && fault.equals("mask-value") && kind != 1) fault = kind == 2 ? "target-range" : "keys-shape";
        if (fault != null && fault.equals("target-range") && kind != 2) fault = "keys-float";
        if (fault == null) {
            c.plan(0.35);
        } else {
            c.note("valueFault=" + fault);
            if (fault.equals("mask-value")) keys[g.nextInt(n)] = g.pick(2L, -1L, 7L);
            if (fault.equals("target-range")) keys[g.nextInt(n)] = ignore == cc ? cc + 1 : cc;
            c.reject(IllegalArgumentException.class, null, kind == 2 && fault.equals("keys-shape") ? "targets" : keyName);
        }
        if (c.expectation() != Case.Expect.REJECT) {
            double[] grad = new double[kind == 2 ? n * cc : n];
            double ppl;
            boolean[] keep = new boolean[n];
            int count = 0;
            for (int i = 0; i < n; i++) if (keep[i] = kind == 1 ? keys[i] != 0 : keys[i] != ignore) count++;
            if (kind == 2) {
                CrossEntropyFuzz.Ref r = CrossEntropyFuzz.reference(logits, n, cc, keys, null, null, null, ignore, 0, 0,
                        Reduction.MEAN, one);
                ppl = count == 0 ? (one ? 1 : Double.NaN) : Math.exp(r.loss()[0]);
                for (int e = 0; e < grad.length; e++) grad[e] = count == 0 ? 0 : ppl * r.grad()[e];
            } else {
                double[] ld = Numeric.toDouble(losses);
                ppl = count == 0 ? (one ? 1 : Double.NaN) : DivergenceReference.perplexity(ld, keep);
                for (int i = 0; i < n; i++) grad[i] = keep[i] ? ppl / count : 0;
            }
            c.expect("perplexity", ppl, TOL);
            if (wantGrad) c.expect("grad", grad, TOL);
        }
        final String vf = fault;
        final float[] lf = losses, xf = logits;
        final int fm = form;
        c.run(() -> {
            Perplexity op = c.on(Perplexity.create(), Perplexity.create()::withBackend).withIgnoreIndex(ignore)
                    .withAllIgnored(one ? Perplexity.AllIgnored.ONE : Perplexity.AllIgnored.NAN);
            Tensor values = kind == 2 ? c.tensor("logits", xf) : c.tensor("tokenLosses", lf);
            // float targets of the logits form are (N) here: (N, C) float32 is CrossEntropy's probability form
            Tensor k = "keys-float".equals(vf) ? Tensor.zeros(DType.FLOAT32, kind == 2 ? new long[] {n} : s)
                    : "keys-shape".equals(vf) ? Tensor.zeros(DType.INT64, numel(s) + 1) : c.tensor(keyName, keys);
            if (kind == 2) {
                if (fm == 0 || fm == 1) {
                    try (Perplexity.Result r = op.forwardBackwardLogits(values, k)) {
                        c.got("perplexity", r.perplexity());
                        c.got("grad", r.grad());
                    }
                } else {
                    Tensor ppl = c.output("perplexity"), grad = c.output("grad");
                    op.forwardBackwardLogits(values, k, ppl, grad);
                    c.got("perplexity", ppl);
                    c.got("grad", grad);
                }
                return;
            }
            boolean masked = kind == 1;
            switch (fm) {
                case 0 -> c.got("perplexity", masked ? op.forwardMasked(values, k) : op.forward(values, k));
                case 1 -> {
                    try (Perplexity.Result r = masked ? op.forwardBackwardMasked(values, k) : op.forwardBackward(values, k)) {
                        c.got("perplexity", r.perplexity());
                        c.got("grad", r.grad());
                    }
                }
                default -> {
                    Tensor ppl = c.output("perplexity"), grad = wantGrad ? c.output("grad") : null;
                    if (masked) op.forwardBackwardMasked(values, k, ppl, grad);
                    else op.forwardBackward(values, k, ppl, grad);
                    c.got("perplexity", ppl);
                    if (grad != null) c.got("grad", grad);
                }
            }
        });
    }
}
