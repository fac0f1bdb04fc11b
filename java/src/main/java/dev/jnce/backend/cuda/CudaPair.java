package dev.jnce.backend.cuda;

import dev.jnce.Tensor;
import dev.jnce.backend.PairKernels;

/** The pair family is not on cuda yet: every call says so. */
final class CudaPair implements PairKernels {
    static final CudaPair INSTANCE = new CudaPair();

    private CudaPair() {
    }

    @Override
    public void tripletMargin(Tensor anchor, Tensor positive, Tensor negative, Triplet options, Tensor loss,
                              Tensor gradAnchor, Tensor gradPositive, Tensor gradNegative) {
        throw CudaBackend.notYet("triplet margin loss");
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
