/*
 * triplet.c - triplet margin loss, forward and backward in one pass per row, PyTorch 1.13:
 * F.triplet_margin_loss (pairwise distance) and F.triplet_margin_with_distance_loss with
 * distance 1 - F.cosine_similarity.
 *
 *   anchor, positive, negative   (N,D) float32
 *   loss                         (N) for JNCE_REDUCTION_NONE, else (1) float32
 *   grad_anchor/positive/negative (N,D) float32 or all NULL
 *
 * Per row:  d_pos = d(a,p),  d_neg = d(a,n), or min(d(a,n), d(p,n)) with swap;
 *           loss = max(margin + d_pos - d_neg, 0).
 * Pairwise: d(x1,x2) = ||v||_p with v = x1 - x2 + eps;  dd/dx1 = sign(v)|v|^(p-1) / d^(p-1)
 *           (0 where d == 0 or v == 0).  Cosine: d = 1 - cos, cos as in similarity.c.
 * Gradient rules copied from autograd: clamp_min passes the gradient where its input is
 * >= 0 (a hinge of exactly 0 is active); torch.minimum splits it in half on a tie. A NaN hinge
 * (a NaN or infinite input) passes 0, and 0 times the partials of a NaN or infinite distance is
 * NaN: the row's loss is NaN and so are the gradient rows of both inputs of every such distance.
 * Distances are accumulated in double. The p = 2 pairwise distance and its gradient, the default
 * and the common case, run on AVX2 lanes where the CPU has them: four double chains of four lanes
 * each for the sum of squares (the scalar loop waits on one addition's latency per element, about
 * 6 us of a (32, 128) call), and the gradient rows in float lanes from the same double
 * differences. Checked by native/test/test_triplet.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "similarity.h"
#include "x86_simd.h"

typedef struct {
    int32_t distance;
    double p, eps;
    int avx2; /* the p = 2 pairwise path on AVX2 lanes */
} dist_spec;

/* The distance and what its gradient needs: norm or cosine with c1, c2. */
typedef struct {
    double d, cos, c1, c2;
} dist_val;

static double pairwise_elem(const float *x1, const float *x2, int64_t j, double eps) {
    return (double)x1[j] - (double)x2[j] + eps;
}

/* (double)x1[j] - (double)x2[j] + eps for the four floats at j: the scalar pairwise_elem on lanes. */
JNCE_TARGET_AVX2 static inline __m256d pairwise4_avx2(const float *x1, const float *x2, int64_t j, __m256d eps) {
    return _mm256_add_pd(_mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x1 + j)), _mm256_cvtps_pd(_mm_loadu_ps(x2 + j))), eps);
}

/* sum_j (x1_j - x2_j + eps)^2 in double: four chains of four lanes, then the tail in scalar. */
JNCE_TARGET_AVX2 static double sum_squares_avx2(const float *x1, const float *x2, int64_t D, double eps) {
    const __m256d ve = _mm256_set1_pd(eps);
    __m256d s0 = _mm256_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
    int64_t j = 0;
    for (; j + 16 <= D; j += 16) {
        __m256d e0 = pairwise4_avx2(x1, x2, j, ve), e1 = pairwise4_avx2(x1, x2, j + 4, ve);
        __m256d e2 = pairwise4_avx2(x1, x2, j + 8, ve), e3 = pairwise4_avx2(x1, x2, j + 12, ve);
        s0 = _mm256_fmadd_pd(e0, e0, s0);
        s1 = _mm256_fmadd_pd(e1, e1, s1);
        s2 = _mm256_fmadd_pd(e2, e2, s2);
        s3 = _mm256_fmadd_pd(e3, e3, s3);
    }
    for (; j + 4 <= D; j += 4) {
        __m256d e0 = pairwise4_avx2(x1, x2, j, ve);
        s0 = _mm256_fmadd_pd(e0, e0, s0);
    }
    __m256d t = _mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3));
    __m128d h = _mm_add_pd(_mm256_castpd256_pd128(t), _mm256_extractf128_pd(t, 1));
    double sum = _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
    for (; j < D; j++) {
        double e = pairwise_elem(x1, x2, j, eps);
        sum += e * e;
    }
    return sum;
}

/* g1 += (float)(scale * v_j), g2 -= (float)(scale * v_j) with v_j = x1_j - x2_j + eps: the p = 2 gradient. */
JNCE_TARGET_AVX2 static void grad2_add_avx2(const float *x1, const float *x2, int64_t D, double eps, double scale,
                                            float *g1, float *g2) {
    const __m256d ve = _mm256_set1_pd(eps), vs = _mm256_set1_pd(scale);
    int64_t j = 0;
    for (; j + 4 <= D; j += 4) {
        __m128 w = _mm256_cvtpd_ps(_mm256_mul_pd(vs, pairwise4_avx2(x1, x2, j, ve)));
        _mm_storeu_ps(g1 + j, _mm_add_ps(_mm_loadu_ps(g1 + j), w));
        _mm_storeu_ps(g2 + j, _mm_sub_ps(_mm_loadu_ps(g2 + j), w));
    }
    for (; j < D; j++) {
        double e = pairwise_elem(x1, x2, j, eps);
        g1[j] += (float)(scale * e);
        g2[j] -= (float)(scale * e);
    }
}

static dist_val distance(const dist_spec *s, const float *x1, const float *x2, int64_t D) {
    dist_val v = {0, 0, 0, 0};
    if (s->distance == JNCE_DISTANCE_COSINE) {
        v.cos = jnce_cosine_row(x1, x2, D, s->eps, &v.c1, &v.c2);
        v.d = 1.0 - v.cos;
        return v;
    }
    double sum = 0;
    if (s->p == 2.0 && s->avx2) {
        v.d = sqrt(sum_squares_avx2(x1, x2, D, s->eps));
    } else if (s->p == 2.0) {
        for (int64_t j = 0; j < D; j++) {
            double e = pairwise_elem(x1, x2, j, s->eps);
            sum += e * e;
        }
        v.d = sqrt(sum);
    } else {
        for (int64_t j = 0; j < D; j++) sum += pow(fabs(pairwise_elem(x1, x2, j, s->eps)), s->p);
        v.d = s->p == 1.0 ? sum : pow(sum, 1.0 / s->p);
    }
    return v;
}

/* Adds u * dd/dx1 to g1 and u * dd/dx2 to g2. */
static void distance_grad_add(const dist_spec *s, const dist_val *v, const float *x1, const float *x2,
                              int64_t D, double u, float *g1, float *g2) {
    if (u == 0.0) return;
    if (s->distance == JNCE_DISTANCE_COSINE) {
        jnce_cosine_row_grad_add(x1, x2, D, v->cos, v->c1, v->c2, -u, g1, g2);
        return;
    }
    if (v->d == 0.0) return; /* autograd's norm backward masks a zero norm */
    double scale = u / (s->p == 2.0 ? v->d : pow(v->d, s->p - 1.0));
    if (s->p == 2.0 && s->avx2) {
        grad2_add_avx2(x1, x2, D, s->eps, scale, g1, g2);
        return;
    }
    for (int64_t j = 0; j < D; j++) {
        double e = pairwise_elem(x1, x2, j, s->eps);
        double w = s->p == 2.0 ? e : (e == 0.0 ? 0.0 : copysign(pow(fabs(e), s->p - 1.0), e));
        g1[j] += (float)(scale * w);
        g2[j] -= (float)(scale * w);
    }
}

/* Both gradient rows of a distance that is NaN or infinite under a NaN hinge: 0 * NaN. */
static void nan_grad_rows(const dist_val *v, int64_t D, float *g1, float *g2) {
    if (isfinite(v->d)) return;
    for (int64_t j = 0; j < D; j++) g1[j] = NAN, g2[j] = NAN;
}

typedef struct {
    const float *a, *p, *n;
    int64_t D;
    dist_spec spec;
    double margin, scale;
    int swap;
    float *row_loss, *ga, *gp, *gn; /* grads NULL for forward only */
} triplet_job;

static void triplet_rows(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const triplet_job *job = ctx;
    const int64_t D = job->D;
    for (int64_t i = begin; i < end; i++) {
        const float *a = job->a + i * D, *p = job->p + i * D, *n = job->n + i * D;
        dist_val dp = distance(&job->spec, a, p, D), dn = distance(&job->spec, a, n, D), ds = {0, 0, 0, 0};
        double d_neg = dn.d, w_neg = 1.0, w_swap = 0.0;
        if (job->swap) {
            ds = distance(&job->spec, p, n, D);
            if (ds.d < dn.d) d_neg = ds.d, w_neg = 0.0, w_swap = 1.0;
            else if (ds.d == dn.d) w_neg = 0.5, w_swap = 0.5;
            else if (isnan(ds.d)) d_neg = ds.d;
        }
        double h = job->margin + dp.d - d_neg;
        job->row_loss[i] = (float)(h > 0.0 || isnan(h) ? h : 0.0);
        if (job->ga == NULL) continue;
        float *ga = job->ga + i * D, *gp = job->gp + i * D, *gn = job->gn + i * D;
        memset(ga, 0, (size_t)D * sizeof(float));
        memset(gp, 0, (size_t)D * sizeof(float));
        memset(gn, 0, (size_t)D * sizeof(float));
        if (isnan(h)) {
            nan_grad_rows(&dp, D, ga, gp);
            nan_grad_rows(&dn, D, ga, gn);
            if (job->swap) nan_grad_rows(&ds, D, gp, gn);
            continue;
        }
        if (!(h >= 0.0)) continue;
        distance_grad_add(&job->spec, &dp, a, p, D, job->scale, ga, gp);
        distance_grad_add(&job->spec, &dn, a, n, D, -job->scale * w_neg, ga, gn);
        if (job->swap) distance_grad_add(&job->spec, &ds, p, n, D, -job->scale * w_swap, gp, gn);
    }
}

int32_t jnce_triplet_margin_fwd_bwd(const float *anchor, const float *positive, const float *negative, int64_t N,
                                    int64_t D, int32_t distance_kind, float margin, float p, float eps,
                                    int32_t swap, int32_t reduction, float *loss, float *grad_anchor,
                                    float *grad_positive, float *grad_negative) {
    if (anchor == NULL || positive == NULL || negative == NULL || loss == NULL)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "triplet_margin: anchor, positive, negative and loss must be non-null");
    int grads = (grad_anchor != NULL) + (grad_positive != NULL) + (grad_negative != NULL);
    if (grads != 0 && grads != 3)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "triplet_margin: give all three gradients or none");
    if (N <= 0 || D <= 0)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "triplet_margin: N=%lld and D=%lld must be positive", (long long)N,
                         (long long)D);
    if (distance_kind != JNCE_DISTANCE_PAIRWISE && distance_kind != JNCE_DISTANCE_COSINE)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "triplet_margin: unknown distance %d", distance_kind);
    if (!isfinite(margin) || !(eps >= 0.0f) || isinf(eps) || !(p > 0.0f) || isinf(p))
        return jnce_fail(JNCE_ERR_INVALID_ARG, "triplet_margin: margin=%g, eps=%g, p=%g: need finite margin, "
                         "finite eps >= 0 and finite p > 0", margin, eps, p);
    if (reduction < JNCE_REDUCTION_NONE || reduction > JNCE_REDUCTION_SUM)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "triplet_margin: unknown reduction %d", reduction);

    float *row_loss = loss;
    if (reduction != JNCE_REDUCTION_NONE) {
        row_loss = malloc((size_t)N * sizeof(float));
        if (row_loss == NULL)
            return jnce_fail(JNCE_ERR_OUT_OF_MEMORY, "triplet_margin: no memory for %lld losses", (long long)N);
    }
    triplet_job job = {anchor, positive, negative, D, {distance_kind, p, eps, jnce_use_avx2()}, margin,
                       reduction == JNCE_REDUCTION_MEAN ? 1.0 / (double)N : 1.0, swap != 0,
                       row_loss, grad_anchor, grad_positive, grad_negative};
    jnce_parallel_for(N, D >= 8192 ? 1 : 8192 / D, triplet_rows, &job);
    if (reduction != JNCE_REDUCTION_NONE) {
        double total = jnce_rows_total(row_loss, N);
        loss[0] = (float)(reduction == JNCE_REDUCTION_MEAN ? total / (double)N : total);
        free(row_loss);
    }
    return JNCE_OK;
}
