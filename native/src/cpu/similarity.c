/*
 * similarity.c - L2 normalisation of rows (F.normalize, p=2, dim=-1) and row-wise cosine
 * similarity (F.cosine_similarity, dim=1), forward and backward, PyTorch 1.13 semantics.
 *
 *   x, y, dy, dx   (N,D) float32         normalize: y = x / max(||x||, eps)
 *   x1, x2, dx*    (N,D) float32         cosine:    out = x1/c1 . x2/c2, c = max(||x||, eps)
 *   out, dout      (N)   float32
 *
 * The two clamp differently in their gradients, as PyTorch does: F.normalize's clamp_min cuts
 * the norm's gradient below eps (dx = dy / eps), while cosine_similarity clamps the saved norm
 * in place, so its gradient keeps the norm term with c = eps. Norms and dots are summed in
 * double; rows are spread over threads. The similarity matrix itself is a GEMM (gemm.c).
 * Checked against a double reference by native/test/test_similarity.c.
 */
#include <math.h>
#include <string.h>

#include "internal.h"
#include "similarity.h"
#include "simd_exp.h"

/* max(norm, eps) that keeps a NaN norm, as torch's clamp_min does (fmax would drop it). */
static inline double clamp_norm(double norm, double eps) {
    return isnan(norm) ? norm : fmax(norm, eps);
}

/*
 * Dot products of float rows, summed in double. Element j goes to partial sum j % 16 (products of
 * two floats are exact in double, so a fused multiply-add rounds as the add alone), and the 16
 * sums are added in one fixed tree. The AVX-512, AVX2 and scalar paths assign and add in the same
 * order: they give the same bits.
 */
#define DOT_LANES 16

static double dot_tree(double s[DOT_LANES], const float *a, const float *b, int64_t from, int64_t D) {
    for (int64_t j = from; j < D; j++) s[j % DOT_LANES] += (double)a[j] * b[j];
    double t[8];
    for (int i = 0; i < 8; i++) t[i] = s[i] + s[i + 8];
    return ((t[0] + t[4]) + (t[2] + t[6])) + ((t[1] + t[5]) + (t[3] + t[7]));
}

static double dot_row_scalar(const float *a, const float *b, int64_t D) {
    double s[DOT_LANES] = {0};
    int64_t j = 0;
    for (; j + DOT_LANES <= D; j += DOT_LANES)
        for (int i = 0; i < DOT_LANES; i++) s[i] += (double)a[j + i] * b[j + i];
    return dot_tree(s, a, b, j, D);
}

JNCE_TARGET_AVX2 static double dot_row_avx2(const float *a, const float *b, int64_t D) {
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd(), s2 = _mm256_setzero_pd(), s3 = _mm256_setzero_pd();
    int64_t j = 0;
    for (; j + DOT_LANES <= D; j += DOT_LANES) {
        __m256 a0 = _mm256_loadu_ps(a + j), a1 = _mm256_loadu_ps(a + j + 8);
        __m256 b0 = _mm256_loadu_ps(b + j), b1 = _mm256_loadu_ps(b + j + 8);
        s0 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(a0)), _mm256_cvtps_pd(_mm256_castps256_ps128(b0)), s0);
        s1 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(a0, 1)), _mm256_cvtps_pd(_mm256_extractf128_ps(b0, 1)), s1);
        s2 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(a1)), _mm256_cvtps_pd(_mm256_castps256_ps128(b1)), s2);
        s3 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(a1, 1)), _mm256_cvtps_pd(_mm256_extractf128_ps(b1, 1)), s3);
    }
    if (j == D) { /* no tail: dot_tree's additions on the registers (t = s + s[8..], then the tree) */
        const __m256d t0 = _mm256_add_pd(s0, s2), t1 = _mm256_add_pd(s1, s3); /* t0..t3, t4..t7 */
        const __m256d u = _mm256_add_pd(t0, t1);                                /* t0+t4 .. t3+t7 */
        const __m128d v = _mm_add_pd(_mm256_castpd256_pd128(u), _mm256_extractf128_pd(u, 1));
        return _mm_cvtsd_f64(_mm_add_sd(v, _mm_unpackhi_pd(v, v)));
    }
    double s[DOT_LANES];
    _mm256_storeu_pd(s, s0);
    _mm256_storeu_pd(s + 4, s1);
    _mm256_storeu_pd(s + 8, s2);
    _mm256_storeu_pd(s + 12, s3);
    return dot_tree(s, a, b, j, D);
}

#ifdef JNCE_HAVE_AVX512
/* The partial sums of a and b's products over [0, D - D % 16): s0 holds sums 0-7, s1 sums 8-15. */
JNCE_TARGET_AVX512 __attribute__((always_inline)) static inline int64_t dot_lanes_avx512(const float *a, const float *b, int64_t D, __m512d *s0,
                                                          __m512d *s1) {
    int64_t j = 0;
    for (; j + DOT_LANES <= D; j += DOT_LANES) {
        __m512 av = _mm512_loadu_ps(a + j), bv = _mm512_loadu_ps(b + j);
        __m256 ah = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(av), 1));
        __m256 bh = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(bv), 1));
        *s0 = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(av)), _mm512_cvtps_pd(_mm512_castps512_ps256(bv)), *s0);
        *s1 = _mm512_fmadd_pd(_mm512_cvtps_pd(ah), _mm512_cvtps_pd(bh), *s1);
    }
    return j;
}

/* dot_tree's additions on the registers (no tail left): t = s + s[8..], then the same tree. */
JNCE_TARGET_AVX512 __attribute__((always_inline)) static inline double dot_tree_avx512(__m512d s0, __m512d s1) {
    __m512d t = _mm512_add_pd(s0, s1);                                                     /* t0..t7 */
    __m256d u = _mm256_add_pd(_mm512_castpd512_pd256(t), _mm512_extractf64x4_pd(t, 1));    /* t0+t4 .. t3+t7 */
    __m128d v = _mm_add_pd(_mm256_castpd256_pd128(u), _mm256_extractf128_pd(u, 1));       /* u0+u2, u1+u3 */
    return _mm_cvtsd_f64(_mm_add_sd(v, _mm_unpackhi_pd(v, v)));
}

/* The sums with the tail [j, D) (fewer than 16 elements) added, as dot_tree adds them: element j + l
 * to partial sum l (j is a multiple of 16); the lanes past D add 0 * 0, which changes no sum. */
JNCE_TARGET_AVX512 __attribute__((always_inline)) static inline double dot_finish_avx512(__m512d s0, __m512d s1,
                                                                                         const float *a, const float *b,
                                                                                         int64_t j, int64_t D) {
    if (j < D) {
        const __mmask16 m = (__mmask16)((1u << (D - j)) - 1u);
        __m512 av = _mm512_maskz_loadu_ps(m, a + j), bv = _mm512_maskz_loadu_ps(m, b + j);
        __m256 ah = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(av), 1));
        __m256 bh = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(bv), 1));
        s0 = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(av)), _mm512_cvtps_pd(_mm512_castps512_ps256(bv)), s0);
        s1 = _mm512_fmadd_pd(_mm512_cvtps_pd(ah), _mm512_cvtps_pd(bh), s1);
    }
    return dot_tree_avx512(s0, s1);
}

JNCE_TARGET_AVX512 static double dot_row_avx512(const float *a, const float *b, int64_t D) {
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
    int64_t j = dot_lanes_avx512(a, b, D, &s0, &s1);
    return dot_finish_avx512(s0, s1, a, b, j, D);
}

/* x . x and x . y in one pass: the same sums, in the same order, as two dot_row_avx512 calls. */
JNCE_TARGET_AVX512 static void dot_pair_avx512(const float *x, const float *y, int64_t D, double *xx, double *xy) {
    __m512d p0 = _mm512_setzero_pd(), p1 = _mm512_setzero_pd(), q0 = _mm512_setzero_pd(), q1 = _mm512_setzero_pd();
    int64_t j = 0;
    for (; j + DOT_LANES <= D; j += DOT_LANES) {
        __m512 xv = _mm512_loadu_ps(x + j), yv = _mm512_loadu_ps(y + j);
        __m512d xl = _mm512_cvtps_pd(_mm512_castps512_ps256(xv));
        __m512d xh = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(xv), 1)));
        __m512d yl = _mm512_cvtps_pd(_mm512_castps512_ps256(yv));
        __m512d yh = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(yv), 1)));
        p0 = _mm512_fmadd_pd(xl, xl, p0), p1 = _mm512_fmadd_pd(xh, xh, p1);
        q0 = _mm512_fmadd_pd(xl, yl, q0), q1 = _mm512_fmadd_pd(xh, yh, q1);
    }
    *xx = dot_finish_avx512(p0, p1, x, x, j, D);
    *xy = dot_finish_avx512(q0, q1, x, y, j, D);
}

/* x_r . x_r for four rows, each with dot_row_avx512's bits: the four rows' eight partial sums run
 * side by side (one row's sums are a chain of D / 16 dependent multiply-adds), and a half row is
 * widened straight from memory. */
JNCE_TARGET_AVX512 static void dot_self4_avx512(const float *const x[4], int64_t D, double out[4]) {
    __m512d s0[4], s1[4];
    for (int r = 0; r < 4; r++) s0[r] = s1[r] = _mm512_setzero_pd();
    int64_t j = 0;
    for (; j + DOT_LANES <= D; j += DOT_LANES) {
        for (int r = 0; r < 4; r++) {
            __m512d l = _mm512_cvtps_pd(_mm256_loadu_ps(x[r] + j)), h = _mm512_cvtps_pd(_mm256_loadu_ps(x[r] + j + 8));
            s0[r] = _mm512_fmadd_pd(l, l, s0[r]);
            s1[r] = _mm512_fmadd_pd(h, h, s1[r]);
        }
    }
    for (int r = 0; r < 4; r++) out[r] = dot_finish_avx512(s0[r], s1[r], x[r], x[r], j, D);
}

/* dot_pair_avx512 for four rows side by side: x_r . x_r and x_r . y_r, the same bits. */
JNCE_TARGET_AVX512 static void dot_pair4_avx512(const float *const x[4], const float *const y[4], int64_t D, double xx[4],
                                                double xy[4]) {
    __m512d p0[4], p1[4], q0[4], q1[4];
    for (int r = 0; r < 4; r++) p0[r] = p1[r] = q0[r] = q1[r] = _mm512_setzero_pd();
    int64_t j = 0;
    for (; j + DOT_LANES <= D; j += DOT_LANES) {
        for (int r = 0; r < 4; r++) {
            __m512d xl = _mm512_cvtps_pd(_mm256_loadu_ps(x[r] + j)), xh = _mm512_cvtps_pd(_mm256_loadu_ps(x[r] + j + 8));
            __m512d yl = _mm512_cvtps_pd(_mm256_loadu_ps(y[r] + j)), yh = _mm512_cvtps_pd(_mm256_loadu_ps(y[r] + j + 8));
            p0[r] = _mm512_fmadd_pd(xl, xl, p0[r]), p1[r] = _mm512_fmadd_pd(xh, xh, p1[r]);
            q0[r] = _mm512_fmadd_pd(xl, yl, q0[r]), q1[r] = _mm512_fmadd_pd(xh, yh, q1[r]);
        }
    }
    for (int r = 0; r < 4; r++) {
        xx[r] = dot_finish_avx512(p0[r], p1[r], x[r], x[r], j, D);
        xy[r] = dot_finish_avx512(q0[r], q1[r], x[r], y[r], j, D);
    }
}
#endif

double jnce_dot_row(const float *a, const float *b, int64_t D) {
    if (D >= DOT_LANES) {
#ifdef JNCE_HAVE_AVX512
        if (jnce_use_avx512()) return dot_row_avx512(a, b, D);
#endif
        if (jnce_use_avx2()) return dot_row_avx2(a, b, D);
    }
    return dot_row_scalar(a, b, D);
}

#ifdef JNCE_HAVE_AVX512
/* a . b[r] for r < R, each with dot_row_avx512's bits: the R sums run side by side and the shared
 * row a is loaded and widened once a step (a query against its positive and negatives). */
JNCE_TARGET_AVX512 __attribute__((always_inline)) static inline void dot_shared_avx512(const float *a, const float *const *b,
                                                                                       int R, int64_t D, double *out) {
    __m512d s0[8], s1[8];
    for (int r = 0; r < R; r++) s0[r] = s1[r] = _mm512_setzero_pd();
    int64_t j = 0;
    for (; j + DOT_LANES <= D; j += DOT_LANES) {
        const __m512d al = _mm512_cvtps_pd(_mm256_loadu_ps(a + j)), ah = _mm512_cvtps_pd(_mm256_loadu_ps(a + j + 8));
        for (int r = 0; r < R; r++) {
            s0[r] = _mm512_fmadd_pd(al, _mm512_cvtps_pd(_mm256_loadu_ps(b[r] + j)), s0[r]);
            s1[r] = _mm512_fmadd_pd(ah, _mm512_cvtps_pd(_mm256_loadu_ps(b[r] + j + 8)), s1[r]);
        }
    }
    for (int r = 0; r < R; r++) out[r] = dot_finish_avx512(s0[r], s1[r], a, b[r], j, D);
}

#define DOT_SHARED(R)                                                                                       \
    JNCE_TARGET_AVX512 static void dot_shared##R##_avx512(const float *a, const float *const *b, int64_t D, \
                                                          double *out) {                                     \
        dot_shared_avx512(a, b, R, D, out);                                                                 \
    }
DOT_SHARED(1)
DOT_SHARED(2)
DOT_SHARED(3)
DOT_SHARED(4)
DOT_SHARED(5)
DOT_SHARED(6)
DOT_SHARED(7)
DOT_SHARED(8)
#undef DOT_SHARED

typedef void (*dot_shared_fn)(const float *, const float *const *, int64_t, double *);
static const dot_shared_fn DOT_SHARED_AVX512[9] = {NULL,
                                                   dot_shared1_avx512,
                                                   dot_shared2_avx512,
                                                   dot_shared3_avx512,
                                                   dot_shared4_avx512,
                                                   dot_shared5_avx512,
                                                   dot_shared6_avx512,
                                                   dot_shared7_avx512,
                                                   dot_shared8_avx512};

/* dot_row_avx512 for four pairs side by side, each with its bits (as dot_self4_avx512). */
JNCE_TARGET_AVX512 static void dot_rows4_avx512(const float *const a[4], const float *const b[4], int64_t D, double out[4]) {
    __m512d s0[4], s1[4];
    for (int r = 0; r < 4; r++) s0[r] = s1[r] = _mm512_setzero_pd();
    int64_t j = 0;
    for (; j + DOT_LANES <= D; j += DOT_LANES) {
        for (int r = 0; r < 4; r++) {
            s0[r] = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm256_loadu_ps(a[r] + j)), _mm512_cvtps_pd(_mm256_loadu_ps(b[r] + j)), s0[r]);
            s1[r] = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm256_loadu_ps(a[r] + j + 8)), _mm512_cvtps_pd(_mm256_loadu_ps(b[r] + j + 8)),
                                    s1[r]);
        }
    }
    for (int r = 0; r < 4; r++) out[r] = dot_finish_avx512(s0[r], s1[r], a[r], b[r], j, D);
}
#endif

void jnce_dot_rows(const float *const *a, const float *const *b, int64_t m, int64_t D, double *out) {
    int64_t t = 0;
#ifdef JNCE_HAVE_AVX512
    if (D >= DOT_LANES && jnce_use_avx512())
        for (; t + 4 <= m; t += 4) dot_rows4_avx512(a + t, b + t, D, out + t);
#endif
    for (; t < m; t++) out[t] = jnce_dot_row(a[t], b[t], D);
}

void jnce_dot_query(const float *a, const float *const *b, int64_t m, int64_t D, double *out) {
    int64_t t = 0;
#ifdef JNCE_HAVE_AVX512
    if (D >= DOT_LANES && jnce_use_avx512()) {
        for (; t < m; t += 8) DOT_SHARED_AVX512[m - t < 8 ? m - t : 8](a, b + t, D, out + t);
        return;
    }
#endif
    for (; t < m; t++) out[t] = jnce_dot_row(a, b[t], D);
}

/* x . x and x . y (jnce_dot_row's bits), in one pass where the CPU has AVX-512. */
static void dot_pair(const float *x, const float *y, int64_t D, double *xx, double *xy) {
#ifdef JNCE_HAVE_AVX512
    if (D >= DOT_LANES && jnce_use_avx512()) {
        dot_pair_avx512(x, y, D, xx, xy);
        return;
    }
#endif
    *xx = jnce_dot_row(x, x, D);
    *xy = jnce_dot_row(x, y, D);
}

/* x_r . x_r for the nb <= 8 rows at x, x + D, ..., four at a time on AVX-512 (the same bits). */
static void dot_self_block(const float *x, int nb, int64_t D, double *xx) {
    int r = 0;
#ifdef JNCE_HAVE_AVX512
    if (D >= DOT_LANES && jnce_use_avx512()) {
        for (; r + 4 <= nb; r += 4) {
            const float *const rows[4] = {x + r * D, x + (r + 1) * D, x + (r + 2) * D, x + (r + 3) * D};
            dot_self4_avx512(rows, D, xx + r);
        }
    }
#endif
    for (; r < nb; r++) xx[r] = jnce_dot_row(x + r * D, x + r * D, D);
}

/* dot_pair for the nb <= 8 rows at x and y, four at a time on AVX-512 (the same bits). */
static void dot_pair_block(const float *x, const float *y, int nb, int64_t D, double *xx, double *xy) {
    int r = 0;
#ifdef JNCE_HAVE_AVX512
    if (D >= DOT_LANES && jnce_use_avx512()) {
        for (; r + 4 <= nb; r += 4) {
            const float *const xr[4] = {x + r * D, x + (r + 1) * D, x + (r + 2) * D, x + (r + 3) * D};
            const float *const yr[4] = {y + r * D, y + (r + 1) * D, y + (r + 2) * D, y + (r + 3) * D};
            dot_pair4_avx512(xr, yr, D, xx + r, xy + r);
        }
    }
#endif
    for (; r < nb; r++) dot_pair(x + r * D, y + r * D, D, &xx[r], &xy[r]);
}

double jnce_cosine_row(const float *x1, const float *x2, int64_t D, double eps, double *c1, double *c2) {
    *c1 = clamp_norm(sqrt(jnce_dot_row(x1, x1, D)), eps);
    *c2 = clamp_norm(sqrt(jnce_dot_row(x2, x2, D)), eps);
    return jnce_dot_row(x1, x2, D) / (*c1 * *c2);
}

void jnce_cosine_row_grad_add(const float *x1, const float *x2, int64_t D, double cos, double c1,
                              double c2, double u, float *dx1, float *dx2) {
    double a1 = u / (c1 * c2), b1 = u * cos / (c1 * c1);
    double a2 = u / (c1 * c2), b2 = u * cos / (c2 * c2);
    for (int64_t j = 0; j < D; j++) {
        if (dx1 != NULL) dx1[j] += (float)(a1 * x2[j] - b1 * x1[j]);
        if (dx2 != NULL) dx2[j] += (float)(a2 * x1[j] - b2 * x2[j]);
    }
}

typedef struct {
    const float *x, *x2, *dy;
    float *y, *dx, *dx2;
    int64_t D;
    double eps;
    int stream; /* results by streaming stores (stream_rows) */
} rows_job;

static int32_t check_rows(const char *op, const void *a, const void *b, int64_t N, int64_t D, float eps) {
    if (a == NULL || b == NULL) return jnce_fail(JNCE_ERR_INVALID_ARG, "%s: null buffer", op);
    if (N <= 0 || D <= 0)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "%s: N=%lld and D=%lld must be positive", op, (long long)N,
                         (long long)D);
    if (!(eps >= 0.0f) || isinf(eps)) return jnce_fail(JNCE_ERR_INVALID_ARG, "%s: eps=%g must be finite and >= 0", op, eps);
    return JNCE_OK;
}

/* Rows per thread: about 32k values each. */
static int64_t rows_per_thread(int64_t D) {
    return D >= 32768 ? 1 : 32768 / D;
}

/* y = x * inv, float products (the same bits on every path). */
static void scale_row_scalar(const float *x, float inv, float *y, int64_t from, int64_t D) {
    for (int64_t j = from; j < D; j++) y[j] = x[j] * inv;
}

/* dx = (float)(a dy - b x) in double, rounded once to float (the SIMD paths may fuse the multiply and the subtraction). */
static void combine_row_scalar(double a, const float *dy, double b, const float *x, float *dx, int64_t from, int64_t D) {
    for (int64_t j = from; j < D; j++) dx[j] = (float)(a * dy[j] - b * x[j]);
}

JNCE_TARGET_AVX2 static void scale_row_avx2(const float *x, float inv, float *y, int64_t D) {
    __m256 v = _mm256_set1_ps(inv);
    int64_t j = 0;
    for (; j + 8 <= D; j += 8) _mm256_storeu_ps(y + j, _mm256_mul_ps(_mm256_loadu_ps(x + j), v));
    scale_row_scalar(x, inv, y, j, D);
}

JNCE_TARGET_AVX2 static void combine_row_avx2(double a, const float *dy, double b, const float *x, float *dx, int64_t D) {
    __m256d av = _mm256_set1_pd(a), bv = _mm256_set1_pd(b);
    int64_t j = 0;
    for (; j + 4 <= D; j += 4) {
        __m256d d = _mm256_cvtps_pd(_mm_loadu_ps(dy + j)), v = _mm256_cvtps_pd(_mm_loadu_ps(x + j));
        _mm_storeu_ps(dx + j, _mm256_cvtpd_ps(_mm256_sub_pd(_mm256_mul_pd(av, d), _mm256_mul_pd(bv, v))));
    }
    combine_row_scalar(a, dy, b, x, dx, j, D);
}

#ifdef JNCE_HAVE_AVX512
JNCE_TARGET_AVX512 static void scale_row_avx512(const float *x, float inv, float *y, int64_t D) {
    __m512 v = _mm512_set1_ps(inv);
    int64_t j = 0;
    for (; j + 16 <= D; j += 16) _mm512_storeu_ps(y + j, _mm512_mul_ps(_mm512_loadu_ps(x + j), v));
    scale_row_scalar(x, inv, y, j, D);
}

JNCE_TARGET_AVX512 static void combine_row_avx512(double a, const float *dy, double b, const float *x, float *dx, int64_t D) {
    __m512d av = _mm512_set1_pd(a), bv = _mm512_set1_pd(b);
    int64_t j = 0;
    for (; j + 8 <= D; j += 8) {
        __m512d d = _mm512_cvtps_pd(_mm256_loadu_ps(dy + j)), v = _mm512_cvtps_pd(_mm256_loadu_ps(x + j));
        _mm256_storeu_ps(dx + j, _mm512_cvtpd_ps(_mm512_sub_pd(_mm512_mul_pd(av, d), _mm512_mul_pd(bv, v))));
    }
    combine_row_scalar(a, dy, b, x, dx, j, D);
}
#endif

#ifdef JNCE_HAVE_AVX512
/* scale_row_avx512 and combine_row_avx512 by streaming stores (y, dx 64-byte aligned, D a
 * multiple of 16): the same values, written without reading the destination's lines first. */
JNCE_TARGET_AVX512 static void scale_row_stream_avx512(const float *x, float inv, float *y, int64_t D) {
    __m512 v = _mm512_set1_ps(inv);
    for (int64_t j = 0; j < D; j += 16) _mm512_stream_ps(y + j, _mm512_mul_ps(_mm512_loadu_ps(x + j), v));
}

JNCE_TARGET_AVX512 static void combine_row_stream_avx512(double a, const float *dy, double b, const float *x, float *dx,
                                                         int64_t D) {
    __m512d av = _mm512_set1_pd(a), bv = _mm512_set1_pd(b);
    for (int64_t j = 0; j < D; j += 8) {
        __m512d d = _mm512_cvtps_pd(_mm256_loadu_ps(dy + j)), v = _mm512_cvtps_pd(_mm256_loadu_ps(x + j));
        _mm256_stream_ps(dx + j, _mm512_cvtpd_ps(_mm512_sub_pd(_mm512_mul_pd(av, d), _mm512_mul_pd(bv, v))));
    }
}
#endif

/*
 * Whether a normalisation (forward or backward) writes its result by streaming stores: where the
 * result is at least JNCE_STREAM_BYTES (beyond these machines' last-level cache, so the op that reads
 * it next would not find it there anyway), on AVX-512, 64-byte aligned with D a multiple of 16.
 * Streamed, the result's lines are not read for ownership from memory first: (65536, 256) on two
 * threads of an AMD Zen 4 VM, best of 10-20 in alternating runs (ad-hoc, eight rounds in two
 * spells), the forward 5.6-8.5 -> 4.3-5.4 ms and the backward 10.7-15.0 -> 8.8-10.7 ms;
 * (32768, 256) 4.3 -> 2.9 and 6.9 -> 5.4.
 * Smaller results are written through the cache, where the next op finds them (alone, streaming
 * was faster there too: (8192, 256) 0.85 -> 0.32 ms). JNCE_NORM_STREAM=1 or 0 overrides the size
 * rule (for measuring). The same values either way.
 */
static int stream_rows(const float *out, int64_t N, int64_t D) {
#ifdef JNCE_HAVE_AVX512
    if (!jnce_use_avx512() || D % 16 != 0 || ((uintptr_t)out & 63) != 0) return 0;
    static int forced = -2; /* -1: the size rule; 0 or 1: JNCE_NORM_STREAM */
    int f = jnce_env_switch("JNCE_NORM_STREAM", &forced);
    if (f >= 0) return f;
    return 4.0 * (double)N * (double)D >= JNCE_STREAM_BYTES;
#else
    (void)out, (void)N, (void)D;
    return 0;
#endif
}

static void scale_row(const float *x, float inv, float *y, int64_t D) {
#ifdef JNCE_HAVE_AVX512
    if (jnce_use_avx512()) {
        scale_row_avx512(x, inv, y, D);
        return;
    }
#endif
    if (jnce_use_avx2()) scale_row_avx2(x, inv, y, D);
    else scale_row_scalar(x, inv, y, 0, D);
}

static void combine_row(double a, const float *dy, double b, const float *x, float *dx, int64_t D) {
#ifdef JNCE_HAVE_AVX512
    if (jnce_use_avx512()) {
        combine_row_avx512(a, dy, b, x, dx, D);
        return;
    }
#endif
    if (jnce_use_avx2()) combine_row_avx2(a, dy, b, x, dx, D);
    else combine_row_scalar(a, dy, b, x, dx, 0, D);
}

/* Rows go in blocks: the block's dot products first, then its norms, then its stores. A row's
 * products, square root, division and store form one chain of about a hundred cycles at D = 128;
 * row by row, the next row's products wait behind it, while a block's eight sums run side by
 * side. Each row's arithmetic is unchanged (the same bits). */
#define NORM_BLOCK 8

static void normalize_rows(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const rows_job *job = ctx;
    const int64_t D = job->D;
    for (int64_t i0 = begin; i0 < end; i0 += NORM_BLOCK) {
        const int nb = end - i0 < NORM_BLOCK ? (int)(end - i0) : NORM_BLOCK;
        double xx[NORM_BLOCK];
        dot_self_block(job->x + i0 * D, nb, D, xx);
        for (int r = 0; r < nb; r++) {
            float inv = (float)(1.0 / clamp_norm(sqrt(xx[r]), job->eps));
#ifdef JNCE_HAVE_AVX512
            if (job->stream) {
                scale_row_stream_avx512(job->x + (i0 + r) * D, inv, job->y + (i0 + r) * D, D);
                continue;
            }
#endif
            scale_row(job->x + (i0 + r) * D, inv, job->y + (i0 + r) * D, D);
        }
    }
#ifdef JNCE_HAVE_AVX512
    if (job->stream) _mm_sfence(); /* the streamed lines reach memory before the job is seen done */
#endif
}

int32_t jnce_l2_normalize_fwd(const float *x, int64_t N, int64_t D, float eps, float *y) {
    int32_t rc = check_rows("l2_normalize_fwd", x, y, N, D, eps);
    if (rc != JNCE_OK) return rc;
    rows_job job = {.x = x, .y = y, .D = D, .eps = eps, .stream = stream_rows(y, N, D)};
    jnce_parallel_for(N, rows_per_thread(D), normalize_rows, &job);
    return JNCE_OK;
}

static void normalize_bwd_rows(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const rows_job *job = ctx;
    const int64_t D = job->D;
    for (int64_t i0 = begin; i0 < end; i0 += NORM_BLOCK) {
        const int nb = end - i0 < NORM_BLOCK ? (int)(end - i0) : NORM_BLOCK;
        double xx[NORM_BLOCK], xdy[NORM_BLOCK];
        dot_pair_block(job->x + i0 * D, job->dy + i0 * D, nb, D, xx, xdy);
        for (int r = 0; r < nb; r++) {
            const float *x = job->x + (i0 + r) * D, *dy = job->dy + (i0 + r) * D;
            float *dx = job->dx + (i0 + r) * D;
            double norm = sqrt(xx[r]);
            if (norm < job->eps) { /* clamp_min passes no gradient to the norm */
                float inv = (float)(1.0 / job->eps);
                for (int64_t j = 0; j < D; j++) dx[j] = dy[j] * inv;
                continue;
            }
            /* dx = dy / n - x (x . dy) / n^3 */
            double a = 1.0 / norm, b = xdy[r] / (norm * norm * norm);
#ifdef JNCE_HAVE_AVX512
            if (job->stream) {
                combine_row_stream_avx512(a, dy, b, x, dx, D);
                continue;
            }
#endif
            combine_row(a, dy, b, x, dx, D);
        }
    }
#ifdef JNCE_HAVE_AVX512
    if (job->stream) _mm_sfence();
#endif
}

int32_t jnce_l2_normalize_bwd(const float *x, const float *dy, int64_t N, int64_t D, float eps, float *dx) {
    int32_t rc = check_rows("l2_normalize_bwd", x, dy, N, D, eps);
    if (rc == JNCE_OK && dx == NULL) rc = jnce_fail(JNCE_ERR_INVALID_ARG, "l2_normalize_bwd: null dx");
    if (rc != JNCE_OK) return rc;
    rows_job job = {.x = x, .dy = dy, .dx = dx, .D = D, .eps = eps, .stream = stream_rows(dx, N, D)};
    jnce_parallel_for(N, rows_per_thread(D), normalize_bwd_rows, &job);
    return JNCE_OK;
}

static void cosine_rows(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const rows_job *job = ctx;
    double c1, c2;
    for (int64_t i = begin; i < end; i++)
        job->y[i] = (float)jnce_cosine_row(job->x + i * job->D, job->x2 + i * job->D, job->D, job->eps, &c1, &c2);
}

int32_t jnce_cosine_similarity_fwd(const float *x1, const float *x2, int64_t N, int64_t D, float eps, float *out) {
    int32_t rc = check_rows("cosine_similarity_fwd", x1, x2, N, D, eps);
    if (rc == JNCE_OK && out == NULL) rc = jnce_fail(JNCE_ERR_INVALID_ARG, "cosine_similarity_fwd: null out");
    if (rc != JNCE_OK) return rc;
    rows_job job = {.x = x1, .x2 = x2, .y = out, .D = D, .eps = eps};
    jnce_parallel_for(N, rows_per_thread(D), cosine_rows, &job);
    return JNCE_OK;
}

static void cosine_bwd_rows(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const rows_job *job = ctx;
    const int64_t D = job->D;
    double c1, c2;
    for (int64_t i = begin; i < end; i++) {
        const float *x1 = job->x + i * D, *x2 = job->x2 + i * D;
        float *dx1 = job->dx == NULL ? NULL : job->dx + i * D;
        float *dx2 = job->dx2 == NULL ? NULL : job->dx2 + i * D;
        if (dx1 != NULL) memset(dx1, 0, (size_t)D * sizeof(float));
        if (dx2 != NULL) memset(dx2, 0, (size_t)D * sizeof(float));
        double cos = jnce_cosine_row(x1, x2, D, job->eps, &c1, &c2);
        jnce_cosine_row_grad_add(x1, x2, D, cos, c1, c2, job->dy[i], dx1, dx2);
    }
}

int32_t jnce_cosine_similarity_bwd(const float *x1, const float *x2, const float *dout, int64_t N, int64_t D,
                                   float eps, float *dx1, float *dx2) {
    int32_t rc = check_rows("cosine_similarity_bwd", x1, x2, N, D, eps);
    if (rc == JNCE_OK && dout == NULL) rc = jnce_fail(JNCE_ERR_INVALID_ARG, "cosine_similarity_bwd: null dout");
    if (rc != JNCE_OK) return rc;
    rows_job job = {.x = x1, .x2 = x2, .dy = dout, .dx = dx1, .dx2 = dx2, .D = D, .eps = eps};
    jnce_parallel_for(N, rows_per_thread(D), cosine_bwd_rows, &job);
    return JNCE_OK;
}
