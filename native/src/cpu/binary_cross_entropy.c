/*
 * binary_cross_entropy.c - element-wise binary cross-entropy, forward and backward, on
 * probabilities (F.binary_cross_entropy) and on logits (F.binary_cross_entropy_with_logits),
 * plus the element-wise driver that focal.c's sigmoid focal loss shares.
 *
 *   input, target  (numel) float32, any shape flattened     weight (weight_len), k % weight_len
 *   pos_weight     (pos_len), k % pos_len                   loss   (numel) or (1)
 *   grad_input, grad_target (numel) float32 or NULL; may alias input and target (element k is
 *                           read before its outputs are written)
 *
 * Probabilities (PyTorch 1.13's formulas, in double):
 *   loss = -w (y max(log p, -100) + (1-y) max(log(1-p), -100))
 *   d/dp = w (p - y) / max((1-p) p, 1e-12)      d/dy = w (log(1-p) - log p)  (unclamped: +-Inf at p = 0, 1)
 * Logits: see jnce_bce_logits_terms in binary_cross_entropy.h. With AVX2, exp(-|x|) runs on 8
 * float lanes and the rest of the same formulas (a log1p series, the sigmoid, the products) on
 * double lanes; the loss is summed per block in double. The scalar path is double throughout.
 *
 * Every element is independent: the work is split into blocks of JNCE_BINARY_BLOCK elements over
 * the thread pool; reduced losses are summed per block in double, then over blocks in order.
 */
#include <math.h>
#include <stdlib.h>

#include "binary_cross_entropy.h"
#include "internal.h"
#include "simd_exp.h"

typedef struct binary_job binary_job;

/* Elements [from, to) of a job: writes what the job asks and returns the sum of their losses. */
typedef double (*block_fn)(const binary_job *job, int64_t from, int64_t to);

struct binary_job {
    const float *input, *target, *weight;
    int64_t numel, weight_len;
    jnce_binary_fn fn;
    const void *params;
    int32_t reduction;
    double scale;       /* gradient scale: 1/numel for the mean */
    float *loss;        /* (numel) for NONE */
    double *block_sum;  /* (blocks) otherwise */
    float *grad_input, *grad_target;
    block_fn block;     /* scalar_block, or an op's vector routine */
};

/* The element loop in double through job->fn: every op's reference, and vector routines' tails. */
static double scalar_block(const binary_job *job, int64_t from, int64_t to) {
    double sum = 0.0;
    for (int64_t k = from; k < to; k++) {
        jnce_binary_terms t = job->fn(job->params, k, job->input[k], job->target[k]);
        double w = job->weight != NULL ? job->weight[k % job->weight_len] : 1.0;
        double l = w * t.loss;
        if (job->reduction == JNCE_REDUCTION_NONE) job->loss[k] = (float)l;
        else sum += l;
        if (job->grad_input != NULL) job->grad_input[k] = (float)(job->scale * w * t.d_input);
        if (job->grad_target != NULL) job->grad_target[k] = (float)(job->scale * w * t.d_target);
    }
    return sum;
}

static void binary_blocks(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const binary_job *job = ctx;
    for (int64_t b = begin; b < end; b++) {
        int64_t from = b * JNCE_BINARY_BLOCK;
        int64_t to = from + JNCE_BINARY_BLOCK < job->numel ? from + JNCE_BINARY_BLOCK : job->numel;
        double sum = job->block(job, from, to);
        if (job->block_sum != NULL) job->block_sum[b] = sum;
    }
}

/* jnce_binary_run with the block routine given (scalar_block, or a vector one). */
static int32_t binary_run(const char *op, const float *input, const float *target, int64_t numel, const float *weight,
                          int64_t weight_len, jnce_binary_fn fn, const void *params, block_fn block, int32_t reduction,
                          float *loss, float *grad_input, float *grad_target) {
    if (input == NULL || target == NULL || loss == NULL)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "%s: input, target and loss must be non-null", op);
    if (numel <= 0)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "%s: numel=%lld must be positive", op, (long long)numel);
    if (weight != NULL && (weight_len <= 0 || numel % weight_len != 0))
        return jnce_fail(JNCE_ERR_INVALID_ARG, "%s: weight_len=%lld does not divide numel=%lld", op,
                         (long long)weight_len, (long long)numel);
    if (reduction < JNCE_REDUCTION_NONE || reduction > JNCE_REDUCTION_SUM)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "%s: unknown reduction %d", op, reduction);

    int64_t blocks = (numel + JNCE_BINARY_BLOCK - 1) / JNCE_BINARY_BLOCK;
    binary_job job = {input, target, weight, numel, weight_len, fn, params, reduction,
                      reduction == JNCE_REDUCTION_MEAN ? 1.0 / (double)numel : 1.0,
                      loss, NULL, grad_input, grad_target, block};
    if (reduction != JNCE_REDUCTION_NONE) {
        job.block_sum = malloc((size_t)blocks * sizeof(double));
        if (job.block_sum == NULL)
            return jnce_fail(JNCE_ERR_OUT_OF_MEMORY, "%s: no memory for %lld block sums", op, (long long)blocks);
    }
    jnce_parallel_for(blocks, 4, binary_blocks, &job);
    if (reduction != JNCE_REDUCTION_NONE) {
        double total = 0.0;
        for (int64_t b = 0; b < blocks; b++) total += job.block_sum[b];
        loss[0] = (float)(reduction == JNCE_REDUCTION_MEAN ? total / (double)numel : total);
        free(job.block_sum);
    }
    return JNCE_OK;
}

int32_t jnce_binary_run(const char *op, const float *input, const float *target, int64_t numel,
                        const float *weight, int64_t weight_len, jnce_binary_fn fn, const void *params,
                        int32_t reduction, float *loss, float *grad_input, float *grad_target) {
    return binary_run(op, input, target, numel, weight, weight_len, fn, params, scalar_block, reduction, loss,
                      grad_input, grad_target);
}

static jnce_binary_terms bce_terms(const void *params, int64_t k, double p, double y) {
    (void)params;
    (void)k;
    double log_p = log(p), log_1mp = log(1.0 - p); /* 1 - p is exact in double for a float p */
    jnce_binary_terms t = {-(y * fmax(log_p, -100.0) + (1.0 - y) * fmax(log_1mp, -100.0)),
                           (p - y) / fmax((1.0 - p) * p, 1e-12), log_1mp - log_p};
    return t;
}

int32_t jnce_bce_fwd_bwd(const float *input, const float *target, int64_t numel, const float *weight,
                         int64_t weight_len, int32_t reduction, float *loss, float *grad_input,
                         float *grad_target) {
    return jnce_binary_run("bce", input, target, numel, weight, weight_len, bce_terms, NULL, reduction,
                           loss, grad_input, grad_target);
}

typedef struct {
    const float *pos_weight;
    int64_t pos_len;
} logits_params;

static jnce_binary_terms bce_logits_terms(const void *params, int64_t k, double x, double y) {
    const logits_params *lp = params;
    return jnce_bce_logits_terms(x, y, lp->pos_weight != NULL ? lp->pos_weight[k % lp->pos_len] : 1.0);
}

/* ---- BCE with logits on AVX2: exp on 8 float lanes, the rest on 2 x 4 double lanes ------------- */

/* Eight values of a (len)-periodic vector starting at index *at, which advances by 8. */
static inline void periodic8(const float *v, int64_t len, int64_t *at, float *out) {
    for (int k = 0; k < 8; k++) {
        out[k] = v[*at];
        if (++*at == len) *at = 0;
    }
}

/* bce_logits' vector block: 8 elements at a time, the tail through scalar_block. */
JNCE_TARGET_AVX2 static double bce_logits_block_avx2(const binary_job *j, int64_t from, int64_t to) {
    const logits_params *lp = j->params;
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    float wbuf[8], pbuf[8];
    int64_t wi = j->weight != NULL ? from % j->weight_len : 0, pi = lp->pos_weight != NULL ? from % lp->pos_len : 0;
    __m256d sum_lo = _mm256_setzero_pd(), sum_hi = _mm256_setzero_pd();
    int64_t k = from;
    for (; k + 8 <= to; k += 8) {
        __m256 x = _mm256_loadu_ps(j->input + k), y = _mm256_loadu_ps(j->target + k);
        __m256 w = one, pw = one;
        if (j->weight != NULL) periodic8(j->weight, j->weight_len, &wi, wbuf), w = _mm256_loadu_ps(wbuf);
        if (lp->pos_weight != NULL) periodic8(lp->pos_weight, lp->pos_len, &pi, pbuf), pw = _mm256_loadu_ps(pbuf);
        /* e = exp(-|x|) gives both softplus(-x) = max(-x, 0) + log1p(e) and the sigmoid */
        __m256 e = exp_nonpos_avx2(_mm256_sub_ps(zero, _mm256_and_ps(x, abs_mask)));
        bce4 lo = bce_logits4(_mm256_castps256_ps128(x), _mm256_castps256_ps128(y), _mm256_castps256_ps128(e),
                              _mm256_castps256_ps128(pw), _mm256_castps256_ps128(w), j->scale);
        bce4 hi = bce_logits4(_mm256_extractf128_ps(x, 1), _mm256_extractf128_ps(y, 1), _mm256_extractf128_ps(e, 1),
                              _mm256_extractf128_ps(pw, 1), _mm256_extractf128_ps(w, 1), j->scale);
        if (j->reduction == JNCE_REDUCTION_NONE) {
            _mm_storeu_ps(j->loss + k, lo.loss);
            _mm_storeu_ps(j->loss + k + 4, hi.loss);
        } else {
            sum_lo = _mm256_add_pd(sum_lo, lo.loss_sum);
            sum_hi = _mm256_add_pd(sum_hi, hi.loss_sum);
        }
        if (j->grad_input != NULL) {
            _mm_storeu_ps(j->grad_input + k, lo.dx);
            _mm_storeu_ps(j->grad_input + k + 4, hi.dx);
        }
        if (j->grad_target != NULL) {
            _mm_storeu_ps(j->grad_target + k, lo.dy);
            _mm_storeu_ps(j->grad_target + k + 4, hi.dy);
        }
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, _mm256_add_pd(sum_lo, sum_hi));
    return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + scalar_block(j, k, to);
}

int32_t jnce_bce_logits_fwd_bwd(const float *input, const float *target, int64_t numel, const float *weight,
                                int64_t weight_len, const float *pos_weight, int64_t pos_len,
                                int32_t reduction, float *loss, float *grad_input, float *grad_target) {
    if (pos_weight != NULL && (pos_len <= 0 || numel % pos_len != 0))
        return jnce_fail(JNCE_ERR_INVALID_ARG, "bce_logits: pos_len=%lld does not divide numel=%lld",
                         (long long)pos_len, (long long)numel);
    logits_params params = {pos_weight, pos_len};
    return binary_run("bce_logits", input, target, numel, weight, weight_len, bce_logits_terms, &params,
                      jnce_use_avx2() ? bce_logits_block_avx2 : scalar_block, reduction, loss, grad_input, grad_target);
}
