/*
 * siglip.c - SigLIP's pairwise sigmoid loss over a square logit matrix, forward and backward, in
 * one pass: every pair (i, j) is a binary example with logit z_ij = S_ij + bias, positive on the
 * diagonal, negative elsewhere. No label matrix, no second N x N buffer.
 *
 *   S (N,N) float32, row stride ld >= N (scale * a bᵀ from the GEMM; the bias is added here, in
 *           float, as PyTorch adds it).
 *   loss_ij = -log sigmoid(y_ij z_ij), y = +1 on the diagonal, -1 elsewhere
 *           = softplus(z_ij) - [i = j] z_ij: BCE with logits, target [i = j] (binary_cross_entropy.h)
 *   G (N,N) row stride ld, or NULL; may be S: d (sum of the losses) / d z_ij = sigmoid(z_ij) - [i = j].
 *   sums[0] = sum of the losses, sums[1] = sum of G (d sum / d bias): per row in double, then
 *           over the rows in order, so they do not depend on the thread count.
 * With AVX2, exp(-|z|) runs on 8 float lanes and the rest (log1p series, sigmoid) on double lanes
 * (bce_logits4); the scalar path and each diagonal pair are double throughout. A NaN logit gives
 * NaN in its loss (hence the sums) and its entry of G.
 *
 * Build and check alone: see native/CMakeLists.txt; native/test/test_siglip.c is the check.
 */
#include <stdlib.h>

#include "binary_cross_entropy.h"
#include "internal.h"

typedef struct {
    const float *S;
    float *G;
    int64_t N, ld;
    float bias;
    int avx2;
    double *row_loss, *row_grad; /* (N) each */
} siglip_job;

/* Negative pairs x[from..to) of one row: their losses and gradients added to *loss and *grad. */
static void negatives_scalar(const float *x, float *g, int64_t from, int64_t to, float bias, double *loss, double *grad) {
    for (int64_t k = from; k < to; k++) {
        jnce_binary_terms t = jnce_bce_logits_terms((double)(x[k] + bias), 0.0, 1.0);
        *loss += t.loss;
        *grad += t.d_input;
        if (g != NULL) g[k] = (float)t.d_input;
    }
}

__attribute__((target("avx2,fma"))) static void negatives_avx2(const float *x, float *g, int64_t from, int64_t to,
                                                              float bias, double *loss, double *grad) {
    const __m256 zero = _mm256_setzero_ps(), vb = _mm256_set1_ps(bias);
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m128 y = _mm_setzero_ps(), one = _mm_set1_ps(1.0f);
    __m256d ls = _mm256_setzero_pd(), gs = _mm256_setzero_pd();
    int64_t k = from;
    for (; k + 8 <= to; k += 8) {
        __m256 z = _mm256_add_ps(_mm256_loadu_ps(x + k), vb);
        __m256 e = exp_nonpos_avx2(_mm256_sub_ps(zero, _mm256_and_ps(z, abs_mask)));
        bce4 lo = bce_logits4(_mm256_castps256_ps128(z), y, _mm256_castps256_ps128(e), one, one, 1.0);
        bce4 hi = bce_logits4(_mm256_extractf128_ps(z, 1), y, _mm256_extractf128_ps(e, 1), one, one, 1.0);
        ls = _mm256_add_pd(ls, _mm256_add_pd(lo.loss_sum, hi.loss_sum));
        gs = _mm256_add_pd(gs, _mm256_add_pd(_mm256_cvtps_pd(lo.dx), _mm256_cvtps_pd(hi.dx)));
        if (g != NULL) {
            _mm_storeu_ps(g + k, lo.dx);
            _mm_storeu_ps(g + k + 4, hi.dx);
        }
    }
    double l[4], d[4];
    _mm256_storeu_pd(l, ls);
    _mm256_storeu_pd(d, gs);
    *loss += (l[0] + l[1]) + (l[2] + l[3]);
    *grad += (d[0] + d[1]) + (d[2] + d[3]);
    negatives_scalar(x, g, k, to, bias, loss, grad);
}

static void rows(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const siglip_job *j = ctx;
    for (int64_t i = begin; i < end; i++) {
        const float *x = j->S + i * j->ld;
        float *g = j->G != NULL ? j->G + i * j->ld : NULL;
        double loss = 0.0, grad = 0.0;
        jnce_binary_terms t = jnce_bce_logits_terms((double)(x[i] + j->bias), 1.0, 1.0); /* read before g overwrites it */
        if (j->avx2) {
            negatives_avx2(x, g, 0, i, j->bias, &loss, &grad);
            negatives_avx2(x, g, i + 1, j->N, j->bias, &loss, &grad);
        } else {
            negatives_scalar(x, g, 0, i, j->bias, &loss, &grad);
            negatives_scalar(x, g, i + 1, j->N, j->bias, &loss, &grad);
        }
        if (g != NULL) g[i] = (float)t.d_input;
        j->row_loss[i] = loss + t.loss;
        j->row_grad[i] = grad + t.d_input;
    }
}

int32_t jnce_siglip(const float *S, int64_t N, int64_t ld, float bias, double *sums, float *G) {
    if (S == NULL || sums == NULL) return jnce_fail(JNCE_ERR_INVALID_ARG, "siglip: null S or sums");
    if (N < 1 || ld < N)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "siglip: N=%lld ld=%lld, need 1 <= N <= ld", (long long)N, (long long)ld);
    if (!isfinite(bias)) return jnce_fail(JNCE_ERR_INVALID_ARG, "siglip: bias %g is not finite", (double)bias);
    double *per_row = malloc(sizeof(double) * 2 * (size_t)N);
    if (per_row == NULL) return jnce_fail(JNCE_ERR_OUT_OF_MEMORY, "siglip: out of memory for N=%lld", (long long)N);
    siglip_job job = {.S = S, .G = G, .N = N, .ld = ld, .bias = bias, .avx2 = jnce_use_avx2(),
                      .row_loss = per_row, .row_grad = per_row + N};
    jnce_parallel_for(N, 16, rows, &job);
    double loss = 0.0, grad = 0.0;
    for (int64_t i = 0; i < N; i++) loss += job.row_loss[i], grad += job.row_grad[i];
    sums[0] = loss, sums[1] = grad;
    free(per_row);
    return JNCE_OK;
}
