package dev.jnce.loss;

import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.harness.Case;
import dev.jnce.harness.Family;
import dev.jnce.harness.Gen;
import dev.jnce.harness.Numeric;
import dev.jnce.loss.RetrievalReference.Form;
import dev.jnce.loss.RetrievalReference.Spec;

import java.util.Arrays;
import java.util.function.ToDoubleFunction;

/**
 * Fuzz cases of the retrieval losses with inputs of their own: {@link BprLoss} and
 * {@link SampledSoftmax} (a uniform proposal, or its logQ correction), allocating and into the
 * caller's buffers, every reduction, sizes from one row, non-finite inputs and the harness's
 * generic faults (dtypes, nulls, closed tensors, aliasing outputs). The oracle is
 * {@link RetrievalReference}; gradients by central differences of it, sampled.
 */
public final class RetrievalFuzz implements Family {
    private static final double TOL = 2e-4, FD_TOL = 2e-3;
    private static final int SAMPLES = 10;

    private enum Kind { BPR, SAMPLED, SAMPLED_LOGQ }

    @Override
    public int weight() {
        return 3;
    }

    @Override
    public void run(Case c) {
        Gen g = c.g;
        Kind kind = g.pick(Kind.values());
        boolean into = g.chance(0.5);
        c.op((kind == Kind.BPR ? "BprLoss" : kind == Kind.SAMPLED ? "SampledSoftmax" : "SampledSoftmax.logQ")
                + (into ? "(into)" : ""));
        int n = g.between(1, 9), d = g.dim(1, false), m = g.between(1, 9), kNeg = g.between(1, 4);
        float tau = g.pick(0.1f, 0.5f, 1f, 2f);
        boolean normalize = kind != Kind.BPR && g.chance(0.5);
        Reduction reduction = Numeric.reduction(g);
        float scale = g.pick(1f, 0.3f, 1f, 2f);
        float[] q = ContrastiveFuzz.gaussians(g, n * d, scale), p = ContrastiveFuzz.gaussians(g, n * d, scale);
        float[] neg = ContrastiveFuzz.gaussians(g, (kind == Kind.BPR ? n * kNeg : m) * d, scale);
        float[] logQ = null;
        if (kind == Kind.SAMPLED_LOGQ) {
            logQ = new float[n + m];
            for (int j = 0; j < logQ.length; j++) logQ[j] = (float) (-1 - 6 * g.nextDouble());
        }
        c.note("n=" + n + " m=" + m + " d=" + d + " k=" + kNeg + " tau=" + tau + " normalize=" + normalize + " reduction=" + reduction);

        String third = kind == Kind.BPR ? "negatives" : "sampled";
        long[] thirdShape = kind == Kind.BPR ? new long[] {n, kNeg, d} : new long[] {m, d};
        String[] in = kind == Kind.SAMPLED_LOGQ ? new String[] {"queries", "positives", third, "logQPositives", "logQSampled"}
                : new String[] {"queries", "positives", third};
        long[][] shapes = {{n, d}, {n, d}, thirdShape, {n}, {m}};
        for (int i = 0; i < in.length; i++) c.in(in[i], shapes[i], DType.FLOAT32);
        String[] grads = {"gradQueries", "gradPositives", kind == Kind.BPR ? "gradNegatives" : "gradSampled"};
        if (into) {
            Case.Arg l = c.out("loss", reduction == Reduction.NONE ? new long[] {n} : g.pick(new long[0], new long[] {1}));
            if (reduction != Reduction.NONE) l.oneElement();
            for (int i = 0; i < 3; i++) c.out(grads[i], shapes[i]);
            c.overlaps(Case.Expect.REJECT);
        }
        String nonFinite = null;
        if (g.chance(0.12)) { // a NaN or an infinity in one input: the call names it
            nonFinite = g.pick(in);
            float[] target = switch (nonFinite) {
                case "queries" -> q;
                case "positives" -> p;
                case "logQPositives", "logQSampled" -> logQ;
                default -> neg;
            };
            int at = nonFinite.equals("logQSampled") ? n + g.nextInt(m) : nonFinite.equals("logQPositives") ? g.nextInt(n)
                    : g.nextInt(target.length);
            target[at] = g.pick(Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY);
            c.reject(IllegalArgumentException.class, null, nonFinite);
        } else {
            c.plan(0.3);
        }
        if (c.expectation() != Case.Expect.REJECT) {
            Spec spec = new Spec(kind == Kind.BPR ? Form.BPR : Form.SAMPLED_SOFTMAX, InfoNce.Direction.QUERY_TO_KEY, d, normalize,
                    reduction, 0, 0, logQ == null ? null : Numeric.toDouble(logQ), false, null, kNeg);
            expectations(c, spec, tau, Numeric.toDouble(q), Numeric.toDouble(p), Numeric.toDouble(neg), grads, into);
        }
        final float[] lq = logQ;
        c.run(() -> {
            Tensor tq = c.tensor("queries", q), tp = c.tensor("positives", p), tn = c.tensor(third, neg);
            if (kind == Kind.BPR) {
                BprLoss bpr = c.on(BprLoss.create(), BprLoss.create()::withBackend).withReduction(reduction);
                if (!into) {
                    try (InfoNce.Result r = bpr.forwardBackward(tq, tp, tn)) {
                        record(c, r, grads);
                    }
                } else {
                    Tensor l = c.output("loss"), g0 = c.output(grads[0]), g1 = c.output(grads[1]), g2 = c.output(grads[2]);
                    bpr.forwardBackward(tq, tp, tn, l, g0, g1, g2);
                    c.got("loss", l);
                    c.got(grads[0], g0);
                    c.got(grads[1], g1);
                    c.got(grads[2], g2);
                }
                return;
            }
            SampledSoftmax ss = c.on(SampledSoftmax.create(), SampledSoftmax.create()::withBackend).withTemperature(tau)
                    .withNormalize(normalize).withReduction(reduction);
            Tensor lp = lq == null ? null : c.tensor("logQPositives", Arrays.copyOfRange(lq, 0, n));
            Tensor ls = lq == null ? null : c.tensor("logQSampled", Arrays.copyOfRange(lq, n, n + m));
            if (!into) {
                try (InfoNce.Result r = lq == null ? ss.forwardBackward(tq, tp, tn) : ss.forwardBackward(tq, tp, tn, lp, ls)) {
                    record(c, r, grads);
                }
            } else {
                Tensor l = c.output("loss"), g0 = c.output(grads[0]), g1 = c.output(grads[1]), g2 = c.output(grads[2]);
                float gradTau = lq == null ? ss.forwardBackward(tq, tp, tn, l, g0, g1, g2)
                        : ss.forwardBackward(tq, tp, tn, lp, ls, l, g0, g1, g2);
                c.got("loss", l);
                c.got(grads[0], g0);
                c.got(grads[1], g1);
                c.got(grads[2], g2);
                c.got("gradTemperature", gradTau);
            }
        });
    }

    private static void record(Case c, InfoNce.Result r, String[] grads) {
        c.got("loss", r.loss());
        c.got(grads[0], r.gradQueries());
        c.got(grads[1], r.gradKeys());
        c.got(grads[2], r.gradNegatives());
        c.got("gradTemperature", r.gradTemperature());
    }

    /** The loss, and the gradients by central differences at sampled entries; d loss / d tau 0 for BPR's Result. */
    private static void expectations(Case c, Spec spec, float tau, double[] q, double[] p, double[] neg, String[] grads,
                                     boolean into) {
        int d = spec.d();
        double[] l = RetrievalReference.loss(spec, q, p, neg, tau);
        // a difference of logits (BPR: of dot products), each rounded in float32 to 8 ulps of the largest
        double norms = ContrastiveFuzz.maxNorm(q, d) * Math.max(ContrastiveFuzz.maxNorm(p, d), ContrastiveFuzz.maxNorm(neg, d));
        double logit = (spec.normalize() ? 1 : norms)
                / (spec.form() == Form.BPR ? 1 : tau) + (spec.logq() == null ? 0 : 7);
        int n = q.length / d;
        double[] bound = new double[l.length];
        Arrays.fill(bound, 8 * 6e-8 * logit * (spec.reduction() == Reduction.SUM ? n : 1));
        c.expect("loss", l, TOL, bound);
        double[][] inputs = {q, p, neg};
        for (int gi = 0; gi < 3; gi++) {
            final int which = gi;
            ToDoubleFunction<double[]> f = v -> {
                double[][] a = {q, p, neg};
                a[which] = v;
                return RetrievalReference.scalar(spec, a[0], a[1], a[2], tau);
            };
            double[] x = inputs[gi];
            int[] idx = spec.normalize() ? Numeric.sampleRows(c.g, x, d, x.length <= 48 ? 48 : SAMPLES, 1e-2)
                    : Numeric.sample(c.g, x.length, x.length <= 48 ? 48 : SAMPLES);
            double[] gr = Numeric.gradient(f, x.clone(), idx);
            double big = 0;
            for (double v : gr) big = Math.max(big, Math.abs(v));
            double[] bounds = new double[gr.length];
            Arrays.fill(bounds, 16 * 6e-8 * logit * big);
            c.expectAt(grads[gi], idx, gr, FD_TOL, bounds);
        }
        if (spec.form() == Form.BPR && !into) { // BPR has no temperature: its Result says 0 (the into form returns nothing)
            c.expect("gradTemperature", 0, 0);
        }
    }
}
