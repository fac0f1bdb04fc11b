package dev.jnce.backend.java;

import dev.jnce.Tensor;
import dev.jnce.backend.PairKernels;
import dev.jnce.backend.PairKernels.Triplet;
import dev.jnce.internal.Parallel;
import dev.jnce.Reduction;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Triplet margin loss in Java, the same algorithm and autograd rules as
 * native/src/cpu/triplet.c: per row the distances (in double), the hinge, and the gradient
 * rows written at once. Hinge of exactly 0 is active (clamp_min); a swap tie splits in half; a
 * NaN hinge gives NaN gradient rows to both inputs of each non-finite distance (0 · NaN).
 */
final class JavaTriplet {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    private final MemorySegment a, p, n;
    private final long d;
    private final Triplet o;
    private final RowOps rows;

    private JavaTriplet(RowOps rows, MemorySegment a, MemorySegment p, MemorySegment n, long d, Triplet o) {
        this.rows = rows;
        this.a = a;
        this.p = p;
        this.n = n;
        this.d = d;
        this.o = o;
    }

    /** A distance and what its gradient needs (the cosine, or nothing more for pairwise). */
    private record Dist(double d, JavaSimilarity.Cosine cosine) {
    }

    static void run(RowOps rowOps, Tensor anchor, Tensor positive, Tensor negative, Triplet o, Tensor loss,
                    Tensor ga, Tensor gp, Tensor gn) {
        long rows = anchor.size(0), d = anchor.size(1);
        JavaTriplet t = new JavaTriplet(rowOps, anchor.segment(), positive.segment(), negative.segment(), d, o);
        double scale = o.reduction() == Reduction.MEAN ? 1.0 / rows : 1.0;
        double[] rowLoss = new double[Math.toIntExact(rows)];
        MemorySegment sa = ga == null ? null : ga.segment(), sp = gp == null ? null : gp.segment();
        MemorySegment sn = gn == null ? null : gn.segment();
        if (sa != null) {
            sa.fill((byte) 0);
            sp.fill((byte) 0);
            sn.fill((byte) 0);
        }
        Parallel.forRange(rows, Math.max(1, 8192 / d), (begin, end) -> {
            for (long i = begin; i < end; i++) rowLoss[(int) i] = t.row(i * d, scale, sa, sp, sn);
        });
        MemorySegment out = loss.segment();
        if (o.reduction() == Reduction.NONE) {
            for (int i = 0; i < rowLoss.length; i++) out.setAtIndex(F, i, (float) rowLoss[i]);
        } else {
            double total = 0;
            for (double l : rowLoss) total += l;
            out.set(F, 0, (float) (o.reduction() == Reduction.MEAN ? total / rows : total));
        }
    }

    private double row(long off, double scale, MemorySegment ga, MemorySegment gp, MemorySegment gn) {
        Dist dp = distance(a, p, off), dn = distance(a, n, off), ds = null;
        double dNeg = dn.d(), wNeg = 1, wSwap = 0;
        if (o.swap()) {
            ds = distance(p, n, off);
            if (ds.d() < dn.d()) {
                dNeg = ds.d();
                wNeg = 0;
                wSwap = 1;
            } else if (ds.d() == dn.d()) {
                wNeg = 0.5;
                wSwap = 0.5;
            } else if (Double.isNaN(ds.d())) {
                dNeg = ds.d();
            }
        }
        double h = o.margin() + dp.d() - dNeg;
        if (ga != null && Double.isNaN(h)) {
            nanRows(dp, off, ga, gp);
            nanRows(dn, off, ga, gn);
            if (ds != null) nanRows(ds, off, gp, gn);
        } else if (ga != null && h >= 0) {
            gradAdd(dp, a, p, off, scale, ga, gp);
            gradAdd(dn, a, n, off, -scale * wNeg, ga, gn);
            if (ds != null) gradAdd(ds, p, n, off, -scale * wSwap, gp, gn);
        }
        return h > 0 || Double.isNaN(h) ? h : 0;
    }

    /** Both gradient rows of a distance that is NaN or infinite under a NaN hinge: 0 · NaN. */
    private void nanRows(Dist dist, long off, MemorySegment g1, MemorySegment g2) {
        if (Double.isFinite(dist.d())) return;
        for (long j = off; j < off + d; j++) {
            g1.setAtIndex(F, j, Float.NaN);
            g2.setAtIndex(F, j, Float.NaN);
        }
    }

    private double elem(MemorySegment x1, MemorySegment x2, long at) {
        return (double) x1.getAtIndex(F, at) - (double) x2.getAtIndex(F, at) + o.eps();
    }

    private Dist distance(MemorySegment x1, MemorySegment x2, long off) {
        if (o.cosine()) {
            JavaSimilarity.Cosine c = JavaSimilarity.Cosine.of(x1, off, x2, off, d, o.eps());
            return new Dist(1 - c.cos(), c);
        }
        double sum = 0, pw = o.p();
        if (pw == 2) return new Dist(Math.sqrt(rows.squaredDistance(x1, 4 * off, x2, 4 * off, Math.toIntExact(d), o.eps())), null);
        for (long j = off; j < off + d; j++) {
            double e = elem(x1, x2, j);
            sum += pw == 2 ? e * e : Math.pow(Math.abs(e), pw);
        }
        return new Dist(pw == 2 ? Math.sqrt(sum) : pw == 1 ? sum : Math.pow(sum, 1 / pw), null);
    }

    /** Adds u * dd/dx1 to g1 and u * dd/dx2 to g2. */
    private void gradAdd(Dist dist, MemorySegment x1, MemorySegment x2, long off, double u,
                         MemorySegment g1, MemorySegment g2) {
        if (u == 0) return;
        if (dist.cosine() != null) {
            dist.cosine().gradAdd(x1, off, x2, off, d, -u, g1, off, g2, off);
            return;
        }
        if (dist.d() == 0) return; // autograd's norm backward masks a zero norm
        double pw = o.p(), scale = u / (pw == 2 ? dist.d() : Math.pow(dist.d(), pw - 1));
        if (pw == 2) {
            rows.distanceGradAdd(x1, x2, 4 * off, Math.toIntExact(d), o.eps(), scale, g1, g2);
            return;
        }
        for (long j = off; j < off + d; j++) {
            double e = elem(x1, x2, j);
            double w = pw == 2 ? e : e == 0 ? 0 : Math.copySign(Math.pow(Math.abs(e), pw - 1), e);
            g1.setAtIndex(F, j, g1.getAtIndex(F, j) + (float) (scale * w));
            g2.setAtIndex(F, j, g2.getAtIndex(F, j) - (float) (scale * w));
        }
    }
}
