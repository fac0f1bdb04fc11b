package dev.jnce.loss;

import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.harness.Case;
import dev.jnce.harness.Family;
import dev.jnce.harness.Gen;
import dev.jnce.harness.Numeric;
import dev.jnce.loss.InfoNceReference.Form;
import dev.jnce.loss.InfoNceReference.Spec;

import java.util.Arrays;
import java.util.function.ToDoubleFunction;

/**
 * Fuzz cases of the InfoNCE family: {@link InfoNce} in every form (two towers, one tensor,
 * shared negatives or a queue, explicit negatives, labels, mask, SupCon), {@link NtXent}; with
 * temperature, normalisation, decoupling, reductions, rows without a positive (THROW or SKIP) and
 * row blocks; allocating, loss-only and into-buffer forms. The oracle is
 * {@link InfoNceReference} (and {@link PairLossesReference#ntXent}, and a SupCon reference
 * here); gradients, tau's included, by central differences of it, sampled in larger cases.
 */
public final class ContrastiveFuzz implements Family {
    private static final double TOL = 2e-4, FD_TOL = 2e-3;
    private static final int SAMPLES = 10;

    private enum Kind { TWO_TOWER, ONE_TENSOR, SHARED, EXPLICIT, LABELS, MASK, SUPCON, NTXENT }

    @Override
    public int weight() {
        return 14;
    }

    @Override
    public void run(Case c) {
        Gen g = c.g;
        Kind kind = g.pick(Kind.values());
        // 0: allocating, 1: into buffers, 2: loss alone (two towers and one tensor only)
        int form = kind == Kind.TWO_TOWER || kind == Kind.ONE_TENSOR ? g.nextInt(3) : g.nextInt(2);
        String[] forms = {"", "(into)", "(forward)"};
        c.op((kind == Kind.NTXENT ? "NtXent" : "InfoNce." + kind.name().toLowerCase(java.util.Locale.ROOT)) + forms[form]);
        boolean big = g.chance(0.05);
        int n = big ? g.pick(31, 67) : g.between(1, 9), d = g.dim(1, false), m = big ? g.pick(17, 31) : g.between(1, 9),
                kNeg = g.between(1, 4);
        if (kind == Kind.NTXENT) n = 2 * Math.max(2, n / 2 + 1);
        if (kind == Kind.TWO_TOWER || kind == Kind.ONE_TENSOR || kind == Kind.SUPCON) n = Math.max(2, n);
        if (kind == Kind.LABELS || kind == Kind.MASK) m = Math.max(2, m);
        float tau = g.pick(0.07f, 0.1f, 0.5f, 1f, 2f, 0.01f, 0.07f, 0.1f, 1e-30f, Float.MIN_NORMAL);
        boolean normalize = g.chance(0.7), decoupled = g.chance(0.2) && kind != Kind.LABELS && kind != Kind.MASK && kind != Kind.SUPCON;
        boolean skip = g.chance(0.4);
        Reduction reduction = Numeric.reduction(g);
        long blockRows = g.pick(0L, 0L, 0L, 1L, 2L, 3L, 64L);
        float scale = g.pick(1f, 1f, 0.3f, 1f, 1f, 1f, 1f, 1f, 1f, 1e15f);
        float[] q = gaussians(g, n * d, scale);
        float[] k = switch (kind) {
            case TWO_TOWER, SHARED -> gaussians(g, n * d, scale);
            case EXPLICIT -> gaussians(g, n * d, scale);
            case LABELS, MASK -> gaussians(g, m * d, scale);
            default -> null;
        };
        float[] neg = kind == Kind.SHARED ? gaussians(g, m * d, scale) : kind == Kind.EXPLICIT ? gaussians(g, n * kNeg * d, scale) : null;
        long[] ql = null, kl = null;
        int[] mask = null;
        if (kind == Kind.LABELS || kind == Kind.SUPCON) {
            int classes = g.between(1, 4);
            ql = g.longs(n, 0, classes);
            kl = kind == Kind.SUPCON ? ql : g.longs(m, 0, classes);
        }
        if (kind == Kind.MASK) {
            mask = new int[n * m];
            for (int i = 0; i < mask.length; i++) mask[i] = g.chance(0.3) ? g.pick(1, 1, 2, -1) : 0;
        }
        c.note("n=" + n + " m=" + m + " d=" + d + " k=" + kNeg + " tau=" + tau + " normalize=" + normalize + " decoupled=" + decoupled
                + " skip=" + skip + " reduction=" + reduction + " blockRows=" + blockRows);

        String[] in = inputs(kind);
        long[][] inShapes = switch (kind) {
            case TWO_TOWER -> new long[][] {{n, d}, {n, d}};
            case SHARED -> new long[][] {{n, d}, {n, d}, {m, d}};
            case EXPLICIT -> new long[][] {{n, d}, {n, d}, {n, kNeg, d}};
            case LABELS -> new long[][] {{n, d}, {m, d}, {n}, {m}};
            case MASK -> new long[][] {{n, d}, {m, d}, {n, m}};
            case SUPCON -> new long[][] {{n, d}, {n}};
            default -> new long[][] {{n, d}};
        };
        for (int i = 0; i < in.length; i++) {
            boolean ints = in[i].endsWith("abels") || in[i].equals("positiveMask");
            DType[] types = in[i].equals("positiveMask") ? new DType[] {DType.INT32} : ints ? new DType[] {DType.INT32, DType.INT64}
                    : new DType[] {DType.FLOAT32};
            c.in(in[i], inShapes[i], types);
        }
        String[] grads = grads(kind);
        if (form == 1) {
            Case.Arg l = c.out("loss", reduction == Reduction.NONE ? new long[] {n} : g.pick(new long[0], new long[] {1}));
            if (reduction != Reduction.NONE) l.oneElement();
            for (int i = 0; i < grads.length; i++) c.out(grads[i], inShapes[i]);
            c.overlaps(Case.Expect.REJECT);
        }

        // rows without a positive, with THROW, are the kernel's error naming the positives' argument
        boolean empty = kind == Kind.LABELS || kind == Kind.MASK || kind == Kind.SUPCON
                ? firstWithoutPositive(kind, n, m, ql, kl, mask) >= 0 : false;
        String fault = g.chance(0.18) ? g.pick("nonfinite", "temperature", "blockRows", "decoupled", "few-rows", "width") : null;
        if (fault == null) {
            c.plan(0.3);
            if (empty && !skip && c.expectation() != Case.Expect.REJECT) {
                c.reject(IllegalArgumentException.class, null, kind == Kind.MASK ? "positiveMask" : kind == Kind.SUPCON ? "labels" : "queryLabels");
            }
        } else {
            fault = valueFault(c, fault, kind, q, k, neg, in);
            if (fault == null) {
                if (empty && !skip) c.reject(IllegalArgumentException.class, null, kind == Kind.MASK ? "positiveMask" : kind == Kind.SUPCON ? "labels" : "queryLabels");
            }
        }
        // without normalisation, ||Q||_F ||K||_F / tau past float32's range is the temperature's error, before any row is swept
        if (!normalize && logitBound(q, kind == Kind.ONE_TENSOR || kind == Kind.NTXENT || kind == Kind.SUPCON ? null
                : new float[][] {k, neg}) / tau > Float.MAX_VALUE) {
            c.note("logitBound>FLT_MAX");
            if (c.expectation() != Case.Expect.REJECT) c.reject(IllegalArgumentException.class, null, "temperature");
            else if (fault == null || fault.equals("decoupled") || fault.equals("temperature")) c.alsoNames("temperature");
        }
        if (c.expectation() != Case.Expect.REJECT) {
            expectations(c, kind, form, n, m, d, kNeg, tau, normalize, decoupled, skip, reduction, q, k, neg, ql, kl, mask, grads, in);
        }
        final String vf = fault;
        final long[] qlf = ql, klf = kl;
        final int[] mf = mask;
        c.run(() -> {
            float t = "temperature".equals(vf) ? c.g.pick(0f, -0.07f, Float.NaN, Float.POSITIVE_INFINITY, -Float.MIN_VALUE,
                    Float.MIN_VALUE, 1e-39f) : tau; // below Float.MIN_NORMAL 1/temperature overflows
            InfoNce loss = c.on(InfoNce.create(), InfoNce.create()::withBackend).withTemperature(t).withNormalize(normalize)
                    .withDecoupled(decoupled || "decoupled".equals(vf)).withReduction(reduction)
                    .withRowsWithoutPositive(skip ? InfoNce.RowsWithoutPositive.SKIP : InfoNce.RowsWithoutPositive.THROW)
                    .withBlockRows("blockRows".equals(vf) ? c.g.pick(-1L, Long.MIN_VALUE) : blockRows);
            Tensor[] t3 = new Tensor[in.length];
            for (int i = 0; i < in.length; i++) {
                Object data = switch (in[i]) {
                    case "queries", "embeddings", "views" -> q;
                    case "keys", "positives" -> k;
                    case "sharedNegatives", "negatives" -> neg;
                    case "queryLabels", "labels" -> qlf;
                    case "keyLabels" -> klf;
                    default -> CrossEntropyFuzz.toLongs(mf);
                };
                t3[i] = "few-rows".equals(vf) && i == 0 ? fewRows(kind, d) : "width".equals(vf) && i == 1 && kind != Kind.SUPCON
                        ? Tensor.zeros(DType.FLOAT32, inShapes[1][0], d + 1) : c.tensor(in[i], data);
            }
            NtXent nt = kind != Kind.NTXENT ? null : c.on(NtXent.create(), NtXent.create()::withBackend).withTemperature(t)
                    .withNormalize(normalize).withDecoupled(decoupled).withReduction(reduction)
                    .withBlockRows("blockRows".equals(vf) ? -1 : blockRows);
            call(c, kind, form, loss, nt, t3, grads);
        });
    }

    /** count N(0,1) float32 values times scale (no huge values). */
    static float[] gaussians(Gen g, int count, float scale) {
        float[] x = g.gaussians(count, false);
        for (int i = 0; i < count; i++) x[i] *= scale;
        return x;
    }

    private static String[] inputs(Kind kind) {
        return switch (kind) {
            case TWO_TOWER -> new String[] {"queries", "keys"};
            case SHARED -> new String[] {"queries", "keys", "sharedNegatives"};
            case EXPLICIT -> new String[] {"queries", "positives", "negatives"};
            case LABELS -> new String[] {"queries", "keys", "queryLabels", "keyLabels"};
            case MASK -> new String[] {"queries", "keys", "positiveMask"};
            case SUPCON -> new String[] {"embeddings", "labels"};
            case ONE_TENSOR -> new String[] {"embeddings"};
            case NTXENT -> new String[] {"views"};
        };
    }

    private static String[] grads(Kind kind) {
        return switch (kind) {
            case TWO_TOWER, LABELS, MASK -> new String[] {"gradQueries", "gradKeys"};
            case SHARED -> new String[] {"gradQueries", "gradKeys", "gradNegatives"};
            case EXPLICIT -> new String[] {"gradQueries", "gradPositives", "gradNegatives"};
            default -> new String[] {"grad"};
        };
    }

    /** A first input with too few rows for the form. */
    private static Tensor fewRows(Kind kind, int d) {
        return switch (kind) {
            case NTXENT -> Tensor.zeros(DType.FLOAT32, 3, d);
            case ONE_TENSOR, SUPCON, TWO_TOWER -> Tensor.zeros(DType.FLOAT32, 1, d);
            default -> Tensor.zeros(DType.FLOAT32, 0, d);
        };
    }

    /** ||q||_F times the Frobenius norm of the others stacked (of q itself when others is null), in double. */
    static double logitBound(float[] q, float[][] others) {
        double qq = 0, kk = 0;
        for (float v : q) qq += (double) v * v;
        if (others == null) kk = qq;
        else for (float[] o : others) if (o != null) for (float v : o) kk += (double) v * v;
        return Math.sqrt(qq) * Math.sqrt(kk);
    }

    private static String valueFault(Case c, String fault, Kind kind, float[] q, float[] k, float[] neg, String[] in) {
        Gen g = c.g;
        switch (fault) {
            case "nonfinite" -> {
                int which = g.nextInt(k == null ? 1 : neg == null ? 2 : 3);
                float[] victim = which == 0 ? q : which == 1 ? k : neg;
                victim[g.nextInt(victim.length)] = g.pick(Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY);
                String name = which == 0 ? in[0] : which == 1 ? in[1] : in[2];
                c.reject(IllegalArgumentException.class, null, name);
            }
            case "temperature" -> c.reject(IllegalArgumentException.class, null, "temperature");
            case "blockRows" -> c.reject(IllegalArgumentException.class, null, "blockRows");
            case "decoupled" -> {
                if (kind != Kind.LABELS && kind != Kind.MASK && kind != Kind.SUPCON) return null;
                c.reject(IllegalArgumentException.class, null, "decoupled");
            }
            case "few-rows" -> {
                if (kind == Kind.LABELS || kind == Kind.MASK) return null; // one query is enough there
                c.reject(IllegalArgumentException.class, null, in[0], in.length > 1 ? in[1] : in[0]);
            }
            case "width" -> {
                if (in.length < 2 || kind == Kind.SUPCON) return null;
                c.reject(IllegalArgumentException.class, null, in[1], in[0]);
            }
            default -> throw new AssertionError(fault);
        }
        c.note("valueFault=" + fault);
        return fault;
    }

    /** The first row with no positive, or -1. */
    private static int firstWithoutPositive(Kind kind, int n, int m, long[] ql, long[] kl, int[] mask) {
        for (int i = 0; i < n; i++) {
            boolean any = false;
            for (int j = 0; j < (kind == Kind.SUPCON ? n : m) && !any; j++) {
                any = kind == Kind.MASK ? mask[i * m + j] != 0 : kind == Kind.SUPCON ? j != i && ql[j] == ql[i] : ql[i] == kl[j];
            }
            if (!any) return i;
        }
        return -1;
    }

    /** The loss values of the form (N or one), from float64 copies of the inputs. */
    private static double[] loss(Kind kind, int n, int m, int d, int kNeg, double tau, boolean normalize, boolean decoupled,
                                 boolean skip, Reduction reduction, double[] q, double[] k, double[] neg, long[] ql, long[] kl,
                                 int[] mask) {
        return switch (kind) {
            case NTXENT -> PairLossesReference.ntXent(q, n, d, tau, normalize, decoupled, reduction);
            case SUPCON -> supCon(q, ql, n, d, tau, normalize, skip, reduction);
            default -> {
                Form f = switch (kind) {
                    case TWO_TOWER -> Form.TWO_TOWER;
                    case ONE_TENSOR -> Form.ONE_TENSOR;
                    case SHARED -> Form.SHARED;
                    case EXPLICIT -> Form.EXPLICIT;
                    case LABELS -> Form.LABELS;
                    default -> Form.MASK;
                };
                Spec s = new Spec(f, d, kNeg, normalize, decoupled, reduction, skip, ql, kl, mask);
                yield InfoNceReference.loss(s, q, k, neg, tau);
            }
        };
    }

    /** SupCon's L_out on one tensor: positives are the other rows of the label, self out of the softmax. */
    static double[] supCon(double[] f, long[] labels, int n, int d, double tau, boolean normalize, boolean skip, Reduction reduction) {
        double[] h = InfoNceReference.prep(f, d, normalize);
        double[] rows = new double[n];
        int counted = 0;
        for (int i = 0; i < n; i++) {
            double[] s = new double[n];
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < n; j++) {
                double v = 0;
                for (int c = 0; c < d; c++) v += h[i * d + c] * h[j * d + c];
                s[j] = v / tau;
                if (j != i) max = Math.max(max, s[j]);
            }
            double sum = 0;
            for (int j = 0; j < n; j++) if (j != i) sum += Math.exp(s[j] - max);
            double lse = max + Math.log(sum), acc = 0;
            int count = 0;
            for (int j = 0; j < n; j++) {
                if (j != i && labels[j] == labels[i]) {
                    acc += lse - s[j];
                    count++;
                }
            }
            if (count == 0) {
                if (!skip) throw new IllegalArgumentException("row " + i + " has no positive");
                continue;
            }
            rows[i] = acc / count;
            counted++;
        }
        return Numeric.reduce(rows, reduction, counted);
    }

    private static void expectations(Case c, Kind kind, int form, int n, int m, int d, int kNeg, float tau, boolean normalize,
                                     boolean decoupled, boolean skip, Reduction reduction, float[] qf, float[] kf, float[] nf,
                                     long[] ql, long[] kl, int[] mask, String[] grads, String[] in) {
        double[] q = Numeric.toDouble(qf), k = kf == null ? null : Numeric.toDouble(kf), neg = nf == null ? null : Numeric.toDouble(nf);
        double[] l = loss(kind, n, m, d, kNeg, tau, normalize, decoupled, skip, reduction, q, k, neg, ql, kl, mask);
        // the loss is a difference of logits: float32 rounds each to 8 ulps of the largest
        double logit = (normalize ? 1 : maxNorm(q, d) * maxNorm(k == null ? q : k, d) * Math.max(1, maxNorm(neg, d))) / tau;
        double[] bound = new double[l.length];
        Arrays.fill(bound, 8 * 6e-8 * logit * (reduction == Reduction.SUM ? n : 1));
        c.expect("loss", l, TOL, bound);
        if (form == 2 || tau < 1e-3f || logit > 1e12) return; // no useful finite differences there: the loss alone
        gradients(c, kind, n, m, d, kNeg, tau, normalize, decoupled, skip, reduction, q, k, neg, ql, kl, mask, grads, l);
    }

    /** The largest L2 norm of x's rows of d (1 for null). */
    static double maxNorm(double[] x, int d) {
        if (x == null) return 1;
        double best = 0;
        for (int r = 0; r < x.length / d; r++) {
            double s = 0;
            for (int j = 0; j < d; j++) s += x[r * d + j] * x[r * d + j];
            best = Math.max(best, Math.sqrt(s));
        }
        return best;
    }

    private static void gradients(Case c, Kind kind, int n, int m, int d, int kNeg, float tau, boolean normalize,
                                  boolean decoupled, boolean skip, Reduction reduction, double[] q, double[] k, double[] neg,
                                  long[] ql, long[] kl, int[] mask, String[] grads, double[] l) {
        double logitScale = (normalize ? 1 : maxNorm(q, d) * maxNorm(k == null ? q : k, d) * Math.max(1, maxNorm(neg, d))) / tau;
        if (Double.isNaN(l[0]) && reduction == Reduction.MEAN) { // a mean over no row: NaN, with a zero gradient
            double[][] shapes = {q, k, neg};
            for (int gi = 0; gi < grads.length; gi++) c.expect(grads[gi], new double[shapes[gi].length], FD_TOL);
            c.expect("gradTemperature", 0, FD_TOL);
            return;
        }
        double[][] inputs = {q, k, neg};
        for (int gi = 0; gi < grads.length; gi++) {
            final int which = gi;
            double[] x = inputs[gi];
            ToDoubleFunction<double[]> f = v -> {
                double[][] a = {q, k, neg};
                a[which] = v;
                return Numeric.sum(loss(kind, n, m, d, kNeg, tau, normalize, decoupled, skip, reduction, a[0], a[1], a[2], ql, kl, mask));
            };
            int[] idx = normalize ? Numeric.sampleRows(c.g, x, d, x.length <= 48 ? 48 : SAMPLES, 1e-2)
                    : Numeric.sample(c.g, x.length, x.length <= 48 ? 48 : SAMPLES);
            double[] gr = Numeric.gradient(f, x.clone(), idx);
            // softmax probabilities carry the logits' float32 rounding: relative 16 eps32 of the largest logit
            double big = 0;
            for (double v : gr) big = Math.max(big, Math.abs(v));
            double[] bounds = new double[gr.length];
            Arrays.fill(bounds, 16 * 6e-8 * logitScale * big);
            if (idx.length == x.length && !normalize) c.expect(grads[gi], gr, FD_TOL, bounds);
            else c.expectAt(grads[gi], idx, gr, FD_TOL, bounds);
        }
        double h = 1e-6 * tau;
        double up = Numeric.sum(loss(kind, n, m, d, kNeg, tau + h, normalize, decoupled, skip, reduction, q, k, neg, ql, kl, mask));
        double down = Numeric.sum(loss(kind, n, m, d, kNeg, tau - h, normalize, decoupled, skip, reduction, q, k, neg, ql, kl, mask));
        // -sum G s / tau^2 cancels: float32 leaves a few ulps of sum |G| |s| / tau^2 = 2 rows logit / tau
        double rows = kind == Kind.NTXENT || kind == Kind.ONE_TENSOR || kind == Kind.SUPCON ? 2 * n : n + m;
        double logit = (normalize ? 1 : maxNorm(q, d) * maxNorm(k == null ? q : k, d) * Math.max(1, maxNorm(neg, d))) / tau;
        double bound = 4 * 6e-8 * 2 * rows * logit / tau * (reduction == Reduction.MEAN ? 1.0 / n : 1);
        c.expect("gradTemperature", new double[] {(up - down) / (2 * h)}, FD_TOL, new double[] {bound});
    }

    private static void call(Case c, Kind kind, int form, InfoNce loss, NtXent nt, Tensor[] t, String[] grads) {
        if (kind == Kind.NTXENT) {
            if (form == 0) {
                try (EmbeddingResult r = nt.forwardBackward(t[0])) {
                    record(c, r);
                }
            } else {
                Tensor l = c.output("loss"), g = c.output("grad");
                c.got("gradTemperature", nt.forwardBackward(t[0], l, g));
                c.got("loss", l);
                c.got("grad", g);
            }
            return;
        }
        if (form == 2) {
            c.got("loss", kind == Kind.ONE_TENSOR ? loss.forward(t[0]) : loss.forward(t[0], t[1]));
            return;
        }
        if (form == 0) {
            switch (kind) {
                case ONE_TENSOR -> {
                    try (EmbeddingResult r = loss.forwardBackward(t[0])) {
                        record(c, r);
                    }
                }
                case SUPCON -> {
                    try (EmbeddingResult r = loss.forwardBackwardLabels(t[0], t[1])) {
                        record(c, r);
                    }
                }
                default -> {
                    try (InfoNce.Result r = switch (kind) {
                        case TWO_TOWER -> loss.forwardBackward(t[0], t[1]);
                        case SHARED -> loss.forwardBackward(t[0], t[1], t[2]);
                        case EXPLICIT -> loss.forwardBackwardNegatives(t[0], t[1], t[2]);
                        case LABELS -> loss.forwardBackwardLabels(t[0], t[1], t[2], t[3]);
                        default -> loss.forwardBackwardMask(t[0], t[1], t[2]);
                    }) {
                        c.got("loss", r.loss());
                        c.got(grads[0], r.gradQueries());
                        c.got(grads[1], r.gradKeys());
                        if (grads.length > 2) c.got(grads[2], r.gradNegatives());
                        c.got("gradTemperature", r.gradTemperature());
                    }
                }
            }
            return;
        }
        Tensor l = c.output("loss");
        Tensor[] g = new Tensor[grads.length];
        for (int i = 0; i < grads.length; i++) g[i] = c.output(grads[i]);
        float gradTau = switch (kind) {
            case TWO_TOWER -> loss.forwardBackward(t[0], t[1], l, g[0], g[1]);
            case SHARED -> loss.forwardBackward(t[0], t[1], t[2], l, g[0], g[1], g[2]);
            case EXPLICIT -> loss.forwardBackwardNegatives(t[0], t[1], t[2], l, g[0], g[1], g[2]);
            case LABELS -> loss.forwardBackwardLabels(t[0], t[1], t[2], t[3], l, g[0], g[1]);
            case MASK -> loss.forwardBackwardMask(t[0], t[1], t[2], l, g[0], g[1]);
            case ONE_TENSOR -> loss.forwardBackwardInto(t[0], l, g[0]);
            default -> loss.forwardBackwardLabelsInto(t[0], t[1], l, g[0]);
        };
        c.got("gradTemperature", gradTau);
        c.got("loss", l);
        for (int i = 0; i < grads.length; i++) c.got(grads[i], g[i]);
    }

    private static void record(Case c, EmbeddingResult r) {
        c.got("loss", r.loss());
        c.got("grad", r.grad());
        c.got("gradTemperature", r.gradTemperature());
    }
}
