package dev.jnce.loss;

import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.harness.Case;
import dev.jnce.harness.Family;
import dev.jnce.harness.Gen;
import dev.jnce.harness.Numeric;

import java.util.ArrayList;
import java.util.List;
import java.util.function.ToDoubleFunction;

/**
 * Fuzz cases of {@link TripletMarginLoss}: pairwise (any p) and cosine distances, margin, eps,
 * swap, reductions, allocating and into-buffer forms, NaN rows, bad options and shapes, outputs
 * that overlap (documented and checked: rejected by name). The oracle is
 * {@link TripletReference}; gradients by central differences, away from the hinge's and the
 * swap's kinks and from zero distances, where autograd's documented choices apply instead.
 */
public final class TripletFuzz implements Family {
    private static final double TOL = 2e-4, FD_TOL = 2e-3, KINK = 1e-3;

    @Override
    public int weight() {
        return 6;
    }

    @Override
    public void run(Case c) {
        Gen g = c.g;
        int form = g.nextInt(3);
        c.op("TripletMarginLoss." + (form == 0 ? "forward" : form == 1 ? "forwardBackward" : "forwardBackward(into)"));
        int n = g.dim(1), d = g.dim(1, false);
        boolean cosine = g.chance(0.35), swap = g.chance(0.3);
        double margin = cosine ? g.pick(0.5, 1.0, 0.1, 1e30) : g.pick(1.0, 0.0, -0.5, 2.0, 0.1, 1e30, -1e30);
        double p = g.pick(2.0, 2.0, 1.0, 3.0, 1.5);
        Double eps = g.chance(0.6) ? null : g.pick(0.0, 1e-6, 1e-3);
        Reduction reduction = Numeric.reduction(g);
        float[] an = g.gaussians(n * d, false), po = g.gaussians(n * d, false), ne = g.gaussians(n * d, false);
        boolean nanRow = g.chance(0.06) && !swap;
        int poisoned = nanRow ? g.nextInt(n) : -1;
        if (nanRow) an[poisoned * d + g.nextInt(d)] = Float.NaN;
        double e = eps != null ? eps : cosine ? 1e-8 : 1e-6;
        c.note("n=" + n + " d=" + d + " cosine=" + cosine + " swap=" + swap + " margin=" + margin + " p=" + p + " eps=" + eps
                + " reduction=" + reduction + " nanRow=" + poisoned);
        long[] s = {n, d};
        c.in("anchor", s, DType.FLOAT32);
        c.in("positive", s, DType.FLOAT32);
        c.in("negative", s, DType.FLOAT32);
        if (form == 2) {
            Case.Arg l = c.out("loss", reduction == Reduction.NONE ? new long[] {n} : g.pick(new long[0], new long[] {1}));
            if (reduction != Reduction.NONE) l.oneElement();
            c.out("gradAnchor", s);
            c.out("gradPositive", s);
            c.out("gradNegative", s);
            c.overlaps(Case.Expect.REJECT); // documented and checked
        }
        String fault = g.chance(0.15) ? g.pick("margin", "p", "eps", "rows", "width", "cosine-margin") : null;
        if (fault == null) {
            c.plan(0.3);
        } else {
            c.note("valueFault=" + fault);
            c.reject(IllegalArgumentException.class, null, switch (fault) {
                case "margin", "cosine-margin" -> "margin";
                case "p" -> "p";
                case "eps" -> "eps";
                case "rows" -> "negative";
                default -> "negative";
            });
        }
        if (c.expectation() != Case.Expect.REJECT) {
            double[] a = Numeric.toDouble(an), pp = Numeric.toDouble(po), nn = Numeric.toDouble(ne);
            c.expect("loss", TripletReference.loss(a, pp, nn, n, d, cosine, margin, p, e, swap, reduction), TOL);
            if (form > 0 && Math.abs(margin) < 1e6) { // a margin near 1e30 leaves finite differences no digits
                List<Integer> smooth = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    if (i != poisoned && smoothRow(a, pp, nn, i, d, cosine, margin, p, e, swap)) {
                        for (int j = 0; j < d; j++) smooth.add(i * d + j);
                    }
                }
                double[][] xs = {a, pp, nn};
                String[] names = {"gradAnchor", "gradPositive", "gradNegative"};
                for (int w = 0; w < 3; w++) {
                    final int which = w;
                    final int skipRow = poisoned;
                    // rows are independent: the other rows' gradient is that of their own sum (a NaN row would poison it)
                    ToDoubleFunction<double[]> f = v -> {
                        double[] rows = TripletReference.loss(which == 0 ? v : a, which == 1 ? v : pp, which == 2 ? v : nn, n, d,
                                cosine, margin, p, e, swap, Reduction.NONE);
                        double sum = 0;
                        for (int i = 0; i < n; i++) if (i != skipRow) sum += rows[i];
                        return reduction == Reduction.MEAN ? sum / n : sum;
                    };
                    int[] pick = Numeric.sample(c.g, smooth.size(), 24);
                    int[] idx = new int[pick.length + (poisoned >= 0 ? d : 0)];
                    for (int k = 0; k < pick.length; k++) idx[k] = smooth.get(pick[k]);
                    double[] gr = new double[idx.length];
                    double[] fd = Numeric.gradient(f, xs[w].clone(), java.util.Arrays.copyOf(idx, pick.length));
                    System.arraycopy(fd, 0, gr, 0, fd.length);
                    for (int j = 0; j < (poisoned >= 0 ? d : 0); j++) { // a NaN anchor row: NaN in every gradient row
                        idx[pick.length + j] = poisoned * d + j;
                        gr[pick.length + j] = Double.NaN;
                    }
                    c.expectAt(names[w], idx, gr, FD_TOL);
                }
            }
        }
        final String vf = fault;
        c.run(() -> {
            TripletMarginLoss op = c.on(TripletMarginLoss.create(), TripletMarginLoss.create()::withBackend);
            switch (vf == null ? "" : vf) {
                case "margin" -> op = op.withMargin(c.g.pick(Double.NaN, Double.POSITIVE_INFINITY));
                case "p" -> op = op.withP(c.g.pick(0.0, -1.0, Double.NaN, Double.POSITIVE_INFINITY));
                case "eps" -> op = op.withEps(c.g.pick(-1e-9, Double.NaN, Double.POSITIVE_INFINITY));
                case "cosine-margin" -> op = op.withMargin(c.g.pick(0.0, -1.0)).withDistance(TripletMarginLoss.Distance.COSINE);
                default -> {
                }
            }
            op = op.withDistance(cosine ? TripletMarginLoss.Distance.COSINE : TripletMarginLoss.Distance.PAIRWISE).withMargin(margin)
                    .withP(p).withSwap(swap).withReduction(reduction);
            if (eps != null) op = op.withEps(eps);
            Tensor at = c.tensor("anchor", an), pt = c.tensor("positive", po);
            Tensor nt = "rows".equals(vf) ? Tensor.zeros(DType.FLOAT32, n + 1, d) : "width".equals(vf)
                    ? Tensor.zeros(DType.FLOAT32, n, d + 1) : c.tensor("negative", ne);
            switch (form) {
                case 0 -> c.got("loss", op.forward(at, pt, nt));
                case 1 -> {
                    try (TripletMarginLoss.Result r = op.forwardBackward(at, pt, nt)) {
                        c.got("loss", r.loss());
                        c.got("gradAnchor", r.gradAnchor());
                        c.got("gradPositive", r.gradPositive());
                        c.got("gradNegative", r.gradNegative());
                    }
                }
                default -> {
                    Tensor l = c.output("loss"), ga = c.output("gradAnchor"), gp = c.output("gradPositive"), gn = c.output("gradNegative");
                    op.forwardBackward(at, pt, nt, l, ga, gp, gn);
                    c.got("loss", l);
                    c.got("gradAnchor", ga);
                    c.got("gradPositive", gp);
                    c.got("gradNegative", gn);
                }
            }
        });
    }

    private static double norm(double[] x, int i, int d) {
        double s = 0;
        for (int j = 0; j < d; j++) s += x[i * d + j] * x[i * d + j];
        return Math.sqrt(s);
    }

    /** Whether row i is away from every kink: hinge at 0, a swap tie, a zero distance, a zero component (p <= 1). */
    private static boolean smoothRow(double[] a, double[] p, double[] n, int i, int d, boolean cosine, double margin, double pn,
                                     double eps, boolean swap) {
        double dap = TripletReference.distance(a, p, i * d, d, cosine, pn, eps), dan = TripletReference.distance(a, n, i * d, d, cosine, pn, eps);
        double dpn = TripletReference.distance(p, n, i * d, d, cosine, pn, eps);
        double neg = swap ? Math.min(dan, dpn) : dan;
        if (Math.abs(margin + dap - neg) < KINK || swap && Math.abs(dan - dpn) < KINK) return false;
        if (!cosine && (dap < KINK || dan < KINK || dpn < KINK)) return false;
        if (cosine && (norm(a, i, d) < 1e-2 || norm(p, i, d) < 1e-2 || norm(n, i, d) < 1e-2)) return false; // through a normalisation
        if (!cosine) {
            for (int j = 0; j < d; j++) {
                int k = i * d + j;
                if (Math.abs(a[k] - p[k] + eps) < KINK || Math.abs(a[k] - n[k] + eps) < KINK || Math.abs(p[k] - n[k] + eps) < KINK) return false;
            }
        }
        return true;
    }
}
