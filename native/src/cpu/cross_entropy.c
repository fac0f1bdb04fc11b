/*
 * cross_entropy.c - fused softmax cross-entropy, forward and backward (F.cross_entropy).
 *
 *   logits  (N,C) float32          targets (N) int32|int64 class indices, or target_probs (N,C)
 *   weight  (C) or NULL            row_mask (N) int32 or NULL
 *   loss    (N) or (1) float32     grad (N,C) float32 or NULL, may alias logits
 *   lse     (N) or NULL
 *
 * Per row, pass 1 reads the row once: maximum and sum of exponentials (online softmax, the sum
 * rescaled once per block of 64 values), NaN/+Inf detection, and the dot products that label
 * smoothing and probability targets need (sum_c a_c x_c with a_c = w_c, or w_c t_c).
 * Pass 2 writes grad_c = exp(x_c - max) * A - (k1 w_c + k2 w_c t_c), then fixes the target
 * entry. Sums are accumulated in double; exponentials are float32. jnce.h states the meaning.
 *
 * Value checks happen here and nowhere else: class targets in [0,C) or ignore_index and finite
 * class weights before anything is written (one pass over N targets and C weights that the
 * mean's denominators need anyway), probability rows in the row pass; each failure names the
 * offending index and value in jnce_last_error, in the words Java's IllegalArgumentException uses.
 *
 * jnce_cross_entropy_perplexity_fwd_bwd turns a mean cross-entropy L and its gradient into the
 * perplexity exp(L) and d exp(L)/dx = exp(L) dL/dx, in place.
 *
 * The scalar path is the reference; the AVX2 path is chosen at run time (jnce_use_avx2), and
 * rows of up to SHORT_ROW values run on 16 lanes where the CPU has AVX-512 (jnce_use_avx512;
 * JNCE_SIMD=avx2 keeps 8): both are checked against it by native/test/test_cross_entropy.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "simd_exp.h"
#include "xent_call.h"

#define BLOCK 64 /* values per online-softmax rescale: 8 vectors of 8 */

/* What pass 1 returns beyond jnce_row_stats: dot products for smoothing / soft targets. */
typedef struct {
    jnce_row_stats st;
    double wx;   /* sum_c w_c x_c            (only when asked) */
    double wtx;  /* sum_c w_c t_c x_c        (probability targets) */
    double wt;   /* sum_c w_c t_c            (probability targets) */
    double tsum; /* sum_c t_c                (probability targets, for the distribution check) */
    int t_bad;   /* some t_c < 0 or NaN */
} row_pass1;

/* Adds values [from, to) of a row to the dot products of r (the scalar part of every pass 1). */
static void dots_tail(row_pass1 *r, const float *x, const float *w, const float *t, int want_wx, int64_t from,
                      int64_t to) {
    for (int64_t j = from; j < to; j++) {
        double wj = w ? w[j] : 1.0;
        if (want_wx) r->wx += wj * x[j];
        if (t) {
            if (!(t[j] >= 0.0f)) r->t_bad = 1;
            r->wtx += wj * t[j] * x[j];
            r->wt += wj * t[j];
            r->tsum += t[j];
        }
    }
}

/* ---- scalar reference path -------------------------------------------------------------- */

static row_pass1 pass1_scalar(const float *x, int64_t C, const float *w, const float *t, int want_wx) {
    row_pass1 r = {{-INFINITY, 0.0, 0}, 0, 0, 0, 0, 0};
    for (int64_t j = 0; j < C; j++) {
        if (isnan(x[j]) || x[j] == INFINITY) r.st.bad = 1;
        else if (x[j] > r.st.max) r.st.max = x[j];
    }
    if (r.st.max == -INFINITY) r.st.max = -3.40282347e38f;
    for (int64_t j = 0; j < C; j++) r.st.sum += expf(x[j] - r.st.max);
    dots_tail(&r, x, w, t, want_wx, 0, C);
    return r;
}

static void pass2_scalar(const float *x, float *g, int64_t C, float max, float a, const float *w,
                         const float *t, float k1, float k2) {
    for (int64_t j = 0; j < C; j++) {
        float wj = w ? w[j] : 1.0f;
        float tj = t ? t[j] : 0.0f;
        g[j] = expf(x[j] - max) * a - (k1 * wj + k2 * wj * tj);
    }
}

/* ---- AVX2 path ---------------------------------------------------------------------------- */

JNCE_TARGET_AVX2 static float hmax256(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

JNCE_TARGET_AVX2 static double hsum256d(__m256d v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

/* Adds the 8 float lanes of v into two double accumulators. */
JNCE_TARGET_AVX2 __attribute__((always_inline)) static inline void acc_pd(__m256d *lo, __m256d *hi, __m256 v) {
    *lo = _mm256_add_pd(*lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    *hi = _mm256_add_pd(*hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}

/*
 * One read of the row. The flags are compile-time constants at each call site below, so the
 * compiler emits one specialised loop per combination.
 */
JNCE_TARGET_AVX2 __attribute__((always_inline)) static inline row_pass1
pass1_avx2_impl(const float *x, int64_t C, const float *w, const float *t, int has_w, int has_t, int want_wx) {
    const __m256 inf = _mm256_set1_ps(INFINITY), zero = _mm256_setzero_ps();
    __m256 m = _mm256_set1_ps(-3.40282347e38f);
    __m256d sum_lo = _mm256_setzero_pd(), sum_hi = _mm256_setzero_pd();
    __m256d wx_lo = _mm256_setzero_pd(), wx_hi = _mm256_setzero_pd();
    __m256d wtx_lo = _mm256_setzero_pd(), wtx_hi = _mm256_setzero_pd();
    __m256d wt_lo = _mm256_setzero_pd(), wt_hi = _mm256_setzero_pd();
    __m256d ts_lo = _mm256_setzero_pd(), ts_hi = _mm256_setzero_pd();
    __m256 bad = _mm256_setzero_ps(), tbad = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + BLOCK <= C; j += BLOCK) {
        __m256 v[8];
        __m256 bm = m;
        __m256 bwx = zero, bwtx = zero, bwt = zero, bts = zero;
        for (int k = 0; k < 8; k++) {
            v[k] = _mm256_loadu_ps(x + j + 8 * k);
            bad = _mm256_or_ps(bad, _mm256_cmp_ps(v[k], v[k], _CMP_UNORD_Q));
            bad = _mm256_or_ps(bad, _mm256_cmp_ps(v[k], inf, _CMP_EQ_OQ));
            bm = _mm256_max_ps(v[k], bm); /* NaN in v[k] keeps bm */
            __m256 wk = has_w ? _mm256_loadu_ps(w + j + 8 * k) : _mm256_set1_ps(1.0f);
            if (want_wx) bwx = _mm256_fmadd_ps(wk, v[k], bwx);
            if (has_t) {
                __m256 tk = _mm256_loadu_ps(t + j + 8 * k);
                tbad = _mm256_or_ps(tbad, _mm256_cmp_ps(tk, zero, _CMP_NGE_UQ)); /* t < 0 or NaN */
                __m256 wtk = _mm256_mul_ps(wk, tk);
                bwtx = _mm256_fmadd_ps(wtk, v[k], bwtx);
                bwt = _mm256_add_ps(bwt, wtk);
                bts = _mm256_add_ps(bts, tk);
            }
        }
        __m256 rescale = exp_nonpos_avx2(_mm256_sub_ps(m, bm));
        m = bm;
        __m256 e = exp_nonpos_avx2(_mm256_sub_ps(v[0], m));
        for (int k = 1; k < 8; k++) e = _mm256_add_ps(e, exp_nonpos_avx2(_mm256_sub_ps(v[k], m)));
        sum_lo = _mm256_fmadd_pd(sum_lo, _mm256_cvtps_pd(_mm256_castps256_ps128(rescale)),
                                 _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        sum_hi = _mm256_fmadd_pd(sum_hi, _mm256_cvtps_pd(_mm256_extractf128_ps(rescale, 1)),
                                 _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
        if (want_wx) acc_pd(&wx_lo, &wx_hi, bwx);
        if (has_t) {
            acc_pd(&wtx_lo, &wtx_hi, bwtx);
            acc_pd(&wt_lo, &wt_hi, bwt);
            acc_pd(&ts_lo, &ts_hi, bts);
        }
    }
    /* Whole vectors after the blocks: the same online update, one vector at a time. */
    for (; j + 8 <= C; j += 8) {
        __m256 v = _mm256_loadu_ps(x + j);
        bad = _mm256_or_ps(bad, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        bad = _mm256_or_ps(bad, _mm256_cmp_ps(v, inf, _CMP_EQ_OQ));
        __m256 bm = _mm256_max_ps(v, m);
        __m256 rescale = exp_nonpos_avx2(_mm256_sub_ps(m, bm));
        m = bm;
        __m256 e = exp_nonpos_avx2(_mm256_sub_ps(v, m));
        sum_lo = _mm256_fmadd_pd(sum_lo, _mm256_cvtps_pd(_mm256_castps256_ps128(rescale)),
                                 _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        sum_hi = _mm256_fmadd_pd(sum_hi, _mm256_cvtps_pd(_mm256_extractf128_ps(rescale, 1)),
                                 _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
        __m256 wk = has_w ? _mm256_loadu_ps(w + j) : _mm256_set1_ps(1.0f);
        if (want_wx) acc_pd(&wx_lo, &wx_hi, _mm256_mul_ps(wk, v));
        if (has_t) {
            __m256 tk = _mm256_loadu_ps(t + j);
            tbad = _mm256_or_ps(tbad, _mm256_cmp_ps(tk, zero, _CMP_NGE_UQ));
            __m256 wtk = _mm256_mul_ps(wk, tk);
            acc_pd(&wtx_lo, &wtx_hi, _mm256_mul_ps(wtk, v));
            acc_pd(&wt_lo, &wt_hi, wtk);
            acc_pd(&ts_lo, &ts_hi, tk);
        }
    }
    row_pass1 r = {{hmax256(m), 0.0, !_mm256_testz_ps(bad, bad)},
                   hsum256d(_mm256_add_pd(wx_lo, wx_hi)), hsum256d(_mm256_add_pd(wtx_lo, wtx_hi)),
                   hsum256d(_mm256_add_pd(wt_lo, wt_hi)), hsum256d(_mm256_add_pd(ts_lo, ts_hi)),
                   !_mm256_testz_ps(tbad, tbad)};
    /* Scalar tail (< 8 values): maximum first, then bring every lane's sum to the row maximum
     * with one vector exp. */
    for (int64_t k = j; k < C; k++) {
        if (isnan(x[k]) || x[k] == INFINITY) r.st.bad = 1;
        else if (x[k] > r.st.max) r.st.max = x[k];
    }
    __m256 to_max = exp_nonpos_avx2(_mm256_sub_ps(m, _mm256_set1_ps(r.st.max)));
    __m256d lanes = _mm256_add_pd(_mm256_mul_pd(sum_lo, _mm256_cvtps_pd(_mm256_castps256_ps128(to_max))),
                                  _mm256_mul_pd(sum_hi, _mm256_cvtps_pd(_mm256_extractf128_ps(to_max, 1))));
    r.st.sum = hsum256d(lanes);
    for (int64_t k = j; k < C; k++) r.st.sum += expf(x[k] - r.st.max);
    dots_tail(&r, x, has_w ? w : NULL, has_t ? t : NULL, want_wx, j, C);
    return r;
}

JNCE_TARGET_AVX2 static row_pass1 pass1_avx2(const float *x, int64_t C, const float *w,
                                                               const float *t, int want_wx) {
    if (t != NULL) {
        if (want_wx) return w ? pass1_avx2_impl(x, C, w, t, 1, 1, 1) : pass1_avx2_impl(x, C, NULL, t, 0, 1, 1);
        return w ? pass1_avx2_impl(x, C, w, t, 1, 1, 0) : pass1_avx2_impl(x, C, NULL, t, 0, 1, 0);
    }
    if (!want_wx) return pass1_avx2_impl(x, C, NULL, NULL, 0, 0, 0);
    return w ? pass1_avx2_impl(x, C, w, NULL, 1, 0, 1) : pass1_avx2_impl(x, C, NULL, NULL, 0, 0, 1);
}

JNCE_TARGET_AVX2 __attribute__((always_inline)) static inline void
pass2_avx2_impl(const float *x, float *g, int64_t C, float max, float a, const float *w, const float *t,
                float k1, float k2, int has_w, int has_t) {
    const __m256 vmax = _mm256_set1_ps(max), va = _mm256_set1_ps(a);
    const __m256 vk1 = _mm256_set1_ps(k1), vk2 = _mm256_set1_ps(k2);
    int64_t j = 0;
    for (; j + 8 <= C; j += 8) {
        __m256 e = exp_nonpos_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + j), vmax));
        __m256 q = vk1;
        if (has_t) q = _mm256_fmadd_ps(vk2, _mm256_loadu_ps(t + j), q);
        if (has_w) q = _mm256_mul_ps(q, _mm256_loadu_ps(w + j));
        _mm256_storeu_ps(g + j, _mm256_fmsub_ps(e, va, q));
    }
    pass2_scalar(x + j, g + j, C - j, max, a, has_w ? w + j : NULL, has_t ? t + j : NULL, k1, k2);
}

JNCE_TARGET_AVX2 static void pass2_avx2(const float *x, float *g, int64_t C, float max, float a,
                                                         const float *w, const float *t, float k1, float k2) {
    if (t != NULL) {
        if (w) pass2_avx2_impl(x, g, C, max, a, w, t, k1, k2, 1, 1);
        else pass2_avx2_impl(x, g, C, max, a, NULL, t, k1, k2, 0, 1);
    } else {
        if (w) pass2_avx2_impl(x, g, C, max, a, w, NULL, k1, k2, 1, 0);
        else pass2_avx2_impl(x, g, C, max, a, NULL, NULL, k1, k2, 0, 0);
    }
}

/* ---- short rows (C <= SHORT_ROW): the row and its gradient stay in cache (L1, or L2 up to -
 * SHORT_ROW: 2 x 256 KiB), so read it three times instead of paying the online scheme's second
 * exponential: max (with the dot products), exp written into the gradient with its sum, then
 * one FMA pass over the gradient. One exp per value instead of two; DRAM sees one read of the
 * logits and one write of the gradient. At (8192, 32000) on 2 threads this took the kernel from
 * about 4.2x to about 3.2x the time of copying the same bytes (one run, machine busy). */

#define SHORT_ROW 65536

/*
 * The AVX-512 short-row passes that read a row from beyond L1 (the maximum's pass, from memory
 * or from L2 where the previous row's pass asked for it; the gradient's pass, from L2) ask for
 * their logits, gradient and class weights this many floats ahead (8 KiB). At (8192, 32000) on
 * two threads, interleaved with the library before it in one run: 1.40-1.52x the copy of its
 * bytes -> 1.30-1.39x plain; with weights and smoothing 2-10% faster (ad-hoc C probe). The
 * 8-lane passes, bound by their arithmetic, gained nothing from it (1.55-1.85 -> 1.66-1.77x).
 */
#define SHORT_AHEAD 2048

/* One cache line of the next row's logits into L2, and of its gradient for writing. */
static inline void prefetch_next(const float *x, float *g) {
    __builtin_prefetch(x, 0, 2);
    if (g) __builtin_prefetch(g, 1, 2);
}

/* Maximum and dot products of a short row: pass1 without the exponentials. */
JNCE_TARGET_AVX2 static void short_max_avx2(const float *x, int64_t C, const float *w, const float *t, int want_wx,
                                            float *min_out, row_pass1 *out) {
    const __m256 inf = _mm256_set1_ps(INFINITY), zero = _mm256_setzero_ps();
    __m256 m = _mm256_set1_ps(-3.40282347e38f), lo_v = _mm256_set1_ps(INFINITY), bad = zero, tbad = zero;
    __m256 wx = zero, wtx = zero, wt = zero, ts = zero;
    int64_t j = 0;
    for (; j + 8 <= C; j += 8) {
        __m256 v = _mm256_loadu_ps(x + j);
        bad = _mm256_or_ps(bad, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        bad = _mm256_or_ps(bad, _mm256_cmp_ps(v, inf, _CMP_EQ_OQ));
        m = _mm256_max_ps(v, m);
        lo_v = _mm256_min_ps(v, lo_v);
        __m256 wk = w ? _mm256_loadu_ps(w + j) : _mm256_set1_ps(1.0f);
        if (want_wx) wx = _mm256_fmadd_ps(wk, v, wx);
        if (t) {
            __m256 tk = _mm256_loadu_ps(t + j);
            tbad = _mm256_or_ps(tbad, _mm256_cmp_ps(tk, zero, _CMP_NGE_UQ));
            __m256 wtk = _mm256_mul_ps(wk, tk);
            wtx = _mm256_fmadd_ps(wtk, v, wtx);
            wt = _mm256_add_ps(wt, wtk);
            ts = _mm256_add_ps(ts, tk);
        }
    }
    __m256d z = _mm256_setzero_pd(), lo, hi;
#define HSUM(v) (lo = z, hi = z, acc_pd(&lo, &hi, v), hsum256d(_mm256_add_pd(lo, hi)))
    row_pass1 r = {{hmax256(m), 0.0, !_mm256_testz_ps(bad, bad)}, want_wx ? HSUM(wx) : 0.0,
                   t ? HSUM(wtx) : 0.0, t ? HSUM(wt) : 0.0, t ? HSUM(ts) : 0.0, !_mm256_testz_ps(tbad, tbad)};
#undef HSUM
    float lowest = -hmax256(_mm256_sub_ps(zero, lo_v));
    dots_tail(&r, x, w, t, want_wx, j, C);
    for (; j < C; j++) {
        if (x[j] < lowest) lowest = x[j];
        if (isnan(x[j]) || x[j] == INFINITY) r.st.bad = 1;
        else if (x[j] > r.st.max) r.st.max = x[j];
    }
    *min_out = lowest;
    *out = r;
}

/*
 * e_j = exp(x_j - max) into out (may alias x), or nowhere when out is NULL; returns sum e_j.
 * in_range: every x_j - max >= -87, so the exp needs no clamp (the common case).
 */
JNCE_TARGET_AVX2 __attribute__((always_inline)) static inline double
short_exp_impl(const float *x, float *out, int64_t C, float max, int in_range, const float *nx, float *ng) {
    const __m256 vmax = _mm256_set1_ps(max);
    __m256 acc = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + 16 <= C; j += 16) { /* two independent chains */
        if (nx) prefetch_next(nx + j, ng ? ng + j : NULL);
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + j), vmax);
        __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(x + j + 8), vmax);
        __m256 e = in_range ? exp_in_range_avx2(d) : exp_nonpos_avx2(d);
        __m256 e2 = in_range ? exp_in_range_avx2(d2) : exp_nonpos_avx2(d2);
        if (out) {
            _mm256_storeu_ps(out + j, e);
            _mm256_storeu_ps(out + j + 8, e2);
        }
        acc = _mm256_add_ps(acc, e); /* <= 64 terms of <= 1 per lane: float is exact enough */
        acc2 = _mm256_add_ps(acc2, e2);
    }
    for (; j + 8 <= C; j += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + j), vmax);
        __m256 e = in_range ? exp_in_range_avx2(d) : exp_nonpos_avx2(d);
        if (out) _mm256_storeu_ps(out + j, e);
        acc = _mm256_add_ps(acc, e);
    }
    acc = _mm256_add_ps(acc, acc2);
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    acc_pd(&lo, &hi, acc);
    double sum = hsum256d(_mm256_add_pd(lo, hi));
    for (; j < C; j++) {
        float e = expf(x[j] - max);
        if (out) out[j] = e;
        sum += e;
    }
    return sum;
}

JNCE_TARGET_AVX2 static double short_exp_avx2(const float *x, float *out, int64_t C, float max,
                                                               float min, const float *nx, float *ng) {
    return min - max >= -87.0f ? short_exp_impl(x, out, C, max, 1, nx, ng) : short_exp_impl(x, out, C, max, 0, nx, ng);
}

/* g_j = e_j * a - (k1 w_j + k2 w_j t_j), with e_j already in g. */
JNCE_TARGET_AVX2 static void short_grad_avx2(float *g, int64_t C, float a, const float *w,
                                                              const float *t, float k1, float k2) {
    const __m256 va = _mm256_set1_ps(a), vk1 = _mm256_set1_ps(k1), vk2 = _mm256_set1_ps(k2);
    int64_t j = 0;
    for (; j + 8 <= C; j += 8) {
        __m256 q = vk1;
        if (t) q = _mm256_fmadd_ps(vk2, _mm256_loadu_ps(t + j), q);
        if (w) q = _mm256_mul_ps(q, _mm256_loadu_ps(w + j));
        _mm256_storeu_ps(g + j, _mm256_fmsub_ps(_mm256_loadu_ps(g + j), va, q));
    }
    for (; j < C; j++) {
        float wj = w ? w[j] : 1.0f, tj = t ? t[j] : 0.0f;
        g[j] = g[j] * a - (k1 * wj + k2 * wj * tj);
    }
}

#ifdef JNCE_HAVE_AVX512
/* ---- the same three short-row passes on 16 lanes (AVX-512F): the exponentials bit for bit
 * those of the 8-lane form (the same polynomial; 2^n by scalef, exact for n >= -126), the sums
 * over twice the lanes. */

JNCE_TARGET_AVX512 static void short_max_avx512(const float *x, int64_t C, const float *w, const float *t, int want_wx,
                                                float *min_out, row_pass1 *out) {
    const __m512 inf = _mm512_set1_ps(INFINITY), zero = _mm512_setzero_ps();
    __m512 m = _mm512_set1_ps(-3.40282347e38f), lo_v = inf;
    __m512 wx[2] = {zero, zero}, wtx[2] = {zero, zero}, wt[2] = {zero, zero}, ts[2] = {zero, zero};
    __mmask16 bad = 0, tbad = 0;
    int64_t j = 0;
    /* two vectors a step, each with its own sums: one FMA chain alone would hold the loop to its latency */
#define STEP(k, off)                                                                        \
    do {                                                                                    \
        __m512 v = _mm512_loadu_ps(x + j + (off));                                          \
        bad |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(v, inf, _CMP_EQ_OQ); \
        m = _mm512_max_ps(v, m);                                                            \
        lo_v = _mm512_min_ps(v, lo_v);                                                      \
        __m512 wk = w ? _mm512_loadu_ps(w + j + (off)) : _mm512_set1_ps(1.0f);              \
        if (want_wx) wx[k] = _mm512_fmadd_ps(wk, v, wx[k]);                                 \
        if (t) {                                                                            \
            __m512 tk = _mm512_loadu_ps(t + j + (off));                                     \
            tbad |= _mm512_cmp_ps_mask(tk, zero, _CMP_NGE_UQ);                              \
            __m512 wtk = _mm512_mul_ps(wk, tk);                                             \
            wtx[k] = _mm512_fmadd_ps(wtk, v, wtx[k]);                                       \
            wt[k] = _mm512_add_ps(wt[k], wtk);                                              \
            ts[k] = _mm512_add_ps(ts[k], tk);                                               \
        }                                                                                   \
    } while (0)
    for (; j + 32 <= C; j += 32) {
        _mm_prefetch(jnce_ahead(x, j + SHORT_AHEAD), _MM_HINT_T0); /* past the row's end near its end */
        _mm_prefetch(jnce_ahead(x, j + SHORT_AHEAD + 16), _MM_HINT_T0);
        if (w) {
            _mm_prefetch(jnce_ahead(w, j + SHORT_AHEAD), _MM_HINT_T0);
            _mm_prefetch(jnce_ahead(w, j + SHORT_AHEAD + 16), _MM_HINT_T0);
        }
        STEP(0, 0);
        STEP(1, 16);
    }
    for (; j + 16 <= C; j += 16) STEP(0, 0);
#undef STEP
#define HSUM2(v) (hsum512_ps_pd(v[0]) + hsum512_ps_pd(v[1]))
    row_pass1 r = {{_mm512_reduce_max_ps(m), 0.0, bad != 0}, want_wx ? HSUM2(wx) : 0.0,
                   t ? HSUM2(wtx) : 0.0, t ? HSUM2(wt) : 0.0, t ? HSUM2(ts) : 0.0, tbad != 0};
#undef HSUM2
    float lowest = _mm512_reduce_min_ps(lo_v);
    dots_tail(&r, x, w, t, want_wx, j, C);
    for (; j < C; j++) {
        if (x[j] < lowest) lowest = x[j];
        if (isnan(x[j]) || x[j] == INFINITY) r.st.bad = 1;
        else if (x[j] > r.st.max) r.st.max = x[j];
    }
    *min_out = lowest;
    *out = r;
}

JNCE_TARGET_AVX512 __attribute__((always_inline)) static inline double
short_exp512_impl(const float *x, float *out, int64_t C, float max, int in_range, const float *nx, float *ng) {
    const __m512 vmax = _mm512_set1_ps(max);
    __m512 acc = _mm512_setzero_ps(), acc2 = _mm512_setzero_ps();
    int64_t j = 0;
    for (; j + 32 <= C; j += 32) { /* two independent chains */
        if (nx) {
            prefetch_next(nx + j, ng ? ng + j : NULL);
            prefetch_next(nx + j + 16, ng ? ng + j + 16 : NULL);
        }
        __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + j), vmax);
        __m512 d2 = _mm512_sub_ps(_mm512_loadu_ps(x + j + 16), vmax);
        __m512 e = in_range ? exp_in_range_avx512(d) : exp_nonpos_avx512(d);
        __m512 e2 = in_range ? exp_in_range_avx512(d2) : exp_nonpos_avx512(d2);
        if (out) {
            _mm512_storeu_ps(out + j, e);
            _mm512_storeu_ps(out + j + 16, e2);
        }
        acc = _mm512_add_ps(acc, e);
        acc2 = _mm512_add_ps(acc2, e2);
    }
    for (; j + 16 <= C; j += 16) {
        __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + j), vmax);
        __m512 e = in_range ? exp_in_range_avx512(d) : exp_nonpos_avx512(d);
        if (out) _mm512_storeu_ps(out + j, e);
        acc = _mm512_add_ps(acc, e);
    }
    double sum = hsum512_ps_pd(_mm512_add_ps(acc, acc2));
    for (; j < C; j++) {
        float e = expf(x[j] - max);
        if (out) out[j] = e;
        sum += e;
    }
    return sum;
}

JNCE_TARGET_AVX512 static double short_exp_avx512(const float *x, float *out, int64_t C, float max, float min,
                                                  const float *nx, float *ng) {
    return min - max >= -87.0f ? short_exp512_impl(x, out, C, max, 1, nx, ng)
                               : short_exp512_impl(x, out, C, max, 0, nx, ng);
}

JNCE_TARGET_AVX512 static void short_grad_avx512(float *g, int64_t C, float a, const float *w, const float *t,
                                                 float k1, float k2) {
    const __m512 va = _mm512_set1_ps(a), vk1 = _mm512_set1_ps(k1), vk2 = _mm512_set1_ps(k2);
    int64_t j = 0;
    for (; j + 16 <= C; j += 16) {
        _mm_prefetch(jnce_ahead(g, j + SHORT_AHEAD), _MM_HINT_T0);
        if (w) _mm_prefetch(jnce_ahead(w, j + SHORT_AHEAD), _MM_HINT_T0);
        __m512 q = vk1;
        if (t) q = _mm512_fmadd_ps(vk2, _mm512_loadu_ps(t + j), q);
        if (w) q = _mm512_mul_ps(q, _mm512_loadu_ps(w + j));
        _mm512_storeu_ps(g + j, _mm512_fmsub_ps(_mm512_loadu_ps(g + j), va, q));
    }
    for (; j < C; j++) {
        float wj = w ? w[j] : 1.0f, tj = t ? t[j] : 0.0f;
        g[j] = g[j] * a - (k1 * wj + k2 * wj * tj);
    }
}

/* short_grad_avx512's values from the exponentials in e (a scratch row), written to g by
 * streaming stores: g's lines are not read for ownership first. The same arithmetic element by
 * element (16-lane FMAs up to C's last multiple of 16, the scalar formula after it): the same
 * bits. Ends with a store fence, so the plain stores after it (the target's term) land after.
 * nx: the next row's logits, asked for into L2 meanwhile (or NULL: where ahead_in_exp_pass, the
 * exponentials' pass asked for them), so that memory reads the next row while this one's stores
 * stream out (at (8192, 32000) on a 2-core Xeon VM, interleaved: 1.54-1.58x the copy of its bytes
 * with the request in the exponentials' pass, 1.39-1.50x here; on a Zen 4 VM the other way round). */
JNCE_TARGET_AVX512 static void short_grad_stream_avx512(const float *e, float *g, int64_t C, float a, const float *w,
                                                        const float *t, float k1, float k2, const float *nx) {
    const __m512 va = _mm512_set1_ps(a), vk1 = _mm512_set1_ps(k1), vk2 = _mm512_set1_ps(k2);
    const int64_t c16 = C & ~(int64_t)15;
#define GRAD16(j, mask) ({                                                                          \
        __m512 q_ = vk1;                                                                           \
        if (t) q_ = _mm512_fmadd_ps(vk2, _mm512_maskz_loadu_ps(mask, t + (j)), q_);                \
        if (w) q_ = _mm512_mul_ps(q_, _mm512_maskz_loadu_ps(mask, w + (j)));                       \
        _mm512_fmsub_ps(_mm512_maskz_loadu_ps(mask, e + (j)), va, q_); })
    int64_t j = 0;
    int64_t head = (int64_t)((64 - ((uintptr_t)g & 63)) & 63) / (int64_t)sizeof(float);
    if (((uintptr_t)g & 3) != 0 || head > c16) head = c16; /* unaligned floats: no streaming at all */
    while (j < head) { /* up to g's first 64-byte boundary */
        const int64_t n = head - j < 16 ? head - j : 16;
        const __mmask16 m = (__mmask16)((1u << n) - 1u);
        _mm512_mask_storeu_ps(g + j, m, GRAD16(j, m));
        j += n;
    }
    for (; j + 16 <= c16; j += 16) {
        if (w) _mm_prefetch(jnce_ahead(w, j + SHORT_AHEAD), _MM_HINT_T0);
        if (nx) __builtin_prefetch(nx + j, 0, 2);
        _mm512_stream_ps(g + j, GRAD16(j, (__mmask16)0xFFFF));
    }
    if (j < c16) {
        const __mmask16 m = (__mmask16)((1u << (c16 - j)) - 1u);
        _mm512_mask_storeu_ps(g + j, m, GRAD16(j, m));
    }
#undef GRAD16
    for (j = c16; j < C; j++) {
        float wj = w ? w[j] : 1.0f, tj = t ? t[j] : 0.0f;
        g[j] = e[j] * a - (k1 * wj + k2 * wj * tj);
    }
    _mm_sfence();
}
#endif

/* The short-row passes on the widest lanes the CPU has. */
/* The row's results go to *out, which the caller reads only after the block's other rows: a
 * struct returned by value was copied at once, and the copy's loads waited for the callee's stores. */
static void short_max(int wide, const float *x, int64_t C, const float *w, const float *t, int want_wx,
                      float *min_out, row_pass1 *out) {
#ifdef JNCE_HAVE_AVX512
    if (wide) {
        short_max_avx512(x, C, w, t, want_wx, min_out, out);
        return;
    }
#endif
    (void)wide;
    short_max_avx2(x, C, w, t, want_wx, min_out, out);
}

static double short_exp(int wide, const float *x, float *out, int64_t C, float max, float min, const float *nx,
                        float *ng) {
#ifdef JNCE_HAVE_AVX512
    if (wide) return short_exp_avx512(x, out, C, max, min, nx, ng);
#endif
    (void)wide; /* no 16-lane path in this build (aarch64) */
    return short_exp_avx2(x, out, C, max, min, nx, ng);
}

static void short_grad(int wide, float *g, int64_t C, float a, const float *w, const float *t, float k1, float k2) {
#ifdef JNCE_HAVE_AVX512
    if (wide) {
        short_grad_avx512(g, C, a, w, t, k1, k2);
        return;
    }
#endif
    (void)wide; /* no 16-lane path in this build (aarch64) */
    short_grad_avx2(g, C, a, w, t, k1, k2);
}

/* ---- shared row helpers (internal.h) ------------------------------------------------------ */

jnce_row_stats jnce_softmax_row_stats(const float *x, int64_t C) {
    /* rows of up to 1024 values: the short rows' two passes, as xent_rows takes them (no rescaling;
     * at most 32 terms a lane summed in float before the lanes go to double) */
    if (jnce_use_avx2() && C <= 1024) {
        const int wide = jnce_use_avx512();
        row_pass1 r;
        float min;
        short_max(wide, x, C, NULL, NULL, 0, &min, &r);
        if (!r.st.bad) r.st.sum = short_exp(wide, x, NULL, C, r.st.max, min, NULL, NULL);
        return r.st;
    }
    return jnce_use_avx2() ? pass1_avx2(x, C, NULL, NULL, 0).st : pass1_scalar(x, C, NULL, NULL, 0).st;
}

void jnce_softmax_row_exp(const float *x, float *out, int64_t C, float max, float scale) {
    if (jnce_use_avx2()) pass2_avx2(x, out, C, max, scale, NULL, NULL, 0.0f, 0.0f);
    else pass2_scalar(x, out, C, max, scale, NULL, NULL, 0.0f, 0.0f);
}

/* ---- the op --------------------------------------------------------------------------------- */

/*
 * Whether the short-row AVX-512 passes (C in (SMALL_ROWS / 2, SHORT_ROW]) write the gradient by
 * streaming stores from a scratch row of exponentials (short_grad_stream_avx512) instead of
 * through the gradient's own lines, which the exponentials' pass then reads for ownership from
 * memory first (a gradient written over its logits is not streamed): JNCE_CE_STREAM=1 or 0 says;
 * else when the gradient is JNCE_STREAM_BYTES or more, beyond these machines' last-level cache (as the
 * L2 normalisation's results), where its lines would go out to memory anyway. Below that the
 * plain stores leave it in cache: at (1024, 4096) on a 2-core AMD EPYC (Zen 4) VM streamed
 * 1.07-1.08 ms against 0.78-0.84 plain (ad-hoc). At (8192, 32000) on two threads, interleaved in
 * one run (ce_vs_copy.sh): a 2-core Xeon VM 1.91-1.93x the copy of its bytes -> 1.56-1.57x
 * (1.39-1.50x once its gradient pass asks for the next row); the Zen 4 VM 1.39-1.48x plain,
 * 1.50-1.58x streamed with the next row asked for in the gradient's pass, 1.27-1.31x with it
 * asked for in the exponentials' pass (ahead_in_exp_pass; three rounds, ad-hoc). The same bits
 * either way.
 */
static int stream_gradient(int64_t N, int64_t C) {
    static int forced = -2; /* -1: the size rule; 0 or 1: JNCE_CE_STREAM */
    int f = jnce_env_switch("JNCE_CE_STREAM", &forced);
    if (f >= 0) return f;
    return 4.0 * (double)N * (double)C >= JNCE_STREAM_BYTES;
}

/*
 * Where the streaming form asks for the next row of logits (into L2, line by line): during the
 * exponentials' pass on AMD CPUs, so that memory reads it while the core computes and the
 * gradient's pass only writes (the Zen 4 figures above); during the gradient's pass elsewhere, so
 * that the next row comes in while this one's stores go out (the Xeon's).
 */
static int ahead_in_exp_pass(void) {
#if defined(__x86_64__)
    static int cached = -1;
    int c = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (c < 0) {
        __builtin_cpu_init();
        c = __builtin_cpu_is("amd") ? 1 : 0;
        __atomic_store_n(&cached, c, __ATOMIC_RELAXED);
    }
    return c;
#else
    return 0;
#endif
}

typedef struct {
    const xent_call *a;
    int avx2;
    int avx512;        /* short rows on 16 lanes */
    double scale;      /* CE gradient scale: 1/D for MEAN */
    double zscale;     /* z-loss gradient scale: 1/counted for MEAN */
    double w_total;    /* sum of the class weights (C when none) */
    double *row_loss;  /* (N) CE part per row */
    double *row_z;     /* (N) lse^2 per counted row */
    int64_t bad_row;   /* first row whose probabilities are not a distribution, or -1 */
    float *scratch;    /* streaming: one row of C exponentials a slice, else NULL */
    int ahead_exp;     /* streaming: the next row asked for in the exponentials' pass, not the gradient's */
} xent_job;

static int64_t class_target(const xent_call *a, int64_t i) {
    return jnce_target_at(a->targets, a->target_dtype, i);
}

static int row_counted(const xent_call *a, int64_t i) {
    if (a->row_mask != NULL && a->row_mask[i] == 0) return 0;
    return a->probs != NULL || class_target(a, i) != a->ignore_index;
}

static void fill(float *p, int64_t n, float v) {
    for (int64_t j = 0; j < n; j++) p[j] = v;
}

/* *first = min(*first, i), where -1 is "none": the message names the first bad row whatever the threads. */
static void first_bad_row(int64_t *first, int64_t i) {
    int64_t seen = __atomic_load_n(first, __ATOMIC_RELAXED);
    while ((seen < 0 || i < seen) &&
           !__atomic_compare_exchange_n(first, &seen, i, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}

/* torch.logsumexp of a row the passes could not sum (NaN, +Inf, or every entry -Inf): NaN if
 * the row holds NaN, else +Inf if it holds +Inf, else -Inf. Read before grad (which may alias
 * the row) is written. */
static float special_lse(const float *x, int64_t C) {
    float out = -INFINITY;
    for (int64_t j = 0; j < C; j++) {
        if (isnan(x[j])) return NAN;
        if (x[j] == INFINITY) out = INFINITY;
    }
    return out;
}

/* A row's log-sum-exp, loss and gradient, once its first passes gave r (the row's maximum, its sum
 * of exponentials, the dot products the targets need) and, on a short row, the exponentials in g. */
static inline void finish_row(xent_job *job, int64_t i, const float *x, float *g, int counted, const float *t, float x_y,
                              row_pass1 r, int short_row, const float *e, const float *next) {
    (void)e, (void)next; /* read on x86-64 only */
    const xent_call *a = job->a;
    const int64_t C = a->C;
    const double eps = a->label_smoothing;
    int bad = r.st.bad || r.st.sum == 0.0;
    double lse = bad ? NAN : (double)r.st.max + log(r.st.sum);
    if (a->lse) a->lse[i] = bad ? special_lse(x, C) : (float)lse;
    if (a->lse64) a->lse64[i] = bad ? (double)special_lse(x, C) : lse;
    if (!counted) {
        if (g) memset(g, 0, (size_t)C * sizeof(float));
        return;
    }
    if (t != NULL && (r.t_bad || fabs(r.tsum - 1.0) > 1e-3)) {
        first_bad_row(&job->bad_row, i);
        return;
    }
    if (bad) {
        job->row_loss[i] = NAN;
        job->row_z[i] = NAN;
        if (g) fill(g, C, NAN);
        return;
    }
    /* q and its total Q, as in jnce.h. */
    double q_sum, qx;
    int64_t y = -1;
    double wy = 0.0;
    if (t == NULL) {
        y = class_target(a, i);
        wy = a->weight ? a->weight[y] : 1.0;
        q_sum = (1.0 - eps) * wy + eps / C * job->w_total;
        qx = (1.0 - eps) * wy * x_y + (eps > 0.0 ? eps / C * r.wx : 0.0);
    } else {
        q_sum = (1.0 - eps) * r.wt + eps / C * job->w_total;
        qx = (1.0 - eps) * r.wtx + (eps > 0.0 ? eps / C * r.wx : 0.0);
    }
    job->row_loss[i] = q_sum * lse - qx;
    job->row_z[i] = lse * lse;
    if (g) {
        double coef = job->scale * q_sum + job->zscale * 2.0 * a->z_loss * lse;
        float k1 = (float)(job->scale * eps / C);
        float k2 = (float)(job->scale * (1.0 - eps));
        float scale_e = (float)(coef / r.st.sum);
#ifdef JNCE_HAVE_AVX512
        if (short_row && e) short_grad_stream_avx512(e, g, C, scale_e, a->weight, t, k1, k2, next); else
#endif
        if (short_row) short_grad(job->avx512, g, C, scale_e, a->weight, t, k1, k2);
        else if (job->avx2) pass2_avx2(x, g, C, r.st.max, scale_e, a->weight, t, k1, k2);
        else pass2_scalar(x, g, C, r.st.max, scale_e, a->weight, t, k1, k2);
        if (t == NULL) g[y] -= (float)(job->scale * (1.0 - eps) * wy);
    }
}

/* Short rows of at most SMALL_ROWS floats go in blocks of up to XENT_BLOCK rows: the block's
 * maxima, then its exponentials, then its logarithms and gradients. One small row's passes form a
 * chain of a few hundred cycles (two 16-lane reductions, the exponentials, a logarithm and a
 * division) that the next row's could not overlap from behind it; the block's rows run side by
 * side. Each row's arithmetic is unchanged: the same bits. */
#define XENT_BLOCK 8
#define SMALL_ROWS 4096

static void xent_rows(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    xent_job *job = ctx;
    /* streaming (the scratch exists only for short rows with a gradient): one row a block then */
    float *e = job->scratch ? job->scratch + (int64_t)slice * job->a->C : NULL;
    const xent_call *a = job->a;
    const int64_t C = a->C, ld = a->ld;
    const double eps = a->label_smoothing;
    const int short_row = job->avx2 && C <= SHORT_ROW;
    const int64_t block = short_row && C <= SMALL_ROWS / 2 ? (C * XENT_BLOCK <= SMALL_ROWS ? XENT_BLOCK : SMALL_ROWS / C) : 1;
    for (int64_t i0 = begin; i0 < end; i0 += block) {
        const int64_t nb = end - i0 < block ? end - i0 : block;
        row_pass1 r[XENT_BLOCK];
        float x_y[XENT_BLOCK], min[XENT_BLOCK];
        const float *t[XENT_BLOCK];
        int counted[XENT_BLOCK], skip[XENT_BLOCK];
        for (int64_t b = 0; b < nb; b++) {
            const int64_t i = i0 + b;
            const float *x = a->logits + i * ld;
            float *g = a->grad ? a->grad + i * ld : NULL;
            counted[b] = row_counted(a, i);
            job->row_loss[i] = 0.0;
            job->row_z[i] = 0.0;
            skip[b] = !counted[b] && a->lse == NULL;
            if (skip[b]) {
                if (g) memset(g, 0, (size_t)C * sizeof(float));
                continue;
            }
            t[b] = counted[b] && a->probs ? a->probs + i * C : NULL;
            int want_wx = counted[b] && eps > 0.0;
            /* Read before any pass writes grad, which may alias the logits. */
            x_y[b] = counted[b] && t[b] == NULL ? x[class_target(a, i)] : 0.0f;
            if (short_row) short_max(job->avx512, x, C, a->weight, t[b], want_wx, &min[b], &r[b]);
            else r[b] = job->avx2 ? pass1_avx2(x, C, a->weight, t[b], want_wx) : pass1_scalar(x, C, a->weight, t[b], want_wx);
        }
        if (short_row) {
            for (int64_t b = 0; b < nb; b++) {
                if (skip[b] || r[b].st.bad) continue;
                const int64_t i = i0 + b;
                const float *x = a->logits + i * ld;
                float *g = a->grad ? a->grad + i * ld : NULL;
                /* the next row of this thread's range into L2 meanwhile: its max pass then reads from
                 * cache, and its gradient's lines are there when the exp pass writes them */
                const float *nx = i + 1 < end ? x + ld : NULL;
                float *out = counted[b] ? (e ? e : g) : NULL; /* streaming: the exponentials to the scratch row */
                if (e && !job->ahead_exp) nx = NULL; /* streaming: the gradient's pass asks for the next row instead */
                r[b].st.sum = short_exp(job->avx512, x, out, C, r[b].st.max, min[b], nx, g && !e ? g + ld : NULL);
            }
        }
        for (int64_t b = 0; b < nb; b++) {
            if (skip[b]) continue;
            const int64_t i = i0 + b;
            finish_row(job, i, a->logits + i * ld, a->grad ? a->grad + i * ld : NULL, counted[b], t[b], x_y[b], r[b], short_row,
                       e, e && !job->ahead_exp && i + 1 < end ? a->logits + (i + 1) * ld : NULL);
        }
    }
}

static int32_t check_args(const xent_call *a) {
    if (a->logits == NULL || a->loss == NULL)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "cross_entropy: logits and loss must be non-null");
    if ((a->targets == NULL) == (a->probs == NULL))
        return jnce_fail(JNCE_ERR_INVALID_ARG, "cross_entropy: give exactly one of targets and target_probs");
    if (a->N <= 0 || a->C <= 0)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "cross_entropy: N=%lld and C=%lld must be positive",
                         (long long)a->N, (long long)a->C);
    if (a->ld < a->C)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "cross_entropy: row stride ld=%lld is less than C=%lld",
                         (long long)a->ld, (long long)a->C);
    if (a->targets != NULL && a->target_dtype != JNCE_DTYPE_INT32 && a->target_dtype != JNCE_DTYPE_INT64)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "cross_entropy: target_dtype %d is not int32 or int64", a->target_dtype);
    if (a->reduction < JNCE_REDUCTION_NONE || a->reduction > JNCE_REDUCTION_SUM)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "cross_entropy: unknown reduction %d", a->reduction);
    if (!(a->label_smoothing >= 0.0f && a->label_smoothing <= 1.0f))
        return jnce_fail(JNCE_ERR_INVALID_ARG, "cross_entropy: label_smoothing %g is outside [0, 1]", a->label_smoothing);
    if (!(a->z_loss >= 0.0f) || isinf(a->z_loss))
        return jnce_fail(JNCE_ERR_INVALID_ARG, "cross_entropy: z_loss %g must be finite and >= 0", a->z_loss);
    return JNCE_OK;
}

/*
 * The mean's denominators, from the weights and the targets alone; the value checks of the
 * call ride on this pass: every weight finite, every class target in [0,C) or ignore_index
 * (masked rows included). Nothing is written before they pass.
 */
static int32_t denominators(const xent_call *a, double *w_total, double *denom, double *counted) {
    if (a->weight == NULL) *w_total = (double)a->C;
    for (int64_t c = 0; a->weight != NULL && c < a->C; c++) {
        float w = a->weight[c];
        if (!isfinite(w)) {
            char v[32];
            jnce_format_float(v, sizeof v, w);
            return jnce_fail(JNCE_ERR_INVALID_ARG, "weight[%lld] = %s is not finite", (long long)c, v);
        }
        *w_total += w;
    }
    for (int64_t i = 0; i < a->N; i++) {
        int64_t y = a->targets != NULL ? class_target(a, i) : 0;
        if (a->targets != NULL && y != a->ignore_index && (y < 0 || y >= a->C))
            return jnce_fail(JNCE_ERR_INVALID_ARG,
                             "targets[%lld] = %lld is outside [0, %lld) for logits of shape (%lld, %lld) and is not "
                             "the ignore index %lld", (long long)i, (long long)y, (long long)a->C, (long long)a->N,
                             (long long)a->C, (long long)a->ignore_index);
        if (!row_counted(a, i)) continue;
        *counted += 1.0;
        *denom += a->probs == NULL && a->weight ? a->weight[y] : 1.0;
    }
    return JNCE_OK;
}

int32_t jnce_cross_entropy_fwd_bwd(int64_t N, int64_t C, const float *logits, const void *targets,
                                   int32_t target_dtype, const float *target_probs, const int32_t *row_mask,
                                   const float *weight, int64_t ignore_index, float label_smoothing, float z_loss,
                                   int32_t reduction, int32_t zero_if_empty, float *loss, float *grad, float *lse) {
    return jnce_cross_entropy_strided_fwd_bwd(N, C, C, logits, targets, target_dtype, target_probs, row_mask, weight,
                                              ignore_index, label_smoothing, z_loss, reduction, zero_if_empty, loss,
                                              grad, lse);
}

static int32_t strided_run(const xent_call *a);

int32_t jnce_cross_entropy_strided_fwd_bwd(int64_t N, int64_t C, int64_t ld, const float *logits, const void *targets,
                                           int32_t target_dtype, const float *target_probs, const int32_t *row_mask,
                                           const float *weight, int64_t ignore_index, float label_smoothing,
                                           float z_loss, int32_t reduction, int32_t zero_if_empty, float *loss,
                                           float *grad, float *lse) {
    const xent_call call = {N, C, logits, targets, target_dtype, target_probs, row_mask, weight, ignore_index,
                            label_smoothing, z_loss, reduction, zero_if_empty, loss, grad, lse, ld, NULL};
    return strided_run(&call);
}

int32_t jnce_xent_rows_lse(int64_t N, int64_t C, int64_t ld, const float *logits, const int64_t *targets, float *loss, double *lse) {
    const xent_call call = {N, C, logits, targets, JNCE_DTYPE_INT64, NULL, NULL, NULL, -100, 0.0f, 0.0f, JNCE_REDUCTION_NONE, 0,
                            loss, NULL, NULL, ld, lse};
    return strided_run(&call);
}

static int32_t strided_run(const xent_call *a) {
    const int64_t N = a->N, C = a->C;
    const float *logits = a->logits;
    float *grad = a->grad;
    int32_t status = check_args(a);
    if (status != JNCE_OK) return status;
    double denom = 0.0, counted = 0.0, w_total = 0.0;
    status = denominators(a, &w_total, &denom, &counted);
    if (status != JNCE_OK) return status;
    int mean = a->reduction == JNCE_REDUCTION_MEAN;
    int empty_zero = mean && a->zero_if_empty && counted == 0.0;

    double *rows = malloc((size_t)N * 2 * sizeof(double));
    if (rows == NULL) return jnce_fail(JNCE_ERR_OUT_OF_MEMORY, "cross_entropy: no memory for %lld row losses", (long long)N);
    xent_job job = {a, jnce_use_avx2(), jnce_use_avx512(),
                    empty_zero ? 0.0 : mean ? 1.0 / denom : 1.0,
                    empty_zero ? 0.0 : mean ? 1.0 / counted : 1.0,
                    w_total, rows, rows + N, -1, NULL, 0};
    /* A row is worth a thread switch only when it is long: ~64k values per thread at least. */
    int64_t rows_per_thread = C >= 65536 ? 1 : 65536 / C;
    /* in place, the gradient's lines are the logits', in cache already: nothing to save, and a
     * GEMM that reads the gradient next (the contrastive sweeps) finds it there */
    int32_t slices = 0;
    if (job.avx512 && grad != NULL && grad != logits && C > SMALL_ROWS / 2 && C <= SHORT_ROW && stream_gradient(N, C)) {
        slices = jnce_threads();
        job.ahead_exp = ahead_in_exp_pass();
        job.scratch = malloc((size_t)slices * (size_t)C * sizeof(float)); /* NULL: the plain passes */
    }
    if (job.scratch) jnce_parallel_for_at_most(N, rows_per_thread, slices, xent_rows, &job);
    else jnce_parallel_for(N, rows_per_thread, xent_rows, &job);
    free(job.scratch);

    if (job.bad_row >= 0) {
        free(rows);
        return jnce_fail(JNCE_ERR_INVALID_ARG,
                         "targets: row %lld is not a probability distribution (entries must be >= 0 and sum to 1 within 1e-3) for "
                         "logits of shape (%lld, %lld)", (long long)job.bad_row, (long long)N, (long long)C);
    }
    if (a->reduction == JNCE_REDUCTION_NONE) {
        for (int64_t i = 0; i < N; i++) a->loss[i] = (float)(job.row_loss[i] + a->z_loss * job.row_z[i]);
    } else {
        double ce = 0.0, z = 0.0;
        for (int64_t i = 0; i < N; i++) {
            ce += job.row_loss[i];
            z += job.row_z[i];
        }
        double total = mean ? (empty_zero ? 0.0 : ce / denom + (a->z_loss > 0.0f ? a->z_loss * z / counted : 0.0))
                            : ce + a->z_loss * z;
        a->loss[0] = (float)total;
    }
    free(rows);
    return JNCE_OK;
}

/* ---- perplexity of a mean cross-entropy ------------------------------------------------- */

int32_t jnce_cross_entropy_perplexity_fwd_bwd(const float *mean_loss, int64_t M, float *ppl, float *grad) {
    if (mean_loss == NULL || ppl == NULL)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "cross_entropy_perplexity: mean_loss and ppl must be non-null");
    if (grad != NULL && M < 0)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "cross_entropy_perplexity: M=%lld must be >= 0", (long long)M);
    float value = (float)exp((double)mean_loss[0]); /* read before ppl, which may alias mean_loss, is written */
    ppl[0] = value;
    if (grad != NULL)
        for (int64_t k = 0; k < M; k++)
            if (grad[k] != 0.0f) grad[k] *= value; /* a zero (ignored) gradient stays zero when exp(L) is NaN or Inf */
    return JNCE_OK;
}
