/*
 * simd_exp.h - exp(x) for x <= 0 on 8 float lanes (AVX2+FMA), and on 16 (AVX-512F, for
 * attention.c's tiles where jnce_use_avx512 says the CPU has them), for softmax kernels.
 *
 * Cephes-style: x = n*ln2 + r with |r| <= ln2/2, e^r by a degree-6 polynomial, 2^n built in
 * the exponent bits. Max error about 2 ulp on [-87, 0]. Arguments below -87 (including -inf)
 * give exactly 0, which is below float's normal range relative to the row maximum anyway.
 * NaN arguments must be screened by the caller (rows with NaN are reported as NaN).
 * Include only from functions compiled with JNCE_TARGET_AVX2.
 */
#ifndef JNCE_SIMD_EXP_H
#define JNCE_SIMD_EXP_H

#include "x86_simd.h"

/* The scheme's constants, shared by the 8- and 16-lane forms: log2(e), ln 2 in two parts, and
 * the polynomial's coefficients from the highest degree down. */
#define JNCE_EXP_LOG2E 1.44269504088896341f
#define JNCE_EXP_LN2_HI 0.693359375f
#define JNCE_EXP_LN2_LO (-2.12194440e-4f)
#define JNCE_EXP_P5 1.9875691500e-4f
#define JNCE_EXP_P4 1.3981999507e-3f
#define JNCE_EXP_P3 8.3334519073e-3f
#define JNCE_EXP_P2 4.1665795894e-2f
#define JNCE_EXP_P1 1.6666665459e-1f
#define JNCE_EXP_P0 5.0000001201e-1f

/* exp(x) for x in [-87, 0] only: no clamp, no mask (the caller knows the range). */
JNCE_TARGET_AVX2 __attribute__((always_inline)) static inline __m256 exp_in_range_avx2(__m256 x) {
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(JNCE_EXP_LOG2E)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(JNCE_EXP_LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(JNCE_EXP_LN2_LO), r);
    __m256 p = _mm256_set1_ps(JNCE_EXP_P5);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(JNCE_EXP_P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(JNCE_EXP_P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(JNCE_EXP_P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(JNCE_EXP_P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(JNCE_EXP_P0));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

JNCE_TARGET_AVX2 __attribute__((always_inline)) static inline __m256 exp_nonpos_avx2(__m256 x) {
    const __m256 lower = _mm256_set1_ps(-87.0f);
    __m256 in_range = _mm256_cmp_ps(x, lower, _CMP_GE_OQ);
    return _mm256_and_ps(exp_in_range_avx2(_mm256_max_ps(x, lower)), in_range);
}

#if defined(__x86_64__)
#define JNCE_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))
#define JNCE_HAVE_AVX512 1

/* exp(x) for x in [-87, 0] on 16 lanes, the same polynomial; 2^n by scalef. */
JNCE_TARGET_AVX512 __attribute__((always_inline)) static inline __m512 exp_in_range_avx512(__m512 x) {
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(JNCE_EXP_LOG2E)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(JNCE_EXP_LN2_HI), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(JNCE_EXP_LN2_LO), r);
    __m512 p = _mm512_set1_ps(JNCE_EXP_P5);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(JNCE_EXP_P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(JNCE_EXP_P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(JNCE_EXP_P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(JNCE_EXP_P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(JNCE_EXP_P0));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

/* The 16 float lanes of v summed in double. */
JNCE_TARGET_AVX512 __attribute__((always_inline)) static inline double hsum512_ps_pd(__m512 v) {
    __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    return _mm512_reduce_add_pd(_mm512_add_pd(lo, hi));
}

/* exp(x) for x <= 0 on 16 lanes: below -87 (and -inf) 0. */
JNCE_TARGET_AVX512 __attribute__((always_inline)) static inline __m512 exp_nonpos_avx512(__m512 x) {
    __mmask16 in_range = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.0f), _CMP_GE_OQ);
    return _mm512_maskz_mov_ps(in_range, exp_in_range_avx512(_mm512_max_ps(x, _mm512_set1_ps(-87.0f))));
}
#endif

#endif
