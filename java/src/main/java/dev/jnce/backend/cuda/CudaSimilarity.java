package dev.jnce.backend.cuda;

import dev.jnce.Tensor;
import dev.jnce.backend.SimilarityKernels;
import dev.jnce.bindings.JnceNative;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** GEMM (cuBLAS), L2 normalisation and the level-1 operations (blas1.cu) on the GPU; the rest is not on cuda yet. */
final class CudaSimilarity implements SimilarityKernels {
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

    @Override
    public void cosineSimilarity(Tensor x1, Tensor x2, float eps, Tensor out) {
        throw CudaBackend.notYet("cosine similarity");
    }

    @Override
    public void cosineSimilarityBackward(Tensor x1, Tensor x2, Tensor dOut, float eps, Tensor dx1, Tensor dx2) {
        throw CudaBackend.notYet("cosine similarity");
    }



    // ---- level 1 (blas1.cu) -------------------------------------------------------------------

    @Override
    public double dot(Tensor x, Tensor y) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_DOUBLE);
            CudaLibrary.check(JnceNative.jnce_cuda_dsdot(context.handle(), x.segment(), y.segment(), x.numel(), out), "dsdot",
                    "x", x, "y", y);
            return out.get(ValueLayout.JAVA_DOUBLE, 0);
        }
    }

    @Override
    public void scale(float alpha, Tensor x) {
        CudaLibrary.check(JnceNative.jnce_cuda_sscal(context.handle(), x.numel(), alpha, x.segment()), "sscal", "x", x);
    }

    @Override
    public void axpy(float alpha, Tensor x, Tensor y) {
        CudaLibrary.check(JnceNative.jnce_cuda_saxpy(context.handle(), x.numel(), alpha, x.segment(), y.segment()), "saxpy",
                "x", x, "y", y);
    }

    @Override
    public void copy(Tensor x, Tensor y) {
        CudaLibrary.check(JnceNative.jnce_cuda_scopy(context.handle(), x.numel(), x.segment(), y.segment()), "scopy",
                "x", x, "y", y);
    }

    @Override
    public void fill(float value, Tensor x) {
        CudaLibrary.check(JnceNative.jnce_cuda_sfill(context.handle(), x.numel(), value, x.segment()), "sfill", "x", x);
    }
}
