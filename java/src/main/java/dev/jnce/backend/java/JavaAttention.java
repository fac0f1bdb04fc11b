package dev.jnce.backend.java;

import dev.jnce.Tensor;
import dev.jnce.backend.AttentionKernels;
import dev.jnce.internal.Parallel;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Attention in plain Java, one query row at a time (its S scores in a buffer, never the (L, S)
 * matrix): the same results as native/src/cpu/attention.c, in float64 accumulation, parallel over
 * the batch-heads (a batch-head's dk and dv rows are its own).
 */
final class JavaAttention implements AttentionKernels {
    static final JavaAttention INSTANCE = new JavaAttention();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;

    private JavaAttention() {
    }

    /** The scores of row i against every key, scaled, biased and masked (-Infinity); returns the row maximum. */
    private static double scores(MemorySegment q, MemorySegment k, MemorySegment mask, MemorySegment bias, long bh, long heads,
                                 long i, int L, int S, int d, float scale, boolean causal, double[] s) {
        double max = Double.NEGATIVE_INFINITY;
        long qRow = (bh * L + i) * d;
        for (int j = 0; j < S; j++) {
            float add = bias == null ? 0f : bias.getAtIndex(F, i * S + j);
            boolean masked = (causal && j > i) || (mask != null && mask.getAtIndex(I, (bh / heads) * S + j) == 0)
                    || add == Float.NEGATIVE_INFINITY;
            if (masked) {
                s[j] = Double.NEGATIVE_INFINITY;
                continue;
            }
            long kRow = (bh * S + j) * d;
            float dot = 0;
            for (int c = 0; c < d; c++) dot += q.getAtIndex(F, qRow + c) * k.getAtIndex(F, kRow + c);
            s[j] = dot * scale + add;
            max = Math.max(max, s[j]);
        }
        return max;
    }

    @Override
    public void forward(Tensor q, Tensor k, Tensor v, Tensor keyMask, Tensor bias, long heads, float scale, boolean causal,
                        boolean maskedRowsZero, Tensor out, Tensor lse) {
        int L = (int) q.size(1), S = (int) k.size(1), d = (int) q.size(2), dv = (int) v.size(2);
        MemorySegment qs = q.segment(), ks = k.segment(), vs = v.segment(), os = out.segment(), ls = lse.segment();
        MemorySegment ms = keyMask == null ? null : keyMask.segment(), bs = bias == null ? null : bias.segment();
        Parallel.forRange(q.size(0) * L, Math.max(1, 4096 / Math.max(1, S)), (begin, end) -> {
            double[] s = new double[S], acc = new double[dv];
            for (long r = begin; r < end; r++) {
                long bh = r / L, i = r % L;
                double max = scores(qs, ks, ms, bs, bh, heads, i, L, S, d, scale, causal, s);
                if (max == Double.NEGATIVE_INFINITY) {
                    for (int c = 0; c < dv; c++) os.setAtIndex(F, r * dv + c, maskedRowsZero ? 0f : Float.NaN);
                    ls.setAtIndex(F, r, Float.NEGATIVE_INFINITY);
                    continue;
                }
                double sum = 0;
                java.util.Arrays.fill(acc, 0);
                for (int j = 0; j < S; j++) {
                    if (s[j] == Double.NEGATIVE_INFINITY) continue;
                    double p = Math.exp(s[j] - max);
                    sum += p;
                    long vRow = (bh * S + j) * dv;
                    for (int c = 0; c < dv; c++) acc[c] += p * vs.getAtIndex(F, vRow + c);
                }
                for (int c = 0; c < dv; c++) os.setAtIndex(F, r * dv + c, (float) (acc[c] / sum));
                ls.setAtIndex(F, r, (float) (max + Math.log(sum)));
            }
        });
    }

    @Override
    public void backward(Tensor q, Tensor k, Tensor v, Tensor keyMask, Tensor bias, long heads, float scale, boolean causal,
                         boolean maskedRowsZero, Tensor out, Tensor lse, Tensor dOut, Tensor dq, Tensor dk, Tensor dv) {
        int L = (int) q.size(1), S = (int) k.size(1), d = (int) q.size(2), e = (int) v.size(2);
        MemorySegment qs = q.segment(), ks = k.segment(), vs = v.segment(), os = out.segment(), ls = lse.segment();
        MemorySegment gs = dOut.segment(), dqs = dq.segment(), dks = dk.segment(), dvs = dv.segment();
        MemorySegment ms = keyMask == null ? null : keyMask.segment(), bs = bias == null ? null : bias.segment();
        Parallel.forRange(q.size(0), 1, (begin, end) -> {
            double[] s = new double[S], gk = new double[S * d], gv = new double[S * e], gq = new double[d];
            for (long bh = begin; bh < end; bh++) {
                java.util.Arrays.fill(gk, 0);
                java.util.Arrays.fill(gv, 0);
                boolean maskedRow = false;
                for (int i = 0; i < L; i++) {
                    long r = bh * L + i;
                    float rowLse = ls.getAtIndex(F, r);
                    java.util.Arrays.fill(gq, 0);
                    if (rowLse == Float.NEGATIVE_INFINITY) { // no key: no gradient (NaN below unless zeros asked for)
                        maskedRow = true;
                        for (int c = 0; c < d; c++) dqs.setAtIndex(F, r * d + c, maskedRowsZero ? 0f : Float.NaN);
                        continue;
                    }
                    scores(qs, ks, ms, bs, bh, heads, i, L, S, d, scale, causal, s);
                    double rowDot = 0; // D_i = dO_i . O_i
                    for (int c = 0; c < e; c++) rowDot += (double) gs.getAtIndex(F, r * e + c) * os.getAtIndex(F, r * e + c);
                    for (int j = 0; j < S; j++) {
                        if (s[j] == Double.NEGATIVE_INFINITY) continue;
                        double p = Math.exp(s[j] - rowLse), dp = 0;
                        long vRow = (bh * S + j) * e, kRow = (bh * S + j) * d;
                        for (int c = 0; c < e; c++) {
                            float g = gs.getAtIndex(F, r * e + c);
                            dp += (double) g * vs.getAtIndex(F, vRow + c);
                            gv[j * e + c] += p * g;
                        }
                        double ds = p * (dp - rowDot) * scale;
                        for (int c = 0; c < d; c++) {
                            gq[c] += ds * ks.getAtIndex(F, kRow + c);
                            gk[j * d + c] += ds * qs.getAtIndex(F, r * d + c);
                        }
                    }
                    for (int c = 0; c < d; c++) dqs.setAtIndex(F, r * d + c, (float) gq[c]);
                }
                boolean nan = maskedRow && !maskedRowsZero; // as autograd through PyTorch's NaN row
                for (int t = 0; t < S * d; t++) dks.setAtIndex(F, bh * S * d + t, nan ? Float.NaN : (float) gk[t]);
                for (int t = 0; t < S * e; t++) dvs.setAtIndex(F, bh * S * e + t, nan ? Float.NaN : (float) gv[t]);
            }
        });
    }
}
