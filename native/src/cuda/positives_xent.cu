/*
 * positives_xent.cu - cross-entropy with several positives per row on the GPU, with the meaning
 * jnce.h gives jnce_positives_xent_fwd_bwd (src/cpu/positives_xent.c): row i's positives are the
 * keys with its label (or mask[i][j] != 0), less column i + self_offset when self_offset >= 0,
 * which takes no part at all;
 *   loss_i = log sum_{candidates} exp S_ij - mean_{P(i)} S_ij,  G_ij = w (softmax_i(j) - [j in P(i)] / |P(i)|).
 * Device pointers, but empty_row and counted are host pointers: the positives are counted first
 * (one block a row), and the call waits for that count, as the CPU kernel reports a row without
 * positive before anything is written; then one block a row writes the loss and G (G may be S),
 * sums in double, and one block reduces.
 */
#include <math.h>

#include "internal.cuh"

__device__ __forceinline__ int64_t pos_label(const void *v, int32_t dtype, int64_t k) {
    return dtype == JNCE_DTYPE_INT32 ? (int64_t)((const int32_t *)v)[k] : ((const int64_t *)v)[k];
}

typedef struct {
    const float *S;
    int64_t N, M, ld;
    const void *ql;
    int32_t qdt;
    const void *kl;
    int32_t kdt;
    const int32_t *mask;
    int64_t self_offset;
} pos_call;

__device__ __forceinline__ int64_t pos_self(const pos_call &a, int64_t i) {
    return a.self_offset >= 0 && i + a.self_offset < a.M ? i + a.self_offset : -1;
}

__device__ __forceinline__ bool pos_is(const pos_call &a, int64_t i, int64_t j, int64_t self, int64_t label) {
    if (j == self) return false;
    return a.mask != NULL ? a.mask[i * a.M + j] != 0 : pos_label(a.kl, a.kdt, j) == label;
}

__global__ void pos_count_kernel(pos_call a, int64_t *count) {
    __shared__ double shared[32];
    for (int64_t i = blockIdx.x; i < a.N; i += gridDim.x) {
        const int64_t self = pos_self(a, i), label = a.mask == NULL ? pos_label(a.ql, a.qdt, i) : 0;
        double c = 0.0;
        for (int64_t j = threadIdx.x; j < a.M; j += blockDim.x) c += pos_is(a, i, j, self, label) ? 1.0 : 0.0;
        c = jnce_block_sum_double(c, shared);
        if (threadIdx.x == 0) count[i] = (int64_t)c;
        __syncthreads();
    }
}

/* out[0]: the first row without positive (-1: none), out[1]: the rows with one */
__global__ void pos_summary_kernel(const int64_t *count, int64_t N, int64_t *out) {
    __shared__ unsigned long long first;
    __shared__ double shared[32];
    if (threadIdx.x == 0) first = ~0ULL;
    __syncthreads();
    double counted = 0.0;
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
        if (count[i] > 0) counted += 1.0;
        else atomicMin(&first, (unsigned long long)i);
    }
    counted = jnce_block_sum_double(counted, shared); /* its barriers publish first */
    if (threadIdx.x == 0) {
        out[0] = first == ~0ULL ? -1 : (int64_t)first;
        out[1] = (int64_t)counted;
    }
}

__global__ void pos_rows_kernel(pos_call a, const int64_t *count, double w, float *G, double *rows) {
    __shared__ float fshared[32];
    __shared__ double dshared[32];
    for (int64_t i = blockIdx.x; i < a.N; i += gridDim.x) {
        const float *x = a.S + i * a.ld;
        float *g = G != NULL ? G + i * a.ld : NULL;
        const int64_t c = count[i], self = pos_self(a, i), label = a.mask == NULL ? pos_label(a.ql, a.qdt, i) : 0;
        if (c == 0) { /* skipped: loss 0, a zero gradient row */
            if (threadIdx.x == 0) rows[i] = 0.0;
            if (g != NULL) for (int64_t j = threadIdx.x; j < a.M; j += blockDim.x) g[j] = 0.0f;
            continue;
        }
        float m = -INFINITY;
        int bad = 0;
        double possum = 0.0;
        for (int64_t j = threadIdx.x; j < a.M; j += blockDim.x) {
            if (j == self) continue;
            float v = x[j];
            bad |= isnan(v) || v == INFINITY;
            m = fmaxf(m, v);
            if (pos_is(a, i, j, self, label)) possum += v;
        }
        bad = __syncthreads_or(bad);
        m = jnce_block_max(m, fshared);
        possum = jnce_block_sum_double(possum, dshared);
        double sum = 0.0;
        if (!bad && m != -INFINITY)
            for (int64_t j = threadIdx.x; j < a.M; j += blockDim.x)
                if (j != self) sum += exp((double)x[j] - (double)m);
        sum = jnce_block_sum_double(sum, dshared); /* every read of row i is done before G's row is written */
        if (threadIdx.x == 0) rows[i] = bad ? (double)NAN : (double)m + log(sum) - possum / (double)c;
        if (g != NULL) {
            const double scale = w / sum, share = w / (double)c;
            for (int64_t j = threadIdx.x; j < a.M; j += blockDim.x) {
                float gj;
                if (bad) gj = NAN;
                else if (j == self) gj = 0.0f;
                else gj = (float)(exp((double)x[j] - (double)m) * scale - (pos_is(a, i, j, self, label) ? share : 0.0));
                g[j] = gj;
            }
        }
        __syncthreads();
    }
}

__global__ void pos_reduce_kernel(const double *rows, int64_t N, int32_t reduction, int64_t counted, float *loss) {
    __shared__ double shared[32];
    double s = 0.0;
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
        if (reduction == JNCE_REDUCTION_NONE) loss[i] = (float)rows[i];
        s += rows[i];
    }
    s = jnce_block_sum_double(s, shared);
    if (threadIdx.x == 0 && reduction == JNCE_REDUCTION_SUM) loss[0] = (float)s;
    if (threadIdx.x == 0 && reduction == JNCE_REDUCTION_MEAN) loss[0] = counted > 0 ? (float)(s / (double)counted) : NAN;
}

int32_t jnce_cuda_positives_xent_fwd_bwd(jnce_cuda_ctx *ctx, const float *S, int64_t N, int64_t M, int64_t ld,
                                         const void *query_labels, int32_t query_dtype, const void *key_labels,
                                         int32_t key_dtype, const int32_t *mask, int64_t self_offset, int32_t skip_empty,
                                         int32_t reduction, float *loss, float *G, int64_t *empty_row, int64_t *counted) {
    if (empty_row != NULL) *empty_row = -1;
    if (S == NULL || loss == NULL || N <= 0 || M <= 0 || ld < M)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "positives_xent (cuda): S=%p loss=%p N=%lld M=%lld ld=%lld",
                              (const void *)S, (void *)loss, (long long)N, (long long)M, (long long)ld);
    if (mask == NULL && (query_labels == NULL || key_labels == NULL))
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "positives_xent (cuda): give the two label arrays or the mask");
    if (self_offset < -1 || (self_offset >= 0 && M < 2))
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "positives_xent (cuda): self_offset %lld with M=%lld",
                              (long long)self_offset, (long long)M);
    if (reduction < JNCE_REDUCTION_NONE || reduction > JNCE_REDUCTION_SUM)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "positives_xent (cuda): unknown reduction %d", reduction);
    int32_t s = jnce_cuda_enter(ctx, "positives_xent");
    if (s != JNCE_OK) return s;
    void *scratch;
    s = jnce_cuda_scratch(ctx, (2 * N + 2) * (int64_t)sizeof(int64_t) + N * (int64_t)sizeof(double), &scratch,
                          "positives_xent");
    if (s != JNCE_OK) return s;
    int64_t *count = (int64_t *)scratch, *summary = count + N;
    double *rows = (double *)(summary + 2 + N);
    const pos_call a = {S, N, M, ld, query_labels, query_dtype, key_labels, key_dtype, mask, self_offset};
    const int threads = M >= 4096 ? 256 : M >= 256 ? 128 : 32;
    pos_count_kernel<<<jnce_cuda_row_blocks(N), threads, 0, ctx->stream>>>(a, count);
    pos_summary_kernel<<<1, 1024, 0, ctx->stream>>>(count, N, summary);
    s = jnce_cuda_launched("positives_xent (cuda) count");
    if (s != JNCE_OK) return s;
    int64_t host[2];
    s = jnce_cuda_memcpy_d2h(ctx, host, summary, sizeof host);
    if (s != JNCE_OK) return s;
    if (counted != NULL) *counted = host[1];
    if (host[0] >= 0 && !skip_empty) {
        if (empty_row != NULL) *empty_row = host[0];
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "xent_positives: row %lld has no positive", (long long)host[0]);
    }
    const double w = reduction == JNCE_REDUCTION_MEAN ? 1.0 / (double)(host[1] > 0 ? host[1] : 1) : 1.0;
    pos_rows_kernel<<<jnce_cuda_row_blocks(N), threads, 0, ctx->stream>>>(a, count, w, G, rows);
    pos_reduce_kernel<<<1, 1024, 0, ctx->stream>>>(rows, N, reduction, host[1], loss);
    return jnce_cuda_launched("positives_xent (cuda) launch");
}
