/*
 * simd_log.h - log, log(1 + e) and log(1 - p) on 8 float lanes (AVX2+FMA), and exp for any
 * argument, for the element-wise losses (binary cross-entropy, focal, KL divergence, entropy).
 *
 * log: Cephes' logf scheme. x = m 2^e with m in [sqrt(1/2), sqrt(2)), log(1 + (m-1)) by a
 * degree-9 polynomial, e ln 2 added in two parts (ln 2 = 0.693359375 - 2.12194440e-4, the first
 * exact in float). About 1 ulp on the normal range; subnormals are scaled by 2^23 first. Special
 * values as C's log: log(0) = -Inf, log(+Inf) = +Inf, negative or NaN arguments give NaN.
 * log1p_unit and log1m keep digits where the argument of log is close to 1, by the correction
 * log(1 + u) = log(v) + (u - (v - 1)) / v with v = 1 + u rounded (v - 1 is exact for v in [1/2, 2]);
 * log1p_unit multiplies by the caller's 1 / v instead of dividing, and takes log_1to2 (v is in
 * [1, 2]: none of log's special cases can arise; NaN lanes are the caller's to mask).
 * log_pd and exp_pd do the same on 4 double lanes, close to double precision, for the ops whose
 * results must round like the double reference's (a difference of logs, a gradient that cancels).
 * log, log1p_unit and log1m also come on 16 lanes where AVX-512 is compiled in (JNCE_HAVE_AVX512).
 * Include only from functions compiled with JNCE_TARGET_AVX2 (JNCE_TARGET_AVX512 for the 16 lanes).
 */
#ifndef JNCE_SIMD_LOG_H
#define JNCE_SIMD_LOG_H

#include "simd_exp.h"

/* The part of log_avx2 after the exponent is taken: bits of x = m 2^(e - 1), m in [1/2, 1), x normal. */
JNCE_TARGET_AVX2 __attribute__((always_inline)) static inline __m256 log_reduced_avx2(__m256i bits, __m256 e) {
    const __m256 one = _mm256_set1_ps(1.0f);
    /* m in [1/2, 1); below sqrt(1/2) take 2m - 1 and e - 1, else m - 1: the reduced argument is in
     * [sqrt(1/2) - 1, sqrt(2) - 1) */
    __m256 m = _mm256_or_ps(_mm256_and_ps(_mm256_castsi256_ps(bits), _mm256_castsi256_ps(_mm256_set1_epi32(0x007fffff))),
                            _mm256_set1_ps(0.5f));
    __m256 low = _mm256_cmp_ps(m, _mm256_set1_ps(0.707106781186547524f), _CMP_LT_OQ);
    e = _mm256_sub_ps(e, _mm256_and_ps(low, one));
    m = _mm256_add_ps(_mm256_sub_ps(m, one), _mm256_and_ps(low, m));
    __m256 z = _mm256_mul_ps(m, m);
    __m256 p = _mm256_set1_ps(7.0376836292e-2f);
    p = _mm256_fmadd_ps(p, m, _mm256_set1_ps(-1.1514610310e-1f));
    p = _mm256_fmadd_ps(p, m, _mm256_set1_ps(1.1676998740e-1f));
    p = _mm256_fmadd_ps(p, m, _mm256_set1_ps(-1.2420140846e-1f));
    p = _mm256_fmadd_ps(p, m, _mm256_set1_ps(1.4249322787e-1f));
    p = _mm256_fmadd_ps(p, m, _mm256_set1_ps(-1.6668057665e-1f));
    p = _mm256_fmadd_ps(p, m, _mm256_set1_ps(2.0000714765e-1f));
    p = _mm256_fmadd_ps(p, m, _mm256_set1_ps(-2.4999993993e-1f));
    p = _mm256_fmadd_ps(p, m, _mm256_set1_ps(3.3333331174e-1f));
    __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, m), z);
    y = _mm256_fmadd_ps(e, _mm256_set1_ps(-2.12194440e-4f), y);
    y = _mm256_fnmadd_ps(_mm256_set1_ps(0.5f), z, y);
    return _mm256_fmadd_ps(e, _mm256_set1_ps(0.693359375f), _mm256_add_ps(m, y));
}

JNCE_TARGET_AVX2 __attribute__((always_inline)) static inline __m256 log_avx2(__m256 x) {
    __m256 subnormal = _mm256_cmp_ps(x, _mm256_set1_ps(1.17549435e-38f), _CMP_LT_OQ);
    __m256 xs = _mm256_blendv_ps(x, _mm256_mul_ps(x, _mm256_set1_ps(8388608.0f)), subnormal);
    __m256i bits = _mm256_castps_si256(xs);
    __m256 e = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(126)));
    e = _mm256_sub_ps(e, _mm256_and_ps(subnormal, _mm256_set1_ps(23.0f)));
    __m256 r = log_reduced_avx2(bits, e);
    /* special values: 0 -> -Inf, +Inf -> +Inf, negative -> NaN, NaN stays NaN */
    const __m256 zero = _mm256_setzero_ps(), inf = _mm256_set1_ps(INFINITY);
    r = _mm256_blendv_ps(r, _mm256_sub_ps(zero, inf), _mm256_cmp_ps(x, zero, _CMP_EQ_OQ));
    r = _mm256_blendv_ps(r, inf, _mm256_cmp_ps(x, inf, _CMP_EQ_OQ));
    return _mm256_or_ps(r, _mm256_cmp_ps(x, zero, _CMP_NGE_UQ)); /* x < 0 or NaN: all bits set, a NaN */
}

/* log_avx2 for x in [1, 2] (no subnormal, zero, infinite or negative lanes to fix): the same bits there. */
JNCE_TARGET_AVX2 __attribute__((always_inline)) static inline __m256 log_1to2_avx2(__m256 x) {
    __m256i bits = _mm256_castps_si256(x);
    return log_reduced_avx2(bits, _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(126))));
}

/*
 * log(1 + e) for e in [0, 1] (softplus's log1p(exp(-|x|))), given r = 1 / (1 + e) rounded, which
 * the sigmoid needs anyway: the correction (e - (v - 1)) / v is taken as (e - (v - 1)) r, added
 * to log(v) in one fused step. The correction is below half an ulp of v, so r's rounding moves it
 * by under 2^-47 (v is in [1, 2]); the result may differ from the division form's in its last
 * bit (the fused add rounds once), and costs one division fewer an element.
 */
JNCE_TARGET_AVX2 __attribute__((always_inline)) static inline __m256 log1p_unit_avx2(__m256 e, __m256 r) {
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 v = _mm256_add_ps(one, e);
    return _mm256_fmadd_ps(_mm256_sub_ps(e, _mm256_sub_ps(v, one)), r, log_1to2_avx2(v));
}

/* log(1 - p) for p in [0, 1]: -Inf at p = 1, digits kept for small p. */
JNCE_TARGET_AVX2 __attribute__((always_inline)) static inline __m256 log1m_avx2(__m256 p) {
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 v = _mm256_sub_ps(one, p);
    __m256 c = _mm256_sub_ps(_mm256_sub_ps(one, v), p); /* exactly 0 for p >= 1/2 and p = 1 */
    return _mm256_add_ps(log_avx2(v), _mm256_div_ps(c, _mm256_max_ps(v, _mm256_set1_ps(1.17549435e-38f))));
}

/*
 * exp(x) for any x: exp_in_range_avx2 on [-87, 88], exp(x/2)^2 on (88, 88.72], 0 below -87 (the
 * float results there are subnormal, under 1.7e-38), +Inf above 88.72, NaN for NaN.
 */
JNCE_TARGET_AVX2 __attribute__((always_inline)) static inline __m256 exp_avx2(__m256 x) {
    const __m256 top = _mm256_set1_ps(88.0f);
    __m256 r = exp_in_range_avx2(_mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), top));
    __m256 big = _mm256_cmp_ps(x, top, _CMP_GT_OQ);
    if (_mm256_movemask_ps(big) != 0) {
        __m256 h = exp_in_range_avx2(_mm256_mul_ps(_mm256_min_ps(x, _mm256_set1_ps(88.72283935546875f)), _mm256_set1_ps(0.5f)));
        r = _mm256_blendv_ps(r, _mm256_mul_ps(h, h), big);
    }
    r = _mm256_and_ps(r, _mm256_cmp_ps(x, _mm256_set1_ps(-87.0f), _CMP_GE_OQ));
    r = _mm256_blendv_ps(r, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, _mm256_set1_ps(88.72283935546875f), _CMP_GT_OQ));
    return _mm256_or_ps(r, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

#ifdef JNCE_HAVE_AVX512
/* ---- the same on 16 lanes (AVX-512F): the same operations in the same order, so the same bits ---- */

/* All bits set: the NaN the 8-lane forms make by or-ing a comparison mask. */
JNCE_TARGET_AVX512 __attribute__((always_inline)) static inline __m512 all_ones_avx512(void) {
    return _mm512_castsi512_ps(_mm512_set1_epi32(-1));
}

/* log_reduced_avx2 on 16 lanes. */
JNCE_TARGET_AVX512 __attribute__((always_inline)) static inline __m512 log_reduced_avx512(__m512i bits, __m512 e) {
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 m = _mm512_castsi512_ps(_mm512_or_si512(_mm512_and_si512(bits, _mm512_set1_epi32(0x007fffff)),
                                                   _mm512_castps_si512(_mm512_set1_ps(0.5f))));
    __mmask16 low = _mm512_cmp_ps_mask(m, _mm512_set1_ps(0.707106781186547524f), _CMP_LT_OQ);
    e = _mm512_mask_sub_ps(e, low, e, one);
    __m512 t = _mm512_sub_ps(m, one);
    m = _mm512_mask_add_ps(t, low, t, m);
    __m512 z = _mm512_mul_ps(m, m);
    __m512 p = _mm512_set1_ps(7.0376836292e-2f);
    p = _mm512_fmadd_ps(p, m, _mm512_set1_ps(-1.1514610310e-1f));
    p = _mm512_fmadd_ps(p, m, _mm512_set1_ps(1.1676998740e-1f));
    p = _mm512_fmadd_ps(p, m, _mm512_set1_ps(-1.2420140846e-1f));
    p = _mm512_fmadd_ps(p, m, _mm512_set1_ps(1.4249322787e-1f));
    p = _mm512_fmadd_ps(p, m, _mm512_set1_ps(-1.6668057665e-1f));
    p = _mm512_fmadd_ps(p, m, _mm512_set1_ps(2.0000714765e-1f));
    p = _mm512_fmadd_ps(p, m, _mm512_set1_ps(-2.4999993993e-1f));
    p = _mm512_fmadd_ps(p, m, _mm512_set1_ps(3.3333331174e-1f));
    __m512 y = _mm512_mul_ps(_mm512_mul_ps(p, m), z);
    y = _mm512_fmadd_ps(e, _mm512_set1_ps(-2.12194440e-4f), y);
    y = _mm512_fnmadd_ps(_mm512_set1_ps(0.5f), z, y);
    return _mm512_fmadd_ps(e, _mm512_set1_ps(0.693359375f), _mm512_add_ps(m, y));
}

JNCE_TARGET_AVX512 __attribute__((always_inline)) static inline __m512 log_avx512(__m512 x) {
    __mmask16 subnormal = _mm512_cmp_ps_mask(x, _mm512_set1_ps(1.17549435e-38f), _CMP_LT_OQ);
    __m512 xs = _mm512_mask_mul_ps(x, subnormal, x, _mm512_set1_ps(8388608.0f));
    __m512i bits = _mm512_castps_si512(xs);
    __m512 e = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(bits, 23), _mm512_set1_epi32(126)));
    e = _mm512_mask_sub_ps(e, subnormal, e, _mm512_set1_ps(23.0f));
    __m512 r = log_reduced_avx512(bits, e);
    const __m512 zero = _mm512_setzero_ps(), inf = _mm512_set1_ps(INFINITY);
    r = _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(x, zero, _CMP_EQ_OQ), _mm512_sub_ps(zero, inf));
    r = _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(x, inf, _CMP_EQ_OQ), inf);
    return _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(x, zero, _CMP_NGE_UQ), all_ones_avx512());
}

/* log_1to2_avx2 on 16 lanes. */
JNCE_TARGET_AVX512 __attribute__((always_inline)) static inline __m512 log_1to2_avx512(__m512 x) {
    __m512i bits = _mm512_castps_si512(x);
    return log_reduced_avx512(bits, _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(bits, 23), _mm512_set1_epi32(126))));
}

/* log1p_unit_avx2 on 16 lanes. */
JNCE_TARGET_AVX512 __attribute__((always_inline)) static inline __m512 log1p_unit_avx512(__m512 e, __m512 r) {
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 v = _mm512_add_ps(one, e);
    return _mm512_fmadd_ps(_mm512_sub_ps(e, _mm512_sub_ps(v, one)), r, log_1to2_avx512(v));
}

JNCE_TARGET_AVX512 __attribute__((always_inline)) static inline __m512 log1m_avx512(__m512 p) {
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 v = _mm512_sub_ps(one, p);
    __m512 c = _mm512_sub_ps(_mm512_sub_ps(one, v), p);
    return _mm512_add_ps(log_avx512(v), _mm512_div_ps(c, _mm512_max_ps(v, _mm512_set1_ps(1.17549435e-38f))));
}
#endif

/* ---- double lanes: log and exp to about 1e-12, for results rounded once to float ---------------- */

/* The integer held in the low bits of v (0 <= v < 2^51) as a double: the 2^52 trick, AVX2 having
 * no int64 -> double conversion. */
JNCE_TARGET_AVX2 __attribute__((always_inline)) static inline __m256d small_int_pd(__m256i v) {
    const __m256i magic = _mm256_set1_epi64x(0x4330000000000000LL); /* 2^52 */
    return _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(v, magic)), _mm256_castsi256_pd(magic));
}

/*
 * log(x) on 4 double lanes for x converted from float (every float, subnormals included, is a
 * normal double): x = m 2^e with m in [sqrt(1/2), sqrt(2)), s = (m-1)/(m+1) in [-0.172, 0.172],
 * log m = 2 atanh(s) = 2s (1 + s^2/3 + ... + s^12/13), truncation below 2e-12 relative. log(0) =
 * -Inf, log(+Inf) = +Inf, negative or NaN: NaN.
 */
JNCE_TARGET_AVX2 __attribute__((always_inline)) static inline __m256d log_pd(__m256d x) {
    const __m256d one = _mm256_set1_pd(1.0);
    __m256i bits = _mm256_castpd_si256(x);
    __m256d e = _mm256_sub_pd(small_int_pd(_mm256_srli_epi64(bits, 52)), _mm256_set1_pd(1022.0));
    __m256d m = _mm256_castsi256_pd(_mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi64x(0x000fffffffffffffLL)),
                                                    _mm256_set1_epi64x(0x3fe0000000000000LL))); /* [1/2, 1) */
    __m256d low = _mm256_cmp_pd(m, _mm256_set1_pd(0.70710678118654752440), _CMP_LT_OQ);
    e = _mm256_sub_pd(e, _mm256_and_pd(low, one));
    m = _mm256_add_pd(m, _mm256_and_pd(low, m));
    __m256d s = _mm256_div_pd(_mm256_sub_pd(m, one), _mm256_add_pd(m, one)), s2 = _mm256_mul_pd(s, s);
    __m256d p = _mm256_set1_pd(1.0 / 13);
    for (int k = 11; k >= 1; k -= 2) p = _mm256_fmadd_pd(p, s2, _mm256_set1_pd(1.0 / k));
    __m256d r = _mm256_fmadd_pd(e, _mm256_set1_pd(0.69314718055994530942), _mm256_mul_pd(_mm256_add_pd(s, s), p));
    const __m256d zero = _mm256_setzero_pd(), inf = _mm256_set1_pd(INFINITY);
    r = _mm256_blendv_pd(r, _mm256_sub_pd(zero, inf), _mm256_cmp_pd(x, zero, _CMP_EQ_OQ));
    r = _mm256_blendv_pd(r, inf, _mm256_cmp_pd(x, inf, _CMP_EQ_OQ));
    return _mm256_or_pd(r, _mm256_cmp_pd(x, zero, _CMP_NGE_UQ));
}

/*
 * exp(x) on 4 double lanes, for results rounded to float: x = n ln2 + r, |r| <= ln2/2, e^r by its
 * Taylor series to r^12 (below 1e-14 relative), 2^n in the exponent bits. x is clamped to
 * [-700, 700] first: the float results there are 0 and +Inf. NaN stays NaN.
 */
JNCE_TARGET_AVX2 __attribute__((always_inline)) static inline __m256d exp_pd(__m256d x) {
    __m256d c = _mm256_min_pd(_mm256_max_pd(x, _mm256_set1_pd(-700.0)), _mm256_set1_pd(700.0));
    __m256d n = _mm256_round_pd(_mm256_mul_pd(c, _mm256_set1_pd(1.4426950408889634074)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256d r = _mm256_fnmadd_pd(n, _mm256_set1_pd(6.93147180369123816490e-01), c); /* ln2 in two parts */
    r = _mm256_fnmadd_pd(n, _mm256_set1_pd(1.90821492927058770002e-10), r);
    double f = 1.0;
    for (int k = 2; k <= 12; k++) f *= k;
    __m256d p = _mm256_set1_pd(1.0 / f);
    for (int k = 11; k >= 0; k--) {
        f /= (k + 1);
        p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / f));
    }
    __m256i ni = _mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(n));
    __m256d scale = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(ni, _mm256_set1_epi64x(1023)), 52));
    return _mm256_or_pd(_mm256_mul_pd(p, scale), _mm256_cmp_pd(x, x, _CMP_UNORD_Q));
}

#ifdef JNCE_HAVE_AVX512
/* ---- log_pd and exp_pd on 8 double lanes (AVX-512F): the same operations, the same values ---- */

JNCE_TARGET_AVX512 __attribute__((always_inline)) static inline __m512d small_int_pd8(__m512i v) {
    const __m512i magic = _mm512_set1_epi64(0x4330000000000000LL); /* 2^52 */
    return _mm512_sub_pd(_mm512_castsi512_pd(_mm512_or_si512(v, magic)), _mm512_castsi512_pd(magic));
}

JNCE_TARGET_AVX512 __attribute__((always_inline)) static inline __m512d log_pd8(__m512d x) {
    const __m512d one = _mm512_set1_pd(1.0);
    __m512i bits = _mm512_castpd_si512(x);
    __m512d e = _mm512_sub_pd(small_int_pd8(_mm512_srli_epi64(bits, 52)), _mm512_set1_pd(1022.0));
    __m512d m = _mm512_castsi512_pd(_mm512_or_si512(_mm512_and_si512(bits, _mm512_set1_epi64(0x000fffffffffffffLL)),
                                                    _mm512_set1_epi64(0x3fe0000000000000LL))); /* [1/2, 1) */
    __mmask8 low = _mm512_cmp_pd_mask(m, _mm512_set1_pd(0.70710678118654752440), _CMP_LT_OQ);
    e = _mm512_mask_sub_pd(e, low, e, one);
    m = _mm512_mask_add_pd(m, low, m, m);
    __m512d s = _mm512_div_pd(_mm512_sub_pd(m, one), _mm512_add_pd(m, one)), s2 = _mm512_mul_pd(s, s);
    __m512d p = _mm512_set1_pd(1.0 / 13);
    for (int k = 11; k >= 1; k -= 2) p = _mm512_fmadd_pd(p, s2, _mm512_set1_pd(1.0 / k));
    __m512d r = _mm512_fmadd_pd(e, _mm512_set1_pd(0.69314718055994530942), _mm512_mul_pd(_mm512_add_pd(s, s), p));
    const __m512d zero = _mm512_setzero_pd(), inf = _mm512_set1_pd(INFINITY);
    r = _mm512_mask_mov_pd(r, _mm512_cmp_pd_mask(x, zero, _CMP_EQ_OQ), _mm512_sub_pd(zero, inf));
    r = _mm512_mask_mov_pd(r, _mm512_cmp_pd_mask(x, inf, _CMP_EQ_OQ), inf);
    return _mm512_mask_mov_pd(r, _mm512_cmp_pd_mask(x, zero, _CMP_NGE_UQ), _mm512_castsi512_pd(_mm512_set1_epi64(-1)));
}

JNCE_TARGET_AVX512 __attribute__((always_inline)) static inline __m512d exp_pd8(__m512d x) {
    __m512d c = _mm512_min_pd(_mm512_max_pd(x, _mm512_set1_pd(-700.0)), _mm512_set1_pd(700.0));
    __m512d n = _mm512_roundscale_pd(_mm512_mul_pd(c, _mm512_set1_pd(1.4426950408889634074)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512d r = _mm512_fnmadd_pd(n, _mm512_set1_pd(6.93147180369123816490e-01), c);
    r = _mm512_fnmadd_pd(n, _mm512_set1_pd(1.90821492927058770002e-10), r);
    double f = 1.0;
    for (int k = 2; k <= 12; k++) f *= k;
    __m512d p = _mm512_set1_pd(1.0 / f);
    for (int k = 11; k >= 0; k--) {
        f /= (k + 1);
        p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / f));
    }
    __m512i ni = _mm512_cvtepi32_epi64(_mm512_cvtpd_epi32(n));
    __m512d scale = _mm512_castsi512_pd(_mm512_slli_epi64(_mm512_add_epi64(ni, _mm512_set1_epi64(1023)), 52));
    return _mm512_mask_mov_pd(_mm512_mul_pd(p, scale), _mm512_cmp_pd_mask(x, x, _CMP_UNORD_Q),
                              _mm512_castsi512_pd(_mm512_set1_epi64(-1)));
}
#endif

#endif
