package dev.jnce.backend;

import dev.jnce.Tensor;

/**
 * GEMM, SYRK, L2 normalisation and row cosine similarity (native/src/cpu/gemm.c, similarity.c,
 * native/src/cuda/gemm.cu, similarity.cu and their Java twins), and BLAS level-1 operations over
 * whole tensors (native/src/cpu/blas1.c): the linear algebra every similarity-based loss is
 * built on. Callers have checked every argument; all float tensors are float32, row-major and
 * contiguous.
 */
public interface SimilarityKernels {

    /**
     * {@code c = alpha * op(a) * op(b) + beta * c}; op transposes when the flag says so.
     * a is (M,K) or (K,M) when transA; b is (K,N) or (N,K) when transB; c is (M,N). beta = 0
     * ignores what c holds. c must not alias a or b. A backend whose
     * {@link ContrastiveKernels#logitRowStride} is more than the logits' width also takes a
     * logit buffer of that row stride as a or c: (rows, stride) whose first columns are the
     * matrix, M taken from c's rows and K and N from b.
     */
    void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c);

    /**
     * The lower triangle (j <= i) of c (N,N) = alpha * a aᵀ for a (N,K): half the flops of the
     * GEMM for a symmetric product. What c holds above the diagonal afterwards is unspecified.
     * The default is the full GEMM. A backend whose
     * {@link ContrastiveKernels#symmetricRowStride} is more than N takes c as (N, stride) and
     * writes its first N columns.
     */
    default void syrk(float alpha, Tensor a, Tensor c) {
        gemm(false, true, alpha, a, a, 0f, c);
    }

    /** {@code y = x / max(||x||, eps)} over the last dimension of x; y may be x. */
    void normalize(Tensor x, float eps, Tensor y);

    /** The gradient of {@link #normalize} given the upstream dy; dx may be dy. */
    void normalizeBackward(Tensor x, Tensor dy, float eps, Tensor dx);

    /** Row-wise cosine similarity of (N,D) x1 and x2 into (N) out, F.cosine_similarity's eps. */
    void cosineSimilarity(Tensor x1, Tensor x2, float eps, Tensor out);

    /** Its gradient given the upstream (N) dOut; dx1 or dx2 may be null; neither aliases an input. */
    void cosineSimilarityBackward(Tensor x1, Tensor x2, Tensor dOut, float eps, Tensor dx1, Tensor dx2);

    // ---- level 1: every element of float32 tensors of one element count --------------------

    /** {@code sum_i x_i y_i}, accumulated in double (for example d loss / d tau from a gradient). */
    double dot(Tensor x, Tensor y);

    /** {@code x = alpha x}, in place. */
    void scale(float alpha, Tensor x);

    /** {@code y = y + alpha x}; x and y do not overlap. */
    void axpy(float alpha, Tensor x, Tensor y);

    /** {@code y = x}; x and y do not overlap. */
    void copy(Tensor x, Tensor y);

    /** Every element of x set to value. */
    void fill(float value, Tensor x);
}
