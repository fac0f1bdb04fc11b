/*
 * divergence.cu - F.kl_div, the entropy and cross-entropy of distributions, and perplexity on the
 * GPU, with the meaning jnce.h gives jnce_kl_div_fwd_bwd, jnce_entropy_fwd_bwd,
 * jnce_dist_xent_fwd_bwd and jnce_perplexity_fwd_bwd (src/cpu/divergence.c): every value in
 * double (the CPU kernels' scalar formulas), sums in double. Device pointers; no host
 * synchronisation.
 *   kl_div       grid-stride over N*C values, one double partial sum a block, then one block adds them
 *   entropy,     one block a row (rows summed in double into scratch), then one block reduces
 *   dist_xent
 *   perplexity   one block
 */
#include <math.h>

#include "internal.cuh"

#define DV_THREADS 256
#define DV_BLOCKS 1024

__global__ void kl_kernel(const float *xs, const float *ts, int64_t M, int log_target, double scale, float *loss,
                          float *gx, float *gt, double *partial) {
    __shared__ double shared[32];
    double sum = 0.0;
    for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < M; k += (int64_t)gridDim.x * blockDim.x) {
        double x = xs[k], t = ts[k], l, dx, dt;
        if (log_target) {
            double e = exp(t);
            l = e * (t - x);
            dx = -e;
            dt = e * (t - x + 1.0);
        } else {
            l = (t == 0.0 ? 0.0 : t * log(t)) - t * x;
            dx = -t;
            dt = t == 0.0 ? NAN : log(t) + 1.0 - x; /* PyTorch: xlogy's d/dy at 0 is 0/0 */
        }
        if (partial == NULL) loss[k] = (float)l;
        else sum += l;
        if (gx != NULL) gx[k] = (float)(dx * scale);
        if (gt != NULL) gt[k] = (float)(dt * scale);
    }
    if (partial != NULL) {
        sum = jnce_block_sum_double(sum, shared);
        if (threadIdx.x == 0) partial[blockIdx.x] = sum;
    }
}

/* loss[0] = scale * the sum of parts[0..count) */
__global__ void dv_total_kernel(const double *parts, int64_t count, double scale, float *loss) {
    __shared__ double shared[32];
    double s = 0.0;
    for (int64_t i = threadIdx.x; i < count; i += blockDim.x) s += parts[i];
    s = jnce_block_sum_double(s, shared);
    if (threadIdx.x == 0) loss[0] = (float)(s * scale);
}

/* q == NULL: entropy (q = p). rows (N) in double. */
__global__ void dist_kernel(const float *p, const float *q, int64_t N, int64_t C, double s, double *rows, float *gp,
                            float *gq) {
    __shared__ double shared[32];
    for (int64_t i = blockIdx.x; i < N; i += gridDim.x) {
        double h = 0.0;
        for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
            int64_t k = i * C + j;
            double pv = p[k];
            if (q == NULL) {
                double lp = log(pv);
                if (pv != 0.0) h -= pv * lp;
                if (gp != NULL) gp[k] = (float)(-(lp + 1.0) * s); /* +Inf at p = 0 */
            } else {
                double qv = q[k], lq = log(qv);
                if (pv != 0.0) h -= pv * lq;
                if (gp != NULL) gp[k] = (float)(-lq * s);
                if (gq != NULL) gq[k] = pv == 0.0 ? 0.0f : (float)(-pv / qv * s);
            }
        }
        h = jnce_block_sum_double(h, shared);
        if (threadIdx.x == 0) rows[i] = h;
        __syncthreads();
    }
}

__global__ void dist_rows_none_kernel(const double *rows, int64_t N, float *loss) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < N; i += (int64_t)gridDim.x * blockDim.x)
        loss[i] = (float)rows[i];
}

__device__ __forceinline__ int64_t dv_key(const void *keys, int32_t dtype, int64_t k) {
    return dtype == JNCE_DTYPE_INT32 ? (int64_t)((const int32_t *)keys)[k] : ((const int64_t *)keys)[k];
}

__global__ void perplexity_kernel(const float *token_loss, const void *keys, int32_t dtype, int64_t ignore_key,
                                  int64_t M, float all_ignored, float *ppl, float *grad) {
    __shared__ double shared[32];
    __shared__ float g_shared;
    double sum = 0.0, count = 0.0;
    for (int64_t k = threadIdx.x; k < M; k += blockDim.x) {
        if (dv_key(keys, dtype, k) != ignore_key) { /* ignored tokens are never read */
            sum += token_loss[k];
            count += 1.0;
        }
    }
    sum = jnce_block_sum_double(sum, shared);
    count = jnce_block_sum_double(count, shared);
    if (threadIdx.x == 0) {
        double value = count == 0.0 ? all_ignored : exp(sum / count);
        ppl[0] = (float)value;
        g_shared = count == 0.0 ? 0.0f : (float)(value / count);
    }
    __syncthreads();
    if (grad != NULL)
        for (int64_t k = threadIdx.x; k < M; k += blockDim.x) grad[k] = dv_key(keys, dtype, k) != ignore_key ? g_shared : 0.0f;
}

static unsigned dv_blocks(int64_t n) {
    int64_t b = (n + DV_THREADS - 1) / DV_THREADS;
    return (unsigned)(b < DV_BLOCKS ? b : DV_BLOCKS);
}

int32_t jnce_cuda_kl_div_fwd_bwd(jnce_cuda_ctx *ctx, const float *input, const float *target, int64_t N, int64_t C,
                                 int32_t log_target, int32_t reduction, float *loss, float *grad_input,
                                 float *grad_target) {
    if (input == NULL || target == NULL || loss == NULL)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "kl_div (cuda): input, target and loss must be non-null");
    if (N <= 0 || C <= 0)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "kl_div (cuda): N=%lld and C=%lld must be positive", (long long)N,
                              (long long)C);
    int64_t M = N * C;
    double scale;
    switch (reduction) {
    case JNCE_REDUCTION_NONE:
    case JNCE_REDUCTION_SUM: scale = 1.0; break;
    case JNCE_REDUCTION_MEAN: scale = 1.0 / (double)M; break;
    case JNCE_REDUCTION_BATCHMEAN: scale = 1.0 / (double)N; break;
    default: return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "kl_div (cuda): unknown reduction %d", reduction);
    }
    int32_t s = jnce_cuda_enter(ctx, "kl_div");
    if (s != JNCE_OK) return s;
    unsigned blocks = dv_blocks(M);
    double *partial = NULL;
    if (reduction != JNCE_REDUCTION_NONE) {
        void *scratch;
        s = jnce_cuda_scratch(ctx, (int64_t)blocks * (int64_t)sizeof(double), &scratch, "kl_div");
        if (s != JNCE_OK) return s;
        partial = (double *)scratch;
    }
    kl_kernel<<<blocks, DV_THREADS, 0, ctx->stream>>>(input, target, M, log_target != 0, scale, loss, grad_input,
                                                      grad_target, partial);
    if (partial != NULL) dv_total_kernel<<<1, DV_THREADS, 0, ctx->stream>>>(partial, blocks, scale, loss);
    return jnce_cuda_launched("kl_div (cuda) launch");
}

static int32_t dist_run(jnce_cuda_ctx *ctx, const char *op, const float *p, const float *q, int64_t N, int64_t C,
                        int32_t reduction, float *loss, float *gp, float *gq) {
    if (p == NULL || loss == NULL) return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "%s (cuda): p and loss must be non-null", op);
    if (N <= 0 || C <= 0)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "%s (cuda): N=%lld and C=%lld must be positive", op, (long long)N,
                              (long long)C);
    double scale = reduction == JNCE_REDUCTION_MEAN ? 1.0 / (double)N
                   : reduction == JNCE_REDUCTION_NONE || reduction == JNCE_REDUCTION_SUM ? 1.0 : -1.0;
    if (scale < 0.0) return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "%s (cuda): unknown reduction %d", op, reduction);
    int32_t s = jnce_cuda_enter(ctx, op);
    if (s != JNCE_OK) return s;
    void *scratch;
    s = jnce_cuda_scratch(ctx, N * (int64_t)sizeof(double), &scratch, op);
    if (s != JNCE_OK) return s;
    double *rows = (double *)scratch;
    int threads = C >= 4096 ? 256 : C >= 256 ? 128 : 32;
    dist_kernel<<<jnce_cuda_row_blocks(N), threads, 0, ctx->stream>>>(p, q, N, C, scale, rows, gp, gq);
    if (reduction == JNCE_REDUCTION_NONE) dist_rows_none_kernel<<<dv_blocks(N), DV_THREADS, 0, ctx->stream>>>(rows, N, loss);
    else dv_total_kernel<<<1, DV_THREADS, 0, ctx->stream>>>(rows, N, scale, loss);
    return jnce_cuda_launched(op);
}

int32_t jnce_cuda_entropy_fwd_bwd(jnce_cuda_ctx *ctx, const float *p, int64_t N, int64_t C, int32_t reduction,
                                  float *loss, float *grad) {
    return dist_run(ctx, "entropy", p, NULL, N, C, reduction, loss, grad, NULL);
}

int32_t jnce_cuda_dist_xent_fwd_bwd(jnce_cuda_ctx *ctx, const float *p, const float *q, int64_t N, int64_t C,
                                    int32_t reduction, float *loss, float *grad_p, float *grad_q) {
    if (q == NULL) return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "dist_xent (cuda): q must be non-null");
    return dist_run(ctx, "dist_xent", p, q, N, C, reduction, loss, grad_p, grad_q);
}

int32_t jnce_cuda_perplexity_fwd_bwd(jnce_cuda_ctx *ctx, const float *token_loss, const void *keys, int32_t key_dtype,
                                     int64_t ignore_key, int64_t M, float all_ignored, float *ppl, float *grad) {
    if (token_loss == NULL || keys == NULL || ppl == NULL)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "perplexity (cuda): token_loss, keys and ppl must be non-null");
    if (M <= 0) return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "perplexity (cuda): M=%lld must be positive", (long long)M);
    if (key_dtype != JNCE_DTYPE_INT32 && key_dtype != JNCE_DTYPE_INT64)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "perplexity (cuda): key_dtype %d is not int32 or int64", key_dtype);
    int32_t s = jnce_cuda_enter(ctx, "perplexity");
    if (s != JNCE_OK) return s;
    perplexity_kernel<<<1, 1024, 0, ctx->stream>>>(token_loss, keys, key_dtype, ignore_key, M, all_ignored, ppl, grad);
    return jnce_cuda_launched("perplexity (cuda) launch");
}
