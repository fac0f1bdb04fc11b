/*
 * softcap.cu - the linear cross-entropy's logit soft-capping on the GPU, in place, each value in
 * double and rounded once (the host kernels' formulas, HostCrossEntropy):
 *   softcap       s = cap tanh(s / cap)
 *   softcap_bwd   g *= 1 - (capped / cap)^2
 * Device pointers, n values, cap finite and > 0; no host synchronisation.
 */
#include <math.h>

#include "internal.cuh"

__global__ void softcap_kernel(float *s, int64_t n, double cap) {
    for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < n; k += (int64_t)gridDim.x * blockDim.x)
        s[k] = (float)(cap * tanh((double)s[k] / cap));
}

__global__ void softcap_bwd_kernel(const float *capped, float *g, int64_t n, double cap) {
    for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < n; k += (int64_t)gridDim.x * blockDim.x) {
        const double t = (double)capped[k] / cap;
        g[k] = (float)((double)g[k] * (1.0 - t * t));
    }
}

static unsigned softcap_blocks(int64_t n) {
    int64_t b = (n + 255) / 256;
    return (unsigned)(b < 65535LL * 16 ? b : 65535LL * 16);
}

int32_t jnce_cuda_softcap(jnce_cuda_ctx *ctx, float *s, int64_t n, float cap) {
    if (s == NULL || n < 0 || !(cap > 0.0f) || isinf(cap))
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "softcap (cuda): s=%p n=%lld cap=%g", (void *)s, (long long)n, (double)cap);
    int32_t st = jnce_cuda_enter(ctx, "softcap");
    if (st != JNCE_OK || n == 0) return st;
    softcap_kernel<<<softcap_blocks(n), 256, 0, ctx->stream>>>(s, n, (double)cap);
    return jnce_cuda_launched("softcap (cuda) launch");
}

int32_t jnce_cuda_softcap_bwd(jnce_cuda_ctx *ctx, const float *capped, float *grad, int64_t n, float cap) {
    if (capped == NULL || grad == NULL || n < 0 || !(cap > 0.0f) || isinf(cap))
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "softcap_bwd (cuda): n=%lld cap=%g", (long long)n, (double)cap);
    int32_t st = jnce_cuda_enter(ctx, "softcap_bwd");
    if (st != JNCE_OK || n == 0) return st;
    softcap_bwd_kernel<<<softcap_blocks(n), 256, 0, ctx->stream>>>(capped, grad, n, (double)cap);
    return jnce_cuda_launched("softcap_bwd (cuda) launch");
}
