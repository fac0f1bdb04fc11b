package dev.jnce.loss;

import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.harness.Case;
import dev.jnce.harness.Family;
import dev.jnce.harness.Gen;
import dev.jnce.harness.Numeric;

import java.util.Arrays;
import java.util.function.ToDoubleFunction;

/**
 * Fuzz cases of {@link ClipLoss} and {@link SigLipLoss}: logit scale, bias, normalisation,
 * reductions, row blocks (SigLIP), allocating and into-buffer forms, non-finite embeddings and
 * bad options. The oracle is {@link PairLossesReference}; gradients of the towers, the scale and
 * the bias by central differences of it (CLIP's bias gradient is exactly 0).
 */
public final class PairLossesFuzz implements Family {
    private static final double TOL = 2e-4, FD_TOL = 2e-3;

    @Override
    public int weight() {
        return 8;
    }

    @Override
    public void run(Case c) {
        Gen g = c.g;
        boolean clip = g.chance(0.5), into = g.chance(0.5);
        c.op((clip ? "ClipLoss" : "SigLipLoss") + ".forwardBackward" + (into ? "(into)" : ""));
        int n = g.chance(0.05) ? g.pick(31, 67) : g.between(clip ? 2 : 1, 9), d = g.dim(1, false);
        float scale = g.pick(1f / 0.07f, 10f, 1f, 0.5f, 100f, 1e30f, 1e-30f), bias = g.pick(0f, -10f, 2.5f);
        boolean normalize = g.chance(0.7);
        Reduction reduction = clip ? Numeric.reduction(g) : g.pick(Reduction.MEAN, Reduction.SUM);
        long blockRows = g.pick(0L, 0L, 1L, 2L, 5L);
        float[] a = g.gaussians(n * d, false), b = g.gaussians(n * d, false);
        c.note("n=" + n + " d=" + d + " scale=" + scale + " bias=" + bias + " normalize=" + normalize + " reduction=" + reduction
                + (clip ? "" : " blockRows=" + blockRows));
        long[] s = {n, d};
        c.in("a", s, DType.FLOAT32);
        c.in("b", s, DType.FLOAT32);
        if (into) {
            Case.Arg l = c.out("loss", reduction == Reduction.NONE ? new long[] {n} : g.pick(new long[0], new long[] {1}));
            if (reduction != Reduction.NONE) l.oneElement();
            c.out("gradA", s);
            c.out("gradB", s);
            c.overlaps(Case.Expect.REJECT);
        }
        String fault = g.chance(0.15) ? g.pick("nonfinite", "scale", "bias", "rows", "width", "reduction", "blockRows") : null;
        if (fault != null && (clip && fault.equals("blockRows") || !clip && fault.equals("rows"))) fault = "width";
        if (fault == null) {
            c.plan(0.3);
        } else {
            c.note("valueFault=" + fault);
            switch (fault) {
                case "nonfinite" -> {
                    float[] v = g.chance(0.5) ? a : b;
                    v[g.nextInt(v.length)] = g.pick(Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY);
                    c.reject(IllegalArgumentException.class, null, v == a ? "a" : "b");
                }
                case "scale" -> c.reject(IllegalArgumentException.class, null, "logitScale");
                case "bias" -> c.reject(IllegalArgumentException.class, null, "bias");
                case "rows" -> c.reject(IllegalArgumentException.class, null, "a", "b");
                case "width" -> c.reject(IllegalArgumentException.class, null, "b");
                case "reduction" -> c.reject(IllegalArgumentException.class, null, "reduction");
                default -> c.reject(IllegalArgumentException.class, null, "blockRows");
            }
        }
        if (c.expectation() != Case.Expect.REJECT) expectations(c, clip, n, d, scale, bias, normalize, reduction, a, b);
        final String vf = fault;
        c.run(() -> {
            Tensor at = "rows".equals(vf) ? Tensor.zeros(DType.FLOAT32, 1, d) : c.tensor("a", a);
            Tensor bt = "width".equals(vf) ? Tensor.zeros(DType.FLOAT32, n, d + 1) : c.tensor("b", b);
            float sc = "scale".equals(vf) ? (c.g.chance(0.3) ? c.g.pick(Float.MIN_VALUE, 1e-39f) : c.g.badPositive(false)) : scale; // subnormal: refused
            float bi = "bias".equals(vf) ? c.g.pick(Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY) : bias;
            PairedResult r = null;
            PairedResult.Scalars scalars = null;
            Tensor loss = null, ga = null, gb = null;
            if (clip) {
                ClipLoss op = c.on(ClipLoss.create(), ClipLoss.create()::withBackend).withLogitScale(sc).withBias(bi)
                        .withNormalize(normalize).withReduction("reduction".equals(vf) ? c.g.pick(Reduction.BATCHMEAN, null) : reduction);
                if (into) {
                    loss = c.output("loss");
                    ga = c.output("gradA");
                    gb = c.output("gradB");
                    scalars = op.forwardBackward(at, bt, loss, ga, gb);
                } else {
                    r = op.forwardBackward(at, bt);
                }
            } else {
                SigLipLoss op = c.on(SigLipLoss.create(), SigLipLoss.create()::withBackend).withLogitScale(sc).withBias(bi)
                        .withNormalize(normalize).withReduction("reduction".equals(vf) ? c.g.pick(Reduction.NONE, Reduction.BATCHMEAN, null) : reduction)
                        .withBlockRows("blockRows".equals(vf) ? -1 : blockRows);
                if (into) {
                    loss = c.output("loss");
                    ga = c.output("gradA");
                    gb = c.output("gradB");
                    scalars = op.forwardBackward(at, bt, loss, ga, gb);
                } else {
                    r = op.forwardBackward(at, bt);
                }
            }
            if (r != null) {
                try (PairedResult res = r) {
                    c.got("loss", res.loss());
                    c.got("gradA", res.gradA());
                    c.got("gradB", res.gradB());
                    c.got("gradLogitScale", res.gradLogitScale());
                    c.got("gradBias", res.gradBias());
                }
            } else {
                c.got("loss", loss);
                c.got("gradA", ga);
                c.got("gradB", gb);
                c.got("gradLogitScale", scalars.gradLogitScale());
                c.got("gradBias", scalars.gradBias());
            }
        });
    }

    private static double[] loss(boolean clip, double[] a, double[] b, int n, int d, double scale, double bias, boolean normalize,
                                 Reduction reduction) {
        return clip ? PairLossesReference.clip(a, b, n, d, scale, bias, normalize, reduction)
                : PairLossesReference.sigLip(a, b, n, d, scale, bias, normalize, reduction);
    }

    private static void expectations(Case c, boolean clip, int n, int d, float scale, float bias, boolean normalize,
                                     Reduction reduction, float[] af, float[] bf) {
        double[] a = Numeric.toDouble(af), b = Numeric.toDouble(bf);
        double[] l = loss(clip, a, b, n, d, scale, bias, normalize, reduction);
        double logit = scale * (normalize ? 1 : ContrastiveFuzz.maxNorm(a, d) * ContrastiveFuzz.maxNorm(b, d)) + Math.abs(bias);
        double[] bound = new double[l.length];
        Arrays.fill(bound, 8 * 6e-8 * logit * (reduction == Reduction.SUM || !clip ? n : 1));
        c.expect("loss", l, TOL, bound);
        if (scale >= 1e6) return; // logits near 1e30: float64 differences lose every digit of a step; the loss alone
        for (int which = 0; which < 2; which++) {
            final int w = which;
            ToDoubleFunction<double[]> f = v -> Numeric.sum(loss(clip, w == 0 ? v : a, w == 1 ? v : b, n, d, scale, bias, normalize, reduction));
            double[] x = which == 0 ? a : b;
            int[] idx = normalize ? Numeric.sampleRows(c.g, x, d, x.length <= 48 ? 48 : 10, 1e-2)
                    : Numeric.sample(c.g, x.length, x.length <= 48 ? 48 : 10);
            double[] gr = Numeric.gradient(f, x.clone(), idx);
            String name = which == 0 ? "gradA" : "gradB";
            if (idx.length == x.length && !normalize) c.expect(name, gr, FD_TOL);
            else c.expectAt(name, idx, gr, FD_TOL);
        }
        double hs = 1e-6 * Math.max(scale, 1); // an absolute step near 0: a scale of 1e-30 has no useful relative one
        double gs = (Numeric.sum(loss(clip, a, b, n, d, scale + hs, bias, normalize, reduction))
                - Numeric.sum(loss(clip, a, b, n, d, scale - hs, bias, normalize, reduction))) / (2 * hs);
        double hb = 1e-5 * Math.max(1, Math.abs(bias));
        double gbias = clip ? 0 : (Numeric.sum(loss(clip, a, b, n, d, scale, bias + hb, normalize, reduction))
                - Numeric.sum(loss(clip, a, b, n, d, scale, bias - hb, normalize, reduction))) / (2 * hb);
        double rows = reduction == Reduction.MEAN ? 1 : n;
        c.expect("gradLogitScale", new double[] {gs}, FD_TOL, new double[] {4 * 6e-8 * 2 * rows * logit / scale * (clip ? 1 : n)});
        c.expect("gradBias", new double[] {gbias}, FD_TOL, new double[] {clip ? 0 : 4 * 6e-8 * rows * n});
    }
}
