/*
 * gemm.c - row-major float32 GEMM and SYRK through OpenBLAS.
 *
 *   A (M,K) or (K,M) when trans_a;  B (K,N) or (N,K) when trans_b;  C (M,N)
 * and its symmetric sibling: the lower triangle of C (N,N) = alpha A Aᵀ (ssyrk).
 *
 * alpha = 0 reads neither A nor B, as the BLAS reference defines it (C = beta C, 0 for beta = 0
 * whatever C held): OpenBLAS skips the product for some shapes only (its small-matrix kernels
 * multiply, so a NaN in A reached C), so that case is done here, never in OpenBLAS.
 *
 * Two degenerate shapes that OpenBLAS's GEMM handles at several times their memory traffic (it
 * scales C by beta in a pass of its own, then packs both operands and runs its kernel) take a
 * direct path, the same arithmetic: K = 1, an outer product (a bias broadcast over rows: one
 * write pass, split over jnce's threads), and M = 1, a row vector times a matrix (the column sums
 * of a gradient block: one read of B through sgemv).
 *
 * Products of fewer than SMALL_PRODUCT multiply-adds run on one OpenBLAS thread: handing a
 * product to OpenBLAS's other threads and waiting for them cost 20-50 µs a call on a 2-core VM,
 * more than such a product takes on one core (a contrastive loss at N = 64, D = 128 spent half
 * its time there). OpenBLAS's thread count is one global setting, so a product that another
 * thread starts meanwhile may run on one thread too: slower, never wrong.
 */
#include <cblas.h>

#include "internal.h"

#define SMALL_PRODUCT (4.0 * 1024 * 1024)

extern int openblas_get_num_threads(void);
extern void openblas_set_num_threads(int threads);

/* Before a product of mnk multiply-adds: the thread count to restore afterwards, 0 when left alone. */
static int small_product_begin(double mnk) {
    if (mnk >= SMALL_PRODUCT) return 0;
    int before = openblas_get_num_threads();
    if (before <= 1) return 0;
    openblas_set_num_threads(1);
    return before;
}

static void small_product_end(int before) {
    if (before > 1) openblas_set_num_threads(before);
}

/* K = 1: C[i][j] = alpha a_i b_j + beta C[i][j], rows [begin, end); beta = 0 does not read C. */
struct outer_ctx {
    int64_t N;
    float alpha;
    const float *A;
    int64_t inc_a;
    const float *B;
    int64_t inc_b;
    float beta;
    float *C;
    int64_t ldc;
};

static void outer_rows(void *arg, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const struct outer_ctx *c = arg;
    for (int64_t i = begin; i < end; i++) {
        float a = c->alpha * c->A[i * c->inc_a];
        float *row = c->C + i * c->ldc;
        if (c->beta == 0.0f) {
            if (c->inc_b == 1)
                for (int64_t j = 0; j < c->N; j++) row[j] = a * c->B[j];
            else
                for (int64_t j = 0; j < c->N; j++) row[j] = a * c->B[j * c->inc_b];
        } else {
            for (int64_t j = 0; j < c->N; j++) row[j] = a * c->B[j * c->inc_b] + c->beta * row[j];
        }
    }
}

int32_t jnce_sgemm(int32_t trans_a, int32_t trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                   const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                   int64_t ldc) {
    if (A == NULL || B == NULL || C == NULL) return jnce_fail(JNCE_ERR_INVALID_ARG, "sgemm: null matrix");
    if (M <= 0 || N <= 0 || K <= 0 || M > INT32_MAX || N > INT32_MAX || K > INT32_MAX)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "sgemm: M=%lld N=%lld K=%lld must be in [1, 2^31)",
                         (long long)M, (long long)N, (long long)K);
    if (alpha == 0.0f) {
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
        return JNCE_OK;
    }
    if (K == 1) {
        struct outer_ctx ctx = {N, alpha, A, trans_a ? 1 : lda, B, trans_b ? ldb : 1, beta, C, ldc};
        jnce_parallel_for(M, (1 << 16) / N + 1, outer_rows, &ctx);
        return JNCE_OK;
    }
    if (M == 1) { /* C (1,N) = alpha x op(B) + beta C, x = op(A)'s one row: K values at stride incx */
        if (beta == 0.0f)
            for (int64_t j = 0; j < N; j++) C[j] = 0.0f; /* sgemv with beta 0 may read C: NaN-proof */
        cblas_sgemv(CblasRowMajor, trans_b ? CblasNoTrans : CblasTrans, trans_b ? (blasint)N : (blasint)K,
                    trans_b ? (blasint)K : (blasint)N, alpha, B, (blasint)ldb, A, trans_a ? (blasint)lda : 1,
                    beta, C, 1);
        return JNCE_OK;
    }
    const int restore = small_product_begin((double)M * (double)N * (double)K);
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                (blasint)M, (blasint)N, (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb, beta, C,
                (blasint)ldc);
    small_product_end(restore);
    return JNCE_OK;
}

int32_t jnce_ssyrk(int64_t N, int64_t K, float alpha, const float *A, int64_t lda, float *C, int64_t ldc) {
    if (A == NULL || C == NULL) return jnce_fail(JNCE_ERR_INVALID_ARG, "ssyrk: null matrix");
    if (N <= 0 || K <= 0 || N > INT32_MAX || K > INT32_MAX || lda < K || ldc < N)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "ssyrk: N=%lld K=%lld lda=%lld ldc=%lld (need sizes in [1, 2^31), lda >= K, ldc >= N)",
                         (long long)N, (long long)K, (long long)lda, (long long)ldc);
    if (alpha == 0.0f) {
        for (int64_t i = 0; i < N; i++)
            for (int64_t j = 0; j <= i; j++) C[i * ldc + j] = 0.0f;
        return JNCE_OK;
    }
    const int restore = small_product_begin(0.5 * (double)N * (double)N * (double)K);
    cblas_ssyrk(CblasRowMajor, CblasLower, CblasNoTrans, (blasint)N, (blasint)K, alpha, A, (blasint)lda, 0.0f, C,
                (blasint)ldc);
    small_product_end(restore);
    return JNCE_OK;
}
