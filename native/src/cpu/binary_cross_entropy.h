/*
 * binary_cross_entropy.h - internal: the element-wise driver of binary_cross_entropy.c and the
 * per-element BCE-with-logits terms (and their AVX2 form), shared with focal.c (sigmoid focal
 * loss) and siglip.c (pairwise sigmoid loss). Not part of the API (jnce.h is).
 */
#ifndef JNCE_BINARY_CROSS_ENTROPY_H
#define JNCE_BINARY_CROSS_ENTROPY_H

#include <math.h>
#include <stdint.h>

#include "jnce.h"
#include "simd_exp.h"
#include "simd_log.h"

/* One element's loss and its derivatives w.r.t. input and target, before weight and scale. */
typedef struct {
    double loss, d_input, d_target;
} jnce_binary_terms;

/* Terms of element k (input x, target y); params is the op's own constant data. */
typedef jnce_binary_terms (*jnce_binary_fn)(const void *params, int64_t k, double x, double y);

/* One run of the element-wise driver, as its block routines see it. */
typedef struct jnce_binary_job jnce_binary_job;

/* Elements [from, to) of a job: writes what the job asks and returns the sum of their losses. */
typedef double (*jnce_binary_block_fn)(const jnce_binary_job *job, int64_t from, int64_t to);

struct jnce_binary_job {
    const float *input, *target, *weight;
    int64_t numel, weight_len;
    jnce_binary_fn fn;
    const void *params;
    int32_t reduction;
    double scale;       /* gradient scale: 1/numel for the mean */
    float *loss;        /* (numel) for NONE */
    double *block_sum;  /* (blocks) otherwise */
    float *grad_input, *grad_target;
    jnce_binary_block_fn block; /* jnce_binary_scalar_block, or an op's vector routine */
};

/*
 * Runs fn over numel elements (see the buffer rules in jnce.h): loss_k = weight_k * terms.loss,
 * grads = scale * weight_k * terms.d_*, scale = 1/numel for the mean. Sums are taken per block
 * of JNCE_BINARY_BLOCK elements in double, then over blocks in order, so the result does not
 * depend on the thread count. Validates the shared arguments; op names the caller in messages.
 * jnce_binary_run_blocks does the same through block (a vector routine for the same terms,
 * which leaves its tail to jnce_binary_scalar_block).
 */
#define JNCE_BINARY_BLOCK 2048
int32_t jnce_binary_run(const char *op, const float *input, const float *target, int64_t numel,
                        const float *weight, int64_t weight_len, jnce_binary_fn fn, const void *params,
                        int32_t reduction, float *loss, float *grad_input, float *grad_target);
int32_t jnce_binary_run_blocks(const char *op, const float *input, const float *target, int64_t numel,
                               const float *weight, int64_t weight_len, jnce_binary_fn fn, const void *params,
                               jnce_binary_block_fn block, int32_t reduction, float *loss, float *grad_input,
                               float *grad_target);

/* The element loop in double through job->fn: every op's reference, and vector routines' tails. */
double jnce_binary_scalar_block(const jnce_binary_job *job, int64_t from, int64_t to);

/* ---- helpers of the vector block routines (8 float lanes) ------------------------------------ */

/* Eight values of a (len)-periodic vector starting at index *at, which advances by 8. */
static inline void jnce_periodic8(const float *v, int64_t len, int64_t *at, float *out) {
    for (int k = 0; k < 8; k++) {
        out[k] = v[*at];
        if (++*at == len) *at = 0;
    }
}

/* The weights of elements k..k+7 (1 without weight); *at is k % weight_len, advanced by 8. */
JNCE_TARGET_AVX2 static inline __m256 jnce_binary_weight8(const jnce_binary_job *j, int64_t *at) {
    if (j->weight == NULL) return _mm256_set1_ps(1.0f);
    float buf[8];
    jnce_periodic8(j->weight, j->weight_len, at, buf);
    return _mm256_loadu_ps(buf);
}

/* scale * w * d on 8 lanes, in double, rounded once (as the scalar path scales). */
JNCE_TARGET_AVX2 static inline __m256 jnce_scale8(__m256d scale, __m256 w, __m256 d) {
    __m256d lo = _mm256_mul_pd(_mm256_mul_pd(scale, _mm256_cvtps_pd(_mm256_castps256_ps128(w))),
                               _mm256_cvtps_pd(_mm256_castps256_ps128(d)));
    __m256d hi = _mm256_mul_pd(_mm256_mul_pd(scale, _mm256_cvtps_pd(_mm256_extractf128_ps(w, 1))),
                               _mm256_cvtps_pd(_mm256_extractf128_ps(d, 1)));
    return _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo));
}

/*
 * Writes the results of elements k..k+7 from their terms before weight and scale: the losses
 * w * loss (stored for NONE, else added to *sum in double), the gradients scale * w * d.
 */
JNCE_TARGET_AVX2 static inline void jnce_binary_put8(const jnce_binary_job *j, int64_t k, __m256 w, __m256 loss,
                                                     __m256 dx, __m256 dy, __m256d *sum) {
    loss = _mm256_mul_ps(w, loss);
    if (j->reduction == JNCE_REDUCTION_NONE) {
        _mm256_storeu_ps(j->loss + k, loss);
    } else {
        *sum = _mm256_add_pd(*sum, _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(loss)),
                                                 _mm256_cvtps_pd(_mm256_extractf128_ps(loss, 1))));
    }
    __m256d scale = _mm256_set1_pd(j->scale);
    if (j->grad_input != NULL) _mm256_storeu_ps(j->grad_input + k, jnce_scale8(scale, w, dx));
    if (j->grad_target != NULL) _mm256_storeu_ps(j->grad_target + k, jnce_scale8(scale, w, dy));
}

/* The block's total: the vector sum's lanes and the scalar tail [k, to). */
JNCE_TARGET_AVX2 static inline double jnce_binary_finish(const jnce_binary_job *j, __m256d sum, int64_t k, int64_t to) {
    double lanes[4];
    _mm256_storeu_pd(lanes, sum);
    return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + jnce_binary_scalar_block(j, k, to);
}

/* sigmoid(x) without overflow for any x. */
static inline double jnce_sigmoid(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/*
 * BCE with logits as PyTorch 1.13 evaluates it: (1-y)x + lw*softplus(-x), lw = 1 + (pw-1)y,
 * softplus(-x) = mv + log(exp(-mv) + exp(-x-mv)), mv = max(-x, 0).
 *   d/dx = lw*sigmoid(x) - pw*y       d/dy = -x + (pw-1)*softplus(-x)
 */
static inline jnce_binary_terms jnce_bce_logits_terms(double x, double y, double pw) {
    /* One exp and one log1p: e = exp(-|x|) gives both log(1 + exp(-x)) and the sigmoid. */
    double e = exp(-fabs(x));
    double softplus_neg = (x < 0 ? -x : 0.0) + log1p(e); /* log(1 + exp(-x)) */
    double sigmoid = x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    double lw = 1.0 + (pw - 1.0) * y;
    jnce_binary_terms t = {(1.0 - y) * x + lw * softplus_neg, lw * sigmoid - pw * y,
                           pw == 1.0 ? -x : -x + (pw - 1.0) * softplus_neg};
    return t;
}

/*
 * BCE with logits on 8 float lanes (binary_cross_entropy.c, focal.c): jnce_bce_logits_terms'
 * values, arranged so that no step cancels. With a = |x|, e = exp(-a), L = log(1 + e):
 *   loss = (x >= 0 ? (1-y) x : pw y a) + lw L            (softplus(-x) = max(-x, 0) + L)
 *   d/dx = lw sigmoid(x) - pw y,   sigmoid(x) = 1/(1+e) for x >= 0, e/(1+e) otherwise
 *   d/dy = (x >= 0 ? -x : pw a) + (pw-1) L
 * Every term of the loss is >= 0 for y in [0,1] and pw >= 0, so it keeps its digits where the
 * textbook form (1-y)x + lw softplus(-x) subtracts two large values. A NaN x gives NaN throughout.
 * e and the two sigmoids p = sigmoid(x), q = sigmoid(-x) are returned for the focal loss.
 */
typedef struct {
    __m256 loss, dx, dy, L, p, q;
} jnce_bce8;

JNCE_TARGET_AVX2 static inline jnce_bce8 jnce_bce_logits8(__m256 x, __m256 y, __m256 pw) {
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    __m256 a = _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)));
    __m256 e = exp_nonpos_avx2(_mm256_sub_ps(zero, a));
    __m256 r = _mm256_div_ps(one, _mm256_add_ps(one, e)), L = log1p_unit_avx2(e, r), er = _mm256_mul_ps(e, r);
    __m256 nonneg = _mm256_cmp_ps(x, zero, _CMP_GE_OQ), nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
    __m256 p = _mm256_blendv_ps(er, r, nonneg), q = _mm256_blendv_ps(r, er, nonneg);
    __m256 pw1 = _mm256_sub_ps(pw, one), lw = _mm256_fmadd_ps(pw1, y, one), pwy = _mm256_mul_ps(pw, y);
    __m256 linear = _mm256_blendv_ps(_mm256_mul_ps(pwy, a), _mm256_mul_ps(_mm256_sub_ps(one, y), x), nonneg);
    jnce_bce8 out;
    out.loss = _mm256_or_ps(_mm256_fmadd_ps(lw, L, linear), nan);
    out.dx = _mm256_or_ps(_mm256_fmsub_ps(lw, p, pwy), nan);
    out.dy = _mm256_or_ps(_mm256_fmadd_ps(pw1, L, _mm256_blendv_ps(_mm256_mul_ps(pw, a), _mm256_sub_ps(zero, x), nonneg)), nan);
    out.L = L;
    out.p = p;
    out.q = q;
    return out;
}

#ifdef JNCE_HAVE_AVX512
/* ---- the vector block helpers and jnce_bce_logits8 on 16 lanes (AVX-512F) ------------------------ */

static inline void jnce_periodic16(const float *v, int64_t len, int64_t *at, float *out) {
    jnce_periodic8(v, len, at, out);
    jnce_periodic8(v, len, at, out + 8);
}

JNCE_TARGET_AVX512 static inline __m512 jnce_binary_weight16(const jnce_binary_job *j, int64_t *at) {
    if (j->weight == NULL) return _mm512_set1_ps(1.0f);
    float buf[16];
    jnce_periodic16(j->weight, j->weight_len, at, buf);
    return _mm512_loadu_ps(buf);
}

/* The low and high 8 lanes of v as doubles. */
JNCE_TARGET_AVX512 __attribute__((always_inline)) static inline __m512d jnce_lo_pd(__m512 v) {
    return _mm512_cvtps_pd(_mm512_castps512_ps256(v));
}
JNCE_TARGET_AVX512 __attribute__((always_inline)) static inline __m512d jnce_hi_pd(__m512 v) {
    return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}

/* jnce_scale8 on 16 lanes: scale * w * d in double, rounded once. */
JNCE_TARGET_AVX512 static inline __m512 jnce_scale16(__m512d scale, __m512 w, __m512 d) {
    __m256 lo = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_mul_pd(scale, jnce_lo_pd(w)), jnce_lo_pd(d)));
    __m256 hi = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_mul_pd(scale, jnce_hi_pd(w)), jnce_hi_pd(d)));
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)), _mm256_castps_pd(hi), 1));
}

/* jnce_binary_put8 on 16 lanes; the losses add into 8 double lanes. */
JNCE_TARGET_AVX512 static inline void jnce_binary_put16(const jnce_binary_job *j, int64_t k, __m512 w, __m512 loss,
                                                        __m512 dx, __m512 dy, __m512d *sum) {
    loss = _mm512_mul_ps(w, loss);
    if (j->reduction == JNCE_REDUCTION_NONE) _mm512_storeu_ps(j->loss + k, loss);
    else *sum = _mm512_add_pd(*sum, _mm512_add_pd(jnce_lo_pd(loss), jnce_hi_pd(loss)));
    if (j->weight == NULL && (double)(float)j->scale == j->scale) {
        /* scale * 1 * d rounded once is the float product when scale is a float (SUM, NONE, MEAN
         * over 2^k elements): the same bits without the double lanes */
        const __m512 fs = _mm512_set1_ps((float)j->scale);
        if (j->grad_input != NULL) _mm512_storeu_ps(j->grad_input + k, _mm512_mul_ps(fs, dx));
        if (j->grad_target != NULL) _mm512_storeu_ps(j->grad_target + k, _mm512_mul_ps(fs, dy));
        return;
    }
    const __m512d scale = _mm512_set1_pd(j->scale);
    if (j->grad_input != NULL) _mm512_storeu_ps(j->grad_input + k, jnce_scale16(scale, w, dx));
    if (j->grad_target != NULL) _mm512_storeu_ps(j->grad_target + k, jnce_scale16(scale, w, dy));
}

typedef struct {
    __m512 loss, dx, dy, L, p, q;
} jnce_bce16;

/* jnce_bce_logits8 on 16 lanes: the same operations, the same bits. */
JNCE_TARGET_AVX512 static inline jnce_bce16 jnce_bce_logits16(__m512 x, __m512 y, __m512 pw) {
    const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps(), ones = all_ones_avx512();
    __m512 a = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7fffffff)));
    __m512 e = exp_nonpos_avx512(_mm512_sub_ps(zero, a));
    __m512 r = _mm512_div_ps(one, _mm512_add_ps(one, e)), L = log1p_unit_avx512(e, r), er = _mm512_mul_ps(e, r);
    __mmask16 nonneg = _mm512_cmp_ps_mask(x, zero, _CMP_GE_OQ), nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    __m512 p = _mm512_mask_blend_ps(nonneg, er, r), q = _mm512_mask_blend_ps(nonneg, r, er);
    __m512 pw1 = _mm512_sub_ps(pw, one), lw = _mm512_fmadd_ps(pw1, y, one), pwy = _mm512_mul_ps(pw, y);
    __m512 linear = _mm512_mask_blend_ps(nonneg, _mm512_mul_ps(pwy, a), _mm512_mul_ps(_mm512_sub_ps(one, y), x));
    jnce_bce16 out;
    out.loss = _mm512_mask_mov_ps(_mm512_fmadd_ps(lw, L, linear), nan, ones);
    out.dx = _mm512_mask_mov_ps(_mm512_fmsub_ps(lw, p, pwy), nan, ones);
    out.dy = _mm512_mask_mov_ps(
        _mm512_fmadd_ps(pw1, L, _mm512_mask_blend_ps(nonneg, _mm512_mul_ps(pw, a), _mm512_sub_ps(zero, x))), nan, ones);
    out.L = L;
    out.p = p;
    out.q = q;
    return out;
}
#endif

/* ---- BCE with logits on AVX2 for siglip.c: 4 elements on double lanes ---- */

/*
 * log1p(e) for e in [0, 1]: 2 atanh(t), t = e / (2 + e) in [0, 1/3], odd series to t^17
 * (truncation below 1e-9 relative, under the float exp's error in e).
 */
JNCE_TARGET_AVX2 static inline __m256d log1p_unit_pd(__m256d e) {
    __m256d t = _mm256_div_pd(e, _mm256_add_pd(e, _mm256_set1_pd(2.0)));
    __m256d t2 = _mm256_mul_pd(t, t);
    __m256d p = _mm256_set1_pd(1.0 / 17);
    for (int k = 15; k >= 1; k -= 2) p = _mm256_fmadd_pd(p, t2, _mm256_set1_pd(1.0 / k));
    return _mm256_mul_pd(_mm256_add_pd(t, t), p);
}

/* Loss and gradients of 4 elements, jnce_bce_logits_terms' formulas in double, e = exp(-|x|). */
typedef struct {
    __m256d loss_sum; /* the losses before rounding, for the reduced sum */
    __m128 loss, dx, dy;
} bce4;

JNCE_TARGET_AVX2 static inline bce4 bce_logits4(__m128 xf, __m128 yf, __m128 ef, __m128 pwf, __m128 wf,
                                                                  double scale) {
    const __m256d one = _mm256_set1_pd(1.0), zero = _mm256_setzero_pd();
    __m256d x = _mm256_cvtps_pd(xf), y = _mm256_cvtps_pd(yf), e = _mm256_cvtps_pd(ef);
    __m256d pw = _mm256_cvtps_pd(pwf), w = _mm256_cvtps_pd(wf);
    __m256d softplus_neg = _mm256_add_pd(_mm256_max_pd(_mm256_sub_pd(zero, x), zero), log1p_unit_pd(e));
    __m256d r = _mm256_div_pd(one, _mm256_add_pd(one, e));
    __m256d sigmoid = _mm256_blendv_pd(_mm256_mul_pd(e, r), r, _mm256_cmp_pd(x, zero, _CMP_GE_OQ));
    __m256d pw1 = _mm256_sub_pd(pw, one), lw = _mm256_fmadd_pd(pw1, y, one);
    __m256d ws = _mm256_mul_pd(w, _mm256_set1_pd(scale));
    __m256d loss = _mm256_mul_pd(w, _mm256_fmadd_pd(lw, softplus_neg, _mm256_mul_pd(_mm256_sub_pd(one, y), x)));
    __m256d dx = _mm256_mul_pd(ws, _mm256_fmsub_pd(lw, sigmoid, _mm256_mul_pd(pw, y)));
    __m256d dy = _mm256_mul_pd(ws, _mm256_fmsub_pd(pw1, softplus_neg, x));
    /* a NaN x gives a NaN gradient, as the scalar path does (the blend and max would hide it) */
    dx = _mm256_or_pd(dx, _mm256_cmp_pd(x, x, _CMP_UNORD_Q));
    bce4 out = {loss, _mm256_cvtpd_ps(loss), _mm256_cvtpd_ps(dx), _mm256_cvtpd_ps(dy)};
    return out;
}

#endif
