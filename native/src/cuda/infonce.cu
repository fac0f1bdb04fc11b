/*
 * infonce.cu - the masking step of the InfoNCE family on the GPU: scales a similarity matrix
 * by 1/temperature and fills one diagonal (a query's own key, or its positive) with a value,
 * usually -inf so that softmax gives it probability 0. The CE step is cross_entropy.cu, the
 * similarity GEMM gemm.cu.
 *
 *   S (N,M) float32, row stride ld >= M, device memory, in place:
 *     S[i,j] = scale * S[i,j];   then, when fill != 0 and 0 <= i + offset < M:
 *     S[i, i + offset] = value
 * Grid-stride over all N*M entries; rows of S need not be contiguous with each other.
 */
#include <math.h>

#include "internal.cuh"

__global__ void infonce_scale_fill_diagonal_kernel(float *S, int64_t N, int64_t M, int64_t ld, float scale,
                                                   int64_t offset, float value, int32_t fill) {
    int64_t total = N * M;
    for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < total; k += (int64_t)gridDim.x * blockDim.x) {
        int64_t i = k / M, j = k - i * M;
        float *p = S + i * ld + j;
        *p = fill && j == i + offset ? value : *p * scale;
    }
}

int32_t jnce_cuda_infonce_scale_fill_diagonal(jnce_cuda_ctx *ctx, float *S, int64_t N, int64_t M, int64_t ld,
                                              float scale, int64_t offset, float value, int32_t fill) {
    if (S == NULL || N <= 0 || M <= 0 || ld < M)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "infonce_scale_fill_diagonal (cuda): S=%p N=%lld M=%lld ld=%lld",
                              (void *)S, (long long)N, (long long)M, (long long)ld);
    if (isnan(scale)) return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "infonce_scale_fill_diagonal (cuda): scale is NaN");
    int32_t s = jnce_cuda_enter(ctx, "infonce_scale_fill_diagonal");
    if (s != JNCE_OK) return s;
    int64_t blocks = (N * M + 255) / 256;
    if (blocks > 65535LL * 16) blocks = 65535LL * 16;
    infonce_scale_fill_diagonal_kernel<<<(unsigned)blocks, 256, 0, ctx->stream>>>(S, N, M, ld, scale, offset, value, fill);
    return jnce_cuda_launched("infonce_scale_fill_diagonal (cuda) launch");
}
