/*
 * binary_cross_entropy.h - internal: the element-wise driver of binary_cross_entropy.c and the
 * per-element BCE-with-logits terms (and their AVX2 form), shared with focal.c (sigmoid focal
 * loss) and siglip.c (pairwise sigmoid loss). Not part of the API (jnce.h is).
 */
#ifndef JNCE_BINARY_CROSS_ENTROPY_H
#define JNCE_BINARY_CROSS_ENTROPY_H

#include <math.h>
#include <stdint.h>

#include "simd_exp.h"

/* One element's loss and its derivatives w.r.t. input and target, before weight and scale. */
typedef struct {
    double loss, d_input, d_target;
} jnce_binary_terms;

/* Terms of element k (input x, target y); params is the op's own constant data. */
typedef jnce_binary_terms (*jnce_binary_fn)(const void *params, int64_t k, double x, double y);

/*
 * Runs fn over numel elements (see the buffer rules in jnce.h): loss_k = weight_k * terms.loss,
 * grads = scale * weight_k * terms.d_*, scale = 1/numel for the mean. Sums are taken per block
 * of JNCE_BINARY_BLOCK elements in double, then over blocks in order, so the result does not
 * depend on the thread count. Validates the shared arguments; op names the caller in messages.
 */
#define JNCE_BINARY_BLOCK 4096
int32_t jnce_binary_run(const char *op, const float *input, const float *target, int64_t numel,
                        const float *weight, int64_t weight_len, jnce_binary_fn fn, const void *params,
                        int32_t reduction, float *loss, float *grad_input, float *grad_target);

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

/* ---- BCE with logits on AVX2 (binary_cross_entropy.c, siglip.c): 4 elements on double lanes ---- */

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
