/*
 * nll.c - negative log-likelihood (F.nll_loss), forward and backward, from log-probabilities
 * or (JNCE_NLL_FROM_PROBS) from probabilities.
 *
 *   input   (N,C) float32         targets (N) int32|int64 in [0,C) or == ignore_index
 *   weight  (C) float32 or NULL   loss (N) or (1) float32      grad (N,C) float32 or NULL
 *
 * Row i with target t, w_i = weight[t] (1 without weights; 0 when t == ignore_index):
 *   v_i = input[i,t]                          (log-probabilities)
 *   v_i = max(log input[i,t], -100)           (probabilities; d v_i / d p = 1/p, 0 where clamped)
 *   loss_i = -w_i v_i,   grad[i,t] = -w_i * scale * d v_i / d input[i,t], 0 elsewhere,
 * scale = 1 / sum_i w_i for MEAN (PyTorch's weighted mean) and 1 otherwise. The clamp is
 * PyTorch's binary_cross_entropy one: p = 0 gives loss 100 * w instead of +Inf.
 *
 * Pass 1 (serial, C weights and N values) checks that every class weight is finite, the targets
 * (and, from probabilities, that input[i,t] is in [0, 1]) and sums the weights: these are the
 * call's only value checks, and nothing is written before they pass. Pass 2 (rows in parallel) reads input[i,t] before writing grad row i, so
 * grad may alias input.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define LOG_CLAMP (-100.0) /* smallest log-probability used, as PyTorch's BCE */

typedef struct {
    const float *input;
    const void *targets;
    int32_t target_dtype;
    const float *weight;
    int64_t C;
    int64_t ignore_index;
    int from_probs;
    double scale;     /* gradient scale of every row */
    int zero_grad;    /* a mean over no weighted row, made 0: the gradient is 0 too */
    float *row_loss;  /* (N) */
    float *grad;      /* (N,C) or NULL */
} nll_job;

static void nll_rows(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const nll_job *job = ctx;
    const int64_t C = job->C;
    for (int64_t i = begin; i < end; i++) {
        int64_t t = jnce_target_at(job->targets, job->target_dtype, i);
        int ignored = t == job->ignore_index;
        double w = ignored ? 0.0 : job->weight != NULL ? job->weight[t] : 1.0;
        double v = 0.0, dv = 0.0; /* v_i and d v_i / d input[i,t] */
        if (!ignored) {
            double x = job->input[i * C + t];
            if (job->from_probs) {
                v = log(x);
                if (v < LOG_CLAMP) v = LOG_CLAMP; /* NaN stays NaN */
                else dv = 1.0 / x;
            } else {
                v = x;
                dv = 1.0;
            }
        }
        job->row_loss[i] = ignored ? 0.0f : (float)(-w * v);
        if (job->grad != NULL) {
            float *g = job->grad + i * C;
            memset(g, 0, (size_t)C * sizeof(float));
            if (!ignored && !job->zero_grad) g[t] = (float)(-w * job->scale * dv);
        }
    }
}

int32_t jnce_nll_fwd_bwd(const float *input, const void *targets, int32_t target_dtype, const float *weight,
                         int64_t N, int64_t C, int64_t ignore_index, int32_t reduction, int32_t flags,
                         float *loss, float *grad) {
    if (input == NULL || targets == NULL || loss == NULL)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "nll: input, targets and loss must be non-null");
    if (N <= 0 || C <= 0)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "nll: N=%lld and C=%lld must be positive", (long long)N, (long long)C);
    if (target_dtype != JNCE_DTYPE_INT32 && target_dtype != JNCE_DTYPE_INT64)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "nll: target_dtype %d is not int32 or int64", target_dtype);
    if (reduction < JNCE_REDUCTION_NONE || reduction > JNCE_REDUCTION_SUM)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "nll: unknown reduction %d", reduction);
    if ((flags & ~(JNCE_NLL_FROM_PROBS | JNCE_NLL_ZERO_IF_NO_WEIGHT)) != 0)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "nll: unknown flags 0x%x", (unsigned)flags);

    nll_job job = {input, targets, target_dtype, weight, C, ignore_index, (flags & JNCE_NLL_FROM_PROBS) != 0,
                   1.0, 0, NULL, grad};
    for (int64_t c = 0; weight != NULL && c < C; c++) { /* as cross_entropy.c: every weight, used or not */
        if (!isfinite(weight[c])) {
            char v[32];
            jnce_format_float(v, sizeof v, weight[c]);
            return jnce_fail(JNCE_ERR_INVALID_ARG, "weight[%lld] = %s is not finite", (long long)c, v);
        }
    }
    double total_weight = 0.0;
    int64_t weighted_rows = 0;
    for (int64_t i = 0; i < N; i++) {
        int64_t t = jnce_target_at(targets, target_dtype, i);
        if (t == ignore_index) continue;
        if (t < 0 || t >= C)
            return jnce_fail(JNCE_ERR_INVALID_ARG,
                             "targets[%lld] = %lld is outside [0, %lld) for input of shape (%lld, %lld) and is not the "
                             "ignore index %lld", (long long)i, (long long)t, (long long)C, (long long)N, (long long)C,
                             (long long)ignore_index);
        float p = job.from_probs ? input[i * C + t] : 0.0f;
        if (p < 0.0f || p > 1.0f) { /* NaN passes: it gives NaN */
            char v[32];
            jnce_format_float(v, sizeof v, p);
            return jnce_fail(JNCE_ERR_INVALID_ARG,
                             "input[%lld, %lld] = %s is not a probability in [0, 1]: NLL from probabilities takes "
                             "probabilities, not log-probabilities or logits", (long long)i, (long long)t, v);
        }
        double w = weight != NULL ? weight[t] : 1.0;
        total_weight += w;
        weighted_rows += w != 0.0;
    }
    int zero_mean = reduction == JNCE_REDUCTION_MEAN && weighted_rows == 0 && (flags & JNCE_NLL_ZERO_IF_NO_WEIGHT);
    if (reduction == JNCE_REDUCTION_MEAN) job.scale = 1.0 / total_weight;
    job.zero_grad = zero_mean;

    float *row_loss = loss;
    if (reduction != JNCE_REDUCTION_NONE) {
        row_loss = malloc((size_t)N * sizeof(float));
        if (row_loss == NULL) return jnce_fail(JNCE_ERR_OUT_OF_MEMORY, "nll: no memory for %lld losses", (long long)N);
    }
    job.row_loss = row_loss;
    jnce_parallel_for(N, C >= 65536 ? 1 : 65536 / C, nll_rows, &job);

    if (reduction != JNCE_REDUCTION_NONE) {
        double total = jnce_rows_total(row_loss, N);
        if (reduction == JNCE_REDUCTION_MEAN) total = zero_mean ? 0.0 : total / total_weight;
        loss[0] = (float)total;
        free(row_loss);
    }
    return JNCE_OK;
}
