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
 *
 * Where the CPU has AVX-512, products of at most TINY_PRODUCT multiply-adds (a contrastive loss's
 * GEMMs at N = 32-64, D = 128) skip OpenBLAS, whose packing of both operands cost more than the
 * product: with B not transposed, tiny_rows computes four rows of C at a time as sums of rows of
 * B in 16-lane registers, then C = alpha acc + beta C; A Bᵀ (the logits) and SYRK's lower
 * triangle, tiny_nt, as 4x4 tiles of dot products along K (32x32x128: 1.6 us against OpenBLAS's
 * 4.3 us on one Zen 5 core). Aᵀ Bᵀ stays with OpenBLAS.
 */
#include <cblas.h>

#include "internal.h"
#include "simd_exp.h" /* JNCE_TARGET_AVX512 */

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

#define TINY_PRODUCT (1024.0 * 1024.0)

#ifdef JNCE_HAVE_AVX512
/* The 16-lane masks of the columns [j0, j0 + 64) below cols. */
JNCE_TARGET_AVX512 static inline void tiny_masks(int64_t cols, int64_t j0, __mmask16 m[4]) {
    for (int q = 0; q < 4; q++) {
        const int64_t left = cols - j0 - 16 * q;
        m[q] = left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1u);
    }
}

/* C row block = alpha acc + beta C over the masked columns; beta = 0 does not read C. */
JNCE_TARGET_AVX512 static inline void tiny_store(float *c, const __mmask16 m[4], __m512 a0, __m512 a1, __m512 a2,
                                                 __m512 a3, float alpha, float beta) {
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    __m512 acc[4] = {a0, a1, a2, a3};
    for (int q = 0; q < 4; q++) {
        if (m[q] == 0) break;
        __m512 r = _mm512_mul_ps(va, acc[q]);
        if (beta != 0.0f) r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m[q], c + 16 * q), r);
        _mm512_mask_storeu_ps(c + 16 * q, m[q], r);
    }
}

/*
 * C (M,N) = alpha op(A) B + beta C for B (K,N) row-major: four rows of C at a time in blocks of
 * 64 columns (16 accumulators of 16 lanes; each row of B loaded once for the four), the last
 * rows one at a time.
 */
JNCE_TARGET_AVX512 static void tiny_rows(int32_t trans_a, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                                         int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
#define TINY_A(i, k) (trans_a ? A[(k) * lda + (i)] : A[(i) * lda + (k)])
    int64_t i = 0;
    for (; i + 4 <= M; i += 4) {
        for (int64_t j0 = 0; j0 < N; j0 += 64) {
            __mmask16 m[4];
            tiny_masks(N, j0, m);
            __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
            __m512 c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
            for (int64_t k = 0; k < K; k++) {
                const float *b = B + k * ldb + j0;
                const __m512 b0 = _mm512_maskz_loadu_ps(m[0], b), b1 = _mm512_maskz_loadu_ps(m[1], b + 16);
                const __m512 b2 = _mm512_maskz_loadu_ps(m[2], b + 32), b3 = _mm512_maskz_loadu_ps(m[3], b + 48);
                __m512 a = _mm512_set1_ps(TINY_A(i, k));
                c00 = _mm512_fmadd_ps(a, b0, c00), c01 = _mm512_fmadd_ps(a, b1, c01);
                c02 = _mm512_fmadd_ps(a, b2, c02), c03 = _mm512_fmadd_ps(a, b3, c03);
                a = _mm512_set1_ps(TINY_A(i + 1, k));
                c10 = _mm512_fmadd_ps(a, b0, c10), c11 = _mm512_fmadd_ps(a, b1, c11);
                c12 = _mm512_fmadd_ps(a, b2, c12), c13 = _mm512_fmadd_ps(a, b3, c13);
                a = _mm512_set1_ps(TINY_A(i + 2, k));
                c20 = _mm512_fmadd_ps(a, b0, c20), c21 = _mm512_fmadd_ps(a, b1, c21);
                c22 = _mm512_fmadd_ps(a, b2, c22), c23 = _mm512_fmadd_ps(a, b3, c23);
                a = _mm512_set1_ps(TINY_A(i + 3, k));
                c30 = _mm512_fmadd_ps(a, b0, c30), c31 = _mm512_fmadd_ps(a, b1, c31);
                c32 = _mm512_fmadd_ps(a, b2, c32), c33 = _mm512_fmadd_ps(a, b3, c33);
            }
            tiny_store(C + i * ldc + j0, m, c00, c01, c02, c03, alpha, beta);
            tiny_store(C + (i + 1) * ldc + j0, m, c10, c11, c12, c13, alpha, beta);
            tiny_store(C + (i + 2) * ldc + j0, m, c20, c21, c22, c23, alpha, beta);
            tiny_store(C + (i + 3) * ldc + j0, m, c30, c31, c32, c33, alpha, beta);
        }
    }
    for (; i < M; i++) {
        for (int64_t j0 = 0; j0 < N; j0 += 64) {
            __mmask16 m[4];
            tiny_masks(N, j0, m);
            __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
            for (int64_t k = 0; k < K; k++) {
                const float *b = B + k * ldb + j0;
                const __m512 a = _mm512_set1_ps(TINY_A(i, k));
                c0 = _mm512_fmadd_ps(a, _mm512_maskz_loadu_ps(m[0], b), c0);
                c1 = _mm512_fmadd_ps(a, _mm512_maskz_loadu_ps(m[1], b + 16), c1);
                c2 = _mm512_fmadd_ps(a, _mm512_maskz_loadu_ps(m[2], b + 32), c2);
                c3 = _mm512_fmadd_ps(a, _mm512_maskz_loadu_ps(m[3], b + 48), c3);
            }
            tiny_store(C + i * ldc + j0, m, c0, c1, c2, c3, alpha, beta);
        }
    }
#undef TINY_A
}
#endif

#ifdef JNCE_HAVE_AVX512
/*
 * Lane l of the result is the sum of the 16 lanes of v[l]: four levels of shuffles and adds (the
 * 256-bit halves, the 128-bit blocks, the pairs, the lanes). Fed v[4c + r] = acc(r, c), lane
 * 4r + c holds acc(r, c): 128-bit block r is row r of a 4x4 tile.
 */
JNCE_TARGET_AVX512 static inline __m512 tiny_reduce16(const __m512 v[16]) {
    __m512 w[8], x[4], y[2];
    for (int p = 0; p < 8; p++)
        w[p] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * p], v[2 * p + 1], 0x44),
                             _mm512_shuffle_f32x4(v[2 * p], v[2 * p + 1], 0xEE));
    for (int q = 0; q < 4; q++)
        x[q] = _mm512_add_ps(_mm512_shuffle_f32x4(w[2 * q], w[2 * q + 1], 0x88),
                             _mm512_shuffle_f32x4(w[2 * q], w[2 * q + 1], 0xDD));
    for (int r = 0; r < 2; r++)
        y[r] = _mm512_add_ps(_mm512_shuffle_ps(x[2 * r], x[2 * r + 1], 0x44), _mm512_shuffle_ps(x[2 * r], x[2 * r + 1], 0xEE));
    return _mm512_add_ps(_mm512_shuffle_ps(y[0], y[1], 0x88), _mm512_shuffle_ps(y[0], y[1], 0xDD));
}

/*
 * C (M,N) = alpha A Bᵀ + beta C for A (M,K) and B (N,K) row-major: 4x4 tiles of C, each as 16
 * dot products of rows along K on 16 lanes (every row of the 4 of A and the 4 of B loaded once a
 * step), reduced together by tiny_reduce16. Tiles past M or N repeat their last row and store
 * only the rows and columns inside. lower: only the tiles that reach the diagonal or below it,
 * and only the elements j <= i (SYRK's lower triangle, C = alpha A Aᵀ).
 */
JNCE_TARGET_AVX512 static void tiny_nt(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                                       const float *B, int64_t ldb, float beta, float *C, int64_t ldc, int lower) {
    const __mmask16 tail = (__mmask16)((1u << (K & 15)) - 1u);
    const int64_t kfull = K & ~(int64_t)15;
    const __m512 va = _mm512_set1_ps(alpha);
    for (int64_t i = 0; i < M; i += 4) {
        const int64_t ri = M - i < 4 ? M - i : 4;
        const float *a0 = A + i * lda, *a1 = A + (i + (ri > 1 ? 1 : 0)) * lda;
        const float *a2 = A + (i + (ri > 2 ? 2 : ri - 1)) * lda, *a3 = A + (i + (ri > 3 ? 3 : ri - 1)) * lda;
        for (int64_t j = 0; j < N && (!lower || j <= i + ri - 1); j += 4) {
            const int64_t rj = N - j < 4 ? N - j : 4;
            const float *b0 = B + j * ldb, *b1 = B + (j + (rj > 1 ? 1 : 0)) * ldb;
            const float *b2 = B + (j + (rj > 2 ? 2 : rj - 1)) * ldb, *b3 = B + (j + (rj > 3 ? 3 : rj - 1)) * ldb;
            __m512 v[16]; /* v[4c + r]: row r of A's rows with row c of B's */
            for (int t = 0; t < 16; t++) v[t] = _mm512_setzero_ps();
            for (int64_t k = 0; k < K; k += 16) {
                const __mmask16 m = k < kfull ? (__mmask16)0xFFFF : tail;
                const __m512 x0 = _mm512_maskz_loadu_ps(m, a0 + k), x1 = _mm512_maskz_loadu_ps(m, a1 + k);
                const __m512 x2 = _mm512_maskz_loadu_ps(m, a2 + k), x3 = _mm512_maskz_loadu_ps(m, a3 + k);
                const __m512 y0 = _mm512_maskz_loadu_ps(m, b0 + k), y1 = _mm512_maskz_loadu_ps(m, b1 + k);
                const __m512 y2 = _mm512_maskz_loadu_ps(m, b2 + k), y3 = _mm512_maskz_loadu_ps(m, b3 + k);
                v[0] = _mm512_fmadd_ps(x0, y0, v[0]), v[1] = _mm512_fmadd_ps(x1, y0, v[1]);
                v[2] = _mm512_fmadd_ps(x2, y0, v[2]), v[3] = _mm512_fmadd_ps(x3, y0, v[3]);
                v[4] = _mm512_fmadd_ps(x0, y1, v[4]), v[5] = _mm512_fmadd_ps(x1, y1, v[5]);
                v[6] = _mm512_fmadd_ps(x2, y1, v[6]), v[7] = _mm512_fmadd_ps(x3, y1, v[7]);
                v[8] = _mm512_fmadd_ps(x0, y2, v[8]), v[9] = _mm512_fmadd_ps(x1, y2, v[9]);
                v[10] = _mm512_fmadd_ps(x2, y2, v[10]), v[11] = _mm512_fmadd_ps(x3, y2, v[11]);
                v[12] = _mm512_fmadd_ps(x0, y3, v[12]), v[13] = _mm512_fmadd_ps(x1, y3, v[13]);
                v[14] = _mm512_fmadd_ps(x2, y3, v[14]), v[15] = _mm512_fmadd_ps(x3, y3, v[15]);
            }
            const __m512 tile = _mm512_mul_ps(va, tiny_reduce16(v));
            for (int r = 0; r < ri; r++) {
                /* row r's columns inside C (and on or below the diagonal for lower) */
                int64_t cols = lower ? (i + r - j + 1 < rj ? i + r - j + 1 : rj) : rj;
                if (cols <= 0) continue;
                /* lane 4r + c of the tile goes to column j + c: stored from 4r floats before the row's
                 * first column, which lies inside C when ldc >= 4 ((i + r) ldc - 4r >= 0); else row r
                 * is moved to lanes 0-3 first */
                __mmask16 m = (__mmask16)(((1u << cols) - 1u) << (4 * r));
                float *c = C + (i + r) * ldc + j;
                __m512 out = tile;
                if (ldc >= 4) {
                    c -= 4 * r;
                } else {
                    m = (__mmask16)((1u << cols) - 1u);
                    out = _mm512_permutexvar_ps(_mm512_add_epi32(_mm512_set1_epi32(4 * r), _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 2, 1, 0)), tile);
                }
                if (beta != 0.0f) out = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(m, c), out);
                _mm512_mask_storeu_ps(c, m, out);
            }
        }
    }
}
#endif

/*
 * C = alpha op(A) B + beta C without OpenBLAS (B not transposed) for a product of at most
 * TINY_PRODUCT multiply-adds on a CPU with AVX-512. Returns 0 when it did not run.
 */
static int tiny_product(int32_t trans_a, int32_t trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                        int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
#ifdef JNCE_HAVE_AVX512
    if (!jnce_use_avx512() || (double)M * (double)N * (double)K > TINY_PRODUCT) return 0;
    if (trans_b) {
        if (trans_a) return 0;
        tiny_nt(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, 0);
    } else {
        tiny_rows(trans_a, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    }
    return 1;
#else
    (void)trans_a, (void)trans_b, (void)M, (void)N, (void)K, (void)alpha, (void)A, (void)lda, (void)B, (void)ldb,
        (void)beta, (void)C, (void)ldc;
    return 0;
#endif
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
    if (tiny_product(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)) return JNCE_OK;
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
#ifdef JNCE_HAVE_AVX512
    if (jnce_use_avx512() && 0.5 * (double)N * (double)N * (double)K <= TINY_PRODUCT) {
        tiny_nt(N, N, K, alpha, A, lda, A, lda, 0.0f, C, ldc, 1);
        return JNCE_OK;
    }
#endif
    const int restore = small_product_begin(0.5 * (double)N * (double)N * (double)K);
    cblas_ssyrk(CblasRowMajor, CblasLower, CblasNoTrans, (blasint)N, (blasint)K, alpha, A, (blasint)lda, 0.0f, C,
                (blasint)ldc);
    small_product_end(restore);
    return JNCE_OK;
}
