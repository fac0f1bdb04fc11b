/*
 * softmax_tiles.h - pieces shared by the kernels that take the softmax of a logit matrix along
 * both its rows and its columns (symmetric_xent.c: the lower triangle of a symmetric matrix;
 * clip_xent.c: the rows and the columns of CLIP's square matrix).
 *
 *   column statistics  running (max, sum of exp(x - max)) per column over a chunk of rows,
 *                      merged chunk by chunk; sums in double
 *   tile gradient      H = exp(T - m_row) k_row + exp(T - m_col) k_col over a TILE x TILE tile,
 *                      with one exp per entry where the tile's maxima lie close together
 *   write_row          a tile row into G, by streaming stores where whole and aligned
 * Include from one C file each (every function is static inline).
 */
#ifndef JNCE_SOFTMAX_TILES_H
#define JNCE_SOFTMAX_TILES_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"
#include "simd_exp.h"

#define TILE 64

/*
 * Where a sweep along a row of n floats, at x[k], asks for memory ahead: ahead floats on, and
 * past the row's end as far into next, the row it sweeps after. Rows a few KiB long, a row
 * stride apart, defeat the hardware prefetchers: each row starts a new stream whose first
 * lines wait for memory (the symmetric pass 2 by rows at N = 8192, rows of 4-28 KiB, on one
 * thread: 8.6 ns a 16-float vector, 4.4 with ROW_AHEAD; the same rows packed end to end: 3.5-4.4).
 */
#define ROW_AHEAD 1024
static inline const char *row_ahead(const float *x, int64_t k, int64_t n, const float *next, int64_t ahead) {
    return k + ahead < n ? jnce_ahead(x, k + ahead) : jnce_ahead(next, k + ahead - n); /* past the last row: beyond the matrix */
}

/*
 * Copies the rows x cols block of S (row stride ld) at (i0, j0) into T (TILE x TILE); with
 * lower, only entries on or below the block's diagonal (a diagonal tile of a lower triangle).
 * The rest of T's first rows rows becomes -inf (exp gives 0 there); its rows from rows on are
 * left as they are: nothing reads them (tile_gradient computes the first rows rows only).
 */
static inline void tile_load(const float *S, int64_t ld, int64_t i0, int64_t j0, int64_t rows, int64_t cols, int lower,
                             float *T) {
    for (int64_t r = 0; r < rows; r++) {
        float *t = T + r * TILE;
        int64_t n = lower ? (r + 1 < cols ? r + 1 : cols) : cols;
        if (n == TILE) memcpy(t, S + (i0 + r) * ld + j0, sizeof(float) * TILE); /* vector moves, not rep movs */
        else if (n > 0) memcpy(t, S + (i0 + r) * ld + j0, sizeof(float) * (size_t)n);
        for (int64_t c = n; c < TILE; c++) t[c] = -INFINITY;
    }
}

/* Asks for a block's logits ahead of use: a tile's 64 rows are 64 streams, more than the hardware prefetchers follow. */
static inline void tile_prefetch(const float *S, int64_t ld, int64_t i0, int64_t j0, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c += 16) __builtin_prefetch(S + (i0 + r) * ld + j0 + c, 0, 3);
}

/* Merges the statistics (m, s) of a segment of row r into its running (M[r], sum[r]). */
static inline void merge(float *M, double *sum, int64_t r, float m, double s) {
    if (s == 0.0) return;
    if (m > M[r]) {
        sum[r] = sum[r] * exp((double)M[r] - m) + s;
        M[r] = m;
    } else {
        sum[r] += s * exp((double)m - M[r]);
    }
}

/* Adds x[r][c] for r in [0, rows), less r = skip, to column c's running statistics. */
static inline void column_add_scalar(const float *const *x, int64_t rows, int64_t c, int64_t skip, float *M, double *sum,
                              unsigned char *bad) {
    float m = -INFINITY;
    for (int64_t r = 0; r < rows; r++) {
        float v = x[r][c];
        if (!(v < INFINITY)) bad[c] = 1;
        if (r != skip) m = fmaxf(m, v);
    }
    if (m == -INFINITY || !(m < INFINITY)) return;
    float s = 0.0f;
    for (int64_t r = 0; r < rows; r++)
        if (r != skip) s += expf(x[r][c] - m);
    merge(M, sum, c, m, s);
}

/* Columns [c0, c1) of rows x[0..rows) into the running statistics, 8 at a time, none skipped. */
JNCE_TARGET_AVX2 static inline void column_add_avx2(const float *const *x, int64_t rows, int64_t c0, int64_t c1,
                                                               float *M, double *sum, unsigned char *bad) {
    const __m256 inf = _mm256_set1_ps(INFINITY), ninf = _mm256_set1_ps(-INFINITY);
    int64_t c = c0;
    for (; c + 8 <= c1; c += 8) {
        __m256 vm = ninf, nonfinite = _mm256_setzero_ps();
        for (int64_t r = 0; r < rows; r++) {
            __m256 v = _mm256_loadu_ps(x[r] + c);
            nonfinite = _mm256_or_ps(nonfinite, _mm256_cmp_ps(v, inf, _CMP_NLT_UQ)); /* NaN or +Inf */
            vm = _mm256_max_ps(vm, v);
        }
        if (!_mm256_testz_ps(nonfinite, nonfinite)) /* rare: find which of the 8 columns */
            for (int k = 0; k < 8; k++)
                for (int64_t r = 0; r < rows; r++)
                    if (!(x[r][c + k] < INFINITY)) bad[c + k] = 1;
        __m256 old = _mm256_loadu_ps(M + c);
        __m256 nm = _mm256_max_ps(vm, old);
        /* a column with only -inf so far: subtract 0 instead, so that every exp is exp(-inf) = 0 */
        __m256 shift = _mm256_andnot_ps(_mm256_cmp_ps(nm, ninf, _CMP_EQ_OQ), nm);
        __m256 vs = _mm256_setzero_ps();
        for (int64_t r = 0; r < rows; r++)
            vs = _mm256_add_ps(vs, exp_nonpos_avx2(_mm256_sub_ps(_mm256_loadu_ps(x[r] + c), shift)));
        __m256 scale = exp_nonpos_avx2(_mm256_sub_ps(old, shift));
        __m256d s_lo = _mm256_loadu_pd(sum + c), s_hi = _mm256_loadu_pd(sum + c + 4);
        s_lo = _mm256_fmadd_pd(s_lo, _mm256_cvtps_pd(_mm256_castps256_ps128(scale)), _mm256_cvtps_pd(_mm256_castps256_ps128(vs)));
        s_hi = _mm256_fmadd_pd(s_hi, _mm256_cvtps_pd(_mm256_extractf128_ps(scale, 1)), _mm256_cvtps_pd(_mm256_extractf128_ps(vs, 1)));
        _mm256_storeu_pd(sum + c, s_lo);
        _mm256_storeu_pd(sum + c + 4, s_hi);
        _mm256_storeu_ps(M + c, nm);
    }
    for (; c < c1; c++) column_add_scalar(x, rows, c, -1, M, sum, bad);
}

/* H = exp(T - m_row) coef_row + exp(T - m_col) coef_col over the tile. */
static inline void tile_gradient_scalar(const float *T, int64_t rows, const float *m_r, const float *k_r, const float *m_c,
                                 const float *k_c, float *H) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < TILE; c++) {
            float x = T[r * TILE + c];
            H[r * TILE + c] = expf(x - m_r[r]) * k_r[r] + expf(x - m_c[c]) * k_c[c];
        }
}

JNCE_TARGET_AVX2 static inline void tile_gradient_avx2(const float *T, int64_t rows, const float *m_r, const float *k_r,
                                                                  const float *m_c, const float *k_c, float *H) {
    for (int64_t r = 0; r < rows; r++) {
        const __m256 mr = _mm256_set1_ps(m_r[r]), kr = _mm256_set1_ps(k_r[r]);
        for (int64_t c = 0; c < TILE; c += 8) {
            __m256 x = _mm256_loadu_ps(T + r * TILE + c);
            __m256 e = _mm256_mul_ps(exp_nonpos_avx2(_mm256_sub_ps(x, _mm256_loadu_ps(m_c + c))), _mm256_loadu_ps(k_c + c));
            _mm256_storeu_ps(H + r * TILE + c, _mm256_fmadd_ps(exp_nonpos_avx2(_mm256_sub_ps(x, mr)), kr, e));
        }
    }
}

/*
 * Writes n floats of a tile row into G. Whole 32-byte-aligned rows go by streaming stores: G is
 * 4 N^2 bytes that the gradient GEMM reads from memory anyway, and reading each line in first
 * (for ownership) would double the traffic.
 */
JNCE_TARGET_AVX2 static inline void write_row_avx2(float *dst, const float *src, int64_t n) {
    if (n == TILE && ((uintptr_t)dst & 31) == 0) {
        for (int64_t c = 0; c < TILE; c += 8) _mm256_stream_ps(dst + c, _mm256_loadu_ps(src + c));
    } else {
        memcpy(dst, src, sizeof(float) * (size_t)n);
    }
}

static inline void write_row(int avx2, float *dst, const float *src, int64_t n) {
    if (avx2) write_row_avx2(dst, src, n);
    else memcpy(dst, src, sizeof(float) * (size_t)n);
}

/*
 * Writes rows x cols of a tile H (row stride TILE) into G at (i0, j0), row stride ld. in_place:
 * G is the matrix the tile was loaded from, whose lines are still in the cache, where plain
 * stores cost less than streaming ones, which evict them first (the symmetric pass 2 at N = 8192:
 * 13.2 -> 12.4 ms, ad-hoc); otherwise write_row.
 */
static inline void write_tile(int avx2, int in_place, float *G, int64_t ld, int64_t i0, int64_t j0, const float *H,
                              int64_t rows, int64_t cols) {
    if (in_place)
        for (int64_t r = 0; r < rows; r++) memcpy(G + (i0 + r) * ld + j0, H + r * TILE, sizeof(float) * (size_t)cols);
    else
        for (int64_t r = 0; r < rows; r++) write_row(avx2, G + (i0 + r) * ld + j0, H + r * TILE, cols);
}

/*
 * H = exp(T - c) (a_row + b_col) over the tile: one exp per entry instead of two, with
 * a = coef exp(c - m) per row and column. Used when every m of the tile lies within
 * FACTOR_RANGE / 2 of c, so that a, b and exp(T - c) neither overflow (T <= m) nor lose more
 * than entries below exp(-87 + FACTOR_RANGE / 2) = 2e-36 of a row's largest (the two-exp form
 * drops those below exp(-87) = 2e-38).
 */
#define FACTOR_RANGE 10.0f
JNCE_TARGET_AVX2 static inline void tile_gradient_factored_avx2(const float *T, int64_t rows, const float *a_r,
                                                                           const float *b_c, float c, float *H) {
    const __m256 vc = _mm256_set1_ps(c);
    for (int64_t r = 0; r < rows; r++) {
        const __m256 ar = _mm256_set1_ps(a_r[r]);
        for (int64_t k = 0; k < TILE; k += 8) {
            /* T - c <= FACTOR_RANGE / 2 for the entries kept: within exp_in_range_avx2's domain */
            __m256 e = exp_nonpos_avx2(_mm256_sub_ps(_mm256_loadu_ps(T + r * TILE + k), vc));
            _mm256_storeu_ps(H + r * TILE + k, _mm256_mul_ps(e, _mm256_add_ps(ar, _mm256_loadu_ps(b_c + k))));
        }
    }
}


#ifdef JNCE_HAVE_AVX512
/* tile_gradient_factored_avx2 on 16 lanes: the same operations. */
JNCE_TARGET_AVX512 static inline void tile_gradient_factored_avx512(const float *T, int64_t rows, const float *a_r,
                                                                    const float *b_c, float c, float *H) {
    const __m512 vc = _mm512_set1_ps(c);
    const __m512 b0 = _mm512_loadu_ps(b_c), b1 = _mm512_loadu_ps(b_c + 16), b2 = _mm512_loadu_ps(b_c + 32),
                 b3 = _mm512_loadu_ps(b_c + 48);
    for (int64_t r = 0; r < rows; r++) {
        const __m512 ar = _mm512_set1_ps(a_r[r]);
        const float *t = T + r * TILE;
        float *h = H + r * TILE;
        _mm512_storeu_ps(h, _mm512_mul_ps(exp_nonpos_avx512(_mm512_sub_ps(_mm512_loadu_ps(t), vc)), _mm512_add_ps(ar, b0)));
        _mm512_storeu_ps(h + 16, _mm512_mul_ps(exp_nonpos_avx512(_mm512_sub_ps(_mm512_loadu_ps(t + 16), vc)), _mm512_add_ps(ar, b1)));
        _mm512_storeu_ps(h + 32, _mm512_mul_ps(exp_nonpos_avx512(_mm512_sub_ps(_mm512_loadu_ps(t + 32), vc)), _mm512_add_ps(ar, b2)));
        _mm512_storeu_ps(h + 48, _mm512_mul_ps(exp_nonpos_avx512(_mm512_sub_ps(_mm512_loadu_ps(t + 48), vc)), _mm512_add_ps(ar, b3)));
    }
}
#endif

/*
 * One shift b for a block of logits (the passes that take one exp per entry for a row's and a
 * column's statistics alike): exp(v - b) with the subtraction's rounding error put back
 * (TwoSum: d + err = v - b exactly), so that a row far below b keeps its digits. Holds for
 * v - b up to 88 (the reduction to 2^n e^r works on both sides of 0; the symmetric pass keeps
 * every entry at or below b, CLIP's within SHIFT_MARGIN above it). Such a
 * pass holds where every row's and column's sum of exp(x - b) is at least SHIFT_FLOOR = e^-50:
 * the terms lost below float's range (e^-87) are then under 1e-12 of it.
 */
#define SHIFT_FLOOR 1.9287498479639178e-22 /* e^-50 */

/* Clears `sets` column statistics of n columns each (sums 0, maxima -inf) for the two-exp pass, after a one-shift pass that did not hold. */
static inline void column_stats_clear(double *sum, float *max, int64_t sets, int64_t n) {
    memset(sum, 0, sizeof(double) * (size_t)sets * (size_t)n);
    for (int64_t k = 0; k < sets * n; k++) max[k] = -INFINITY;
}

#ifdef JNCE_HAVE_AVX512

JNCE_TARGET_AVX512 __attribute__((always_inline)) static inline __m512 exp_shifted_avx512(__m512 v, __m512 vb,
                                                                                      __m512 nb) {
    __m512 d = _mm512_sub_ps(v, vb);
    __m512 back = _mm512_sub_ps(d, v);
    __m512 err = _mm512_add_ps(_mm512_sub_ps(v, _mm512_sub_ps(d, back)), _mm512_sub_ps(nb, back));
    __m512 e = exp_nonpos_avx512(d);
    return _mm512_fmadd_ps(e, err, e);
}

/* Each row's float lanes racc[r] added to its double sum rsum[r], and cleared: the one-shift passes do it every 8 vectors. */
JNCE_TARGET_AVX512 __attribute__((always_inline)) static inline void row_sums_flush_avx512(double *rsum, __m512 *racc,
                                                                                        int64_t rows) {
    for (int64_t r = 0; r < rows; r++) {
        rsum[r] += hsum512_ps_pd(racc[r]);
        racc[r] = _mm512_setzero_ps();
    }
}

/* A block of 16 columns (the lanes under m) into their running statistics: the float sums s added to the double sums col[0..16), the maxima v into colmax[0..16). */
JNCE_TARGET_AVX512 __attribute__((always_inline)) static inline void column_block_add_avx512(double *col, float *colmax, __mmask16 m,
                                                                                          __m512 s, __m512 v) {
    _mm512_mask_storeu_ps(colmax, m, _mm512_max_ps(v, _mm512_maskz_loadu_ps(m, colmax)));
    const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(s));
    const __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(s), 1)));
    const __mmask8 m_lo = (__mmask8)(m & 0xff), m_hi = (__mmask8)(m >> 8);
    _mm512_mask_storeu_pd(col, m_lo, _mm512_add_pd(_mm512_maskz_loadu_pd(m_lo, col), lo));
    _mm512_mask_storeu_pd(col + 8, m_hi, _mm512_add_pd(_mm512_maskz_loadu_pd(m_hi, col + 8), hi));
}
#endif

/*
 * a[k] = coef[k] exp(c - m[k]) for the n valid entries of a tile side (|c - m| <= FACTOR_RANGE / 2,
 * within the vector exp's domain), 0 for the padding.
 */
JNCE_TARGET_AVX2 static inline void tile_coefficients(float c, const float *m, const float *coef, int64_t n, float *a) {
    const __m256 vc = _mm256_set1_ps(c);
    for (int64_t k = 0; k < TILE; k += 8)
        _mm256_storeu_ps(a + k, _mm256_mul_ps(_mm256_loadu_ps(coef + k),
                                              exp_in_range_avx2(_mm256_sub_ps(vc, _mm256_loadu_ps(m + k)))));
    for (int64_t k = n; k < TILE; k++) a[k] = 0.0f; /* the padding's exp(c - 0) may be anything */
}

/*
 * H = exp(T - m_r) k_r + exp(T - m_c) k_c over a tile of rows x cols valid entries, with the
 * row statistics m_r, k_r (rows) and the column ones m_c, k_c (cols): the factored one-exp form
 * where every maximum lies within FACTOR_RANGE of the others (never with NaN or Inf), else the
 * two-exp form. Only H's first rows rows are written (a tile past N's edge: a small call's one
 * tile of N = 32 costs half the work of the full 64 rows).
 */
static inline void tile_gradient(int avx2, const float *T, int64_t rows, int64_t cols, const float *m_r,
                                 const float *k_r, const float *m_c, const float *k_c, float *H) {
    float mr[TILE], kr[TILE], mc[TILE], kc[TILE]; /* padded with 0: the -inf entries of T give 0 */
    float lo = INFINITY, hi = -INFINITY;
    for (int64_t k = 0; k < TILE; k++) {
        mr[k] = k < rows ? m_r[k] : 0.0f, kr[k] = k < rows ? k_r[k] : 0.0f;
        mc[k] = k < cols ? m_c[k] : 0.0f, kc[k] = k < cols ? k_c[k] : 0.0f;
    }
    /* as fminf / fmaxf (a NaN is passed over), which the compiler calls out of line */
    for (int64_t k = 0; k < rows; k++) lo = mr[k] < lo ? mr[k] : lo, hi = mr[k] > hi ? mr[k] : hi;
    for (int64_t k = 0; k < cols; k++) lo = mc[k] < lo ? mc[k] : lo, hi = mc[k] > hi ? mc[k] : hi;
    if (avx2 && hi - lo <= FACTOR_RANGE) { /* false for Inf; a NaN maximum is passed over: its row or column of G is set to NaN after the pass */
        const float c = 0.5f * (lo + hi);
        float a_r[TILE], b_c[TILE];
        tile_coefficients(c, mr, kr, rows, a_r);
        tile_coefficients(c, mc, kc, cols, b_c);
#ifdef JNCE_HAVE_AVX512
        if (jnce_use_avx512()) {
            tile_gradient_factored_avx512(T, rows, a_r, b_c, c, H);
            return;
        }
#endif
        tile_gradient_factored_avx2(T, rows, a_r, b_c, c, H);
    } else if (avx2) {
        tile_gradient_avx2(T, rows, mr, kr, mc, kc, H);
    } else {
        tile_gradient_scalar(T, rows, mr, kr, mc, kc, H);
    }
}

#endif
