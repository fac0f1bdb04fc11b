package dev.jnce.ops;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.harness.Case;
import dev.jnce.harness.Family;
import dev.jnce.harness.Gen;
import dev.jnce.harness.Numeric;

import java.util.Arrays;

/**
 * Fuzz cases of the similarity family: {@link Normalize}, {@link CosineSimilarity},
 * {@link Similarity} (dot and cosine, scale, eps) and {@link Matmul} (transposes, alpha, beta),
 * forward and backward, allocating and into-buffer forms, zero and tiny rows, non-finite data,
 * bad shapes and options, and outputs that overlap inputs (which the family rejects by name).
 * The oracle is {@link SimilarityReference} with the documented gradients, each GEMM output
 * judged within its own float32 rounding bound.
 */
public final class SimilarityFuzz implements Family {
    private static final double TOL = 2e-4;

    @Override
    public int weight() {
        return 12;
    }

    @Override
    public void run(Case c) {
        switch (c.g.nextInt(4)) {
            case 0 -> normalize(c);
            case 1 -> cosineSimilarity(c);
            case 2 -> similarity(c);
            default -> matmul(c);
        }
    }

    private static float[] rows(Gen g, int rows, int d, boolean poison) {
        float[] x = g.gaussians(rows * d, false);
        if (g.chance(0.15)) Arrays.fill(x, 0, d, 0f);                        // a zero row
        // a tiny one (its squares stay normal floats: below, float32 has no digits left for its gradients)
        if (g.chance(0.1)) for (int j = 0; j < d; j++) x[(rows - 1) * d + j] *= 1e-15f;
        if (poison && g.chance(0.06)) x[g.nextInt(x.length)] = g.pick(Float.NaN, Float.POSITIVE_INFINITY);
        return x;
    }

    /** x / max(||x||, eps) row by row, and its backward for dy (autograd through clamp_min). */
    static double[] normalizeBackward(double[] x, double[] dy, int rows, int d, double eps) {
        double[] dx = new double[x.length];
        for (int r = 0; r < rows; r++) {
            double norm = SimilarityReference.norm(x, r * d, d);
            if (norm < eps) {
                for (int j = 0; j < d; j++) dx[r * d + j] = dy[r * d + j] / eps;
                continue;
            }
            double dot = 0;
            for (int j = 0; j < d; j++) dot += x[r * d + j] / norm * dy[r * d + j];
            for (int j = 0; j < d; j++) dx[r * d + j] = (dy[r * d + j] - x[r * d + j] / norm * dot) / norm;
        }
        return dx;
    }

    private static void normalize(Case c) {
        Gen g = c.g;
        int form = g.nextInt(4);
        c.op("Normalize." + new String[] {"forward", "forward(into)", "backward", "backward(into)"}[form]);
        int rank = g.pick(1, 2, 2, 3);
        long[] s = new long[rank];
        for (int i = 0; i < rank; i++) s[i] = g.dim(1, rank < 3);
        int numel = (int) Arrays.stream(s).reduce(1, (a, b) -> a * b), d = (int) s[rank - 1], rows = numel / d;
        double eps = g.pick(Normalize.DEFAULT_EPS, 1e-3, 0.0, 1.0, 1e30);
        float[] x = rows(g, rows, d, true), dy = g.gaussians(numel, false);
        c.note("shape=" + Arrays.toString(s) + " eps=" + eps);
        c.in("x", s, DType.FLOAT32);
        if (form >= 2) c.in("dy", s, DType.FLOAT32);
        if (form == 1) {
            c.out("y", s);
            c.allowAlias("y", "x");
        }
        if (form == 3) {
            c.out("dx", s);
            c.allowAlias("dx", "dy");
        }
        c.overlaps(Case.Expect.REJECT);
        String fault = g.chance(0.12) ? g.pick("eps", "empty", "dy-shape") : null;
        if (fault == null) {
            c.plan(0.35);
            if (form == 3 && c.faultTouches("dx") && c.faultTouches("x")) {
                c.reject(IllegalArgumentException.class, null, "dx", "x"); // documented: dx shares no memory with x
            }
        } else {
            if (fault.equals("dy-shape") && form < 2) fault = "empty";
            c.note("valueFault=" + fault);
            c.reject(IllegalArgumentException.class, null, fault.equals("dy-shape") ? "dy" : fault.equals("eps") ? "eps" : "x");
        }
        float e32 = (float) eps;
        if (c.expectation() != Case.Expect.REJECT) {
            double[] xd = Numeric.toDouble(x);
            if (form < 2) c.expect("y", SimilarityReference.normalize(xd, rows, d, e32), TOL);
            else c.expect("dx", normalizeBackward(xd, Numeric.toDouble(dy), rows, d, e32), TOL, rowBounds(xd, dy, rows, d, e32));
        }
        final String vf = fault;
        c.run(() -> {
            Normalize op = c.on(Normalize.create(), Normalize.create()::withBackend);
            if ("eps".equals(vf)) op = op.withEps(c.g.pick(-1e-12, Double.NaN, Double.POSITIVE_INFINITY));
            op = op.withEps(eps);
            Tensor xt = "empty".equals(vf) ? Tensor.zeros(DType.FLOAT32, c.g.pick(new long[0], new long[] {0}, new long[] {3, 0}))
                    : c.tensor("x", x);
            Tensor dyt = form < 2 ? null : "dy-shape".equals(vf) ? Tensor.zeros(DType.FLOAT32, numel + 1) : c.tensor("dy", dy);
            switch (form) {
                case 0 -> c.got("y", op.forward(xt));
                case 1 -> {
                    Tensor y = c.output("y");
                    op.forward(xt, y);
                    c.got("y", y);
                }
                case 2 -> c.got("dx", op.backward(xt, dyt));
                default -> {
                    Tensor dx = c.output("dx");
                    op.backward(xt, dyt, dx);
                    c.got("dx", dx);
                }
            }
        });
    }

    private static void cosineSimilarity(Case c) {
        Gen g = c.g;
        int form = g.nextInt(4);
        c.op("CosineSimilarity." + new String[] {"forward", "forward(into)", "backward", "backward(into)"}[form]);
        int n = g.dim(1), d = g.dim(1);
        double eps = g.pick(CosineSimilarity.DEFAULT_EPS, 0.0, 1e-3, 1e30);
        float[] x1 = rows(g, n, d, true), x2 = rows(g, n, d, true), dOut = g.gaussians(n, false);
        boolean want1 = form != 3 || g.chance(0.8), want2 = form != 3 || g.chance(0.8);
        c.note("n=" + n + " d=" + d + " eps=" + eps);
        long[] s = {n, d};
        c.in("x1", s, DType.FLOAT32);
        c.in("x2", s, DType.FLOAT32);
        if (form >= 2) c.in("dOut", new long[] {n}, DType.FLOAT32);
        if (form == 1) c.out("out", n);
        if (form == 3) {
            if (want1) c.out("dx1", s).optional();
            if (want2) c.out("dx2", s).optional();
        }
        c.overlaps(Case.Expect.REJECT); // documented and checked: outputs share memory with nothing
        String fault = g.chance(0.12) ? g.pick("eps", "rows", "features") : null;
        if (fault == null) c.plan(0.35);
        else {
            c.note("valueFault=" + fault);
            c.reject(IllegalArgumentException.class, null, fault.equals("eps") ? "eps" : "x2");
        }
        float e32 = (float) eps;
        if (c.expectation() != Case.Expect.REJECT) {
            double[] a = Numeric.toDouble(x1), b = Numeric.toDouble(x2);
            double[] out = SimilarityReference.rowCosine(a, b, n, d, e32);
            if (form < 2) {
                c.expect("out", out, TOL);
            } else {
                double[] d1 = new double[n * d], d2 = new double[n * d];
                for (int i = 0; i < n; i++) {
                    double c1 = Math.max(SimilarityReference.norm(a, i * d, d), e32), c2 = Math.max(SimilarityReference.norm(b, i * d, d), e32);
                    for (int j = 0; j < d; j++) {
                        int k = i * d + j;
                        d1[k] = dOut[i] * (b[k] / c2 - out[i] * a[k] / c1) / c1;
                        d2[k] = dOut[i] * (a[k] / c1 - out[i] * b[k] / c2) / c2;
                    }
                }
                float[] dOutRows = new float[n * d];
                for (int i = 0; i < n * d; i++) dOutRows[i] = 2 * dOut[i / d];
                if (form == 2 || want1) c.expect("dx1", d1, TOL, rowBounds(a, dOutRows, n, d, e32));
                if (form == 2 || want2) c.expect("dx2", d2, TOL, rowBounds(b, dOutRows, n, d, e32));
            }
        }
        final String vf = fault;
        c.run(() -> {
            CosineSimilarity op = c.on(CosineSimilarity.create(), CosineSimilarity.create()::withBackend);
            if ("eps".equals(vf)) op = op.withEps(c.g.pick(-1.0, Double.NaN, Double.NEGATIVE_INFINITY));
            op = op.withEps(eps);
            Tensor a = c.tensor("x1", x1);
            Tensor b = "rows".equals(vf) ? Tensor.zeros(DType.FLOAT32, n + 1, d) : "features".equals(vf)
                    ? Tensor.zeros(DType.FLOAT32, n, d + 1) : c.tensor("x2", x2);
            Tensor dO = form >= 2 ? c.tensor("dOut", dOut) : null;
            switch (form) {
                case 0 -> c.got("out", op.forward(a, b));
                case 1 -> {
                    Tensor out = c.output("out");
                    op.forward(a, b, out);
                    c.got("out", out);
                }
                case 2 -> {
                    try (Gradients gr = op.backward(a, b, dO)) {
                        c.got("dx1", gr.dA());
                        c.got("dx2", gr.dB());
                    }
                }
                default -> {
                    Tensor g1 = want1 ? c.output("dx1") : null, g2 = want2 ? c.output("dx2") : null;
                    op.backward(a, b, dO, g1, g2);
                    if (g1 != null) c.got("dx1", g1);
                    if (g2 != null) c.got("dx2", g2);
                }
            }
        });
    }

    private static void similarity(Case c) {
        Gen g = c.g;
        boolean cosine = g.chance(0.5);
        int form = g.nextInt(4);
        c.op("Similarity." + (cosine ? "cosine." : "dot.") + new String[] {"forward", "forward(into)", "backward", "backward(into)"}[form]);
        int n = g.dim(1), m = g.dim(1), d = g.dim(1);
        float scale = g.pick(1f, 1 / 0.07f, -2f, 0f, 1e-3f);
        double eps = g.pick(Normalize.DEFAULT_EPS, 1e-3, 0.0);
        float[] a = rows(g, n, d, true), b = rows(g, m, d, true), dS = g.gaussians(n * m, false);
        boolean wantA = form != 3 || g.chance(0.8), wantB = form != 3 || g.chance(0.8);
        c.note("n=" + n + " m=" + m + " d=" + d + " scale=" + scale + " eps=" + eps);
        c.in("a", new long[] {n, d}, DType.FLOAT32);
        c.in("b", new long[] {m, d}, DType.FLOAT32);
        if (form >= 2) c.in("dS", new long[] {n, m}, DType.FLOAT32);
        if (form == 1) c.out("s", n, m);
        if (form == 3) {
            if (wantA) c.out("dA", n, d).optional();
            if (wantB) c.out("dB", m, d).optional();
        }
        c.overlaps(Case.Expect.REJECT);
        String fault = g.chance(0.12) ? g.pick("scale", "eps", "features", "dS-shape") : null;
        if (fault == null) c.plan(0.35);
        else {
            if (fault.equals("dS-shape") && form < 2) fault = "features";
            c.note("valueFault=" + fault);
            c.reject(IllegalArgumentException.class, null, switch (fault) {
                case "scale" -> "scale";
                case "eps" -> "eps";
                case "dS-shape" -> "dS";
                default -> "b";
            });
        }
        float e32 = (float) eps;
        if (c.expectation() != Case.Expect.REJECT) {
            double[] ad = Numeric.toDouble(a), bd = Numeric.toDouble(b);
            double[] ah = cosine ? SimilarityReference.normalize(ad, n, d, e32) : ad, bh = cosine ? SimilarityReference.normalize(bd, m, d, e32) : bd;
            if (form < 2) {
                double[] ref = SimilarityReference.matrix(ad, bd, n, m, d, scale, cosine, e32);
                c.expect("s", ref, TOL, absMatrix(ah, bh, n, m, d, scale));
            } else {
                double[] gA = new double[n * d], gB = new double[m * d];
                for (int i = 0; i < n; i++) {
                    for (int j = 0; j < m; j++) {
                        if (scale == 0) continue; // the GEMM's alpha = 0 reads neither operand
                        double v = scale * dS[i * m + j];
                        for (int k = 0; k < d; k++) {
                            gA[i * d + k] += v * bh[j * d + k];
                            gB[j * d + k] += v * ah[i * d + k];
                        }
                    }
                }
                double[] boundA = null, boundB = null;
                if (cosine) {
                    boundA = rowBounds(ad, toFloat(gA), n, d, e32);
                    boundB = rowBounds(bd, toFloat(gB), m, d, e32);
                    gA = normalizeBackward(ad, gA, n, d, e32);
                    gB = normalizeBackward(bd, gB, m, d, e32);
                }
                if (form == 2 || wantA) c.expect("dA", gA, 1e-3, boundA);
                if (form == 2 || wantB) c.expect("dB", gB, 1e-3, boundB);
            }
        }
        final String vf = fault;
        c.run(() -> {
            Similarity op = c.on(cosine ? Similarity.cosine() : Similarity.dot(),
                    bk -> (cosine ? Similarity.cosine() : Similarity.dot()).withBackend(bk));
            if ("scale".equals(vf)) op = op.withScale(c.g.pick(Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY));
            if ("eps".equals(vf)) op = op.withEps(c.g.pick(-1.0, Double.NaN, Double.POSITIVE_INFINITY));
            op = op.withScale(scale).withEps(eps);
            Tensor at = c.tensor("a", a);
            Tensor bt = "features".equals(vf) ? Tensor.zeros(DType.FLOAT32, m, d + 1) : c.tensor("b", b);
            Tensor dst = form < 2 ? null : "dS-shape".equals(vf) ? Tensor.zeros(DType.FLOAT32, m, n + 1) : c.tensor("dS", dS);
            switch (form) {
                case 0 -> c.got("s", op.forward(at, bt));
                case 1 -> {
                    Tensor s = c.output("s");
                    op.forward(at, bt, s);
                    c.got("s", s);
                }
                case 2 -> {
                    try (Gradients gr = op.backward(at, bt, dst)) {
                        c.got("dA", gr.dA());
                        c.got("dB", gr.dB());
                    }
                }
                default -> {
                    Tensor gA = wantA ? c.output("dA") : null, gB = wantB ? c.output("dB") : null;
                    op.backward(at, bt, dst, gA, gB);
                    if (gA != null) c.got("dA", gA);
                    if (gB != null) c.got("dB", gB);
                }
            }
        });
    }

    /** Per-element float32 rounding bounds of scale * A Bᵀ: 4 d eps32 sum_k |a_ik b_jk| |scale|. */
    private static double[] absMatrix(double[] a, double[] b, int n, int m, int d, double scale) {
        double[] out = new double[n * m];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < m; j++) {
                double s = 0;
                for (int k = 0; k < d; k++) s += Math.abs(a[i * d + k] * b[j * d + k]);
                out[i * m + j] = 4 * (d + 2) * 6e-8 * Math.abs(scale) * s;
            }
        }
        return out;
    }

    private static void matmul(Case c) {
        Gen g = c.g;
        int form = g.nextInt(4); // multiply(a,b), multiply(a,tA,b,tB), multiply into c, gemm
        c.op("Matmul." + new String[] {"multiply", "multiply(trans)", "multiply(into)", "gemm"}[form]);
        boolean tA = form > 0 && g.chance(0.5), tB = form > 0 && g.chance(0.5);
        // rarely large enough for OpenBLAS to run its threads (the thread-count classes need it)
        boolean big = g.chance(0.01);
        int m = big ? g.pick(128, 300) : g.dim(1), n = big ? g.pick(96, 300) : g.dim(1), k = big ? g.pick(64, 300) : g.dim(1);
        float alpha = form == 3 ? g.pick(1f, 0.5f, -2f, 0f) : 1f, beta = form == 3 ? g.pick(0f, 0f, 1f, 0.5f) : 0f;
        float[] a = g.gaussians(m * k, false), b = g.gaussians(k * n, false);
        float[] c0 = beta == 0 ? nans(m * n) : g.gaussians(m * n, false);
        if (g.chance(0.05)) a[g.nextInt(a.length)] = Float.NaN;
        c.note("m=" + m + " n=" + n + " k=" + k + " transA=" + tA + " transB=" + tB + " alpha=" + alpha + " beta=" + beta);
        c.in("a", tA ? new long[] {k, m} : new long[] {m, k}, DType.FLOAT32);
        c.in("b", tB ? new long[] {n, k} : new long[] {k, n}, DType.FLOAT32);
        if (form >= 2) c.out("c", m, n);
        c.overlaps(Case.Expect.REJECT);
        String fault = g.chance(0.12) ? g.pick("inner", "empty") : null;
        if (fault == null) c.plan(0.35);
        else {
            c.note("valueFault=" + fault);
            c.reject(IllegalArgumentException.class, null, fault.equals("inner") ? "b" : "a");
        }
        if (c.expectation() != Case.Expect.REJECT) {
            double[] ref = SimilarityReference.gemm(tA, tB, m, n, k, alpha, a, b, beta, c0);
            double[] bound = new double[m * n];
            float[] aa = abs(a), ba = abs(b), ca = abs(c0);
            double[] mag = SimilarityReference.gemm(tA, tB, m, n, k, Math.abs(alpha), aa, ba, beta == 0 ? 0 : Math.abs(beta), ca);
            for (int i = 0; i < bound.length; i++) bound[i] = 4 * (k + 2) * 6e-8 * mag[i];
            c.expect("c", ref, TOL, bound);
        }
        final String vf = fault;
        c.run(() -> {
            Matmul op = c.on(Matmul.create(), Matmul.create()::withBackend);
            Tensor at = "empty".equals(vf) ? Tensor.zeros(DType.FLOAT32, 0, k) : c.tensor("a", a);
            Tensor bt = "inner".equals(vf) ? Tensor.zeros(DType.FLOAT32, tB ? new long[] {n, k + 1} : new long[] {k + 1, n})
                    : c.tensor("b", b);
            switch (form) {
                case 0 -> c.got("c", op.multiply(at, bt));
                case 1 -> c.got("c", op.multiply(at, tA, bt, tB));
                case 2 -> {
                    Tensor ct = c.output("c");
                    op.multiply(at, tA, bt, tB, ct);
                    c.got("c", ct);
                }
                default -> {
                    Tensor ct = c.output("c", c0);
                    op.gemm(tA, tB, alpha, at, bt, beta, ct);
                    c.got("c", ct);
                }
            }
        });
    }

    /**
     * Float32 rounding bounds of a gradient through a row's norm: the tangent part (dy - y (y.dy))
     * cancels to a few ulps of |dy|, then is divided by max(||x||, eps).
     */
    private static double[] rowBounds(double[] x, float[] dy, int rows, int d, double eps) {
        double[] b = new double[rows * d];
        for (int r = 0; r < rows; r++) {
            double c = Math.max(SimilarityReference.norm(x, r * d, d), eps), big = 0;
            for (int j = 0; j < d; j++) big = Math.max(big, Math.abs(dy[r * d + j]));
            for (int j = 0; j < d; j++) b[r * d + j] = 8 * d * 6e-8 * big / c;
        }
        return b;
    }

    private static float[] toFloat(double[] x) {
        float[] f = new float[x.length];
        for (int i = 0; i < x.length; i++) f[i] = (float) x[i];
        return f;
    }

    private static float[] nans(int count) {
        float[] x = new float[count];
        Arrays.fill(x, Float.NaN);
        return x;
    }

    private static float[] abs(float[] x) {
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i++) y[i] = Math.abs(x[i]);
        return y;
    }
}
