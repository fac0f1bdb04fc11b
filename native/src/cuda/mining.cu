/*
 * mining.cu - hard-negative mining and the gather of mined rows on the GPU, with the meaning jnce.h
 * gives jnce_hard_negatives (src/cpu/mining.c) and jnce_gather_rows_fwd/_bwd (src/cpu/gather_rows.c).
 *
 * Mining: one block a query row counts its negatives (keys that are not positives: same label,
 * nonzero mask, or the diagonal) and looks for NaN; the call waits for that summary (a NaN row
 * fails it, a row with fewer than K negatives is reported and left unwritten, as on the CPU), then
 * one block a row picks its K negatives in K rounds, each the block's largest (similarity, lowest
 * index) pair below the previous pick in that order: by decreasing similarity, ties by lower
 * index, with no sort of the row. Device pointers, short_row a host pointer.
 *
 * Gather: out[r] = src[indices[r]]; its backward adds grad[r] into dst[indices[r]] with atomic
 * float adds (repeated indices accumulate, in an order the CPU's increasing r need not match to the
 * last bit). Indices are the caller's to check (the Java layer copies them to the host first).
 */
#include <math.h>

#include "internal.cuh"

typedef struct {
    const float *sim;
    int64_t N, M, K;
    const void *ql, *kl, *mask;
    int32_t qdt, kdt, mdt;
} mine_call;

__device__ __forceinline__ int64_t mine_at(const void *v, int32_t dtype, int64_t k) {
    return dtype == JNCE_DTYPE_INT32 ? (int64_t)((const int32_t *)v)[k] : ((const int64_t *)v)[k];
}

__device__ __forceinline__ bool mine_positive(const mine_call &a, int64_t i, int64_t j, int64_t label) {
    if (a.ql != NULL) return mine_at(a.kl, a.kdt, j) == label;
    if (a.mask != NULL) return mine_at(a.mask, a.mdt, i * a.M + j) != 0;
    return i == j;
}

/* negatives[i], or -1 for a row holding NaN */
__global__ void mine_count_kernel(mine_call a, int64_t *negatives) {
    __shared__ int counts[32];
    for (int64_t i = blockIdx.x; i < a.N; i += gridDim.x) {
        const int64_t label = a.ql != NULL ? mine_at(a.ql, a.qdt, i) : 0;
        int c = 0, nan = 0;
        for (int64_t j = threadIdx.x; j < a.M; j += blockDim.x) {
            nan |= isnan(a.sim[i * a.M + j]);
            c += !mine_positive(a, i, j, label);
        }
        nan = __syncthreads_or(nan);
        for (int o = 16; o > 0; o >>= 1) c += __shfl_xor_sync(0xffffffffu, c, o);
        if ((threadIdx.x & 31) == 0) counts[threadIdx.x >> 5] = c;
        __syncthreads();
        if (threadIdx.x == 0) {
            int64_t total = 0;
            for (int w = 0; w < (int)(blockDim.x >> 5); w++) total += counts[w];
            negatives[i] = nan ? -1 : total;
        }
        __syncthreads();
    }
}

/* out: the first NaN row (-1: none), the first short row (-1: none), its negatives */
__global__ void mine_summary_kernel(const int64_t *negatives, int64_t N, int64_t K, int64_t *out) {
    __shared__ unsigned long long first_nan, first_short;
    if (threadIdx.x == 0) first_nan = first_short = ~0ULL;
    __syncthreads();
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
        if (negatives[i] < 0) atomicMin(&first_nan, (unsigned long long)i);
        else if (negatives[i] < K) atomicMin(&first_short, (unsigned long long)i);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        out[0] = first_nan == ~0ULL ? -1 : (int64_t)first_nan;
        out[1] = first_short == ~0ULL ? -1 : (int64_t)first_short;
        out[2] = first_short == ~0ULL ? 0 : negatives[first_short];
    }
}

/* (v, j) before (w, k) in the pick order: larger value, then lower index */
__device__ __forceinline__ bool mine_before(float v, int64_t j, float w, int64_t k) {
    return v > w || (v == w && j < k);
}

__global__ void mine_pick_kernel(mine_call a, const int64_t *negatives, int64_t *indices) {
    __shared__ float sv[32];
    __shared__ long long sj[32];
    __shared__ float last_v;
    __shared__ long long last_j;
    for (int64_t i = blockIdx.x; i < a.N; i += gridDim.x) {
        if (negatives[i] < a.K) continue; /* short rows stay unwritten (uniform in the block) */
        const int64_t label = a.ql != NULL ? mine_at(a.ql, a.qdt, i) : 0;
        const float *row = a.sim + i * a.M;
        if (threadIdx.x == 0) last_v = INFINITY, last_j = -1;
        __syncthreads();
        for (int64_t r = 0; r < a.K; r++) {
            const float lv = last_v;
            const long long lj = last_j;
            float bv = -INFINITY;
            long long bj = -1;
            for (int64_t j = threadIdx.x; j < a.M; j += blockDim.x) {
                const float v = row[j];
                if (mine_positive(a, i, j, label)) continue;
                if (r > 0 && !mine_before(lv, lj, v, j)) continue; /* picked already, or before the last pick */
                if (bj < 0 || mine_before(v, j, bv, bj)) bv = v, bj = j;
            }
            for (int o = 16; o > 0; o >>= 1) {
                float ov = __shfl_xor_sync(0xffffffffu, bv, o);
                long long oj = __shfl_xor_sync(0xffffffffu, bj, o);
                if (oj >= 0 && (bj < 0 || mine_before(ov, oj, bv, bj))) bv = ov, bj = oj;
            }
            if ((threadIdx.x & 31) == 0) sv[threadIdx.x >> 5] = bv, sj[threadIdx.x >> 5] = bj;
            __syncthreads();
            if (threadIdx.x == 0) {
                float v = sv[0];
                long long j = sj[0];
                for (int w = 1; w < (int)(blockDim.x >> 5); w++)
                    if (sj[w] >= 0 && (j < 0 || mine_before(sv[w], sj[w], v, j))) v = sv[w], j = sj[w];
                indices[i * a.K + r] = j;
                last_v = v, last_j = j;
            }
            __syncthreads();
        }
    }
}

int32_t jnce_cuda_hard_negatives(jnce_cuda_ctx *ctx, const float *sim, int64_t N, int64_t M, int64_t K,
                                 const void *query_labels, int32_t query_dtype, const void *key_labels, int32_t key_dtype,
                                 const void *mask, int32_t mask_dtype, int64_t *indices, int64_t *short_row) {
    if (sim == NULL || indices == NULL)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "hard_negatives: sim and indices must be non-null");
    if (N <= 0 || M <= 0 || K < 0)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "hard_negatives: N=%lld, M=%lld, K=%lld: need N, M >= 1 and K >= 0",
                              (long long)N, (long long)M, (long long)K);
    if ((query_labels == NULL) != (key_labels == NULL))
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "hard_negatives: give both query and key labels, or neither");
    if (short_row != NULL) short_row[0] = -1, short_row[1] = 0;
    if (K == 0) return JNCE_OK;
    int32_t s = jnce_cuda_enter(ctx, "hard_negatives");
    if (s != JNCE_OK) return s;
    void *scratch;
    s = jnce_cuda_scratch(ctx, (N + 3) * (int64_t)sizeof(int64_t), &scratch, "hard_negatives");
    if (s != JNCE_OK) return s;
    int64_t *negatives = (int64_t *)scratch, *summary = negatives + N;
    const mine_call a = {sim, N, M, K, query_labels, key_labels, mask, query_dtype, key_dtype, mask_dtype};
    const int threads = M >= 4096 ? 256 : M >= 256 ? 128 : 32;
    mine_count_kernel<<<jnce_cuda_row_blocks(N), threads, 0, ctx->stream>>>(a, negatives);
    mine_summary_kernel<<<1, 1024, 0, ctx->stream>>>(negatives, N, K, summary);
    s = jnce_cuda_launched("hard_negatives (cuda) count");
    if (s != JNCE_OK) return s;
    int64_t host[3];
    s = jnce_cuda_memcpy_d2h(ctx, host, summary, sizeof host);
    if (s != JNCE_OK) return s;
    if (host[0] >= 0) return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "hard_negatives: sim row %lld holds NaN", (long long)host[0]);
    if (host[1] >= 0 && short_row == NULL)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "hard_negatives: row %lld has %lld negatives, fewer than K=%lld",
                              (long long)host[1], (long long)host[2], (long long)K);
    if (host[1] >= 0) short_row[0] = host[1], short_row[1] = host[2];
    mine_pick_kernel<<<jnce_cuda_row_blocks(N), threads, 0, ctx->stream>>>(a, negatives, indices);
    return jnce_cuda_launched("hard_negatives (cuda) launch");
}

__global__ void gather_fwd_kernel(const float *src, int64_t D, const void *indices, int32_t dtype, int64_t R, float *out) {
    for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
        const int64_t k = mine_at(indices, dtype, r);
        for (int64_t d = threadIdx.x; d < D; d += blockDim.x) out[r * D + d] = src[k * D + d];
    }
}

__global__ void gather_bwd_kernel(const float *grad, const void *indices, int32_t dtype, int64_t R, int64_t D, float *dst) {
    for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
        const int64_t k = mine_at(indices, dtype, r);
        for (int64_t d = threadIdx.x; d < D; d += blockDim.x) atomicAdd(dst + k * D + d, grad[r * D + d]);
    }
}

int32_t jnce_cuda_gather_rows_fwd(jnce_cuda_ctx *ctx, const float *src, int64_t M, int64_t D, const void *indices,
                                  int32_t index_dtype, int64_t R, float *out) {
    if (src == NULL || indices == NULL || out == NULL || M <= 0 || D <= 0 || R < 0)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "gather_rows_fwd (cuda): null buffer or M=%lld D=%lld R=%lld",
                              (long long)M, (long long)D, (long long)R);
    int32_t s = jnce_cuda_enter(ctx, "gather_rows_fwd");
    if (s != JNCE_OK || R == 0) return s;
    gather_fwd_kernel<<<jnce_cuda_row_blocks(R), D >= 256 ? 256 : D >= 64 ? 64 : 32, 0, ctx->stream>>>(src, D, indices,
                                                                                                     index_dtype, R, out);
    return jnce_cuda_launched("gather_rows_fwd (cuda) launch");
}

int32_t jnce_cuda_gather_rows_bwd(jnce_cuda_ctx *ctx, const float *grad, const void *indices, int32_t index_dtype,
                                  int64_t R, int64_t M, int64_t D, float *dst) {
    if (grad == NULL || indices == NULL || dst == NULL || M <= 0 || D <= 0 || R < 0)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "gather_rows_bwd (cuda): null buffer or M=%lld D=%lld R=%lld",
                              (long long)M, (long long)D, (long long)R);
    int32_t s = jnce_cuda_enter(ctx, "gather_rows_bwd");
    if (s != JNCE_OK || R == 0) return s;
    gather_bwd_kernel<<<jnce_cuda_row_blocks(R), D >= 256 ? 256 : D >= 64 ? 64 : 32, 0, ctx->stream>>>(grad, indices,
                                                                                                     index_dtype, R, D, dst);
    return jnce_cuda_launched("gather_rows_bwd (cuda) launch");
}
