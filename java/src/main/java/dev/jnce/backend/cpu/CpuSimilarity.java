package dev.jnce.backend.cpu;

import dev.jnce.Tensor;
import dev.jnce.backend.ContrastiveKernels;
import dev.jnce.backend.SimilarityKernels;
import dev.jnce.bindings.JnceNative;
import dev.jnce.internal.NativeCodes;
import dev.jnce.internal.NativeStatus;
import dev.jnce.Reduction;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** The similarity family on jnce's C kernels and OpenBLAS. */
final class CpuSimilarity implements SimilarityKernels, ContrastiveKernels {
    static final CpuSimilarity INSTANCE = new CpuSimilarity();

    private CpuSimilarity() {
    }

    @Override
    public void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c) {
        long m = c.size(0), n = c.size(1), k = transA ? a.size(0) : a.size(1);
        int status = JnceNative.jnce_sgemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a.segment(), a.size(1),
                b.segment(), b.size(1), beta, c.segment(), n);
        NativeStatus.check(status, "sgemm", "a", a, "b", b, "c", c);
    }

    @Override
    public void syrk(float alpha, Tensor a, Tensor c) {
        long n = a.size(0), k = a.size(1);
        NativeStatus.check(JnceNative.jnce_ssyrk(n, k, alpha, a.segment(), k, c.segment(), c.size(1)), "ssyrk", "a", a, "c", c);
    }

    @Override
    public void symmetricCrossEntropy(Tensor s, SymmetricTargets t, Tensor loss, Tensor grad) {
        if (t.labels() != null) {
            NativeStatus.check(JnceNative.jnce_xent_symmetric_labels(s.segment(), s.size(0), s.size(1), t.labels().segment(),
                    t.skipEmpty() ? 1 : 0, NativeCodes.reduction(t.reduction()), loss.segment(), NativeCodes.segmentOrNull(grad)),
                    "xent_symmetric_labels", "s", s, "labels", t.labels());
            return;
        }
        int status = JnceNative.jnce_xent_symmetric(s.segment(), s.size(0), s.size(1), t.offset(), t.excludeSelf() ? 1 : 0,
                t.decoupled() ? 1 : 0, NativeCodes.reduction(t.reduction()), loss.segment(), NativeCodes.segmentOrNull(grad));
        NativeStatus.check(status, "xent_symmetric", "s", s, "loss", loss);
    }

    @Override
    public void clipCrossEntropy(Tensor s, Reduction reduction, Tensor loss, Tensor grad) {
        int status = JnceNative.jnce_xent_clip(s.segment(), s.size(0), s.size(1), NativeCodes.reduction(reduction),
                loss.segment(), NativeCodes.segmentOrNull(grad));
        NativeStatus.check(status, "xent_clip", "s", s, "loss", loss);
    }

    @Override
    public PairSums sigLipPairs(Tensor s, long offset, float bias, Tensor grad) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sums = arena.allocate(ValueLayout.JAVA_DOUBLE, 2);
            NativeStatus.check(JnceNative.jnce_siglip(s.segment(), s.size(0), s.size(1), s.size(1), offset, bias, sums,
                    NativeCodes.segmentOrNull(grad)), "siglip", "s", s);
            return new PairSums(sums.getAtIndex(ValueLayout.JAVA_DOUBLE, 0), sums.getAtIndex(ValueLayout.JAVA_DOUBLE, 1));
        }
    }

    @Override
    public void negativeLogits(Tensor q, Tensor p, Tensor n, float alpha, Tensor logits) {
        NativeStatus.check(JnceNative.jnce_negatives_logits(q.segment(), p.segment(), n.segment(), n.size(0), n.size(1), n.size(2),
                alpha, logits.segment()), "negatives_logits", "q", q, "n", n);
    }

    @Override
    public void negativeLogitsBackward(Tensor g, Tensor q, Tensor p, Tensor n, float alpha, Tensor dq, Tensor dp, Tensor dn) {
        NativeStatus.check(JnceNative.jnce_negatives_logits_bwd(g.segment(), q.segment(), p.segment(), n.segment(), n.size(0),
                n.size(1), n.size(2), alpha, dq.segment(), dp.segment(), dn.segment()), "negatives_logits_bwd", "g", g, "n", n);
    }

    @Override
    public PositivesOutcome positivesCrossEntropy(Tensor s, PositiveTargets t, Tensor loss, Tensor grad) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_LONG, 2); // empty row, rows counted
            int status = JnceNative.jnce_xent_positives(s.segment(), s.size(0), s.size(1), s.size(1),
                    NativeCodes.segmentOrNull(t.queryLabels()), NativeCodes.segmentOrNull(t.keyLabels()),
                    NativeCodes.segmentOrNull(t.mask()), t.selfOffset(), t.skipEmpty() ? 1 : 0,
                    NativeCodes.reduction(t.reduction()), loss.segment(), NativeCodes.segmentOrNull(grad), out,
                    out.asSlice(8));
            long emptyRow = out.getAtIndex(ValueLayout.JAVA_LONG, 0);
            if (emptyRow < 0) NativeStatus.check(status, "xent_positives", "s", s, "loss", loss);
            return new PositivesOutcome(out.getAtIndex(ValueLayout.JAVA_LONG, 1), emptyRow);
        }
    }

    @Override
    public void normalize(Tensor x, float eps, Tensor y) {
        long d = x.size(-1);
        NativeStatus.check(JnceNative.jnce_l2_normalize_fwd(x.segment(), x.numel() / d, d, eps, y.segment()),
                "l2_normalize_fwd", "x", x);
    }

    @Override
    public void normalizeBackward(Tensor x, Tensor dy, float eps, Tensor dx) {
        long d = x.size(-1);
        NativeStatus.check(JnceNative.jnce_l2_normalize_bwd(x.segment(), dy.segment(), x.numel() / d, d, eps,
                dx.segment()), "l2_normalize_bwd", "x", x, "dy", dy);
    }

    @Override
    public void cosineSimilarity(Tensor x1, Tensor x2, float eps, Tensor out) {
        NativeStatus.check(JnceNative.jnce_cosine_similarity_fwd(x1.segment(), x2.segment(), x1.size(0), x1.size(1),
                eps, out.segment()), "cosine_similarity_fwd", "x1", x1, "x2", x2);
    }

    @Override
    public void cosineSimilarityBackward(Tensor x1, Tensor x2, Tensor dOut, float eps, Tensor dx1, Tensor dx2) {
        NativeStatus.check(JnceNative.jnce_cosine_similarity_bwd(x1.segment(), x2.segment(), dOut.segment(),
                x1.size(0), x1.size(1), eps, NativeCodes.segmentOrNull(dx1), NativeCodes.segmentOrNull(dx2)),
                "cosine_similarity_bwd", "x1", x1, "x2", x2);
    }
}
