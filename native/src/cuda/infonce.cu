/*
 * infonce.cu - the O(N) steps of the InfoNCE row-block sweep on the GPU, around its GEMMs
 * (gemm.cu) and its cross-entropy (cross_entropy.cu); device memory throughout.
 *
 *   scale_fill_diagonal  S (N,M), row stride ld >= M, in place: S[i,j] = scale * S[i,j]; then,
 *                        when fill != 0 and 0 <= i + offset < M, S[i, i + offset] = value
 *                        (grid-stride over all N*M entries)
 *   diagonal_targets     targets (n) int64: targets[i] = (i + offset) mod modulus
 *   exclude_logits       S (R,M) contiguous, in place, one thread per row: S[i][self + i] = value
 *                        where self >= 0 and self + i < M; then, when positives (R) is not NULL,
 *                        positives[i] = S[i][c_i] and S[i][c_i] = value, c_i = (pc + i step) mod M
 *   reduce_rows          l_i = rows_i - minus_i (minus NULL: 0); loss (n) = l for NONE, else
 *                        loss[0] = sum l (SUM) or sum l / counted (MEAN; NaN for counted 0),
 *                        summed in double by one block in a fixed tree order
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

__global__ void infonce_diagonal_targets_kernel(int64_t *targets, int64_t n, int64_t offset, int64_t modulus) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        targets[i] = (i + offset) % modulus;
}

__global__ void infonce_exclude_logits_kernel(float *S, int64_t R, int64_t M, int64_t self_column, int64_t positive_column,
                                              int64_t positive_step, float value, float *positives) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < R; i += (int64_t)gridDim.x * blockDim.x) {
        float *row = S + i * M;
        if (self_column >= 0 && self_column + i < M) row[self_column + i] = value;
        if (positives != NULL) {
            int64_t c = (positive_column + i * positive_step) % M;
            if (c < 0) c += M;
            positives[i] = row[c];
            row[c] = value;
        }
    }
}

__global__ void infonce_rows_none_kernel(const float *rows, const float *minus, int64_t n, float *loss) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        loss[i] = minus == NULL ? rows[i] : (float)((double)rows[i] - (double)minus[i]);
}

#define SUM_THREADS 256

/* One block: the rows' sum in double in a fixed tree order, then the reduced loss. */
__global__ void infonce_rows_sum_kernel(const float *rows, const float *minus, int64_t n, int32_t mean, int64_t counted,
                                        float *loss) {
    __shared__ double shared[SUM_THREADS];
    double s = 0.0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += minus == NULL ? (double)rows[i] : (double)rows[i] - minus[i];
    shared[threadIdx.x] = s;
    __syncthreads();
    for (int h = blockDim.x / 2; h > 0; h >>= 1) {
        if (threadIdx.x < h) shared[threadIdx.x] += shared[threadIdx.x + h];
        __syncthreads();
    }
    if (threadIdx.x == 0) loss[0] = !mean ? (float)shared[0] : counted == 0 ? NAN : (float)(shared[0] / (double)counted);
}

static unsigned grid_for(int64_t n) {
    int64_t b = (n + 255) / 256;
    return (unsigned)(b < 65535LL * 16 ? b : 65535LL * 16);
}

int32_t jnce_cuda_infonce_diagonal_targets(jnce_cuda_ctx *ctx, int64_t *targets, int64_t n, int64_t offset,
                                           int64_t modulus) {
    if (targets == NULL || n < 0 || offset < 0 || modulus < 1)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "infonce_diagonal_targets (cuda): targets=%p n=%lld offset=%lld modulus=%lld",
                              (void *)targets, (long long)n, (long long)offset, (long long)modulus);
    int32_t s = jnce_cuda_enter(ctx, "infonce_diagonal_targets");
    if (s != JNCE_OK || n == 0) return s;
    infonce_diagonal_targets_kernel<<<grid_for(n), 256, 0, ctx->stream>>>(targets, n, offset, modulus);
    return jnce_cuda_launched("infonce_diagonal_targets (cuda) launch");
}

int32_t jnce_cuda_infonce_exclude_logits(jnce_cuda_ctx *ctx, float *S, int64_t R, int64_t M, int64_t self_column,
                                         int64_t positive_column, int64_t positive_step, float value, float *positives) {
    if (S == NULL || R < 0 || M < 1 || self_column < -1)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "infonce_exclude_logits (cuda): S=%p R=%lld M=%lld self_column=%lld",
                              (void *)S, (long long)R, (long long)M, (long long)self_column);
    int32_t s = jnce_cuda_enter(ctx, "infonce_exclude_logits");
    if (s != JNCE_OK || R == 0) return s;
    infonce_exclude_logits_kernel<<<grid_for(R), 256, 0, ctx->stream>>>(S, R, M, self_column, positive_column, positive_step,
                                                                        value, positives);
    return jnce_cuda_launched("infonce_exclude_logits (cuda) launch");
}

int32_t jnce_cuda_infonce_reduce_rows(jnce_cuda_ctx *ctx, const float *rows, const float *minus, int64_t n, int32_t reduction,
                                      int64_t counted, float *loss) {
    if (rows == NULL || loss == NULL || n < 0 || counted < 0)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "infonce_reduce_rows (cuda): rows=%p loss=%p n=%lld counted=%lld",
                              (const void *)rows, (void *)loss, (long long)n, (long long)counted);
    if (reduction != JNCE_REDUCTION_NONE && reduction != JNCE_REDUCTION_MEAN && reduction != JNCE_REDUCTION_SUM)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "infonce_reduce_rows (cuda): reduction %d", reduction);
    int32_t s = jnce_cuda_enter(ctx, "infonce_reduce_rows");
    if (s != JNCE_OK) return s;
    if (reduction == JNCE_REDUCTION_NONE) {
        if (n > 0) infonce_rows_none_kernel<<<grid_for(n), 256, 0, ctx->stream>>>(rows, minus, n, loss);
    } else {
        infonce_rows_sum_kernel<<<1, SUM_THREADS, 0, ctx->stream>>>(rows, minus, n, reduction == JNCE_REDUCTION_MEAN, counted,
                                                                    loss);
    }
    return jnce_cuda_launched("infonce_reduce_rows (cuda) launch");
}
