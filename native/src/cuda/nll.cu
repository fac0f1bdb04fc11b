/*
 * nll.cu - F.nll_loss on the GPU, forward and backward, with the meaning jnce.h gives
 * jnce_nll_fwd_bwd (src/cpu/nll.c): log-probability input, or probabilities with
 * JNCE_NLL_FROM_PROBS (max(log p, -100), gradient 0 where clamped), class weights, ignore_index,
 * MEAN over the weights of the counted rows (NaN when that is 0, unless
 * JNCE_NLL_ZERO_IF_NO_WEIGHT and no row has a non-zero weight). Device pointers; grad may alias
 * input. Three launches on the context's stream, no host synchronisation:
 *   nll_stats_kernel  one block: the value checks (every weight finite; per row, a target in [0,C)
 *                     or ignore_index and, from probabilities, input[i,t] in [0,1], NaN passing;
 *                     the lowest offending index, weights first, as the CPU kernel names it, goes
 *                     to the context's error record and the other kernels write nothing) and the
 *                     mean's denominators
 *   nll_rows_kernel   one block a row: the row loss, and the gradient row (zeros but at t)
 *   nll_reduce_kernel one block: MEAN/SUM of the row losses in double
 */
#include <limits.h>
#include <math.h>

#include "internal.cuh"

#define NLL_LOG_CLAMP (-100.0)

typedef struct {
    const float *input;
    const void *targets;
    int32_t dtype;
    const float *weight;
    int64_t N, C, ignore_index;
    int32_t reduction;
    int from_probs, zero_if_no_weight;
    float *loss, *grad;
} nll_call;

typedef struct {
    double total_weight;
    double scale;    /* gradient scale of every row */
    int32_t zero;    /* a mean over no weighted row, made 0 (gradient 0 too) */
    int32_t bad;
} nll_stats;

__device__ __forceinline__ int64_t nll_target(const nll_call &a, int64_t i) {
    return a.dtype == JNCE_DTYPE_INT32 ? (int64_t)((const int32_t *)a.targets)[i] : ((const int64_t *)a.targets)[i];
}

__global__ void nll_stats_kernel(nll_call a, nll_stats *st, jnce_cuda_error_record *err) {
    __shared__ double shared[32];
    __shared__ unsigned long long bad_weight, bad_row;
    if (threadIdx.x == 0) bad_weight = bad_row = ULLONG_MAX;
    __syncthreads();
    for (int64_t c = threadIdx.x; a.weight != NULL && c < a.C; c += blockDim.x)
        if (!isfinite(a.weight[c])) atomicMin(&bad_weight, (unsigned long long)c);
    double total = 0.0, weighted = 0.0;
    for (int64_t i = threadIdx.x; i < a.N; i += blockDim.x) {
        int64_t t = nll_target(a, i);
        if (t == a.ignore_index) continue;
        if (t < 0 || t >= a.C) {
            atomicMin(&bad_row, (unsigned long long)i);
            continue;
        }
        float p = a.from_probs ? a.input[i * a.C + t] : 0.0f;
        if (p < 0.0f || p > 1.0f) { /* NaN passes: it gives NaN */
            atomicMin(&bad_row, (unsigned long long)i);
            continue;
        }
        double w = a.weight != NULL ? (double)a.weight[t] : 1.0;
        total += w;
        weighted += w != 0.0;
    }
    for (int o = 16; o > 0; o >>= 1) {
        total += __shfl_xor_sync(0xffffffffu, total, o);
        weighted += __shfl_xor_sync(0xffffffffu, weighted, o);
    }
    if ((threadIdx.x & 31) == 0) shared[threadIdx.x >> 5] = total;
    __syncthreads(); /* also publishes bad_weight and bad_row */
    double t_sum = 0.0;
    if (threadIdx.x == 0)
        for (int k = 0; k < (int)(blockDim.x >> 5); k++) t_sum += shared[k];
    __syncthreads();
    if ((threadIdx.x & 31) == 0) shared[threadIdx.x >> 5] = weighted;
    __syncthreads();
    if (threadIdx.x == 0) {
        double w_rows = 0.0;
        for (int k = 0; k < (int)(blockDim.x >> 5); k++) w_rows += shared[k];
        int bad = bad_weight != ULLONG_MAX || bad_row != ULLONG_MAX;
        if (bad_weight != ULLONG_MAX) {
            int64_t c = (int64_t)bad_weight;
            jnce_cuda_report(err, JNCE_CUDA_NLL_BAD_WEIGHT, c, __float_as_int(a.weight[c]), a.N, a.C, a.ignore_index);
        } else if (bad_row != ULLONG_MAX) {
            int64_t i = (int64_t)bad_row, t = nll_target(a, i);
            if (t < 0 || t >= a.C) jnce_cuda_report(err, JNCE_CUDA_NLL_BAD_TARGET, i, t, a.N, a.C, a.ignore_index);
            else jnce_cuda_report(err, JNCE_CUDA_NLL_BAD_PROB, i, __float_as_int(a.input[i * a.C + t]), a.N, a.C, t);
        }
        int mean = a.reduction == JNCE_REDUCTION_MEAN;
        st->bad = bad;
        st->total_weight = t_sum;
        st->zero = mean && w_rows == 0.0 && a.zero_if_no_weight;
        st->scale = mean ? 1.0 / t_sum : 1.0;
    }
}

__global__ void nll_rows_kernel(nll_call a, const nll_stats *st, float *row_loss) {
    if (st->bad) return;
    for (int64_t i = blockIdx.x; i < a.N; i += gridDim.x) {
        const int64_t t = nll_target(a, i);
        const bool ignored = t == a.ignore_index;
        double w = 0.0, v = 0.0, dv = 0.0;
        if (!ignored) {
            w = a.weight != NULL ? (double)a.weight[t] : 1.0;
            double x = a.input[i * a.C + t]; /* every thread reads it before any writes the row */
            if (a.from_probs) {
                v = log(x);
                if (v < NLL_LOG_CLAMP) v = NLL_LOG_CLAMP; /* NaN stays NaN */
                else dv = 1.0 / x;
            } else {
                v = x;
                dv = 1.0;
            }
        }
        __syncthreads(); /* with grad over input: the read above comes first */
        if (threadIdx.x == 0) row_loss[i] = ignored ? 0.0f : (float)(-w * v);
        if (a.grad != NULL) {
            float *g = a.grad + i * a.C;
            const float gt = !ignored && !st->zero ? (float)(-w * st->scale * dv) : 0.0f;
            for (int64_t j = threadIdx.x; j < a.C; j += blockDim.x) g[j] = j == t ? gt : 0.0f;
        }
    }
}

__global__ void nll_reduce_kernel(nll_call a, const nll_stats *st, const float *row_loss) {
    __shared__ double shared[32];
    if (st->bad) return;
    double s = 0.0;
    for (int64_t i = threadIdx.x; i < a.N; i += blockDim.x) s += row_loss[i];
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if ((threadIdx.x & 31) == 0) shared[threadIdx.x >> 5] = s;
    __syncthreads();
    if (threadIdx.x == 0) {
        double total = 0.0;
        for (int k = 0; k < (int)(blockDim.x >> 5); k++) total += shared[k];
        if (a.reduction == JNCE_REDUCTION_MEAN) total = st->zero ? 0.0 : total / st->total_weight;
        a.loss[0] = (float)total;
    }
}

int32_t jnce_cuda_nll_fwd_bwd(jnce_cuda_ctx *ctx, const float *input, const void *targets, int32_t target_dtype,
                              const float *weight, int64_t N, int64_t C, int64_t ignore_index, int32_t reduction,
                              int32_t flags, float *loss, float *grad) {
    if (input == NULL || targets == NULL || loss == NULL)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "nll (cuda): input, targets and loss must be non-null");
    if (N <= 0 || C <= 0)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "nll (cuda): N=%lld and C=%lld must be positive", (long long)N,
                              (long long)C);
    if (target_dtype != JNCE_DTYPE_INT32 && target_dtype != JNCE_DTYPE_INT64)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "nll (cuda): target_dtype %d is not int32 or int64", target_dtype);
    if (reduction < JNCE_REDUCTION_NONE || reduction > JNCE_REDUCTION_SUM)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "nll (cuda): unknown reduction %d", reduction);
    if ((flags & ~(JNCE_NLL_FROM_PROBS | JNCE_NLL_ZERO_IF_NO_WEIGHT)) != 0)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "nll (cuda): unknown flags 0x%x", (unsigned)flags);
    int32_t s = jnce_cuda_enter(ctx, "nll");
    if (s != JNCE_OK) return s;
    const nll_call a = {input, targets, target_dtype, weight, N, C, ignore_index, reduction,
                        (flags & JNCE_NLL_FROM_PROBS) != 0, (flags & JNCE_NLL_ZERO_IF_NO_WEIGHT) != 0, loss, grad};
    void *scratch;
    int64_t stats_bytes = (int64_t)((sizeof(nll_stats) + 255) / 256 * 256);
    s = jnce_cuda_scratch(ctx, stats_bytes + N * (int64_t)sizeof(float), &scratch, "nll");
    if (s != JNCE_OK) return s;
    nll_stats *st = (nll_stats *)scratch;
    float *row_loss = reduction == JNCE_REDUCTION_NONE ? loss : (float *)((char *)scratch + stats_bytes);
    int threads = C >= 4096 ? 256 : C >= 256 ? 128 : 32;
    nll_stats_kernel<<<1, 1024, 0, ctx->stream>>>(a, st, ctx->error);
    nll_rows_kernel<<<jnce_cuda_row_blocks(N), threads, 0, ctx->stream>>>(a, st, row_loss);
    if (reduction != JNCE_REDUCTION_NONE) nll_reduce_kernel<<<1, 1024, 0, ctx->stream>>>(a, st, row_loss);
    return jnce_cuda_launched("nll (cuda) launch");
}
