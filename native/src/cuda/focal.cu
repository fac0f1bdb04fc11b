/*
 * focal.cu - the multi-class (softmax) focal loss on the GPU, forward and backward, with the
 * meaning jnce.h gives jnce_softmax_focal_fwd_bwd (src/cpu/focal.c): loss_i = -alpha_t (1-p_t)^gamma
 * log p_t over softmax(logits_i), the mean over N; rows holding NaN or +Inf are NaN; grad may alias
 * logits. Class indices are checked by the caller (the Java layer) before the call. One block a
 * row: the maximum, the sum of the other classes' exponentials in double, the loss and the
 * gradient factor in thread 0 (the CPU kernel's formulas: log p_t from the small side of the
 * ratio), then the gradient row; one block reduces. Device pointers; no host synchronisation.
 */
#include <math.h>

#include "internal.cuh"

typedef struct {
    const float *x;
    const void *targets;
    int32_t dtype;
    int64_t N, C;
    const float *alpha;
    double gamma, scale;
    float *grad;
} sfocal_call;

__global__ void sfocal_kernel(sfocal_call c, double *row_loss) {
    __shared__ float fshared[32];
    __shared__ double dshared[32];
    __shared__ double plan[2]; /* f, s */
    for (int64_t i = blockIdx.x; i < c.N; i += gridDim.x) {
        const float *x = c.x + i * c.C;
        float *g = c.grad != NULL ? c.grad + i * c.C : NULL;
        const int64_t t = c.dtype == JNCE_DTYPE_INT32 ? (int64_t)((const int32_t *)c.targets)[i] : ((const int64_t *)c.targets)[i];
        float m = -INFINITY;
        int bad = 0;
        for (int64_t j = threadIdx.x; j < c.C; j += blockDim.x) {
            float v = x[j];
            bad |= isnan(v) || v == INFINITY;
            m = fmaxf(m, v);
        }
        bad = __syncthreads_or(bad);
        m = jnce_block_max(m, fshared);
        const double x_t = x[t]; /* every thread reads it before any writes the row */
        if (bad || m == -INFINITY) {
            __syncthreads();
            if (threadIdx.x == 0) row_loss[i] = NAN;
            if (g != NULL) for (int64_t j = threadIdx.x; j < c.C; j += blockDim.x) g[j] = NAN;
            continue;
        }
        double others = 0.0;
        for (int64_t j = threadIdx.x; j < c.C; j += blockDim.x)
            if (j != t) others += exp((double)x[j] - (double)m);
        others = jnce_block_sum_double(others, dshared); /* its barriers: every read of the row is done */
        if (threadIdx.x == 0) {
            const double d_t = x_t - (double)m, e_t = exp(d_t), s = e_t + others, p_t = e_t / s, mm = others / s;
            const double log_p = p_t > 0.5 ? -log1p(others / e_t) : d_t - log(s);
            const double a = c.alpha != NULL ? (double)c.alpha[t] : 1.0, gm = c.gamma;
            const double mg = gm == 2.0 ? mm * mm : gm == 1.0 ? mm : gm == 0.0 ? 1.0 : pow(mm, gm);
            const double ratio = mm > 0.0 ? log_p / mm : -1.0;
            const double pt_ratio = p_t > 0.0 ? p_t * ratio : 0.0; /* p_t log p_t -> 0 where p_t = 0 */
            row_loss[i] = -a * mg * log_p;
            plan[0] = c.scale * a * mg * (1.0 - gm * pt_ratio);
            plan[1] = s;
        }
        __syncthreads();
        if (g != NULL) {
            const double f = plan[0], s = plan[1];
            for (int64_t j = threadIdx.x; j < c.C; j += blockDim.x) {
                const double e = exp((j == t ? x_t : (double)x[j]) - (double)m);
                g[j] = (float)(j == t ? f * (e / s - 1.0) : f * e / s);
            }
        }
        __syncthreads(); /* plan is rewritten by the next row */
    }
}

__global__ void sfocal_reduce_kernel(const double *row_loss, int64_t N, int32_t reduction, float *loss) {
    __shared__ double shared[32];
    double s = 0.0;
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
        if (reduction == JNCE_REDUCTION_NONE) loss[i] = (float)row_loss[i];
        s += row_loss[i];
    }
    s = jnce_block_sum_double(s, shared);
    if (threadIdx.x == 0 && reduction != JNCE_REDUCTION_NONE)
        loss[0] = (float)(reduction == JNCE_REDUCTION_MEAN ? s / (double)N : s);
}

int32_t jnce_cuda_softmax_focal_fwd_bwd(jnce_cuda_ctx *ctx, const float *logits, const void *targets, int32_t target_dtype,
                                        int64_t N, int64_t C, const float *alpha, float gamma, int32_t reduction,
                                        float *loss, float *grad) {
    if (logits == NULL || targets == NULL || loss == NULL)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "softmax_focal (cuda): logits, targets and loss must be non-null");
    if (N <= 0 || C <= 0)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "softmax_focal (cuda): N=%lld and C=%lld must be positive", (long long)N,
                              (long long)C);
    if (target_dtype != JNCE_DTYPE_INT32 && target_dtype != JNCE_DTYPE_INT64)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "softmax_focal (cuda): target_dtype %d is not int32 or int64", target_dtype);
    if (reduction < JNCE_REDUCTION_NONE || reduction > JNCE_REDUCTION_SUM)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "softmax_focal (cuda): unknown reduction %d", reduction);
    if (!(gamma >= 0.0f) || isinf(gamma))
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "softmax_focal (cuda): gamma=%g must be finite and >= 0", (double)gamma);
    int32_t s = jnce_cuda_enter(ctx, "softmax_focal");
    if (s != JNCE_OK) return s;
    void *scratch;
    s = jnce_cuda_scratch(ctx, N * (int64_t)sizeof(double), &scratch, "softmax_focal");
    if (s != JNCE_OK) return s;
    const sfocal_call c = {logits, targets, target_dtype, N, C, alpha, (double)gamma,
                           reduction == JNCE_REDUCTION_MEAN ? 1.0 / (double)N : 1.0, grad};
    const int threads = C >= 4096 ? 256 : C >= 256 ? 128 : 32;
    sfocal_kernel<<<jnce_cuda_row_blocks(N), threads, 0, ctx->stream>>>(c, (double *)scratch);
    sfocal_reduce_kernel<<<1, 1024, 0, ctx->stream>>>((const double *)scratch, N, reduction, loss);
    return jnce_cuda_launched("softmax_focal (cuda) launch");
}
