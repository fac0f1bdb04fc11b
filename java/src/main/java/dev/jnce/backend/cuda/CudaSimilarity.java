package dev.jnce.backend.cuda;

import dev.jnce.Tensor;
import dev.jnce.backend.ContrastiveKernels;
import dev.jnce.backend.SimilarityKernels;
import dev.jnce.bindings.JnceNative;
import dev.jnce.Reduction;

/** GEMM (cuBLAS), L2 normalisation and the InfoNCE masking step on the GPU; the rest is not on cuda yet. */
final class CudaSimilarity implements SimilarityKernels, ContrastiveKernels {
    private final CudaContext context;
    private final GemmMode mode;

    CudaSimilarity(CudaContext context, GemmMode mode) {
        this.context = context;
        this.mode = mode;
    }

    GemmMode mode() {
        return mode;
    }

    @Override
    public void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c) {
        long m = c.size(0), n = c.size(1), k = transA ? a.size(0) : a.size(1);
        int code = switch (mode) {
            case FP32 -> JnceNative.JNCE_CUDA_GEMM_FP32();
            case TF32 -> JnceNative.JNCE_CUDA_GEMM_TF32();
            case BF16 -> JnceNative.JNCE_CUDA_GEMM_BF16();
        };
        int status = JnceNative.jnce_cuda_sgemm(context.handle(), transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha,
                a.segment(), a.size(1), b.segment(), b.size(1), beta, c.segment(), n, code);
        CudaLibrary.check(status, "sgemm", "a", a, "b", b, "c", c);
    }

    @Override
    public void normalize(Tensor x, float eps, Tensor y) {
        long d = x.size(-1);
        CudaLibrary.check(JnceNative.jnce_cuda_l2_normalize_fwd(context.handle(), x.segment(), x.numel() / d, d, eps,
                y.segment()), "l2_normalize_fwd", "x", x);
    }

    @Override
    public void normalizeBackward(Tensor x, Tensor dy, float eps, Tensor dx) {
        long d = x.size(-1);
        CudaLibrary.check(JnceNative.jnce_cuda_l2_normalize_bwd(context.handle(), x.segment(), dy.segment(),
                x.numel() / d, d, eps, dx.segment()), "l2_normalize_bwd", "x", x, "dy", dy);
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
    public PositivesOutcome positivesCrossEntropy(Tensor s, PositiveTargets targets, Tensor loss, Tensor grad) {
        throw CudaBackend.notYet("the several-positives InfoNCE cross-entropy");
    }

    @Override
    public void cosineSimilarity(Tensor x1, Tensor x2, float eps, Tensor out) {
        throw CudaBackend.notYet("cosine similarity");
    }

    @Override
    public void cosineSimilarityBackward(Tensor x1, Tensor x2, Tensor dOut, float eps, Tensor dx1, Tensor dx2) {
        throw CudaBackend.notYet("cosine similarity");
    }
}
