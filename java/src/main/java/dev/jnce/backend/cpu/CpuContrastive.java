package dev.jnce.backend.cpu;

import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.backend.ContrastiveKernels;
import dev.jnce.backend.CrossEntropyCall;
import dev.jnce.backend.CrossEntropyKernels;
import dev.jnce.backend.SimilarityKernels;
import dev.jnce.bindings.JnceNative;
import dev.jnce.internal.HostContrastive;
import dev.jnce.internal.HostRetrieval;
import dev.jnce.internal.NativeCodes;
import dev.jnce.internal.NativeStatus;
import dev.jnce.internal.ScratchTensors;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The contrastive family on jnce's C kernels (symmetric_xent.c, positives_xent.c, clip_xent.c,
 * siglip.c, negatives.c, bpr.c); the sweep's O(N) steps are {@link HostContrastive}'s, shared with the
 * java backend.
 */
final class CpuContrastive implements ContrastiveKernels {
    static final CpuContrastive INSTANCE = new CpuContrastive();

    private CpuContrastive() {
    }

    /**
     * Rows of a multiple of 1 KiB get 64 bytes more. With such a stride (N = 8192: 32 KiB) the
     * rows that the passes' tiles and the product's transposed blocks read together fall into
     * a few cache sets, the more so on transparent huge pages, where physical addresses keep
     * the stride: on a 2-core Xeon VM (2 MiB L2, OpenBLAS's SkylakeX kernels, ad-hoc C probe)
     * the one-tensor backward at N = 16384, D = 128 took 433-467 ms unpadded against 362-374 ms
     * padded, its block products 1.33 against 1.10 times the one GEMM.
     */
    @Override
    public long symmetricRowStride(long n) {
        return logitRowStride(n);
    }

    /**
     * As {@link #symmetricRowStride}: CLIP's, SigLIP's and plain two towers' logits (rows of a
     * multiple of 1 KiB) get 64 bytes more a row, which keeps their GEMMs' transposed reads and
     * writes out of the same cache sets.
     */
    @Override
    public long logitRowStride(long cols) {
        return cols % 256 == 0 ? cols + 16 : cols;
    }

    @Override
    public void symmetricCrossEntropy(Tensor s, SymmetricTargets t, Tensor loss, Tensor grad) {
        if (t.labels() != null) {
            NativeStatus.check(JnceNative.jnce_symmetric_xent_labels_fwd_bwd(s.segment(), s.size(0), s.size(1), t.labels().segment(),
                    dtype(t.labels()), t.skipEmpty() ? 1 : 0, NativeCodes.reduction(t.reduction()), loss.segment(),
                    NativeCodes.segmentOrNull(grad)), "symmetric_xent_labels_fwd_bwd", "s", s, "labels", t.labels());
            return;
        }
        int status = JnceNative.jnce_symmetric_xent_fwd_bwd(s.segment(), s.size(0), s.size(1), t.offset(), t.excludeSelf() ? 1 : 0,
                t.decoupled() ? 1 : 0, NativeCodes.reduction(t.reduction()), loss.segment(), NativeCodes.segmentOrNull(grad));
        NativeStatus.check(status, "symmetric_xent_fwd_bwd", "s", s, "loss", loss);
    }

    /**
     * One native call: pass 2 writes g + gᵀ in blocks along the diagonal and, below them, either
     * writes it too (then the product as block GEMMs) or, where the CPU has AVX-512 and one
     * shift serves every row, forms it a cache-sized tile at a time and multiplies it there
     * (the logits below the blocks are read once and nothing is written back).
     */
    @Override
    public void symmetricGradient(Tensor s, SymmetricTargets t, Tensor loss, float alpha, Tensor f, Tensor df,
                                  SimilarityKernels sim) {
        if (t.labels() != null) {
            NativeStatus.check(JnceNative.jnce_symmetric_xent_labels_grad(s.segment(), s.size(0), s.size(1), t.labels().segment(),
                    dtype(t.labels()), t.skipEmpty() ? 1 : 0, NativeCodes.reduction(t.reduction()), loss.segment(), alpha,
                    f.segment(), f.size(1), df.segment()), "symmetric_xent_labels_grad", "s", s, "f", f);
            return;
        }
        NativeStatus.check(JnceNative.jnce_symmetric_xent_grad(s.segment(), s.size(0), s.size(1), t.offset(), t.excludeSelf() ? 1 : 0,
                t.decoupled() ? 1 : 0, NativeCodes.reduction(t.reduction()), loss.segment(), alpha, f.segment(), f.size(1),
                df.segment()), "symmetric_xent_grad", "s", s, "f", f);
    }

    @Override
    public PositivesOutcome positivesCrossEntropy(Tensor s, PositiveTargets t, Tensor loss, Tensor grad) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_LONG, 2); // empty row, rows counted
            int status = JnceNative.jnce_positives_xent_fwd_bwd(s.segment(), s.size(0), s.size(1), s.size(1),
                    NativeCodes.segmentOrNull(t.queryLabels()), dtype(t.queryLabels()),
                    NativeCodes.segmentOrNull(t.keyLabels()), dtype(t.keyLabels()),
                    NativeCodes.segmentOrNull(t.mask()), t.selfOffset(), t.skipEmpty() ? 1 : 0,
                    NativeCodes.reduction(t.reduction()), loss.segment(), NativeCodes.segmentOrNull(grad), out,
                    out.asSlice(8));
            long emptyRow = out.getAtIndex(ValueLayout.JAVA_LONG, 0);
            if (emptyRow < 0) NativeStatus.check(status, "positives_xent_fwd_bwd", "s", s, "loss", loss);
            return new PositivesOutcome(out.getAtIndex(ValueLayout.JAVA_LONG, 1), emptyRow);
        }
    }

    @Override
    public void clipCrossEntropy(Tensor s, Reduction reduction, Tensor loss, Tensor grad) {
        int status = JnceNative.jnce_clip_xent_fwd_bwd(s.segment(), s.size(0), s.size(1), NativeCodes.reduction(reduction),
                loss.segment(), NativeCodes.segmentOrNull(grad));
        NativeStatus.check(status, "clip_xent_fwd_bwd", "s", s, "loss", loss);
    }

    @Override
    public void clipGradient(Tensor s, Reduction reduction, Tensor loss, Tensor a, Tensor b, float alpha, Tensor da, Tensor db,
                             SimilarityKernels sim) {
        NativeStatus.check(JnceNative.jnce_clip_xent_grad(s.segment(), s.size(0), s.size(1), NativeCodes.reduction(reduction),
                loss.segment(), a.segment(), b.segment(), a.size(1), alpha, da.segment(), db.segment()), "clip_xent_grad", "s", s,
                "a", a);
    }

    @Override
    public PairSums sigLipPairs(Tensor s, long offset, float bias, Tensor grad) {
        return sigLipPairs(s, s.size(1), offset, bias, grad);
    }

    @Override
    public PairSums sigLipPairs(Tensor s, long cols, long offset, float bias, Tensor grad) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sums = arena.allocate(ValueLayout.JAVA_DOUBLE, 2);
            NativeStatus.check(JnceNative.jnce_siglip_fwd_bwd(s.segment(), s.size(0), cols, s.size(1), offset, bias, sums,
                    NativeCodes.segmentOrNull(grad)), "siglip_fwd_bwd", "s", s);
            return new PairSums(sums.getAtIndex(ValueLayout.JAVA_DOUBLE, 0), sums.getAtIndex(ValueLayout.JAVA_DOUBLE, 1));
        }
    }

    @Override
    public void crossEntropyGradient(CrossEntropyKernels ce, SimilarityKernels sim, Tensor s, long cols, Tensor targets,
                                     Tensor loss, Tensor q, Tensor k, float alpha, float beta, Tensor dq, Tensor dk) {
        // the rows' losses as the forward alone gives them (the same native code), then G a tile at a time
        NativeStatus.check(JnceNative.jnce_xent_rows_grad(s.segment(), s.size(0), cols, s.size(1), targets.segment(), loss.segment(),
                q.segment(), k.segment(), q.size(1), alpha, beta, dq.segment(), dk.segment()), "xent_rows_grad", "s", s, "q", q);
    }

    @Override
    public PairSums sigLipGradient(Tensor s, long cols, long offset, float bias, Tensor a, Tensor b, float alpha, float beta,
                                   Tensor da, Tensor db, SimilarityKernels sim) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sums = arena.allocate(ValueLayout.JAVA_DOUBLE, 2);
            NativeStatus.check(JnceNative.jnce_siglip_grad(s.segment(), s.size(0), cols, s.size(1), offset, bias, sums, a.segment(),
                    b.segment(), a.size(1), alpha, beta, da.segment(), db.segment()), "siglip_grad", "s", s, "a", a);
            return new PairSums(sums.getAtIndex(ValueLayout.JAVA_DOUBLE, 0), sums.getAtIndex(ValueLayout.JAVA_DOUBLE, 1));
        }
    }

    @Override
    public void negativeLogits(Tensor q, Tensor p, Tensor n, float alpha, Tensor logits) {
        NativeStatus.check(JnceNative.jnce_negatives_logits_fwd(q.segment(), p.segment(), n.segment(), n.size(0), n.size(1), n.size(2),
                alpha, logits.segment()), "negatives_logits_fwd", "q", q, "n", n);
    }

    @Override
    public void negativeLogitsBackward(Tensor g, Tensor q, Tensor p, Tensor n, float alpha, Tensor dq, Tensor dp, Tensor dn) {
        NativeStatus.check(JnceNative.jnce_negatives_logits_bwd(g.segment(), q.segment(), p.segment(), n.segment(), n.size(0),
                n.size(1), n.size(2), alpha, dq.segment(), dp.segment(), dn.segment()), "negatives_logits_bwd", "g", g, "n", n);
    }

    /**
     * Small blocks whose corrections leave a plain softmax cross-entropy (a logQ or
     * sampling-probability bias, a margin, in-batch and self columns taken out) run as the
     * corrected logits' cross-entropy in cross_entropy.c (at (32, 64) logits the Java softmax, in
     * double, took about 6 µs); larger blocks and the other corrections (accidental hits by id,
     * label smoothing, a second block) in one pass in Java on the host.
     */
    @Override
    public double retrievalCrossEntropy(Tensor s, Tensor s2, RetrievalTargets targets, Tensor rowLoss, boolean gradients) {
        if (!HostRetrieval.plainAfterCorrection(s2, targets) || s.numel() > HostRetrieval.CORRECTED_MAX_LOGITS) {
            return HostRetrieval.crossEntropy(s, s2, targets, rowLoss, gradients, true);
        }
        try (Tensor t = ScratchTensors.overwritten(DType.INT64, s.size(0))) {
            float[][] left = HostRetrieval.correct(s, targets, t);
            CROSS_ENTROPY.crossEntropy(new CrossEntropyCall(s, t, null, null, null, -1, 0f, 0f, Reduction.NONE, false, rowLoss,
                    gradients ? s : null, null));
            return HostRetrieval.afterCrossEntropy(s, targets, left, rowLoss, gradients);
        }
    }

    private static final CpuCrossEntropy CROSS_ENTROPY = new CpuCrossEntropy();

    @Override
    public void bprPairs(Tensor logits, Tensor rowLoss, Tensor grad) {
        HostRetrieval.bprPairs(logits, rowLoss, grad);
    }

    /** bpr.c: scores, pairs, reduction and gradients in one native call, with no logit matrix. */
    @Override
    public boolean bprLoss(Tensor q, Tensor p, Tensor n, Reduction reduction, Tensor loss, Tensor dq, Tensor dp, Tensor dn) {
        NativeStatus.check(JnceNative.jnce_bpr_fwd_bwd(q.segment(), p.segment(), n.segment(), n.size(0), n.size(1), n.size(2),
                NativeCodes.reduction(reduction), loss.segment(), dq.segment(), dp.segment(), dn.segment()), "bpr_fwd_bwd", "q", q,
                "n", n);
        return true;
    }

    @Override
    public void diagonalTargets(long offset, long modulus, Tensor targets) {
        HostContrastive.diagonalTargets(offset, modulus, targets);
    }

    @Override
    public void excludeLogits(Tensor s, long selfColumn, long positiveColumn, long positiveStep, Tensor positives) {
        HostContrastive.excludeLogits(s, selfColumn, positiveColumn, positiveStep, positives);
    }

    @Override
    public void reduceRows(Tensor rows, Tensor minus, Reduction reduction, long counted, Tensor loss) {
        HostContrastive.reduceRows(rows, minus, reduction, counted, loss);
    }

    @Override
    public long firstUnsharedLabel(Tensor labels) {
        return HostContrastive.firstUnsharedLabel(labels);
    }

    /** jnce.h's code for an index tensor's type (absent tensors: any, unused). */
    private static int dtype(Tensor t) {
        return t != null && t.dtype() == DType.INT32 ? JnceNative.JNCE_DTYPE_INT32() : JnceNative.JNCE_DTYPE_INT64();
    }
}
