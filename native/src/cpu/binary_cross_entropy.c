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
 * Logits: see jnce_bce_logits_terms in binary_cross_entropy.h.
 * The scalar path computes in double and rounds once. With AVX2 both ops run on 8 float lanes
 * (simd_exp.h, simd_log.h: a few ulp an element, formulas arranged so that nothing cancels, see
 * jnce_bce_logits8), and the losses are summed per block in double; with AVX-512 on 16 lanes, the
 * same operations (the same values an element; the block sums in another order).
 *
 * Every element is independent: the work is split into blocks of JNCE_BINARY_BLOCK elements over
 * the thread pool; reduced losses are summed per block in double, then over blocks in order.
 */
#include <math.h>
#include <stdlib.h>

#include "binary_cross_entropy.h"
#include "internal.h"
#include "simd_exp.h"

double jnce_binary_scalar_block(const jnce_binary_job *job, int64_t from, int64_t to) {
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
    const jnce_binary_job *job = ctx;
    for (int64_t b = begin; b < end; b++) {
        int64_t from = b * JNCE_BINARY_BLOCK;
        int64_t to = from + JNCE_BINARY_BLOCK < job->numel ? from + JNCE_BINARY_BLOCK : job->numel;
        double sum = job->block(job, from, to);
        if (job->block_sum != NULL) job->block_sum[b] = sum;
    }
}

int32_t jnce_binary_run_blocks(const char *op, const float *input, const float *target, int64_t numel,
                               const float *weight, int64_t weight_len, jnce_binary_fn fn, const void *params,
                               jnce_binary_block_fn block, int32_t reduction, float *loss, float *grad_input,
                               float *grad_target) {
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
    jnce_binary_job job = {input, target, weight, numel, weight_len, fn, params, reduction,
                      reduction == JNCE_REDUCTION_MEAN ? 1.0 / (double)numel : 1.0,
                      loss, NULL, grad_input, grad_target, block};
    if (reduction != JNCE_REDUCTION_NONE) {
        job.block_sum = malloc((size_t)blocks * sizeof(double));
        if (job.block_sum == NULL)
            return jnce_fail(JNCE_ERR_OUT_OF_MEMORY, "%s: no memory for %lld block sums", op, (long long)blocks);
    }
    /* 16 blocks a thread where waking one costs more than 16k elements' work; 2 (about 2 us of
     * work each) when the pool's workers still spin from a recent call */
    jnce_parallel_for_small(blocks, 8, 1, binary_blocks, &job);
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
    return jnce_binary_run_blocks(op, input, target, numel, weight, weight_len, fn, params, jnce_binary_scalar_block,
                                  reduction, loss, grad_input, grad_target);
}

static jnce_binary_terms bce_terms(const void *params, int64_t k, double p, double y) {
    (void)params;
    (void)k;
    double log_p = log(p), log_1mp = log(1.0 - p); /* 1 - p is exact in double for a float p */
    jnce_binary_terms t = {-(y * fmax(log_p, -100.0) + (1.0 - y) * fmax(log_1mp, -100.0)),
                           (p - y) / fmax((1.0 - p) * p, 1e-12), log_1mp - log_p};
    return t;
}

/*
 * bce's vector block: bce_terms on 8 float lanes, the tail through the scalar block. log p and
 * log(1 - p) come from simd_log.h (log(1 - p) keeps its digits for small p, where 1 - p rounds).
 * The two clamped log terms are <= 0, so the loss adds without cancelling.
 */
JNCE_TARGET_AVX2 static double bce_block_avx2(const jnce_binary_job *j, int64_t from, int64_t to) {
    const __m256 one = _mm256_set1_ps(1.0f), floor = _mm256_set1_ps(-100.0f), tiny = _mm256_set1_ps(1e-12f);
    int64_t wi = j->weight != NULL ? from % j->weight_len : 0;
    __m256d sum = _mm256_setzero_pd();
    int64_t k = from;
    for (; k + 8 <= to; k += 8) {
        __m256 p = _mm256_loadu_ps(j->input + k), y = _mm256_loadu_ps(j->target + k);
        __m256 w = jnce_binary_weight8(j, &wi);
        __m256 log_p = log_avx2(p), log_1mp = log1m_avx2(p);
        __m256 loss = _mm256_fmadd_ps(_mm256_sub_ps(one, y), _mm256_max_ps(log_1mp, floor),
                                      _mm256_mul_ps(y, _mm256_max_ps(log_p, floor)));
        loss = _mm256_sub_ps(_mm256_setzero_ps(), loss);
        __m256 den = _mm256_max_ps(_mm256_fnmadd_ps(p, p, p), tiny); /* (1 - p) p = p - p^2, rounded once */
        __m256 dx = _mm256_div_ps(_mm256_sub_ps(p, y), den);
        jnce_binary_put8(j, k, w, loss, dx, _mm256_sub_ps(log_1mp, log_p), &sum);
    }
    return jnce_binary_finish(j, sum, k, to);
}

#ifdef JNCE_HAVE_AVX512
/* bce's block on 16 lanes (AVX-512F), the same operations as bce_block_avx2; its last < 16 elements through it. */
JNCE_TARGET_AVX512 static double bce_block_avx512(const jnce_binary_job *job, int64_t from, int64_t to) {
    const jnce_binary_job local = *job, *j = &local; /* in registers: the stores cannot alias it */
    const __m512 one = _mm512_set1_ps(1.0f), floor = _mm512_set1_ps(-100.0f), tiny = _mm512_set1_ps(1e-12f);
    int64_t wi = j->weight != NULL ? from % j->weight_len : 0;
    __m512d sum = _mm512_setzero_pd();
    int64_t k = from;
    for (; k + 16 <= to; k += 16) {
        __m512 p = _mm512_loadu_ps(j->input + k), y = _mm512_loadu_ps(j->target + k);
        __m512 w = jnce_binary_weight16(j, &wi);
        __m512 log_p = log_avx512(p), log_1mp = log1m_avx512(p);
        __m512 loss = _mm512_fmadd_ps(_mm512_sub_ps(one, y), _mm512_max_ps(log_1mp, floor),
                                      _mm512_mul_ps(y, _mm512_max_ps(log_p, floor)));
        loss = _mm512_sub_ps(_mm512_setzero_ps(), loss);
        __m512 den = _mm512_max_ps(_mm512_fnmadd_ps(p, p, p), tiny);
        __m512 dx = _mm512_div_ps(_mm512_sub_ps(p, y), den);
        jnce_binary_put16(j, k, w, loss, dx, _mm512_sub_ps(log_1mp, log_p), &sum);
    }
    return _mm512_reduce_add_pd(sum) + bce_block_avx2(j, k, to);
}
#endif

/* The widest block routine the CPU runs. */
static jnce_binary_block_fn bce_block(void) {
#ifdef JNCE_HAVE_AVX512
    if (jnce_use_avx512()) return bce_block_avx512;
#endif
    return jnce_use_avx2() ? bce_block_avx2 : jnce_binary_scalar_block;
}

int32_t jnce_bce_fwd_bwd(const float *input, const float *target, int64_t numel, const float *weight,
                         int64_t weight_len, int32_t reduction, float *loss, float *grad_input,
                         float *grad_target) {
    return jnce_binary_run_blocks("bce", input, target, numel, weight, weight_len, bce_terms, NULL, bce_block(),
                                  reduction, loss, grad_input, grad_target);
}

typedef struct {
    const float *pos_weight;
    int64_t pos_len;
} logits_params;

static jnce_binary_terms bce_logits_terms(const void *params, int64_t k, double x, double y) {
    const logits_params *lp = params;
    return jnce_bce_logits_terms(x, y, lp->pos_weight != NULL ? lp->pos_weight[k % lp->pos_len] : 1.0);
}

/* bce_logits' vector block: jnce_bce_logits8 on 8 float lanes, the tail through the scalar block. */
JNCE_TARGET_AVX2 static double bce_logits_block_avx2(const jnce_binary_job *j, int64_t from, int64_t to) {
    const logits_params *lp = j->params;
    float pbuf[8];
    int64_t wi = j->weight != NULL ? from % j->weight_len : 0, pi = lp->pos_weight != NULL ? from % lp->pos_len : 0;
    __m256d sum = _mm256_setzero_pd();
    int64_t k = from;
    for (; k + 8 <= to; k += 8) {
        __m256 x = _mm256_loadu_ps(j->input + k), y = _mm256_loadu_ps(j->target + k);
        __m256 w = jnce_binary_weight8(j, &wi), pw = _mm256_set1_ps(1.0f);
        if (lp->pos_weight != NULL) jnce_periodic8(lp->pos_weight, lp->pos_len, &pi, pbuf), pw = _mm256_loadu_ps(pbuf);
        jnce_bce8 t = jnce_bce_logits8(x, y, pw);
        jnce_binary_put8(j, k, w, t.loss, t.dx, t.dy, &sum);
    }
    return jnce_binary_finish(j, sum, k, to);
}

#ifdef JNCE_HAVE_AVX512
/* bce_logits' block on 16 lanes: jnce_bce_logits16; its last < 16 elements through bce_logits_block_avx2. */
JNCE_TARGET_AVX512 static double bce_logits_block_avx512(const jnce_binary_job *job, int64_t from, int64_t to) {
    const jnce_binary_job local = *job, *j = &local; /* in registers: the stores cannot alias it */
    const logits_params *lp = j->params;
    float pbuf[16];
    int64_t wi = j->weight != NULL ? from % j->weight_len : 0, pi = lp->pos_weight != NULL ? from % lp->pos_len : 0;
    __m512d sum = _mm512_setzero_pd();
    int64_t k = from;
    for (; k + 16 <= to; k += 16) {
        __m512 x = _mm512_loadu_ps(j->input + k), y = _mm512_loadu_ps(j->target + k);
        __m512 w = jnce_binary_weight16(j, &wi), pw = _mm512_set1_ps(1.0f);
        if (lp->pos_weight != NULL) jnce_periodic16(lp->pos_weight, lp->pos_len, &pi, pbuf), pw = _mm512_loadu_ps(pbuf);
        jnce_bce16 t = jnce_bce_logits16(x, y, pw);
        jnce_binary_put16(j, k, w, t.loss, t.dx, t.dy, &sum);
    }
    return _mm512_reduce_add_pd(sum) + bce_logits_block_avx2(j, k, to);
}
#endif

static jnce_binary_block_fn bce_logits_block(void) {
#ifdef JNCE_HAVE_AVX512
    if (jnce_use_avx512()) return bce_logits_block_avx512;
#endif
    return jnce_use_avx2() ? bce_logits_block_avx2 : jnce_binary_scalar_block;
}

int32_t jnce_bce_logits_fwd_bwd(const float *input, const float *target, int64_t numel, const float *weight,
                                int64_t weight_len, const float *pos_weight, int64_t pos_len,
                                int32_t reduction, float *loss, float *grad_input, float *grad_target) {
    if (pos_weight != NULL && (pos_len <= 0 || numel % pos_len != 0))
        return jnce_fail(JNCE_ERR_INVALID_ARG, "bce_logits: pos_len=%lld does not divide numel=%lld",
                         (long long)pos_len, (long long)numel);
    logits_params params = {pos_weight, pos_len};
    return jnce_binary_run_blocks("bce_logits", input, target, numel, weight, weight_len, bce_logits_terms, &params,
                                  bce_logits_block(), reduction, loss, grad_input, grad_target);
}
