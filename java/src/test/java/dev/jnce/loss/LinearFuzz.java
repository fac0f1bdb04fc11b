package dev.jnce.loss;

import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.harness.Case;
import dev.jnce.harness.Family;
import dev.jnce.harness.Gen;
import dev.jnce.harness.Numeric;

/**
 * Fuzz cases of {@link LinearCrossEntropy}: hidden, classifier, optional bias and class weights,
 * ignore index, label smoothing, z-loss, softcap, every reduction, block rows from one to all,
 * the loss alone, allocating and into-buffer forms, and bad shapes and values. The oracle is
 * {@link CrossEntropyReference} on the float64 logits {@code c tanh((h W^T + b) / c)}, and for the
 * gradients central differences of it with respect to those logits, carried through the linear
 * layer in float64.
 */
public final class LinearFuzz implements Family {
    private static final double TOL = 2e-4;

    @Override
    public int weight() {
        return 6;
    }

    @Override
    public void run(Case c) {
        Gen g = c.g;
        int form = g.nextInt(3);
        c.op("LinearCrossEntropy." + (form == 0 ? "forward" : form == 1 ? "forwardBackward" : "forwardBackward(into)"));
        int n = g.dim(1, false), d = g.dim(1, false), v = Math.max(2, g.dim(1, false));
        boolean biased = g.chance(0.5), weighted = g.chance(0.3), zeroIfEmpty = g.chance(0.2);
        Reduction reduction = Numeric.reduction(g);
        long ignore = g.pick(-100L, -100L, 0L, -1L);
        float smoothing = g.pick(0f, 0f, 0.1f), zLoss = g.pick(0f, 0f, 1e-2f), softcap = g.pick(0f, 0f, 2f, 30f);
        long blockRows = g.pick(0L, 0L, 1L, 2L, 3L, (long) n);
        float[] h = g.gaussians(n * d, false), w = g.gaussians(v * d, false), b = biased ? g.gaussians(v, false) : null;
        long[] targets = new long[n];
        for (int i = 0; i < n; i++) targets[i] = g.chance(0.15) ? ignore : g.nextInt(v);
        float[] cw = weighted ? g.uniform(v, 0.1, 2) : null;
        c.note("n=" + n + " d=" + d + " v=" + v + " bias=" + biased + " weight=" + weighted + " reduction=" + reduction
                + " ignore=" + ignore + " smoothing=" + smoothing + " zLoss=" + zLoss + " softcap=" + softcap + " blockRows=" + blockRows
                + " zeroIfEmpty=" + zeroIfEmpty);
        c.in("hidden", new long[] {n, d}, DType.FLOAT32);
        c.in("classifier", new long[] {v, d}, DType.FLOAT32);
        if (biased) c.in("bias", new long[] {v}, DType.FLOAT32).optional();
        c.in("targets", new long[] {n}, DType.INT32, DType.INT64);
        if (weighted) c.in("weight", new long[] {v}, DType.FLOAT32).optional();
        if (form == 2) {
            Case.Arg l = c.out("loss", reduction == Reduction.NONE ? new long[] {n} : g.pick(new long[0], new long[] {1}));
            if (reduction != Reduction.NONE) l.oneElement();
            c.out("gradHidden", new long[] {n, d});
            c.out("gradClassifier", new long[] {v, d});
            if (biased) c.out("gradBias", new long[] {v});
            c.overlaps(Case.Expect.REJECT);
        }
        String fault = g.chance(0.15) ? g.pick("target-range", "weight-nonfinite", "width", "bias-shape") : null;
        if (fault == null) c.plan(0.35);
        else fault = valueFault(c, fault, n, v, targets, cw, biased, ignore);
        if (c.expectation() != Case.Expect.REJECT) {
            CrossEntropyReference.Options o = new CrossEntropyReference.Options(targets, null, cw == null ? null : Numeric.toDouble(cw),
                    ignore, smoothing, zLoss, null, reduction, zeroIfEmpty);
            double[] raw = logits(h, w, b, n, d, v);
            double[] loss = CrossEntropyReference.loss(capped(raw, softcap), n, v, o);
            c.expect("loss", loss, TOL);
            if (form > 0) {
                // d (sum of the loss) / d raw logits, by central differences of the float64 reference
                double[] gs = new double[n * v];
                boolean finite = Double.isFinite(Numeric.sum(loss));
                for (int k = 0; k < gs.length && finite; k++) {
                    double saved = raw[k], step = 1e-5 * Math.max(1, Math.abs(saved));
                    raw[k] = saved + step;
                    double up = Numeric.sum(CrossEntropyReference.loss(capped(raw, softcap), n, v, o));
                    raw[k] = saved - step;
                    double down = Numeric.sum(CrossEntropyReference.loss(capped(raw, softcap), n, v, o));
                    raw[k] = saved;
                    gs[k] = (up - down) / (2 * step);
                }
                if (finite) {
                    double[] dh = new double[n * d], dw = new double[v * d], db = new double[v];
                    for (int i = 0; i < n; i++) {
                        for (int j = 0; j < v; j++) {
                            double gij = gs[i * v + j];
                            db[j] += gij;
                            for (int k = 0; k < d; k++) {
                                dh[i * d + k] += gij * w[j * d + k];
                                dw[j * d + k] += gij * h[i * d + k];
                            }
                        }
                    }
                    c.expect("gradHidden", dh, 1e-3);
                    c.expect("gradClassifier", dw, 1e-3);
                    if (biased) c.expect("gradBias", db, 1e-3);
                }
            }
        }
        final String vf = fault;
        c.run(() -> {
            Tensor ht = c.tensor("hidden", h);
            Tensor wt = "width".equals(vf) ? Tensor.zeros(DType.FLOAT32, v, d + 1) : c.tensor("classifier", w);
            Tensor bt = !biased ? null : "bias-shape".equals(vf) ? Tensor.zeros(DType.FLOAT32, v + 1) : c.tensor("bias", b);
            Tensor tg = c.tensor("targets", targets);
            LinearCrossEntropy loss = c.on(LinearCrossEntropy.create(), bk -> LinearCrossEntropy.create().withBackend(bk))
                    .withReduction(reduction).withIgnoreIndex(ignore).withLabelSmoothing(smoothing).withZLoss(zLoss)
                    .withSoftcap(softcap).withBlockRows(blockRows).withZeroWhenAllIgnored(zeroIfEmpty)
                    .withWeight(weighted ? c.tensor("weight", cw) : null);
            switch (form) {
                case 0 -> c.got("loss", loss.forward(ht, wt, bt, tg));
                case 1 -> {
                    try (LinearCrossEntropy.Result r = loss.forwardBackward(ht, wt, bt, tg)) {
                        c.got("loss", r.loss());
                        c.got("gradHidden", r.gradHidden());
                        c.got("gradClassifier", r.gradClassifier());
                        if (biased) c.got("gradBias", r.gradBias());
                    }
                }
                default -> {
                    Tensor l = c.output("loss"), gh = c.output("gradHidden"), gw = c.output("gradClassifier");
                    Tensor gb = biased ? c.output("gradBias") : null;
                    loss.forwardBackward(ht, wt, bt, tg, l, gh, gw, gb, null);
                    c.got("loss", l);
                    c.got("gradHidden", gh);
                    c.got("gradClassifier", gw);
                    if (biased) c.got("gradBias", gb);
                }
            }
        });
    }

    private static String valueFault(Case c, String fault, int n, int v, long[] targets, float[] cw, boolean biased, long ignore) {
        Gen g = c.g;
        switch (fault) {
            case "target-range" -> {
                long bad = g.pick((long) v, -2L, Long.MAX_VALUE / 2);
                if (bad == ignore) bad = v;
                if (c.arg("targets").dtype() == DType.INT32 && bad > Integer.MAX_VALUE) bad = v;
                targets[g.nextInt(n)] = bad;
                c.reject(IllegalArgumentException.class, null, "targets");
            }
            case "weight-nonfinite" -> {
                if (cw == null) return null;
                cw[g.nextInt(v)] = g.pick(Float.NaN, Float.POSITIVE_INFINITY);
                c.reject(IllegalArgumentException.class, null, "weight");
            }
            case "width" -> c.reject(IllegalArgumentException.class, null, "classifier");
            case "bias-shape" -> {
                if (!biased) return null;
                c.reject(IllegalArgumentException.class, null, "bias");
            }
            default -> throw new AssertionError(fault);
        }
        c.note("valueFault=" + fault);
        return fault;
    }

    static double[] logits(float[] h, float[] w, float[] b, int n, int d, int v) {
        double[] s = new double[n * v];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < v; j++) {
                double t = b == null ? 0 : b[j];
                for (int k = 0; k < d; k++) t += (double) h[i * d + k] * w[j * d + k];
                s[i * v + j] = t;
            }
        }
        return s;
    }

    static double[] capped(double[] s, double cap) {
        if (cap <= 0) return s;
        double[] out = new double[s.length];
        for (int i = 0; i < s.length; i++) out[i] = cap * Math.tanh(s[i] / cap);
        return out;
    }
}
