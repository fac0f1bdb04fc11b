/*
 * siglip.c - SigLIP's pairwise sigmoid loss over a logit matrix, forward and backward, in one
 * pass: every pair (i, j) is a binary example with logit z_ij = S_ij + bias, positive where
 * j = i + offset (the diagonal of the whole batch; offset = r0 for a block of rows starting at
 * batch row r0), negative elsewhere. No label matrix, no second buffer.
 *
 *   S (N,M) float32, row stride ld >= M (scale * a bᵀ from the GEMM; the bias is added here, in
 *           float, as PyTorch adds it).
 *   loss_ij = -log sigmoid(y_ij z_ij), y = +1 at j = i + offset, -1 elsewhere
 *           = softplus(z_ij) - [j = i + offset] z_ij: BCE with logits (binary_cross_entropy.h)
 *   G (N,M) row stride ld, or NULL; may be S: d (sum of the losses) / d z_ij
 *           = sigmoid(z_ij) - [j = i + offset].
 *   sums[0] = sum of the losses, sums[1] = sum of G (d sum / d bias): per row in double, then
 *           over the rows in order, so they do not depend on the thread count.
 * With AVX-512 the negative pairs run on 16 float lanes (jnce_bce_logits16, the element-wise BCE
 * with logits' terms); with AVX2 alone exp(-|z|) runs on 8 float lanes and the rest (log1p series,
 * sigmoid) on double lanes (bce_logits4); the scalar path and each diagonal pair are double throughout. A NaN logit gives
 * NaN in its loss (hence the sums) and its entry of G.
 *
 * Build and check alone: see native/CMakeLists.txt; native/test/test_siglip.c is the check.
 */
#include <stdlib.h>

#include "binary_cross_entropy.h"
#include "internal.h"

/*
 * Logits asked for this many floats (1 KiB) ahead by the 16-lane row loop: the hardware
 * prefetchers left its loads waiting (at 16384 x 16384, two threads: 225-245 -> 160-220 ms, the
 * same with 512 B to 4 KiB ahead, ad-hoc). The AVX2 loop, bound by its double lanes, gained
 * nothing from it (8192 x 8192: 87-92 against 86-90 ms).
 */
#define PREFETCH_AHEAD 256

typedef struct {
    const float *S;
    float *G;
    int64_t N, M, ld, offset;
    float bias;
    int avx2, avx512;
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

JNCE_TARGET_AVX2 static void negatives_avx2(const float *x, float *g, int64_t from, int64_t to,
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

#ifdef JNCE_HAVE_AVX512
/*
 * negatives_avx2 on 16 float lanes: the element-wise BCE with logits' 16-lane terms
 * (jnce_bce_logits16) at target 0 and weight 1, written for that case: loss = max(z, 0) +
 * log1p(e), dz = sigmoid(z), e = exp(-|z|), the same bits as jnce_bce_logits16 gives them
 * (its lw = 1 and pw y = 0 terms add and subtract nothing). The losses and gradients are
 * summed on float lanes over 8 vectors at a time and then in double lanes (converting every
 * vector took a tenth of the loop's instructions). The last < 16 pairs go under a mask (a row of
 * 32 has two such tails, around its positive: through the 8-lane and scalar paths they took
 * about a sixth of a (32, 128) call, in an ad-hoc profile).
 */
JNCE_TARGET_AVX512 static void negatives_avx512(const float *x, float *g, int64_t from, int64_t to, float bias,
                                                double *loss, double *grad) {
    const __m512 vb = _mm512_set1_ps(bias), zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f), nan_bits = all_ones_avx512();
    const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff);
    __m512d ls = _mm512_setzero_pd(), gs = _mm512_setzero_pd();
    __m512 lf = zero, gf = zero;
    int block = 0;
    for (int64_t k = from; k < to; k += 16) {
        const __mmask16 live = to - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (to - k)) - 1u);
        _mm_prefetch(jnce_ahead(x, k + PREFETCH_AHEAD), _MM_HINT_T0);
        const __m512 z = _mm512_add_ps(_mm512_maskz_loadu_ps(live, x + k), vb);
        const __m512 a = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(z), abs_mask));
        const __m512 e = exp_nonpos_avx512(_mm512_sub_ps(zero, a));
        const __m512 r = _mm512_div_ps(one, _mm512_add_ps(one, e)), L = log1p_unit_avx512(e, r);
        const __mmask16 nonneg = _mm512_cmp_ps_mask(z, zero, _CMP_GE_OQ), nan = _mm512_cmp_ps_mask(z, z, _CMP_UNORD_Q);
        const __m512 l = _mm512_mask_mov_ps(_mm512_add_ps(L, _mm512_maskz_mov_ps(nonneg, z)), nan, nan_bits);
        const __m512 d = _mm512_mask_mov_ps(_mm512_mask_blend_ps(nonneg, _mm512_mul_ps(e, r), r), nan, nan_bits);
        lf = _mm512_add_ps(lf, _mm512_maskz_mov_ps(live, l));
        gf = _mm512_add_ps(gf, _mm512_maskz_mov_ps(live, d));
        if (++block == 8 || k + 16 >= to) {
            ls = _mm512_add_pd(ls, _mm512_add_pd(jnce_lo_pd(lf), jnce_hi_pd(lf)));
            gs = _mm512_add_pd(gs, _mm512_add_pd(jnce_lo_pd(gf), jnce_hi_pd(gf)));
            lf = zero, gf = zero, block = 0;
        }
        if (g != NULL) _mm512_mask_storeu_ps(g + k, live, d);
    }
    *loss += _mm512_reduce_add_pd(ls);
    *grad += _mm512_reduce_add_pd(gs);
}
#endif

static void rows(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const siglip_job *j = ctx;
    for (int64_t i = begin; i < end; i++) {
        const float *x = j->S + i * j->ld;
        float *g = j->G != NULL ? j->G + i * j->ld : NULL;
        double loss = 0.0, grad = 0.0;
        const int64_t p = i + j->offset, before = p < j->M ? p : j->M; /* the positive, when in this matrix */
        jnce_binary_terms t = {0.0, 0.0, 0.0};
        if (p < j->M) t = jnce_bce_logits_terms((double)(x[p] + j->bias), 1.0, 1.0); /* read before g overwrites it */
#ifdef JNCE_HAVE_AVX512
        if (j->avx512) {
            negatives_avx512(x, g, 0, before, j->bias, &loss, &grad);
            negatives_avx512(x, g, before + 1, j->M, j->bias, &loss, &grad);
        } else
#endif
        if (j->avx2) {
            negatives_avx2(x, g, 0, before, j->bias, &loss, &grad);
            negatives_avx2(x, g, before + 1, j->M, j->bias, &loss, &grad);
        } else {
            negatives_scalar(x, g, 0, before, j->bias, &loss, &grad);
            negatives_scalar(x, g, before + 1, j->M, j->bias, &loss, &grad);
        }
        if (g != NULL && p < j->M) g[p] = (float)t.d_input;
        j->row_loss[i] = loss + t.loss;
        j->row_grad[i] = grad + t.d_input;
    }
}

int32_t jnce_siglip_fwd_bwd(const float *S, int64_t N, int64_t M, int64_t ld, int64_t offset, float bias, double *sums, float *G) {
    if (S == NULL || sums == NULL) return jnce_fail(JNCE_ERR_INVALID_ARG, "siglip: null S or sums");
    if (N < 1 || M < 1 || ld < M)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "siglip: N=%lld M=%lld ld=%lld, need N, M >= 1 and ld >= M", (long long)N,
                         (long long)M, (long long)ld);
    if (offset < 0) return jnce_fail(JNCE_ERR_INVALID_ARG, "siglip: offset %lld < 0", (long long)offset);
    if (!isfinite(bias)) return jnce_fail(JNCE_ERR_INVALID_ARG, "siglip: bias %g is not finite", (double)bias);
    double *per_row = malloc(sizeof(double) * 2 * (size_t)N);
    if (per_row == NULL) return jnce_fail(JNCE_ERR_OUT_OF_MEMORY, "siglip: out of memory for N=%lld", (long long)N);
    siglip_job job = {.S = S, .G = G, .N = N, .M = M, .ld = ld, .offset = offset, .bias = bias, .avx2 = jnce_use_avx2(), .avx512 = jnce_use_avx512(),
                      .row_loss = per_row, .row_grad = per_row + N};
    /* at least 16 rows and 8192 pairs a thread: a smaller share takes less time than handing it over */
    const int64_t min_rows = M >= 8192 / 16 ? 16 : (8192 + M - 1) / M;
    jnce_parallel_for(N, min_rows, rows, &job);
    double loss = 0.0, grad = 0.0;
    for (int64_t i = 0; i < N; i++) loss += job.row_loss[i], grad += job.row_grad[i];
    sums[0] = loss, sums[1] = grad;
    free(per_row);
    return JNCE_OK;
}
