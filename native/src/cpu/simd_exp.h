/*
 * simd_exp.h - exp(x) for x <= 0 on 8 float lanes (AVX2+FMA), for softmax kernels.
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

/* exp(x) for x in [-87, 0] only: no clamp, no mask (the caller knows the range). */
JNCE_TARGET_AVX2 __attribute__((always_inline)) static inline __m256 exp_in_range_avx2(__m256 x) {
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

JNCE_TARGET_AVX2 __attribute__((always_inline)) static inline __m256 exp_nonpos_avx2(__m256 x) {
    const __m256 lower = _mm256_set1_ps(-87.0f);
    __m256 in_range = _mm256_cmp_ps(x, lower, _CMP_GE_OQ);
    return _mm256_and_ps(exp_in_range_avx2(_mm256_max_ps(x, lower)), in_range);
}

#endif
