/*
 * similarity.cu - L2 normalisation of rows on the GPU (F.normalize, p=2, dim=-1), forward and
 * backward, with the meaning jnce.h gives jnce_l2_normalize_fwd/_bwd. Pointers are device memory.
 *
 *   x, y, dy, dx (N,D) float32; y may alias x, dx may alias dy.
 *   forward:   y = x / c,  c = max(||x||, eps)
 *   backward:  ||x|| >= eps: dx = (dy - y (y . dy)) / c = dy / c - x (x . dy) / c^3
 *              ||x|| <  eps: dx = dy / eps
 * One block per row; the norm and the dot product are one read of the row, summed in float32
 * per thread and by warp shuffles. The similarity matrix itself is a cuBLAS GEMM (gemm.cu).
 */
#include <math.h>

#include "internal.cuh"

__global__ void l2_normalize_fwd_kernel(const float *x, int64_t N, int64_t D, float eps, float *y) {
    __shared__ float shared[32];
    for (int64_t i = blockIdx.x; i < N; i += gridDim.x) {
        const float *xi = x + i * D;
        float ss = 0.0f;
        for (int64_t j = threadIdx.x; j < D; j += blockDim.x) ss += xi[j] * xi[j];
        ss = jnce_block_sum(ss, shared);
        float n = sqrtf(ss);
        float inv = 1.0f / (isnan(n) ? n : fmaxf(n, eps)); /* a NaN norm stays NaN, as in torch */
        float *yi = y + i * D;
        for (int64_t j = threadIdx.x; j < D; j += blockDim.x) yi[j] = xi[j] * inv;
    }
}

__global__ void l2_normalize_bwd_kernel(const float *x, const float *dy, int64_t N, int64_t D, float eps, float *dx) {
    __shared__ float shared[32];
    for (int64_t i = blockIdx.x; i < N; i += gridDim.x) {
        const float *xi = x + i * D, *dyi = dy + i * D;
        float ss = 0.0f, xd = 0.0f;
        for (int64_t j = threadIdx.x; j < D; j += blockDim.x) {
            ss += xi[j] * xi[j];
            xd += xi[j] * dyi[j];
        }
        ss = jnce_block_sum(ss, shared);
        xd = jnce_block_sum(xd, shared);
        float norm = sqrtf(ss);
        float a, b; /* dx = a dy - b x */
        if (norm >= eps) {
            a = 1.0f / norm;
            b = xd / (norm * norm * norm);
        } else {
            a = 1.0f / eps;
            b = 0.0f;
        }
        float *dxi = dx + i * D;
        for (int64_t j = threadIdx.x; j < D; j += blockDim.x) dxi[j] = a * dyi[j] - b * xi[j];
    }
}

static int32_t check_rows(const char *op, const void *p, const void *q, int64_t N, int64_t D, float eps) {
    if (p == NULL || q == NULL) return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "%s (cuda): null buffer", op);
    if (N <= 0 || D <= 0)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "%s (cuda): N=%lld and D=%lld must be positive", op, (long long)N,
                              (long long)D);
    if (!(eps >= 0.0f) || isinf(eps))
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "%s (cuda): eps=%g must be finite and >= 0", op, eps);
    return JNCE_OK;
}

static int threads_for(int64_t D) {
    return D >= 4096 ? 512 : D >= 512 ? 128 : 32;
}

int32_t jnce_cuda_l2_normalize_fwd(jnce_cuda_ctx *ctx, const float *x, int64_t N, int64_t D, float eps, float *y) {
    int32_t s = check_rows("l2_normalize_fwd", x, y, N, D, eps);
    if (s == JNCE_OK) s = jnce_cuda_enter(ctx, "l2_normalize_fwd");
    if (s != JNCE_OK) return s;
    l2_normalize_fwd_kernel<<<jnce_cuda_row_blocks(N), threads_for(D), 0, ctx->stream>>>(x, N, D, eps, y);
    return jnce_cuda_launched("l2_normalize_fwd (cuda) launch");
}

int32_t jnce_cuda_l2_normalize_bwd(jnce_cuda_ctx *ctx, const float *x, const float *dy, int64_t N, int64_t D, float eps,
                                   float *dx) {
    int32_t s = check_rows("l2_normalize_bwd", x, dy, N, D, eps);
    if (s == JNCE_OK && dx == NULL) s = jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "l2_normalize_bwd (cuda): dx is null");
    if (s == JNCE_OK) s = jnce_cuda_enter(ctx, "l2_normalize_bwd");
    if (s != JNCE_OK) return s;
    l2_normalize_bwd_kernel<<<jnce_cuda_row_blocks(N), threads_for(D), 0, ctx->stream>>>(x, dy, N, D, eps, dx);
    return jnce_cuda_launched("l2_normalize_bwd (cuda) launch");
}
