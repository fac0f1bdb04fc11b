package dev.jnce.backend.cuda;

import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.backend.ContrastiveKernels;
import dev.jnce.bindings.JnceNative;

/** The InfoNCE masking step on the GPU (native/src/cuda/infonce.cu); the rest of the family is not on cuda yet. */
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
    public PositivesOutcome positivesCrossEntropy(Tensor s, PositiveTargets targets, Tensor loss, Tensor grad) {
        throw CudaBackend.notYet("the several-positives InfoNCE cross-entropy");
    }

    @Override
    public void clipCrossEntropy(Tensor s, Reduction reduction, Tensor loss, Tensor grad) {
        throw CudaBackend.notYet("CLIP's symmetric cross-entropy");
    }

    @Override
    public PairSums sigLipPairs(Tensor s, long offset, float bias, Tensor grad) {
        throw CudaBackend.notYet("SigLIP's pairwise sigmoid loss");
    }

    @Override
    public void negativeLogits(Tensor q, Tensor p, Tensor n, float alpha, Tensor logits) {
        throw CudaBackend.notYet("explicit negatives' logits");
    }

    @Override
    public void negativeLogitsBackward(Tensor g, Tensor q, Tensor p, Tensor n, float alpha, Tensor dq, Tensor dp, Tensor dn) {
        throw CudaBackend.notYet("explicit negatives' logits");
    }

    @Override
    public void diagonalTargets(long offset, long modulus, Tensor targets) {
        throw CudaBackend.notYet("the InfoNCE row-block sweep's steps");
    }

    @Override
    public void excludeLogits(Tensor s, long selfColumn, long positiveColumn, long positiveStep, Tensor positives) {
        throw CudaBackend.notYet("the InfoNCE row-block sweep's steps");
    }

    @Override
    public void reduceRows(Tensor rows, Tensor minus, Reduction reduction, long counted, Tensor loss) {
        throw CudaBackend.notYet("the InfoNCE row-block sweep's steps");
    }

    @Override
    public long firstUnsharedLabel(Tensor labels) {
        throw CudaBackend.notYet("the InfoNCE row-block sweep's steps");
    }
}
