/*
 * softmax_xent.c - fused softmax cross-entropy, forward and backward (F.cross_entropy).
 *
 *   logits  (N,C) float32        targets (N) int32|int64 in [0,C)
 *   loss    (N) or (1) float32   grad    (N,C) float32 or NULL; may alias logits
 *
 * Per row i with target t:  m = max_j x_j,  s = sum_j exp(x_j - m),
 *   loss_i = m + log(s) - x_t,   grad_ij = scale * (exp(x_j - m) / s - [j == t])
 * where scale is 1/N for the mean reduction and 1 otherwise.
 *
 * Memory traffic per row: one read for m and s together (online softmax: m is updated per
 * block of 64 values and the running sum rescaled), one read + one write for grad.
 * s and the loss are accumulated in double; the exponentials are float32.
 * Rows holding NaN or +Inf give NaN loss and NaN grad; -Inf entries have probability 0;
 * a row whose target logit is -Inf (and is otherwise finite) has loss +Inf.
 *
 * The scalar path is the reference; the AVX2 path is chosen at run time (jnce_use_avx2) and
 * checked against it by native/test/test_softmax_xent.c.
 */
#include <math.h>
#include <stdlib.h>

#include "internal.h"
#include "simd_exp.h"

static jnce_row_stats row_stats_scalar(const float *x, int64_t C) {
    jnce_row_stats st = {-INFINITY, 0.0, 0};
    for (int64_t j = 0; j < C; j++) {
        if (isnan(x[j]) || x[j] == INFINITY) st.bad = 1;
        else if (x[j] > st.max) st.max = x[j];
    }
    if (st.max == -INFINITY) st.max = -3.40282347e38f;
    for (int64_t j = 0; j < C; j++) st.sum += expf(x[j] - st.max);
    return st;
}

static void row_grad_scalar(const float *x, float *g, int64_t C, float max, float inv_sum) {
    for (int64_t j = 0; j < C; j++) g[j] = expf(x[j] - max) * inv_sum;
}

#define BLOCK 64 /* values per online-softmax rescale: 8 vectors of 8 */

__attribute__((target("avx2,fma"))) static float hmax256(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

__attribute__((target("avx2,fma"))) static jnce_row_stats row_stats_avx2(const float *x, int64_t C) {
    const __m256 inf = _mm256_set1_ps(INFINITY);
    __m256 m = _mm256_set1_ps(-3.40282347e38f);
    __m256d sum_lo = _mm256_setzero_pd(), sum_hi = _mm256_setzero_pd();
    __m256 bad = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + BLOCK <= C; j += BLOCK) {
        __m256 v[8];
        __m256 bm = m;
        for (int k = 0; k < 8; k++) {
            v[k] = _mm256_loadu_ps(x + j + 8 * k);
            bad = _mm256_or_ps(bad, _mm256_cmp_ps(v[k], v[k], _CMP_UNORD_Q));
            bad = _mm256_or_ps(bad, _mm256_cmp_ps(v[k], inf, _CMP_EQ_OQ));
            bm = _mm256_max_ps(v[k], bm); /* NaN in v[k] keeps bm */
        }
        __m256 rescale = exp_nonpos_avx2(_mm256_sub_ps(m, bm));
        m = bm;
        __m256 t = exp_nonpos_avx2(_mm256_sub_ps(v[0], m));
        for (int k = 1; k < 8; k++) t = _mm256_add_ps(t, exp_nonpos_avx2(_mm256_sub_ps(v[k], m)));
        sum_lo = _mm256_fmadd_pd(sum_lo, _mm256_cvtps_pd(_mm256_castps256_ps128(rescale)),
                                 _mm256_cvtps_pd(_mm256_castps256_ps128(t)));
        sum_hi = _mm256_fmadd_pd(sum_hi, _mm256_cvtps_pd(_mm256_extractf128_ps(rescale, 1)),
                                 _mm256_cvtps_pd(_mm256_extractf128_ps(t, 1)));
    }
    jnce_row_stats st = {hmax256(m), 0.0, !_mm256_testz_ps(bad, bad)};
    for (int64_t k = j; k < C; k++) {
        if (isnan(x[k]) || x[k] == INFINITY) st.bad = 1;
        else if (x[k] > st.max) st.max = x[k];
    }
    /* Bring every lane's sum to the row maximum, then add the tail. */
    float lane_max[8];
    double lane_sum[8];
    _mm256_storeu_ps(lane_max, m);
    _mm256_storeu_pd(lane_sum, sum_lo);
    _mm256_storeu_pd(lane_sum + 4, sum_hi);
    for (int k = 0; k < 8; k++) st.sum += lane_sum[k] * exp((double)lane_max[k] - st.max);
    for (int64_t k = j; k < C; k++) st.sum += expf(x[k] - st.max);
    return st;
}

__attribute__((target("avx2,fma")))
static void row_grad_avx2(const float *x, float *g, int64_t C, float max, float inv_sum) {
    const __m256 vmax = _mm256_set1_ps(max), vinv = _mm256_set1_ps(inv_sum);
    int64_t j = 0;
    for (; j + 8 <= C; j += 8) {
        __m256 e = exp_nonpos_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + j), vmax));
        _mm256_storeu_ps(g + j, _mm256_mul_ps(e, vinv));
    }
    row_grad_scalar(x + j, g + j, C - j, max, inv_sum);
}

jnce_row_stats jnce_softmax_row_stats(const float *x, int64_t C) {
    return jnce_use_avx2() ? row_stats_avx2(x, C) : row_stats_scalar(x, C);
}

void jnce_softmax_row_exp(const float *x, float *out, int64_t C, float max, float scale) {
    if (jnce_use_avx2()) row_grad_avx2(x, out, C, max, scale);
    else row_grad_scalar(x, out, C, max, scale);
}

typedef struct {
    const float *logits;
    const void *targets;
    int32_t target_dtype;
    int64_t C;
    float *row_loss;  /* (N) */
    float *grad;      /* (N,C) or NULL */
    float scale;      /* gradient scale: 1/N for mean */
    int avx2;
} xent_job;

static int64_t target_at(const xent_job *job, int64_t i) {
    return job->target_dtype == JNCE_DTYPE_INT32 ? ((const int32_t *)job->targets)[i]
                                                 : ((const int64_t *)job->targets)[i];
}

static void xent_rows(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const xent_job *job = ctx;
    const int64_t C = job->C;
    for (int64_t i = begin; i < end; i++) {
        const float *x = job->logits + i * C;
        int64_t t = target_at(job, i);
        jnce_row_stats st = job->avx2 ? row_stats_avx2(x, C) : row_stats_scalar(x, C);
        float x_t = x[t]; /* read before grad may overwrite x */
        if (st.bad || st.sum == 0.0) {
            job->row_loss[i] = NAN;
            if (job->grad != NULL)
                for (int64_t j = 0; j < C; j++) job->grad[i * C + j] = NAN;
            continue;
        }
        job->row_loss[i] = (float)((double)st.max - (double)x_t + log(st.sum));
        if (job->grad != NULL) {
            float *g = job->grad + i * C;
            float inv = (float)(job->scale / st.sum);
            if (job->avx2) row_grad_avx2(x, g, C, st.max, inv);
            else row_grad_scalar(x, g, C, st.max, inv);
            g[t] -= job->scale;
        }
    }
}

int32_t jnce_softmax_xent_fwd_bwd(const float *logits, const void *targets, int32_t target_dtype,
                                  int64_t N, int64_t C, int32_t reduction, float *loss, float *grad) {
    if (logits == NULL || targets == NULL || loss == NULL)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "softmax_xent: logits, targets and loss must be non-null");
    if (N <= 0 || C <= 0)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "softmax_xent: N=%lld and C=%lld must be positive",
                         (long long)N, (long long)C);
    if (target_dtype != JNCE_DTYPE_INT32 && target_dtype != JNCE_DTYPE_INT64)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "softmax_xent: target_dtype %d is not int32 or int64",
                         target_dtype);
    if (reduction < JNCE_REDUCTION_NONE || reduction > JNCE_REDUCTION_SUM)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "softmax_xent: unknown reduction %d", reduction);

    xent_job job = {logits, targets, target_dtype, C, NULL, grad,
                    reduction == JNCE_REDUCTION_MEAN ? 1.0f / (float)N : 1.0f, jnce_use_avx2()};
    for (int64_t i = 0; i < N; i++) {
        int64_t t = target_at(&job, i);
        if (t < 0 || t >= C)
            return jnce_fail(JNCE_ERR_INVALID_ARG, "softmax_xent: targets[%lld]=%lld is outside [0,%lld)",
                             (long long)i, (long long)t, (long long)C);
    }
    float *row_loss = loss;
    if (reduction != JNCE_REDUCTION_NONE) {
        row_loss = malloc((size_t)N * sizeof(float));
        if (row_loss == NULL) return jnce_fail(JNCE_ERR_OUT_OF_MEMORY, "softmax_xent: no memory for %lld losses", (long long)N);
    }
    job.row_loss = row_loss;
    /* A row is worth a thread switch only when it is long; ~64k values per thread at least. */
    int64_t rows_per_thread = C >= 65536 ? 1 : 65536 / C;
    jnce_parallel_for(N, rows_per_thread, xent_rows, &job);

    if (reduction != JNCE_REDUCTION_NONE) {
        double total = 0.0;
        for (int64_t i = 0; i < N; i++) total += row_loss[i];
        loss[0] = (float)(reduction == JNCE_REDUCTION_MEAN ? total / (double)N : total);
        free(row_loss);
    }
    return JNCE_OK;
}
