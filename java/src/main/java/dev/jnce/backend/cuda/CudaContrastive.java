package dev.jnce.backend.cuda;

import dev.jnce.Device;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.backend.ContrastiveKernels;
import dev.jnce.bindings.JnceNative;
import dev.jnce.internal.HostContrastive;
import dev.jnce.internal.NativeCodes;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The InfoNCE row-block sweep's steps on the GPU (native/src/cuda/infonce.cu): with the level-1
 * operations, the GEMMs and the cross-entropy on cuda, the two-tensor forms with one positive
 * per row run there; CLIP's symmetric cross-entropy is native/src/cuda/clip_xent.cu, SigLIP's
 * pairwise loss native/src/cuda/siglip.cu, explicit negatives' logits native/src/cuda/negatives.cu
 * and the several-positives cross-entropy native/src/cuda/positives_xent.cu. The retrieval
 * corrections and BPR are staged through the host (the block's logits copied there and back). The fused
 * passes of the other forms are not on cuda yet.
 */
final class CudaContrastive implements ContrastiveKernels {
    private final CudaContext context;

    CudaContrastive(CudaContext context) {
        this.context = context;
    }

    void scaleFillDiagonal(Tensor s, float scale, long offset, float value) {
        CudaLibrary.check(JnceNative.jnce_cuda_infonce_scale_fill_diagonal(context.handle(), s.segment(), s.size(0),
                s.size(1), s.size(1), scale, offset, value, 1), "infonce_scale_fill_diagonal", "s", s);
    }

    @Override
    public void symmetricCrossEntropy(Tensor s, SymmetricTargets targets, Tensor loss, Tensor grad) {
        throw CudaBackend.notYet("the symmetric (one-tensor) InfoNCE cross-entropy");
    }

    @Override
    public PositivesOutcome positivesCrossEntropy(Tensor s, PositiveTargets t, Tensor loss, Tensor grad) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_LONG, 2); // empty row, rows counted
            int status = JnceNative.jnce_cuda_positives_xent_fwd_bwd(context.handle(), s.segment(), s.size(0), s.size(1),
                    s.size(1), NativeCodes.segmentOrNull(t.queryLabels()), labelType(t.queryLabels()),
                    NativeCodes.segmentOrNull(t.keyLabels()), labelType(t.keyLabels()), NativeCodes.segmentOrNull(t.mask()),
                    t.selfOffset(), t.skipEmpty() ? 1 : 0, NativeCodes.reduction(t.reduction()), loss.segment(),
                    NativeCodes.segmentOrNull(grad), out, out.asSlice(8));
            long emptyRow = out.getAtIndex(ValueLayout.JAVA_LONG, 0);
            if (emptyRow < 0) CudaLibrary.check(status, "positives_xent_fwd_bwd", "s", s, "loss", loss);
            return new PositivesOutcome(out.getAtIndex(ValueLayout.JAVA_LONG, 1), emptyRow);
        }
    }

    private static int labelType(Tensor labels) {
        return labels != null && labels.dtype() == dev.jnce.DType.INT32 ? JnceNative.JNCE_DTYPE_INT32() : JnceNative.JNCE_DTYPE_INT64();
    }

    @Override
    public void clipCrossEntropy(Tensor s, Reduction reduction, Tensor loss, Tensor grad) {
        CudaLibrary.check(JnceNative.jnce_cuda_clip_xent_fwd_bwd(context.handle(), s.segment(), s.size(0), s.size(1),
                NativeCodes.reduction(reduction), loss.segment(), grad == null ? MemorySegment.NULL : grad.segment()),
                "clip_xent_fwd_bwd", "s", s);
    }

    @Override
    public PairSums sigLipPairs(Tensor s, long offset, float bias, Tensor grad) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sums = arena.allocate(ValueLayout.JAVA_DOUBLE, 2);
            CudaLibrary.check(JnceNative.jnce_cuda_siglip_fwd_bwd(context.handle(), s.segment(), s.size(0), s.size(1),
                    s.size(1), offset, bias, sums, grad == null ? MemorySegment.NULL : grad.segment()), "siglip_fwd_bwd", "s", s);
            return new PairSums(sums.getAtIndex(ValueLayout.JAVA_DOUBLE, 0), sums.getAtIndex(ValueLayout.JAVA_DOUBLE, 1));
        }
    }

    @Override
    public void negativeLogits(Tensor q, Tensor p, Tensor n, float alpha, Tensor logits) {
        CudaLibrary.check(JnceNative.jnce_cuda_negatives_logits_fwd(context.handle(), q.segment(), p.segment(), n.segment(),
                n.size(0), n.size(1), n.size(2), alpha, logits.segment()), "negatives_logits_fwd", "q", q, "n", n);
    }

    @Override
    public void negativeLogitsBackward(Tensor g, Tensor q, Tensor p, Tensor n, float alpha, Tensor dq, Tensor dp, Tensor dn) {
        CudaLibrary.check(JnceNative.jnce_cuda_negatives_logits_bwd(context.handle(), g.segment(), q.segment(), p.segment(),
                n.segment(), n.size(0), n.size(1), n.size(2), alpha, dq.segment(), dp.segment(), dn.segment()),
                "negatives_logits_bwd", "g", g, "n", n);
    }

    @Override
    public double retrievalCrossEntropy(Tensor s, Tensor s2, RetrievalTargets t, Tensor rowLoss, boolean gradients) {
        // staged through the host: the block's logits there and back (two transfers and waits a block)
        try (Tensor hs = s.to(Device.HOST); Tensor hs2 = s2 == null ? null : s2.to(Device.HOST);
             Tensor bias = t.columnBias() == null ? null : t.columnBias().to(Device.HOST);
             Tensor ids = t.columnIds() == null ? null : t.columnIds().to(Device.HOST);
             Tensor hRow = Tensor.zeros(Device.HOST, dev.jnce.DType.FLOAT32, rowLoss.shape())) {
            RetrievalTargets ht = new RetrievalTargets(t.targetColumn(), t.selfColumn(), t.self2Column(), bias,
                    t.biasIsProbability(), ids, t.inBatchColumns(), t.margin(), t.labelSmoothing());
            double atTargets = host().retrievalCrossEntropy(hs, hs2, ht, hRow, gradients);
            back(hRow, rowLoss);
            if (gradients) {
                back(hs, s);
                if (s2 != null) back(hs2, s2);
            }
            return atTargets;
        }
    }

    @Override
    public void bprPairs(Tensor logits, Tensor rowLoss, Tensor grad) {
        // staged through the host, as retrievalCrossEntropy
        try (Tensor hl = logits.to(Device.HOST); Tensor hRow = Tensor.zeros(Device.HOST, dev.jnce.DType.FLOAT32, rowLoss.shape());
             Tensor hg = grad == null ? null : Tensor.zeros(Device.HOST, dev.jnce.DType.FLOAT32, grad.shape())) {
            host().bprPairs(hl, hRow, hg);
            back(hRow, rowLoss);
            if (grad != null) back(hg, grad);
        }
    }

    /** The host backend's kernels of this family (cpu, else java), for the steps staged through the host. */
    private static ContrastiveKernels host() {
        return ((dev.jnce.backend.Kernels) dev.jnce.Backends.host()).contrastive();
    }

    /** Copies a host tensor's values into a device tensor of the same size. */
    private void back(Tensor host, Tensor device) {
        context.fromHost(host.segment(), device.segment(), host.numel() * host.dtype().byteSize());
    }

    @Override
    public void diagonalTargets(long offset, long modulus, Tensor targets) {
        CudaLibrary.check(JnceNative.jnce_cuda_infonce_diagonal_targets(context.handle(), targets.segment(), targets.numel(),
                offset, modulus), "infonce_diagonal_targets", "targets", targets);
    }

    @Override
    public void excludeLogits(Tensor s, long selfColumn, long positiveColumn, long positiveStep, Tensor positives) {
        CudaLibrary.check(JnceNative.jnce_cuda_infonce_exclude_logits(context.handle(), s.segment(), s.size(0), s.size(1),
                selfColumn, positiveColumn, positiveStep, EXCLUDED, positives == null ? MemorySegment.NULL : positives.segment()),
                "infonce_exclude_logits", "s", s);
    }

    @Override
    public void reduceRows(Tensor rows, Tensor minus, Reduction reduction, long counted, Tensor loss) {
        CudaLibrary.check(JnceNative.jnce_cuda_infonce_reduce_rows(context.handle(), rows.segment(),
                minus == null ? MemorySegment.NULL : minus.segment(), rows.numel(), NativeCodes.reduction(reduction), counted,
                loss.segment()), "infonce_reduce_rows", "rows", rows, "loss", loss);
    }

    /** A sort of N labels: on the host, after one copy (as {@link CudaScan} does for its scans). */
    @Override
    public long firstUnsharedLabel(Tensor labels) {
        try (Tensor host = labels.to(Device.HOST)) {
            return HostContrastive.firstUnsharedLabel(host);
        }
    }
}
