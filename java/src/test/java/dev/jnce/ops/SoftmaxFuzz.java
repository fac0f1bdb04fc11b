package dev.jnce.ops;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.harness.Case;
import dev.jnce.harness.Family;
import dev.jnce.harness.Gen;
import dev.jnce.harness.Numeric;

/**
 * Fuzz cases of {@link Softmax}: softmax, log-softmax and logsumexp, (N,C) and (C) inputs, every
 * form (forward, backward, forwardBackward; allocating and into buffers, with the documented
 * in-place aliases), non-finite rows by the documented PyTorch 1.13 rules, bad shapes. The oracle
 * is {@link SoftmaxReference} on finite rows and the documented rules elsewhere.
 */
public final class SoftmaxFuzz implements Family {
    private static final double TOL = 2e-4;

    @Override
    public int weight() {
        return 10;
    }

    @Override
    public void run(Case c) {
        Gen g = c.g;
        Softmax.Function f = g.pick(Softmax.Function.values());
        boolean lse = f == Softmax.Function.LOGSUMEXP;
        int form = g.nextInt(6);
        String[] names = {"forward", "forward(into)", "backward", "backward(into)", "forwardBackward", "forwardBackward(into)"};
        c.op("Softmax." + f.name().toLowerCase(java.util.Locale.ROOT) + "." + names[form]);
        boolean oneRow = g.chance(0.2);
        int n = oneRow ? 1 : g.dim(1), cc = g.dim(1);
        long[] inShape = oneRow ? new long[] {cc} : new long[] {n, cc};
        long[] outShape = !lse ? inShape : oneRow ? new long[0] : new long[] {n};
        boolean backwardOnly = form == 2 || form == 3;
        // backward alone takes the forward output (softmax, log-softmax) or input (logsumexp)
        float[] x = g.gaussians(n * cc, true);
        String poison = "none";
        if (g.chance(0.2)) {
            poison = g.poison(x);
            if (g.chance(0.3)) Gen.fillRow(x, g.nextInt(n), cc, g.pick(Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY));
        }
        float[] saved = backwardOnly && !lse ? toFloat(forward(f, x, n, cc)) : x;
        float[] dy = g.gaussians(lse ? n : n * cc, false);
        if (g.chance(0.05)) dy[g.nextInt(dy.length)] = Float.NaN;
        c.note("n=" + n + " c=" + cc + " oneRow=" + oneRow + " poison=" + poison);

        String savedName = backwardOnly ? (lse ? "input" : "output") : "input";
        c.in(savedName, inShape, DType.FLOAT32);
        if (form >= 2) c.in("gradOutput", outShape, DType.FLOAT32);
        if (form == 1) {
            c.out("out", outShape);
            if (!lse) c.allowAlias("out", "input");
        }
        if (form == 3) {
            c.out("gradInput", inShape);
            if (!lse) c.allowAlias("gradInput", "gradOutput");
        }
        if (form == 5) {
            c.out("out", outShape);
            c.out("gradInput", inShape);
            if (!lse) c.allowAlias("out", "input");
            c.allowAlias("gradInput", "gradOutput").allowAlias("gradInput", "out").allowAlias("gradInput", "input");
        }
        c.overlaps(Case.Expect.REJECT);
        String fault = g.chance(0.12) ? g.pick("rank", "empty", "gradOutput-shape") : null;
        if (fault == null) {
            c.plan(0.4);
        } else {
            if (fault.equals("gradOutput-shape") && form < 2) fault = "rank";
            c.note("valueFault=" + fault);
            c.reject(IllegalArgumentException.class, null, fault.equals("gradOutput-shape") ? "gradOutput" : savedName);
        }
        if (c.expectation() != Case.Expect.REJECT) {
            if (form == 0 || form == 1 || form >= 4) c.expect("out", forward(f, x, n, cc), TOL);
            double[] gi = form >= 2 ? backward(f, backwardOnly ? saved : x, dy, n, cc, !backwardOnly) : null;
            if (form >= 2) c.expect("gradInput", gi, TOL);
            if (c.exactAlias("gradInput", "out")) c.expect("out", gi, TOL); // the documented alias: out ends as gradInput
        }
        final String vf = fault;
        c.run(() -> {
            Softmax op = c.on(Softmax.create(), Softmax.create()::withBackend).withFunction(f);
            Tensor in = "rank".equals(vf) ? Tensor.zeros(DType.FLOAT32, c.g.pick(new long[0], new long[] {n, cc, 1}))
                    : "empty".equals(vf) ? Tensor.zeros(DType.FLOAT32, c.g.pick(new long[] {0}, new long[] {0, cc}, new long[] {n, 0}))
                    : c.tensor(savedName, saved);
            long[] badGo = outShape.length == 0 ? new long[] {2} : outShape.clone();
            if (outShape.length > 0) badGo[badGo.length - 1]++;
            Tensor go = form < 2 ? null : "gradOutput-shape".equals(vf) ? Tensor.zeros(DType.FLOAT32, badGo) : c.tensor("gradOutput", dy);
            switch (form) {
                case 0 -> c.got("out", op.forward(in));
                case 1 -> {
                    Tensor out = c.output("out");
                    op.forward(in, out);
                    c.got("out", out);
                }
                case 2 -> c.got("gradInput", op.backward(in, go));
                case 3 -> {
                    Tensor gi = c.output("gradInput");
                    op.backward(in, go, gi);
                    c.got("gradInput", gi);
                }
                case 4 -> {
                    try (Softmax.Result r = op.forwardBackward(in, go)) {
                        c.got("out", r.output());
                        c.got("gradInput", r.grad());
                    }
                }
                default -> {
                    Tensor out = c.output("out"), gi = c.output("gradInput");
                    op.forwardBackward(in, go, out, gi);
                    c.got("out", out);
                    c.got("gradInput", gi);
                }
            }
        });
    }

    private static float[] toFloat(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }

    /** The function of every row, with the documented rules for rows that are not finite. */
    static double[] forward(Softmax.Function f, float[] x, int n, int c) {
        boolean lse = f == Softmax.Function.LOGSUMEXP;
        double[] out = new double[lse ? n : n * c];
        for (int i = 0; i < n; i++) {
            Row r = Row.of(x, i, c);
            if (r.finite()) {
                double[] one = SoftmaxReference.forward(f, Numeric.toDouble(java.util.Arrays.copyOfRange(x, i * c, i * c + c)), 1, c);
                System.arraycopy(one, 0, out, lse ? i : i * c, one.length);
                continue;
            }
            if (lse) {
                out[i] = r.nan ? Double.NaN : r.posInf ? Double.POSITIVE_INFINITY : r.allNegInf ? Double.NEGATIVE_INFINITY : r.lse;
                continue;
            }
            for (int j = 0; j < c; j++) {
                double v = x[i * c + j];
                double lp = r.nan || r.posInf || r.allNegInf ? Double.NaN : v == Double.NEGATIVE_INFINITY ? Double.NEGATIVE_INFINITY : v - r.lse;
                out[i * c + j] = f == Softmax.Function.SOFTMAX ? Math.exp(lp) : lp;
            }
        }
        return out;
    }

    /**
     * The input gradient: through the forward (fromInput: x is the input, as forwardBackward
     * computes it) or from the saved tensor backward takes (the output, or for logsumexp the input).
     */
    static double[] backward(Softmax.Function f, float[] saved, float[] dy, int n, int c, boolean fromInput) {
        double[] g = new double[n * c];
        if (f == Softmax.Function.LOGSUMEXP) { // saved is the input either way
            for (int i = 0; i < n; i++) {
                Row r = Row.of(saved, i, c);
                for (int j = 0; j < c; j++) {
                    double v = saved[i * c + j], p;
                    if (r.nan || r.allNegInf) p = Double.NaN;
                    else if (r.posInf) p = v == Double.POSITIVE_INFINITY ? Double.NaN : 0;
                    else p = Math.exp(v - r.lse);
                    g[i * c + j] = dy[i] * p;
                }
            }
            return g;
        }
        double[] y = fromInput ? forward(f, saved, n, c) : Numeric.toDouble(saved);
        for (int i = 0; i < n; i++) {
            double dot = 0, sum = 0;
            for (int j = 0; j < c; j++) {
                int k = i * c + j;
                if (f == Softmax.Function.SOFTMAX) dot += dy[k] * y[k];
                else sum += dy[k];
            }
            for (int j = 0; j < c; j++) {
                int k = i * c + j;
                g[k] = f == Softmax.Function.SOFTMAX ? y[k] * (dy[k] - dot) : dy[k] - Math.exp(y[k]) * sum;
            }
        }
        return g;
    }

    /** What a row holds: NaN, +Inf, only -Inf; its log-sum-exp over the finite entries otherwise. */
    private record Row(boolean nan, boolean posInf, boolean allNegInf, boolean anyNegInf, double lse) {
        static Row of(float[] x, int i, int c) {
            boolean nan = false, posInf = false, allNegInf = true, anyNegInf = false;
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < c; j++) {
                float v = x[i * c + j];
                nan |= Float.isNaN(v);
                posInf |= v == Float.POSITIVE_INFINITY;
                allNegInf &= v == Float.NEGATIVE_INFINITY;
                anyNegInf |= v == Float.NEGATIVE_INFINITY;
                if (Float.isFinite(v)) max = Math.max(max, v);
            }
            double s = 0;
            for (int j = 0; j < c; j++) if (Float.isFinite(x[i * c + j])) s += Math.exp(x[i * c + j] - max);
            return new Row(nan, posInf, allNegInf, anyNegInf, max + Math.log(s));
        }

        boolean finite() {
            return !nan && !posInf && !anyNegInf;
        }
    }
}
