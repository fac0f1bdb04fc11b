package dev.jnce.backend.cuda;

import dev.jnce.Tensor;
import dev.jnce.backend.PairKernels;
import dev.jnce.bindings.JnceNative;
import dev.jnce.internal.NativeCodes;

/**
 * The pair family on the GPU: the triplet margin loss (native/src/cuda/triplet.cu). Hard-negative
 * mining, top-k and the gather of mined rows are not on cuda yet: those calls say so.
 */
final class CudaPair implements PairKernels {
    private final CudaContext context;

    CudaPair(CudaContext context) {
        this.context = context;
    }

    @Override
    public void tripletMargin(Tensor anchor, Tensor positive, Tensor negative, Triplet o, Tensor loss,
                              Tensor gradAnchor, Tensor gradPositive, Tensor gradNegative) {
        int status = JnceNative.jnce_cuda_triplet_margin_fwd_bwd(context.handle(), anchor.segment(), positive.segment(),
                negative.segment(), anchor.size(0), anchor.size(1),
                o.cosine() ? JnceNative.JNCE_DISTANCE_COSINE() : JnceNative.JNCE_DISTANCE_PAIRWISE(),
                o.margin(), o.p(), o.eps(), o.swap() ? 1 : 0, NativeCodes.reduction(o.reduction()), loss.segment(),
                NativeCodes.segmentOrNull(gradAnchor), NativeCodes.segmentOrNull(gradPositive),
                NativeCodes.segmentOrNull(gradNegative));
        CudaLibrary.check(status, "triplet_margin_fwd_bwd", "anchor", anchor, "positive", positive, "negative", negative);
    }

    @Override
    public MiningOutcome hardNegatives(Tensor sim, Tensor queryLabels, Tensor keyLabels, Tensor mask, Tensor indices) {
        throw CudaBackend.notYet("hard-negative mining");
    }

    @Override
    public long topK(Tensor scores, Tensor excludeOffsets, Tensor excludeItems, Tensor indices, Tensor values) {
        throw CudaBackend.notYet("the top-k of ranking metrics");
    }

    @Override
    public void gatherRows(Tensor keys, Tensor indices, Tensor out) {
        throw CudaBackend.notYet("the gather of mined rows");
    }

    @Override
    public void gatherRowsBackward(Tensor grad, Tensor indices, Tensor gradKeys) {
        throw CudaBackend.notYet("the gather of mined rows");
    }
}
