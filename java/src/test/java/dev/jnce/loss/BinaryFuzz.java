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
 * Fuzz cases of the element-wise binary losses and the focal losses: {@link BinaryCrossEntropy},
 * {@link BinaryCrossEntropyWithLogits} (weight, pos_weight), {@link SigmoidFocalLoss} and
 * {@link SoftmaxFocalLoss}: any rank, broadcast weights, soft targets, allocating and
 * into-buffer forms (with the documented in-place aliases), bad values and options. The oracle
 * is {@link BinaryReference} with PyTorch's gradient formulas, or finite differences of it for
 * the focal losses.
 */
public final class BinaryFuzz implements Family {
    private static final double TOL = 2e-4, FD_TOL = 1e-3;

    @Override
    public int weight() {
        return 12;
    }

    @Override
    public void run(Case c) {
        switch (c.g.nextInt(4)) {
            case 0, 1 -> elementwise(c);
            case 2 -> sigmoidFocal(c);
            default -> softmaxFocal(c);
        }
    }

    /** A shape of rank 0..3 with at least one element. */
    private static long[] shape(Gen g) {
        int rank = g.pick(0, 1, 1, 2, 2, 2, 3);
        long[] s = new long[rank];
        for (int i = 0; i < rank; i++) s[i] = g.dim(1, rank < 3);
        return s;
    }

    /** A weight shape that broadcasts over input: the input's own, a trailing part, maybe with leading 1s. */
    private static long[] weightShape(Gen g, long[] in) {
        int keep = g.nextInt(in.length + 1);
        long[] core = Arrays.copyOfRange(in, in.length - keep, in.length);
        int ones = g.chance(0.2) ? 1 : 0;
        long[] w = new long[ones + core.length];
        Arrays.fill(w, 0, ones, 1);
        System.arraycopy(core, 0, w, ones, core.length);
        return w;
    }

    /** The weight of each element of input (shape in) from a broadcast weight of shape ws. */
    private static double[] broadcast(float[] w, long[] ws, int numel) {
        double[] out = new double[numel];
        int wn = Math.max(1, w == null ? 1 : w.length);
        for (int k = 0; k < numel; k++) out[k] = w == null ? 1 : w[k % wn];
        return out;
    }

    private static void elementwise(Case c) {
        Gen g = c.g;
        boolean logits = g.chance(0.5);
        int form = g.nextInt(3);
        String name = logits ? "BinaryCrossEntropyWithLogits" : "BinaryCrossEntropy";
        c.op(name + "." + (form == 0 ? "forward" : form == 1 ? "forwardBackward" : "forwardBackward(into)"));
        long[] s = shape(g);
        int numel = (int) numel(s);
        Reduction reduction = Numeric.reduction(g);
        float[] x = logits ? g.gaussians(numel, true) : g.uniform(numel, 0, 1);
        if (!logits && g.chance(0.3)) x[g.nextInt(numel)] = g.pick(0f, 1f, Float.MIN_VALUE, 1e-30f, 1 - 1e-7f);
        if (logits && g.chance(0.1)) x[g.nextInt(numel)] = Float.NaN;
        float[] y = g.chance(0.5) ? g.uniform(numel, 0, 1) : hard(g, numel);
        long[] ws = g.chance(0.35) ? weightShape(g, s) : null;
        long[] ps = logits && g.chance(0.35) ? weightShape(g, s) : null;
        float[] w = ws == null ? null : g.uniform((int) numel(ws), -1, 2);
        float[] pw = ps == null ? null : g.uniform((int) numel(ps), 0, 3);
        if (pw != null && g.chance(0.2)) pw[0] = 0;
        boolean wantGradTarget = form != 2 || g.chance(0.7);
        c.note("shape=" + Arrays.toString(s) + " reduction=" + reduction + " weight=" + Arrays.toString(ws) + " posWeight="
                + Arrays.toString(ps) + " gradTarget=" + wantGradTarget);

        c.in("input", s, DType.FLOAT32);
        c.in("target", s, DType.FLOAT32);
        if (ws != null) c.in("weight", ws, DType.FLOAT32).optional();
        if (ps != null) c.in("posWeight", ps, DType.FLOAT32).optional();
        if (form == 2) {
            Case.Arg l = c.out("loss", reduction == Reduction.NONE ? s : g.pick(new long[0], new long[] {1}));
            if (reduction != Reduction.NONE) l.oneElement();
            c.out("gradInput", s);
            if (wantGradTarget) c.out("gradTarget", s).optional();
            c.allowAlias("gradInput", "input").allowAlias("gradTarget", "target");
            c.overlaps(Case.Expect.REJECT);
        }
        String fault = g.chance(0.2) ? g.pick("input-range", "target-range", "weight-nonfinite", "posweight-bad", "weight-shape",
                "target-shape", "empty", "option") : null;
        if (fault == null) c.plan(0.4);
        else fault = elementFault(c, fault, logits, x, y, w, pw);

        if (c.expectation() != Case.Expect.REJECT) {
            double[] wb = broadcast(w, ws, numel), pb = broadcast(pw, ps, numel);
            double[] l = new double[numel], gi = new double[numel], gt = new double[numel];
            double scale = Numeric.scale(reduction, numel);
            for (int k = 0; k < numel; k++) {
                double xv = x[k], yv = y[k];
                if (logits) {
                    double sp = softplus(-xv), sig = 1 / (1 + Math.exp(-xv));
                    l[k] = wb[k] * ((1 - yv) * xv + (1 + (pb[k] - 1) * yv) * sp);
                    gi[k] = scale * wb[k] * ((1 + (pb[k] - 1) * yv) * sig - pb[k] * yv);
                    gt[k] = scale * wb[k] * (-xv + (pb[k] - 1) * sp);
                } else {
                    l[k] = wb[k] * BinaryReference.bce(xv, yv);
                    gi[k] = scale * wb[k] * (xv - yv) / Math.max((1 - xv) * xv, 1e-12);
                    gt[k] = scale * wb[k] * (Math.log(1 - xv) - Math.log(xv));
                }
            }
            c.expect("loss", BinaryReference.asLoss(l, reduction), TOL);
            if (form > 0) c.expect("gradInput", gi, TOL);
            if (form == 1 || form == 2 && wantGradTarget) {
                c.expect("gradTarget", gt, TOL);
            }
        }
        final String vf = fault;
        c.run(() -> {
            Tensor in = "empty".equals(vf) ? Tensor.zeros(DType.FLOAT32, 0) : c.tensor("input", x);
            Tensor tg = "target-shape".equals(vf) ? Tensor.zeros(DType.FLOAT32, append(s)) : c.tensor("target", y);
            Tensor wt = ws == null ? null : "weight-shape".equals(vf) ? Tensor.zeros(DType.FLOAT32, append(s)) : c.tensor("weight", w);
            Tensor pt = ps == null ? null : c.tensor("posWeight", pw);
            InputTargetResult r = null;
            Tensor loss = null, gi = null, gt = null;
            if (logits) {
                BinaryCrossEntropyWithLogits op = c.on(BinaryCrossEntropyWithLogits.create(),
                        BinaryCrossEntropyWithLogits.create()::withBackend);
                if ("option".equals(vf)) op = op.withReduction(c.g.pick(Reduction.BATCHMEAN, null));
                op = op.withReduction(reduction).withWeight(wt).withPosWeight(pt);
                switch (form) {
                    case 0 -> loss = op.forward(in, tg);
                    case 1 -> r = op.forwardBackward(in, tg);
                    default -> {
                        loss = c.output("loss");
                        gi = c.output("gradInput");
                        gt = wantGradTarget ? c.output("gradTarget") : null;
                        op.forwardBackward(in, tg, loss, gi, gt);
                    }
                }
            } else {
                BinaryCrossEntropy op = c.on(BinaryCrossEntropy.create(), BinaryCrossEntropy.create()::withBackend);
                if ("option".equals(vf)) op = op.withReduction(c.g.pick(Reduction.BATCHMEAN, null));
                op = op.withReduction(reduction).withWeight(wt);
                switch (form) {
                    case 0 -> loss = op.forward(in, tg);
                    case 1 -> r = op.forwardBackward(in, tg);
                    default -> {
                        loss = c.output("loss");
                        gi = c.output("gradInput");
                        gt = wantGradTarget ? c.output("gradTarget") : null;
                        op.forwardBackward(in, tg, loss, gi, gt);
                    }
                }
            }
            record(c, r, loss, gi, gt);
        });
    }

    private static void record(Case c, InputTargetResult r, Tensor loss, Tensor gi, Tensor gt) {
        if (r != null) {
            try (r) {
                c.got("loss", r.loss());
                c.got("gradInput", r.gradInput());
                c.got("gradTarget", r.gradTarget());
            }
            return;
        }
        c.got("loss", loss);
        if (gi != null) c.got("gradInput", gi);
        if (gt != null) c.got("gradTarget", gt);
    }

    private static String elementFault(Case c, String fault, boolean logits, float[] x, float[] y, float[] w, float[] pw) {
        Gen g = c.g;
        switch (fault) {
            case "input-range" -> {
                if (logits) return null; // logits take any value
                x[g.nextInt(x.length)] = g.pick(-0.01f, 1.01f, Float.NaN, Float.POSITIVE_INFINITY, -Float.MIN_VALUE);
                c.reject(IllegalArgumentException.class, null, "input");
            }
            case "target-range" -> {
                y[g.nextInt(y.length)] = g.pick(-0.01f, 1.01f, Float.NaN, Float.NEGATIVE_INFINITY);
                c.reject(IllegalArgumentException.class, null, "target");
            }
            case "weight-nonfinite" -> {
                if (w == null) return null;
                w[g.nextInt(w.length)] = g.pick(Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY);
                c.reject(IllegalArgumentException.class, null, "weight");
            }
            case "posweight-bad" -> {
                if (pw == null) return null;
                pw[g.nextInt(pw.length)] = g.pick(Float.NaN, Float.POSITIVE_INFINITY, -1f, -Float.MIN_VALUE);
                c.reject(IllegalArgumentException.class, null, "posWeight");
            }
            case "weight-shape" -> {
                if (w == null) return null;
                c.reject(IllegalArgumentException.class, null, "weight");
            }
            case "target-shape" -> c.reject(IllegalArgumentException.class, null, "target");
            case "empty" -> c.reject(IllegalArgumentException.class, null, "input", "target", "weight", "posWeight");
            case "option" -> c.reject(IllegalArgumentException.class, null, "reduction");
            default -> throw new AssertionError(fault);
        }
        c.note("valueFault=" + fault);
        return fault;
    }

    private static void sigmoidFocal(Case c) {
        Gen g = c.g;
        int form = g.nextInt(3);
        c.op("SigmoidFocalLoss." + (form == 0 ? "forward" : form == 1 ? "forwardBackward" : "forwardBackward(into)"));
        long[] s = shape(g);
        int numel = (int) numel(s);
        Reduction reduction = g.chance(0.4) ? Reduction.NONE : Numeric.reduction(g);
        float alpha = g.pick(0.25f, 0f, 1f, -1f, 0.5f, -Float.MIN_VALUE, Float.NEGATIVE_INFINITY);
        float gamma = g.pick(0f, 0.5f, 1f, 2f, 3.7f, Float.MIN_VALUE);
        float[] x = g.gaussians(numel, false);
        for (int k = 0; k < numel; k++) x[k] = Math.max(-25, Math.min(25, x[k]));
        float[] y = g.chance(0.5) ? g.uniform(numel, 0, 1) : hard(g, numel);
        boolean poison = g.chance(0.08);
        if (poison) x[g.nextInt(numel)] = Float.NaN;
        boolean wantGradTarget = form != 2 || g.chance(0.7);
        c.note("shape=" + Arrays.toString(s) + " reduction=" + reduction + " alpha=" + alpha + " gamma=" + gamma + " nan=" + poison);
        c.in("input", s, DType.FLOAT32);
        c.in("target", s, DType.FLOAT32);
        if (form == 2) {
            Case.Arg l = c.out("loss", reduction == Reduction.NONE ? s : g.pick(new long[0], new long[] {1}));
            if (reduction != Reduction.NONE) l.oneElement();
            c.out("gradInput", s);
            if (wantGradTarget) c.out("gradTarget", s).optional();
            c.allowAlias("gradInput", "input").allowAlias("gradTarget", "target");
            c.overlaps(Case.Expect.REJECT);
        }
        String fault = g.chance(0.15) ? g.pick("alpha", "gamma", "target-range", "target-shape") : null;
        if (fault == null) {
            c.plan(0.35);
        } else {
            c.note("valueFault=" + fault);
            if (fault.equals("target-range")) y[g.nextInt(numel)] = g.pick(-0.5f, 2f, Float.NaN);
            c.reject(IllegalArgumentException.class, null, fault.startsWith("target") ? "target" : fault);
        }
        if (c.expectation() != Case.Expect.REJECT) {
            double scale = Numeric.scale(reduction, numel);
            double[] l = new double[numel], gi = new double[numel], gt = new double[numel];
            for (int k = 0; k < numel; k++) {
                final double yk = y[k], xk = x[k];
                l[k] = BinaryReference.sigmoidFocal(xk, yk, alpha, gamma);
                gi[k] = scale * Numeric.gradient(v -> BinaryReference.sigmoidFocal(v[0], yk, alpha, gamma), new double[] {xk}, null)[0];
                gt[k] = scale * focalTargetDerivative(xk, yk, alpha, gamma);
            }
            c.expect("loss", BinaryReference.asLoss(l, reduction), TOL);
            if (form > 0) c.expect("gradInput", gi, FD_TOL);
            if (form == 1 || form == 2 && wantGradTarget) {
                c.expect("gradTarget", gt, FD_TOL);
            }
        }
        final String vf = fault;
        c.run(() -> {
            SigmoidFocalLoss op = c.on(SigmoidFocalLoss.create(), SigmoidFocalLoss.create()::withBackend);
            if ("alpha".equals(vf)) op = op.withAlpha(Float.NaN);
            if ("gamma".equals(vf)) op = op.withGamma(c.g.badPositive(true));
            op = op.withAlpha(alpha).withGamma(gamma).withReduction(reduction);
            Tensor in = c.tensor("input", x);
            Tensor tg = "target-shape".equals(vf) ? Tensor.zeros(DType.FLOAT32, append(s)) : c.tensor("target", y);
            InputTargetResult r = null;
            Tensor loss = null, gi = null, gt = null;
            switch (form) {
                case 0 -> loss = op.forward(in, tg);
                case 1 -> r = op.forwardBackward(in, tg);
                default -> {
                    loss = c.output("loss");
                    gi = c.output("gradInput");
                    gt = wantGradTarget ? c.output("gradTarget") : null;
                    op.forwardBackward(in, tg, loss, gi, gt);
                }
            }
            record(c, r, loss, gi, gt);
        });
    }

    private static void softmaxFocal(Case c) {
        Gen g = c.g;
        int form = g.nextInt(3);
        c.op("SoftmaxFocalLoss." + (form == 0 ? "forward" : form == 1 ? "forwardBackward" : "forwardBackward(into)"));
        int n = g.dim(1), cc = g.dim(2);
        Reduction reduction = Numeric.reduction(g);
        float gamma = g.pick(0f, 0.5f, 1f, 2f, 3.7f, Float.MIN_VALUE);
        boolean withAlpha = g.chance(0.4);
        float[] alpha = withAlpha ? g.uniform(cc, 0, 2) : null;
        float[] x = g.gaussians(n * cc, false);
        long[] t = new long[n];
        for (int i = 0; i < n; i++) t[i] = g.nextInt(cc);
        boolean poison = g.chance(0.08);
        if (poison) x[g.nextInt(x.length)] = Float.NaN;
        c.note("n=" + n + " c=" + cc + " reduction=" + reduction + " gamma=" + gamma + " alpha=" + withAlpha + " nan=" + poison);
        long[] ls = {n, cc};
        c.in("logits", ls, DType.FLOAT32);
        c.in("targets", new long[] {n}, DType.INT32, DType.INT64);
        if (withAlpha) c.in("alpha", new long[] {cc}, DType.FLOAT32).optional();
        if (form == 2) {
            Case.Arg l = c.out("loss", reduction == Reduction.NONE ? new long[] {n} : g.pick(new long[0], new long[] {1}));
            if (reduction != Reduction.NONE) l.oneElement();
            c.out("grad", ls);
            c.allowAlias("grad", "logits");
            c.overlaps(Case.Expect.REJECT);
        }
        String fault = g.chance(0.15) ? g.pick("gamma", "target-range", "alpha-nonfinite", "one-class", "targets-float") : null;
        if (fault == null) {
            c.plan(0.35);
        } else {
            c.note("valueFault=" + fault);
            switch (fault) {
                case "target-range" -> t[g.nextInt(n)] = g.pick((long) cc, -1L, -100L);
                case "alpha-nonfinite" -> {
                    if (alpha == null) alpha = g.uniform(cc, 0, 2);
                    alpha[g.nextInt(cc)] = g.pick(Float.NaN, Float.POSITIVE_INFINITY);
                }
                default -> {
                }
            }
            c.reject(IllegalArgumentException.class, null, switch (fault) {
                case "gamma" -> "gamma";
                case "alpha-nonfinite" -> "alpha";
                case "one-class" -> "logits";
                default -> "targets";
            });
        }
        final float[] al = alpha;
        if (c.expectation() != Case.Expect.REJECT) {
            double scale = Numeric.scale(reduction, n);
            double[] rows = new double[n], grad = new double[n * cc];
            for (int i = 0; i < n; i++) {
                final int off = i * cc, ti = (int) t[i];
                final double a = al == null ? 1 : al[ti];
                double[] row = Numeric.toDouble(Arrays.copyOfRange(x, off, off + cc));
                rows[i] = BinaryReference.softmaxFocalRow(row, 0, cc, ti, a, gamma);
                double[] gr = Numeric.gradient(v -> BinaryReference.softmaxFocalRow(v, 0, cc, ti, a, gamma), row, null);
                for (int j = 0; j < cc; j++) grad[off + j] = scale * gr[j];
            }
            c.expect("loss", BinaryReference.asLoss(rows, reduction), TOL);
            if (form > 0) c.expect("grad", grad, FD_TOL);
        }
        final String vf = fault;
        c.run(() -> {
            SoftmaxFocalLoss op = c.on(SoftmaxFocalLoss.create(), SoftmaxFocalLoss.create()::withBackend);
            if ("gamma".equals(vf)) op = op.withGamma(c.g.badPositive(true));
            Tensor lg = "one-class".equals(vf) ? Tensor.zeros(DType.FLOAT32, n, 1) : c.tensor("logits", x);
            Tensor tg = "targets-float".equals(vf) ? Tensor.zeros(DType.FLOAT32, n) : c.tensor("targets", t);
            Tensor at = al == null ? null : withAlpha ? c.tensor("alpha", al) : Tensor.of(al);
            op = op.withAlpha(at).withGamma(gamma).withReduction(reduction);
            switch (form) {
                case 0 -> c.got("loss", op.forward(lg, tg));
                case 1 -> {
                    try (LossResult r = op.forwardBackward(lg, tg)) {
                        c.got("loss", r.loss());
                        c.got("grad", r.grad());
                    }
                }
                default -> {
                    Tensor loss = c.output("loss"), grad = c.output("grad");
                    op.forwardBackward(lg, tg, loss, grad);
                    c.got("loss", loss);
                    c.got("grad", grad);
                }
            }
        });
    }

    /**
     * d/dy of torchvision's sigmoid focal loss, analytic: with m = (1-p_t)^gamma and b the BCE
     * (linear in y), d = a'(y) m b + a gamma (1-p_t)^(gamma-1) (1-2p) b - a m x. Finite
     * differences fail here: at a hard target the steep (1-p_t)^gamma needs a step far below 1-p_t.
     */
    static double focalTargetDerivative(double x, double y, double alpha, double gamma) {
        double p = 1 / (1 + Math.exp(-x)), q = p * (1 - y) + (1 - p) * y; // q = 1 - p_t
        double a = alpha >= 0 ? alpha * y + (1 - alpha) * (1 - y) : 1, da = alpha >= 0 ? 2 * alpha - 1 : 0;
        double b = BinaryReference.bceLogits(x, y, 1), m = Math.pow(q, gamma);
        double dm = gamma == 0 ? 0 : gamma * Math.pow(q, gamma - 1) * (1 - 2 * p);
        return da * m * b + a * dm * b - a * m * x;
    }

    private static double softplus(double v) {
        return Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
    }

    private static float[] hard(Gen g, int numel) {
        float[] y = new float[numel];
        for (int k = 0; k < numel; k++) y[k] = g.chance(0.5) ? 1 : 0;
        return y;
    }

    private static long[] append(long[] s) {
        long[] t = Arrays.copyOf(s, s.length + 1);
        t[s.length] = 2;
        return t;
    }

    private static long numel(long[] s) {
        long n = 1;
        for (long d : s) n *= d;
        return n;
    }
}
