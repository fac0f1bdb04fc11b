package dev.jnce.backend.cpu;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.SimilarityKernels;
import dev.jnce.bindings.JnceNative;
import dev.jnce.internal.NativeCodes;
import dev.jnce.internal.NativeStatus;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** The similarity family on jnce's C kernels (similarity.c, blas1.c) and OpenBLAS (gemm.c). */
final class CpuSimilarity implements SimilarityKernels {
    static final CpuSimilarity INSTANCE = new CpuSimilarity();

    private CpuSimilarity() {
    }

    @Override
    public void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c) {
        // M from c's rows, N and K from b: a and c may be logit buffers of a padded row stride
        long m = c.size(0), n = transB ? b.size(0) : b.size(1), k = transB ? b.size(1) : b.size(0);
        int status = JnceNative.jnce_sgemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a.segment(), a.size(1),
                b.segment(), b.size(1), beta, c.segment(), c.size(1));
        NativeStatus.check(status, "sgemm", "a", a, "b", b, "c", c);
    }

    @Override
    public void syrk(float alpha, Tensor a, Tensor c) {
        long n = a.size(0), k = a.size(1);
        NativeStatus.check(JnceNative.jnce_ssyrk(n, k, alpha, a.segment(), k, c.segment(), c.size(1)), "ssyrk", "a", a, "c", c);
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



    private static int dtype(Tensor t) {
        return t != null && t.dtype() == DType.INT32 ? JnceNative.JNCE_DTYPE_INT32() : JnceNative.JNCE_DTYPE_INT64();
    }

    // ---- level 1 (blas1.c) -------------------------------------------------------------------

    @Override
    public double dot(Tensor x, Tensor y) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_DOUBLE);
            NativeStatus.check(JnceNative.jnce_dsdot(x.segment(), y.segment(), x.numel(), out), "dsdot", "x", x, "y", y);
            return out.get(ValueLayout.JAVA_DOUBLE, 0);
        }
    }

    @Override
    public void scale(float alpha, Tensor x) {
        NativeStatus.check(JnceNative.jnce_sscal(x.numel(), alpha, x.segment()), "sscal", "x", x);
    }

    @Override
    public void axpy(float alpha, Tensor x, Tensor y) {
        NativeStatus.check(JnceNative.jnce_saxpy(x.numel(), alpha, x.segment(), y.segment()), "saxpy", "x", x, "y", y);
    }

    @Override
    public void copy(Tensor x, Tensor y) {
        NativeStatus.check(JnceNative.jnce_scopy(x.numel(), x.segment(), y.segment()), "scopy", "x", x, "y", y);
    }

    @Override
    public void fill(float value, Tensor x) {
        NativeStatus.check(JnceNative.jnce_sfill(x.numel(), value, x.segment()), "sfill", "x", x);
    }
}
