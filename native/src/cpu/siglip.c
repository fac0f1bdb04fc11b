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
 * With AVX-512 the negative pairs run on 16 float lanes (pairs_avx512: the element-wise BCE with
 * logits' gradient, their log1p terms one logarithm a lane per 128 columns); with AVX2 alone
 * exp(-|z|) runs on 8 float lanes and the rest (log1p series, sigmoid) on double lanes
 * (bce_logits4); the scalar path and each diagonal pair are double throughout. A NaN logit gives
 * NaN in its loss (hence the sums) and its entry of G.
 * jnce_siglip_grad also takes the towers' gradients, G B and Gᵀ A: with AVX-512 from G formed a
 * tile at a time in the cache (band_form and tile_backward.c), elsewhere from G written into S and two GEMMs.
 *
 * Build and check alone: see native/CMakeLists.txt; native/test/test_siglip.c is the check.
 */
#include <stdlib.h>

#include "binary_cross_entropy.h"
#include "internal.h"
#include "tile_product.h"

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
 * The pairs of columns [k0, k1) of row x (absolute columns; k0 a multiple of 128, k1 one too or
 * the row's end M) on 16 float lanes. Pair terms at target 0: loss = max(z, 0) + log1p(e),
 * dz = sigmoid(z), e = exp(-|z|) (the element-wise BCE with logits' 16-lane gradient, the same
 * bits). The log1p terms of the 8 vectors of a 128-column group are taken in one logarithm a
 * lane: log1p(u) + log1p(e) = log1p(u + e + u e), u built up from 0 by one fma a vector (every
 * term positive, so u keeps a float's relative precision within a few roundings, small e
 * included, and u <= 2^8 - 1), then log1p(u) = log(v) + (u - (v - 1)) / v with v = 1 + u. The
 * max(z, 0) terms and the gradients are summed on float lanes over the group. At each group's
 * end (or the row's) both go to the double lanes *ls and *gs, which the caller reduces at the
 * row's end: a row split into windows at multiples of 128 sums in the same order as the whole
 * row. Column p, the row's positive (or -1), stays out of the sums, masked in its vector; the
 * row's last < 16 columns go under a mask; a NaN logit makes the sums NaN. g, where not NULL,
 * receives column k's sigmoid(z) at g[k - k0], the positive's too (the caller writes its own).
 * A logarithm a vector took about a third of the loop's time.
 */
JNCE_TARGET_AVX512 static void pairs_avx512(const float *x, float *g, int64_t k0, int64_t k1, int64_t M, int64_t p,
                                            float bias, const float *ahead, __m512d *ls, __m512d *gs) {
    const __m512 vb = _mm512_set1_ps(bias), zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f), nan_bits = all_ones_avx512();
    const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff);
    __m512 lf = zero, gf = zero, u = zero;
    for (int64_t k = k0; k < k1; k += 16) {
        const __mmask16 load = M - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (M - k)) - 1u);
        const __mmask16 live = p >= k && p < k + 16 ? (__mmask16)(load & ~(1u << (p - k))) : load;
        _mm_prefetch(jnce_ahead(ahead, k - k0), _MM_HINT_T0);
        const __m512 z = _mm512_add_ps(_mm512_maskz_loadu_ps(load, x + k), vb);
        const __m512 a = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(z), abs_mask));
        const __m512 e = exp_nonpos_avx512(_mm512_sub_ps(zero, a));
        const __m512 r = _mm512_div_ps(one, _mm512_add_ps(one, e));
        const __mmask16 nonneg = _mm512_cmp_ps_mask(z, zero, _CMP_GE_OQ), nan = _mm512_cmp_ps_mask(z, z, _CMP_UNORD_Q);
        const __m512 el = _mm512_maskz_mov_ps(live, e);
        u = _mm512_fmadd_ps(u, el, _mm512_add_ps(u, el));
        const __m512 l = _mm512_mask_mov_ps(_mm512_maskz_mov_ps(nonneg, z), nan, nan_bits);
        const __m512 d = _mm512_mask_mov_ps(_mm512_mask_blend_ps(nonneg, _mm512_mul_ps(e, r), r), nan, nan_bits);
        lf = _mm512_add_ps(lf, _mm512_maskz_mov_ps(live, l));
        gf = _mm512_add_ps(gf, _mm512_maskz_mov_ps(live, d));
        if (((k >> 4) & 7) == 7 || k + 16 >= M) {
            const __m512 v = _mm512_add_ps(one, u);
            lf = _mm512_add_ps(lf, _mm512_add_ps(log_avx512(v), _mm512_div_ps(_mm512_sub_ps(u, _mm512_sub_ps(v, one)), v)));
            *ls = _mm512_add_pd(*ls, _mm512_add_pd(jnce_lo_pd(lf), jnce_hi_pd(lf)));
            *gs = _mm512_add_pd(*gs, _mm512_add_pd(jnce_lo_pd(gf), jnce_hi_pd(gf)));
            lf = zero, gf = zero, u = zero;
        }
        if (g != NULL) _mm512_mask_storeu_ps(g + (k - k0), load, d);
    }
}

/* A whole row of M pairs, positive p (or -1): its negatives' sums into *loss and *grad, g as pairs_avx512's. */
JNCE_TARGET_AVX512 static void row_avx512(const float *x, float *g, int64_t M, int64_t p, float bias, double *loss, double *grad) {
    __m512d ls = _mm512_setzero_pd(), gs = _mm512_setzero_pd();
    pairs_avx512(x, g, 0, M, M, p, bias, x + PREFETCH_AHEAD, &ls, &gs);
    *loss = _mm512_reduce_add_pd(ls), *grad = _mm512_reduce_add_pd(gs);
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
            row_avx512(x, g, j->M, p < j->M ? p : -1, j->bias, &loss, &grad);
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

/* The arguments both entry points share. */
static int32_t check_args(const float *S, int64_t N, int64_t M, int64_t ld, int64_t offset, float bias, const double *sums) {
    if (S == NULL || sums == NULL) return jnce_fail(JNCE_ERR_INVALID_ARG, "siglip: null S or sums");
    if (N < 1 || M < 1 || ld < M)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "siglip: N=%lld M=%lld ld=%lld, need N, M >= 1 and ld >= M", (long long)N,
                         (long long)M, (long long)ld);
    if (offset < 0) return jnce_fail(JNCE_ERR_INVALID_ARG, "siglip: offset %lld < 0", (long long)offset);
    if (!isfinite(bias)) return jnce_fail(JNCE_ERR_INVALID_ARG, "siglip: bias %g is not finite", (double)bias);
    return JNCE_OK;
}

int32_t jnce_siglip_fwd_bwd(const float *S, int64_t N, int64_t M, int64_t ld, int64_t offset, float bias, double *sums, float *G) {
    int32_t status = check_args(S, N, M, ld, offset, bias, sums);
    if (status != JNCE_OK) return status;
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

/*
 * jnce_siglip_grad's tiles where the CPU has AVX-512 (jnce_tile_backward_run, tile_product.h):
 * G's values as rows() writes them, each row's sums in the same order (pairs_avx512 over windows
 * at multiples of 128 columns, its double lanes kept across the row's windows). Against rows()
 * and two GEMMs this reads S once and writes no G: the pass read and wrote all N M entries and
 * each GEMM read them again.
 */
#ifdef JNCE_HAVE_AVX512
typedef struct {
    siglip_job *job;
    double *terms; /* 2 TILE_BACKWARD_ROWS a slice: the band's positives' loss and gradient */
    __m512d *acc;  /* 2 TILE_BACKWARD_ROWS a slice: the band's rows' double lanes */
} siglip_tiles;

JNCE_TARGET_AVX512 static void band_begin(const jnce_tile_backward *t, int64_t r0, int64_t rows, int32_t slice) {
    const siglip_tiles *st = t->ctx;
    const siglip_job *j = st->job;
    double *terms = st->terms + (size_t)slice * 2 * TILE_BACKWARD_ROWS;
    __m512d *acc = st->acc + (size_t)slice * 2 * TILE_BACKWARD_ROWS;
    for (int64_t r = 0; r < rows; r++) {
        const int64_t i = r0 + r, p = i + j->offset;
        jnce_binary_terms b = {0.0, 0.0, 0.0};
        if (p < j->M) b = jnce_bce_logits_terms((double)(j->S[i * j->ld + p] + j->bias), 1.0, 1.0);
        terms[2 * r] = b.loss, terms[2 * r + 1] = b.d_input;
        acc[2 * r] = _mm512_setzero_pd(), acc[2 * r + 1] = _mm512_setzero_pd();
    }
}

JNCE_TARGET_AVX512 static void band_form(const jnce_tile_backward *t, int64_t r0, int64_t rows, int64_t k0, int64_t n, float *X,
                                         int32_t slice) {
    const siglip_tiles *st = t->ctx;
    const siglip_job *j = st->job;
    const double *terms = st->terms + (size_t)slice * 2 * TILE_BACKWARD_ROWS;
    __m512d *acc = st->acc + (size_t)slice * 2 * TILE_BACKWARD_ROWS;
    for (int64_t r = 0; r < rows; r++) {
        const int64_t i = r0 + r, p = i + j->offset;
        float *g = X + r * TILE_BACKWARD_COLS;
        /* asks for the next row's window, and from the last row the next window's first row */
        const float *ahead = r + 1 < rows ? j->S + (i + 1) * j->ld + k0 : j->S + r0 * j->ld + k0 + n;
        pairs_avx512(j->S + i * j->ld, g, k0, k0 + n, j->M, p < j->M ? p : -1, j->bias, ahead, &acc[2 * r], &acc[2 * r + 1]);
        if (p >= k0 && p < k0 + n) g[p - k0] = (float)terms[2 * r + 1];
        jnce_tile_backward_ahead(t, k0, n, r, slice);
    }
}

JNCE_TARGET_AVX512 static void band_end(const jnce_tile_backward *t, int64_t r0, int64_t rows, int32_t slice) {
    const siglip_tiles *st = t->ctx;
    const double *terms = st->terms + (size_t)slice * 2 * TILE_BACKWARD_ROWS;
    const __m512d *acc = st->acc + (size_t)slice * 2 * TILE_BACKWARD_ROWS;
    for (int64_t r = 0; r < rows; r++) {
        st->job->row_loss[r0 + r] = _mm512_reduce_add_pd(acc[2 * r]) + terms[2 * r];
        st->job->row_grad[r0 + r] = _mm512_reduce_add_pd(acc[2 * r + 1]) + terms[2 * r + 1];
    }
}

/* 1 where the tiles ran (sums written into job's rows), 0 where they cannot (no AVX-512, out of memory). */
static int run_fused(siglip_job *job, const float *A, const float *B, int64_t D, float alpha, float beta, float *dA, float *dB) {
    if (!jnce_use_avx512()) return 0;
    const int32_t slices = jnce_threads();
    siglip_tiles st = {.job = job, .terms = malloc(sizeof(double) * 2 * TILE_BACKWARD_ROWS * (size_t)slices),
                       .acc = aligned_alloc(64, sizeof(__m512d) * 2 * TILE_BACKWARD_ROWS * (size_t)slices)};
    const jnce_tile_backward t = {.N = job->N, .M = job->M, .D = D, .A = A, .B = B, .alpha = alpha, .beta = beta, .dA = dA, .dB = dB,
                                  .band_begin = band_begin, .form = band_form, .band_end = band_end, .ctx = &st, .slices = slices};
    const int ran = st.terms != NULL && st.acc != NULL && jnce_tile_backward_run(&t);
    free(st.terms), free(st.acc);
    return ran;
}
#endif

int32_t jnce_siglip_grad(float *S, int64_t N, int64_t M, int64_t ld, int64_t offset, float bias, double *sums, const float *A,
                         const float *B, int64_t D, float alpha, float beta, float *dA, float *dB) {
    if (A == NULL || B == NULL || dA == NULL || dB == NULL) return jnce_fail(JNCE_ERR_INVALID_ARG, "siglip_grad: null A, B, dA or dB");
    if (D < 1) return jnce_fail(JNCE_ERR_INVALID_ARG, "siglip_grad: D=%lld, need D >= 1", (long long)D);
    int32_t status = check_args(S, N, M, ld, offset, bias, sums);
    if (status != JNCE_OK) return status;
#ifdef JNCE_HAVE_AVX512
    double *per_row = malloc(sizeof(double) * 2 * (size_t)N);
    if (per_row == NULL) return jnce_fail(JNCE_ERR_OUT_OF_MEMORY, "siglip: out of memory for N=%lld", (long long)N);
    siglip_job job = {.S = S, .G = NULL, .N = N, .M = M, .ld = ld, .offset = offset, .bias = bias, .avx2 = jnce_use_avx2(),
                      .avx512 = jnce_use_avx512(), .row_loss = per_row, .row_grad = per_row + N};
    if (run_fused(&job, A, B, D, alpha, beta, dA, dB)) {
        double loss = 0.0, grad = 0.0;
        for (int64_t i = 0; i < N; i++) loss += per_row[i], grad += per_row[N + i];
        sums[0] = loss, sums[1] = grad;
        free(per_row);
        return JNCE_OK;
    }
    free(per_row);
#endif
    /* G into S, then the two products */
    status = jnce_siglip_fwd_bwd(S, N, M, ld, offset, bias, sums, S);
    if (status == JNCE_OK) status = jnce_sgemm(0, 0, N, D, M, alpha, S, ld, B, D, 0.0f, dA, D);
    if (status == JNCE_OK) status = jnce_sgemm(1, 0, M, D, N, alpha, S, ld, A, D, beta, dB, D);
    return status;
}
