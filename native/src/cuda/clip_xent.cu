/*
 * clip_xent.cu - CLIP's symmetric cross-entropy over a square logit matrix on the GPU, with the
 * meaning jnce.h gives jnce_clip_xent_fwd_bwd (src/cpu/clip_xent.c): loss_i = (lse of row i + lse
 * of column i) / 2 - S_ii, G = w/2 (softmax over row i + softmax over column j) - w [i = j], both
 * read from S where it lies (row stride ld), G may be S. A row that meets NaN or +Inf makes its
 * pair's loss and its row of G NaN; a column that does, its pair's loss and its column of G.
 * Device pointers; no host synchronisation. Five launches:
 *   clip_row_kernel      one block a row: the row's log-sum-exp (NaN for a bad row), sums in double
 *   clip_col_part_kernel a thread a column and a block of rows: (max, sum of exp, bad) of the
 *                        column over those rows, read along the rows (coalesced)
 *   clip_col_kernel      a thread a column: the parts merged in order into the column's lse
 *   clip_grad_kernel     one block a row: G's row and the pair's loss
 *   clip_reduce_kernel   one block: MEAN/SUM of the pairs' losses in double
 */
#include <math.h>

#include "internal.cuh"

#define CLIP_COLS 256      /* columns a block of the column passes */
#define CLIP_ROW_CHUNK 256 /* rows a part of the column pass */

typedef struct {
    float max, sum;
    int bad;
} clip_part;

__global__ void clip_row_kernel(const float *S, int64_t N, int64_t ld, double *row_lse) {
    __shared__ float fshared[32];
    __shared__ double dshared[32];
    for (int64_t i = blockIdx.x; i < N; i += gridDim.x) {
        const float *r = S + i * ld;
        float m = -INFINITY;
        int bad = 0;
        for (int64_t j = threadIdx.x; j < N; j += blockDim.x) {
            float v = r[j];
            bad |= isnan(v) || v == INFINITY;
            m = fmaxf(m, v);
        }
        bad = __syncthreads_or(bad);
        m = jnce_block_max(m, fshared);
        double s = 0.0;
        if (!bad && m != -INFINITY) /* a row of only -Inf: lse -Inf */
            for (int64_t j = threadIdx.x; j < N; j += blockDim.x) s += exp((double)r[j] - (double)m);
        s = jnce_block_sum_double(s, dshared);
        if (threadIdx.x == 0) row_lse[i] = bad ? (double)NAN : (double)m + log(s);
        __syncthreads();
    }
}

__global__ void clip_col_part_kernel(const float *S, int64_t N, int64_t ld, clip_part *parts) {
    const int64_t j = blockIdx.x * (int64_t)CLIP_COLS + threadIdx.x, chunk = blockIdx.y;
    if (j >= N) return;
    const int64_t i0 = chunk * CLIP_ROW_CHUNK, i1 = i0 + CLIP_ROW_CHUNK < N ? i0 + CLIP_ROW_CHUNK : N;
    float m = -INFINITY, s = 0.0f;
    int bad = 0;
    for (int64_t i = i0; i < i1; i++) {
        float v = S[i * ld + j];
        if (isnan(v) || v == INFINITY) {
            bad = 1;
        } else if (v > m) {
            s = s * expf(m - v) + 1.0f;
            m = v;
        } else if (v != -INFINITY) {
            s += expf(v - m);
        }
    }
    parts[chunk * N + j] = clip_part{m, s, bad};
}

__global__ void clip_col_kernel(const clip_part *parts, int64_t chunks, int64_t N, double *col_lse) {
    for (int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; j < N; j += (int64_t)gridDim.x * blockDim.x) {
        double m = -INFINITY, s = 0.0;
        int bad = 0;
        for (int64_t c = 0; c < chunks; c++) {
            clip_part p = parts[c * N + j];
            bad |= p.bad;
            if (p.sum == 0.0f) continue; /* a part of only -Inf */
            double pm = p.max;
            if (pm > m) {
                s = s * exp(m - pm) + (double)p.sum;
                m = pm;
            } else {
                s += (double)p.sum * exp(pm - m);
            }
        }
        col_lse[j] = bad ? (double)NAN : s == 0.0 ? -INFINITY : m + log(s);
    }
}

__global__ void clip_grad_kernel(const float *S, int64_t N, int64_t ld, const double *row_lse, const double *col_lse,
                                 double w, float *row_loss, float *G) {
    for (int64_t i = blockIdx.x; i < N; i += gridDim.x) {
        const double rl = row_lse[i];
        const float sii = S[i * ld + i]; /* read before this block writes row i (G may be S) */
        __syncthreads();
        if (threadIdx.x == 0) row_loss[i] = (float)((rl + col_lse[i]) / 2.0 - (double)sii);
        if (G != NULL) {
            const float *r = S + i * ld;
            float *g = G + i * ld;
            for (int64_t j = threadIdx.x; j < N; j += blockDim.x) {
                const double v = r[j], cl = col_lse[j];
                double gij = w / 2.0 * (exp(v - rl) + exp(v - cl)) - (i == j ? w : 0.0);
                if (isnan(rl) || isnan(cl)) gij = NAN;
                g[j] = (float)gij;
            }
        }
        __syncthreads();
    }
}

__global__ void clip_reduce_kernel(const float *row_loss, int64_t N, double scale, float *loss) {
    __shared__ double shared[32];
    double s = 0.0;
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x) s += row_loss[i];
    s = jnce_block_sum_double(s, shared);
    if (threadIdx.x == 0) loss[0] = (float)(s * scale);
}

int32_t jnce_cuda_clip_xent_fwd_bwd(jnce_cuda_ctx *ctx, const float *S, int64_t N, int64_t ld, int32_t reduction,
                                    float *loss, float *G) {
    if (S == NULL || loss == NULL || N <= 0 || ld < N)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "clip_xent (cuda): S=%p loss=%p N=%lld ld=%lld", (const void *)S,
                              (void *)loss, (long long)N, (long long)ld);
    if (reduction < JNCE_REDUCTION_NONE || reduction > JNCE_REDUCTION_SUM)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "clip_xent (cuda): unknown reduction %d", reduction);
    int32_t s = jnce_cuda_enter(ctx, "clip_xent");
    if (s != JNCE_OK) return s;
    const int64_t chunks = (N + CLIP_ROW_CHUNK - 1) / CLIP_ROW_CHUNK;
    int64_t lse_bytes = (2 * N * (int64_t)sizeof(double) + 255) / 256 * 256;
    int64_t loss_bytes = (N * (int64_t)sizeof(float) + 255) / 256 * 256;
    void *scratch;
    s = jnce_cuda_scratch(ctx, lse_bytes + loss_bytes + chunks * N * (int64_t)sizeof(clip_part), &scratch, "clip_xent");
    if (s != JNCE_OK) return s;
    double *row_lse = (double *)scratch, *col_lse = row_lse + N;
    float *row_loss = reduction == JNCE_REDUCTION_NONE ? loss : (float *)((char *)scratch + lse_bytes);
    clip_part *parts = (clip_part *)((char *)scratch + lse_bytes + loss_bytes);
    const int threads = N >= 4096 ? 256 : N >= 256 ? 128 : 32;
    const double w = reduction == JNCE_REDUCTION_MEAN ? 1.0 / (double)N : 1.0;
    clip_row_kernel<<<jnce_cuda_row_blocks(N), threads, 0, ctx->stream>>>(S, N, ld, row_lse);
    dim3 grid((unsigned)((N + CLIP_COLS - 1) / CLIP_COLS), (unsigned)chunks);
    clip_col_part_kernel<<<grid, CLIP_COLS, 0, ctx->stream>>>(S, N, ld, parts);
    clip_col_kernel<<<(unsigned)((N + 255) / 256 < 65535 ? (N + 255) / 256 : 65535), 256, 0, ctx->stream>>>(parts, chunks, N,
                                                                                                          col_lse);
    clip_grad_kernel<<<jnce_cuda_row_blocks(N), threads, 0, ctx->stream>>>(S, N, ld, row_lse, col_lse, w, row_loss, G);
    if (reduction != JNCE_REDUCTION_NONE) clip_reduce_kernel<<<1, 1024, 0, ctx->stream>>>(row_loss, N, w, loss);
    return jnce_cuda_launched("clip_xent (cuda) launch");
}
