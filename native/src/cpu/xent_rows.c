/*
 * xent_rows.c - cross-entropy rows with one target each over logits S = scale A Bᵀ
 * (two-tower InfoNCE with in-batch negatives, or a block of its rows) and the towers' gradients:
 * the rows' losses and log-sum-exp by cross_entropy.c's forward (jnce_xent_rows_lse: the same
 * losses as jnce_cross_entropy_strided_fwd_bwd gives), then
 *   G_ij = exp(S_ij - lse_i) - [j = t_i]        (d row_loss_i / d S_ij)
 *   dA = alpha G B,  dB = alpha Gᵀ A + beta dB
 * lse_i in double is taken as hi + lo (two floats), exp((S_ij - hi) - lo): S_ij - hi is exact for
 * the entries near the row's top, so G keeps a float's relative precision there (one float lse
 * would put its rounding, up to 1e-6 of the probabilities at |lse| ~ 16, into every entry).
 * With AVX-512, G is formed a 256 x 256 tile at a time in the cache and both products read it
 * there (tile_backward.c): after the statistics the logits are read once more, where writing G
 * and two GEMMs read and wrote them and then read them twice. Elsewhere (no AVX-512, or fewer
 * rows than the tiles pay for: jnce_tile_backward_fits) the cross-entropy kernel writes G into S
 * and two GEMMs follow. A row with a NaN or +Inf logit gets NaN in its loss and its entries of G.
 *
 * Build and check alone: see native/CMakeLists.txt; native/test/test_xent_rows.c is the check.
 */
#include <math.h>
#include <stdlib.h>

#include "internal.h"
#include "tile_product.h"

typedef struct {
    const float *S;
    const double *lse;
    const int64_t *targets;
    int64_t ld;
} rows_job;

#ifdef JNCE_HAVE_AVX512
JNCE_TARGET_AVX512 static void form(const jnce_tile_backward *t, int64_t r0, int64_t rows, int64_t k0, int64_t n, float *X,
                                    int32_t slice) {
    const rows_job *j = t->ctx;
    const __m512 nan = _mm512_set1_ps(NAN);
    for (int64_t r = 0; r < rows; r++) {
        const int64_t i = r0 + r;
        const float *x = j->S + i * j->ld + k0;
        /* asks for the next row's window, and from the last row the next window's first row */
        const float *ahead = r + 1 < rows ? x + j->ld : j->S + r0 * j->ld + k0 + n;
        float *g = X + r * TILE_BACKWARD_COLS;
        const double l = j->lse[i];
        const float hi = (float)l, lo = (float)(l - (double)hi);
        const __m512 vh = _mm512_set1_ps(hi), vlo = _mm512_set1_ps(lo);
        const int finite = isfinite(l);
        for (int64_t k = 0; k < n; k += 16) {
            const __mmask16 m = n - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - k)) - 1u);
            _mm_prefetch(jnce_ahead(ahead, k), _MM_HINT_T0);
            const __m512 z = _mm512_sub_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + k), vh), vlo);
            const __m512 e = finite ? exp_nonpos_avx512(_mm512_min_ps(z, _mm512_setzero_ps())) : nan;
            _mm512_mask_storeu_ps(g + k, m, e);
        }
        const int64_t c = j->targets[i] - k0;
        if (finite && c >= 0 && c < n) g[c] -= 1.0f;
        jnce_tile_backward_ahead(t, k0, n, r, slice);
    }
}
#endif

int32_t jnce_xent_rows_grad(float *S, int64_t N, int64_t M, int64_t ld, const int64_t *targets, float *loss, const float *A,
                            const float *B, int64_t D, float alpha, float beta, float *dA, float *dB) {
    if (S == NULL || loss == NULL || targets == NULL || A == NULL || B == NULL || dA == NULL || dB == NULL)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "xent_rows_grad: null S, targets, loss, A, B, dA or dB");
    if (N < 1 || M < 1 || ld < M || D < 1)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "xent_rows_grad: N=%lld M=%lld ld=%lld D=%lld, need N, M, D >= 1 and ld >= M",
                         (long long)N, (long long)M, (long long)ld, (long long)D);
    for (int64_t i = 0; i < N; i++)
        if (targets[i] < 0 || targets[i] >= M)
            return jnce_fail(JNCE_ERR_INVALID_ARG, "xent_rows_grad: targets[%lld] = %lld, need 0 <= target < M = %lld", (long long)i,
                             (long long)targets[i], (long long)M);
    rows_job job = {.S = S, .lse = NULL, .targets = targets, .ld = ld};
    const jnce_tile_backward t = {.N = N, .M = M, .D = D, .A = A, .B = B, .alpha = alpha, .beta = beta, .dA = dA, .dB = dB,
#ifdef JNCE_HAVE_AVX512
                                  .form = form,
#endif
                                  .ctx = &job, .slices = jnce_threads()};
    int32_t status = JNCE_OK;
    if (jnce_tile_backward_fits(&t)) {
        double *lse = malloc(sizeof(double) * (size_t)N);
        if (lse == NULL) return jnce_fail(JNCE_ERR_OUT_OF_MEMORY, "xent_rows_grad: out of memory for N=%lld", (long long)N);
        job.lse = lse;
        status = jnce_xent_rows_lse(N, M, ld, S, targets, loss, lse);
        const int ran = status == JNCE_OK && jnce_tile_backward_run(&t);
        free(lse);
        if (status != JNCE_OK || ran) return status;
    }
    /* the losses and G into S by the cross-entropy kernel (the same losses), then two GEMMs */
    status = jnce_cross_entropy_strided_fwd_bwd(N, M, ld, S, targets, JNCE_DTYPE_INT64, NULL, NULL, NULL, -100, 0.0f, 0.0f,
                                                JNCE_REDUCTION_NONE, 0, loss, S, NULL);
    if (status != JNCE_OK) return status;
    status = jnce_sgemm(0, 0, N, D, M, alpha, S, ld, B, D, 0.0f, dA, D);
    if (status == JNCE_OK) status = jnce_sgemm(1, 0, M, D, N, alpha, S, ld, A, D, beta, dB, D);
    return status;
}
