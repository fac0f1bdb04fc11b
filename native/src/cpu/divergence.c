/*
 * divergence.c - KL divergence (F.kl_div), entropy of distributions, cross-entropy between
 * distributions and perplexity, forward and backward.
 *
 *   KL:          input, target (N,C) float32 (N = size(0), C = product of the other dims)
 *                loss (N*C) or (1); grad_input, grad_target (N,C) or NULL
 *                l = xlogy(t,t) - t*x   or   exp(t)*(t - x) with log_target
 *   entropy:     p (N,C); loss (N) or (1); grad (N,C) or NULL;     H_i = -sum_j xlogy(p,p)
 *   dist. xent:  p, q (N,C); loss (N) or (1); grad_p, grad_q (N,C) or NULL;  H_i = -sum_j xlogy(p,q)
 *   perplexity:  token_loss (M), keys (M) int32|int64; ppl (1); grad (M) or NULL
 *
 * Every value is computed in double and rounded once: the scalar path through libm, the AVX2
 * path on 4 double lanes (simd_log.h's log_pd and exp_pd, within 2e-12 of libm's; a gradient like
 * log t + 1 - x cancels, so float lanes would not do), and with AVX-512 on 8 (log_pd8, exp_pd8:
 * the same values). Sums are deterministic whatever the thread count:
 * KL sums fixed blocks of BLOCK values (a row may be one long row), entropy and cross-entropy sum
 * whole rows; the partial sums are then added in order by the caller.
 *
 * Build alone: see native/CMakeLists.txt; checked by native/test/test_divergence.c.
 */
#include <math.h>
#include <stdlib.h>

#include "internal.h"
#include "simd_log.h"

/* KL values per partial sum (and per unit of parallel work): 2048, so that a small call's values,
 * (32, 128) say, split over two threads whose pool still spins from a recent call */
#define BLOCK 2048

static int32_t check_dims(const char *op, int64_t N, int64_t C) {
    if (N <= 0 || C <= 0)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "%s: N=%lld and C=%lld must be positive", op,
                         (long long)N, (long long)C);
    if (N > INT64_MAX / C)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "%s: N=%lld times C=%lld overflows", op, (long long)N,
                         (long long)C);
    return JNCE_OK;
}

/* Row-reduction scale: 1/N for MEAN, 1 for NONE and SUM; -1 for an unknown reduction. */
static double row_scale(int32_t reduction, int64_t N) {
    if (reduction == JNCE_REDUCTION_MEAN) return 1.0 / (double)N;
    return reduction == JNCE_REDUCTION_NONE || reduction == JNCE_REDUCTION_SUM ? 1.0 : -1.0;
}

/* Adds partial sums in order and writes the reduced loss, scale times the total. */
static void write_total(const double *parts, int64_t count, double scale, float *loss) {
    double total = 0.0;
    for (int64_t k = 0; k < count; k++) total += parts[k];
    loss[0] = (float)(total * scale);
}

/* ---- KL divergence ------------------------------------------------------------------- */

typedef struct {
    const float *x, *t;
    int64_t M; /* N*C values */
    int log_target;
    double scale;
    float *loss;    /* (M) for NONE, else NULL */
    double *parts;  /* (blocks) for a reduction, else NULL */
    float *gx, *gt; /* (M) or NULL */
} kl_job;

/* Values [from, to) of a KL job in double; returns the sum of their losses. */
static double kl_scalar(const kl_job *job, int64_t from, int64_t to) {
    double sum = 0.0;
    for (int64_t k = from; k < to; k++) {
        double x = job->x[k], t = job->t[k], l, dx, dt;
        if (job->log_target) {
            double e = exp(t);
            l = e * (t - x);
            dx = -e;
            dt = e * (t - x + 1.0);
        } else {
            l = (t == 0.0 ? 0.0 : t * log(t)) - t * x;
            dx = -t;
            dt = t == 0.0 ? NAN : log(t) + 1.0 - x; /* PyTorch: xlogy's d/dy at 0 is 0/0 */
        }
        if (job->loss != NULL) job->loss[k] = (float)l;
        sum += l;
        if (job->gx != NULL) job->gx[k] = (float)(dx * job->scale);
        if (job->gt != NULL) job->gt[k] = (float)(dt * job->scale);
    }
    return sum;
}

/* Four floats as doubles, and back (rounded once). */
JNCE_TARGET_AVX2 static inline __m256d load4(const float *v) { return _mm256_cvtps_pd(_mm_loadu_ps(v)); }
JNCE_TARGET_AVX2 static inline void store4(float *v, __m256d d) { _mm_storeu_ps(v, _mm256_cvtpd_ps(d)); }

JNCE_TARGET_AVX2 static double hsum(__m256d v) {
    double lanes[4];
    _mm256_storeu_pd(lanes, v);
    return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
}

/* kl_scalar on 4 double lanes (log_pd, exp_pd), the tail through kl_scalar. */
JNCE_TARGET_AVX2 static double kl_avx2(const kl_job *job, int64_t from, int64_t to) {
    const __m256d one = _mm256_set1_pd(1.0), zero = _mm256_setzero_pd(), scale = _mm256_set1_pd(job->scale);
    const float *xs = job->x, *ts = job->t;
    float *loss = job->loss, *gx = job->gx, *gt = job->gt;
    const int log_target = job->log_target;
    __m256d sum = _mm256_setzero_pd();
    int64_t k = from;
    for (; k + 4 <= to; k += 4) {
        __m256d x = load4(xs + k), t = load4(ts + k), l, dx, dt;
        if (log_target) {
            __m256d e = exp_pd(t), d = _mm256_sub_pd(t, x);
            l = _mm256_mul_pd(e, d);
            dx = _mm256_sub_pd(zero, e);
            dt = _mm256_mul_pd(e, _mm256_add_pd(d, one));
        } else {
            __m256d log_t = log_pd(t), t_zero = _mm256_cmp_pd(t, zero, _CMP_EQ_OQ);
            l = _mm256_sub_pd(_mm256_andnot_pd(t_zero, _mm256_mul_pd(t, log_t)), _mm256_mul_pd(t, x)); /* 0 log 0 = 0 */
            dx = _mm256_sub_pd(zero, t);
            dt = _mm256_or_pd(_mm256_sub_pd(_mm256_add_pd(log_t, one), x), t_zero); /* NaN at t = 0 */
        }
        if (loss != NULL) store4(loss + k, l);
        sum = _mm256_add_pd(sum, l);
        if (gx != NULL) store4(gx + k, _mm256_mul_pd(dx, scale));
        if (gt != NULL) store4(gt + k, _mm256_mul_pd(dt, scale));
    }
    return hsum(sum) + kl_scalar(job, k, to);
}

#ifdef JNCE_HAVE_AVX512
/* kl_avx2 on 8 double lanes (log_pd8, exp_pd8: the same values), the last < 8 elements through kl_avx2. */
JNCE_TARGET_AVX512 static double kl_avx512(const kl_job *job, int64_t from, int64_t to) {
    const __m512d one = _mm512_set1_pd(1.0), zero = _mm512_setzero_pd(), scale = _mm512_set1_pd(job->scale);
    const __m512d nan = _mm512_castsi512_pd(_mm512_set1_epi64(-1));
    const float *xs = job->x, *ts = job->t;
    float *loss = job->loss, *gx = job->gx, *gt = job->gt;
    const int log_target = job->log_target;
    __m512d sum = _mm512_setzero_pd();
    int64_t k = from;
    for (; k + 8 <= to; k += 8) {
        __m512d x = _mm512_cvtps_pd(_mm256_loadu_ps(xs + k)), t = _mm512_cvtps_pd(_mm256_loadu_ps(ts + k)), l, dx, dt;
        if (log_target) {
            __m512d e = exp_pd8(t), d = _mm512_sub_pd(t, x);
            l = _mm512_mul_pd(e, d);
            dx = _mm512_sub_pd(zero, e);
            dt = _mm512_mul_pd(e, _mm512_add_pd(d, one));
        } else {
            __m512d log_t = log_pd8(t);
            __mmask8 t_zero = _mm512_cmp_pd_mask(t, zero, _CMP_EQ_OQ);
            l = _mm512_sub_pd(_mm512_maskz_mov_pd((__mmask8)~t_zero, _mm512_mul_pd(t, log_t)), _mm512_mul_pd(t, x)); /* 0 log 0 = 0 */
            dx = _mm512_sub_pd(zero, t);
            dt = _mm512_mask_mov_pd(_mm512_sub_pd(_mm512_add_pd(log_t, one), x), t_zero, nan); /* NaN at t = 0 */
        }
        if (loss != NULL) _mm256_storeu_ps(loss + k, _mm512_cvtpd_ps(l));
        sum = _mm512_add_pd(sum, l);
        if (gx != NULL) _mm256_storeu_ps(gx + k, _mm512_cvtpd_ps(_mm512_mul_pd(dx, scale)));
        if (gt != NULL) _mm256_storeu_ps(gt + k, _mm512_cvtpd_ps(_mm512_mul_pd(dt, scale)));
    }
    return _mm512_reduce_add_pd(sum) + kl_avx2(job, k, to);
}
#endif

/* The widest path the CPU runs. */
static double kl_block(const kl_job *job, int64_t from, int64_t to) {
#ifdef JNCE_HAVE_AVX512
    if (jnce_use_avx512()) return kl_avx512(job, from, to);
#endif
    return jnce_use_avx2() ? kl_avx2(job, from, to) : kl_scalar(job, from, to);
}

static void kl_blocks(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const kl_job *job = ctx;
    for (int64_t b = begin; b < end; b++) {
        int64_t from = b * BLOCK, to = from + BLOCK < job->M ? from + BLOCK : job->M;
        double sum = kl_block(job, from, to);
        if (job->parts != NULL) job->parts[b] = sum;
    }
}

int32_t jnce_kl_div_fwd_bwd(const float *input, const float *target, int64_t N, int64_t C,
                            int32_t log_target, int32_t reduction, float *loss, float *grad_input,
                            float *grad_target) {
    if (input == NULL || target == NULL || loss == NULL)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "kl_div: input, target and loss must be non-null");
    int32_t rc = check_dims("kl_div", N, C);
    if (rc != JNCE_OK) return rc;
    int64_t M = N * C;
    double scale;
    switch (reduction) {
    case JNCE_REDUCTION_NONE:
    case JNCE_REDUCTION_SUM: scale = 1.0; break;
    case JNCE_REDUCTION_MEAN: scale = 1.0 / (double)M; break;
    case JNCE_REDUCTION_BATCHMEAN: scale = 1.0 / (double)N; break;
    default: return jnce_fail(JNCE_ERR_INVALID_ARG, "kl_div: unknown reduction %d", reduction);
    }
    int64_t blocks = (M + BLOCK - 1) / BLOCK;
    kl_job job = {input, target, M, log_target != 0, scale, NULL, NULL, grad_input, grad_target};
    if (reduction == JNCE_REDUCTION_NONE) {
        job.loss = loss;
    } else {
        job.parts = malloc((size_t)blocks * sizeof(double));
        if (job.parts == NULL)
            return jnce_fail(JNCE_ERR_OUT_OF_MEMORY, "kl_div: no memory for %lld partial sums", (long long)blocks);
    }
    /* 32 blocks (64k values) a thread where waking one costs more; one block (about 1 us of
     * work) where the pool's workers still spin from a recent call */
    jnce_parallel_for_small(blocks, 32, 1, kl_blocks, &job);
    if (job.parts != NULL) {
        write_total(job.parts, blocks, scale, loss);
        free(job.parts);
    }
    return JNCE_OK;
}

/* ---- entropy and cross-entropy of distributions (row-wise) ---------------------------- */

typedef struct {
    const float *p, *q; /* q == NULL: entropy, q = p */
    int64_t C;
    double scale;
    double *rows;       /* (N) row losses */
    float *gp, *gq;     /* (N,C) or NULL */
} xent_job;

/* Values [from, to) of a row in double; returns their part of the row's loss. */
static double dist_scalar(const xent_job *job, int64_t from, int64_t to) {
    const double s = job->scale;
    double h = 0.0;
    for (int64_t k = from; k < to; k++) {
        double p = job->p[k];
        if (job->q == NULL) {
            double lp = log(p);
            if (p != 0.0) h -= p * lp;
            if (job->gp != NULL) job->gp[k] = (float)(-(lp + 1.0) * s); /* +Inf at p = 0 */
        } else {
            double q = job->q[k], lq = log(q);
            if (p != 0.0) h -= p * lq;
            if (job->gp != NULL) job->gp[k] = (float)(-lq * s);
            if (job->gq != NULL) job->gq[k] = p == 0.0 ? 0.0f : (float)(-p / q * s);
        }
    }
    return h;
}

/* dist_scalar on 4 double lanes (log_pd), the tail through dist_scalar. */
JNCE_TARGET_AVX2 static double dist_avx2(const xent_job *job, int64_t from, int64_t to) {
    const __m256d one = _mm256_set1_pd(1.0), zero = _mm256_setzero_pd(), scale = _mm256_set1_pd(-job->scale);
    const float *ps = job->p, *qs = job->q;
    float *gp = job->gp, *gq = job->gq;
    __m256d sum = _mm256_setzero_pd();
    int64_t k = from;
    for (; k + 4 <= to; k += 4) {
        __m256d p = load4(ps + k), p_zero = _mm256_cmp_pd(p, zero, _CMP_EQ_OQ);
        if (qs == NULL) {
            __m256d lp = log_pd(p);
            sum = _mm256_add_pd(sum, _mm256_andnot_pd(p_zero, _mm256_mul_pd(p, lp)));
            if (gp != NULL) store4(gp + k, _mm256_mul_pd(_mm256_add_pd(lp, one), scale));
        } else {
            __m256d q = load4(qs + k), lq = log_pd(q);
            sum = _mm256_add_pd(sum, _mm256_andnot_pd(p_zero, _mm256_mul_pd(p, lq)));
            if (gp != NULL) store4(gp + k, _mm256_mul_pd(lq, scale));
            if (gq != NULL) store4(gq + k, _mm256_andnot_pd(p_zero, _mm256_mul_pd(_mm256_div_pd(p, q), scale)));
        }
    }
    return -hsum(sum) + dist_scalar(job, k, to);
}

#ifdef JNCE_HAVE_AVX512
/* dist_avx2 on 8 double lanes (log_pd8: the same values), the last < 8 elements through dist_avx2. */
JNCE_TARGET_AVX512 static double dist_avx512(const xent_job *job, int64_t from, int64_t to) {
    const __m512d one = _mm512_set1_pd(1.0), zero = _mm512_setzero_pd(), scale = _mm512_set1_pd(-job->scale);
    const float *ps = job->p, *qs = job->q;
    float *gp = job->gp, *gq = job->gq;
    __m512d sum = _mm512_setzero_pd();
    int64_t k = from;
    for (; k + 8 <= to; k += 8) {
        __m512d p = _mm512_cvtps_pd(_mm256_loadu_ps(ps + k));
        const __mmask8 p_nonzero = (__mmask8)~_mm512_cmp_pd_mask(p, zero, _CMP_EQ_OQ);
        if (qs == NULL) {
            __m512d lp = log_pd8(p);
            sum = _mm512_add_pd(sum, _mm512_maskz_mov_pd(p_nonzero, _mm512_mul_pd(p, lp)));
            if (gp != NULL) _mm256_storeu_ps(gp + k, _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_add_pd(lp, one), scale)));
        } else {
            __m512d q = _mm512_cvtps_pd(_mm256_loadu_ps(qs + k)), lq = log_pd8(q);
            sum = _mm512_add_pd(sum, _mm512_maskz_mov_pd(p_nonzero, _mm512_mul_pd(p, lq)));
            if (gp != NULL) _mm256_storeu_ps(gp + k, _mm512_cvtpd_ps(_mm512_mul_pd(lq, scale)));
            if (gq != NULL)
                _mm256_storeu_ps(gq + k, _mm512_cvtpd_ps(_mm512_maskz_mov_pd(p_nonzero, _mm512_mul_pd(_mm512_div_pd(p, q), scale))));
        }
    }
    return -_mm512_reduce_add_pd(sum) + dist_avx2(job, k, to);
}
#endif

static double dist_row(const xent_job *job, int64_t from, int64_t to) {
#ifdef JNCE_HAVE_AVX512
    if (jnce_use_avx512()) return dist_avx512(job, from, to);
#endif
    return jnce_use_avx2() ? dist_avx2(job, from, to) : dist_scalar(job, from, to);
}

static void dist_rows(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const xent_job *job = ctx;
    const int64_t C = job->C;
    for (int64_t i = begin; i < end; i++) job->rows[i] = dist_row(job, i * C, (i + 1) * C);
}

static int32_t dist_run(const char *op, const float *p, const float *q, int64_t N, int64_t C,
                        int32_t reduction, float *loss, float *gp, float *gq) {
    if (p == NULL || loss == NULL)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "%s: p and loss must be non-null", op);
    int32_t rc = check_dims(op, N, C);
    if (rc != JNCE_OK) return rc;
    double scale = row_scale(reduction, N);
    if (scale < 0.0) return jnce_fail(JNCE_ERR_INVALID_ARG, "%s: unknown reduction %d", op, reduction);
    double *rows = malloc((size_t)N * sizeof(double));
    if (rows == NULL) return jnce_fail(JNCE_ERR_OUT_OF_MEMORY, "%s: no memory for %lld rows", op, (long long)N);
    xent_job job = {p, q, C, scale, rows, gp, gq};
    /* whole rows, so any split gives the same values: 64k values a thread where waking one
     * costs more, 2048 where the pool's workers still spin from a recent call */
    jnce_parallel_for_small(N, C >= 65536 ? 1 : 65536 / C, C >= 2048 ? 1 : 2048 / C, dist_rows, &job);
    if (reduction == JNCE_REDUCTION_NONE) {
        for (int64_t i = 0; i < N; i++) loss[i] = (float)rows[i];
    } else {
        write_total(rows, N, scale, loss);
    }
    free(rows);
    return JNCE_OK;
}

int32_t jnce_entropy_fwd_bwd(const float *p, int64_t N, int64_t C, int32_t reduction, float *loss,
                             float *grad) {
    return dist_run("entropy", p, NULL, N, C, reduction, loss, grad, NULL);
}

int32_t jnce_dist_xent_fwd_bwd(const float *p, const float *q, int64_t N, int64_t C, int32_t reduction,
                               float *loss, float *grad_p, float *grad_q) {
    if (q == NULL) return jnce_fail(JNCE_ERR_INVALID_ARG, "dist_xent: q must be non-null");
    return dist_run("dist_xent", p, q, N, C, reduction, loss, grad_p, grad_q);
}

/* ---- perplexity ------------------------------------------------------------------------ */

int32_t jnce_perplexity_fwd_bwd(const float *token_loss, const void *keys, int32_t key_dtype,
                                int64_t ignore_key, int64_t M, float all_ignored, float *ppl, float *grad) {
    if (token_loss == NULL || keys == NULL || ppl == NULL)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "perplexity: token_loss, keys and ppl must be non-null");
    if (M <= 0) return jnce_fail(JNCE_ERR_INVALID_ARG, "perplexity: M=%lld must be positive", (long long)M);
    if (key_dtype != JNCE_DTYPE_INT32 && key_dtype != JNCE_DTYPE_INT64)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "perplexity: key_dtype %d is not int32 or int64", key_dtype);
    double sum = 0.0;
    int64_t count = 0;
    for (int64_t k = 0; k < M; k++) {
        if (jnce_target_at(keys, key_dtype, k) != ignore_key) {
            sum += token_loss[k];
            count++;
        }
    }
    double value = count == 0 ? all_ignored : exp(sum / (double)count);
    ppl[0] = (float)value;
    if (grad != NULL) {
        float g = count == 0 ? 0.0f : (float)(value / (double)count);
        for (int64_t k = 0; k < M; k++) {
            grad[k] = jnce_target_at(keys, key_dtype, k) != ignore_key ? g : 0.0f;
        }
    }
    return JNCE_OK;
}
