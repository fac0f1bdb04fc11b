/*
 * negatives.cu - the logits of InfoNCE with explicit per-query negatives and their gradients on
 * the GPU, with the meaning jnce.h gives jnce_negatives_logits_fwd/_bwd (src/cpu/negatives.c):
 *   L[i][0] = alpha q_i . p_i, L[i][1+j] = alpha q_i . n_ij (dots summed in double);
 *   dq_i = alpha (G_i0 p_i + sum_j G_ij n_ij), dp_i = alpha G_i0 q_i, dn_ij = alpha G_ij q_i.
 * Device pointers; one block a query (grid-stride), a warp a dot in the forward pass, the threads
 * along D in the backward pass (coalesced); no host synchronisation.
 */
#include "internal.cuh"

#define NEG_THREADS 256

__global__ void negatives_fwd_kernel(const float *Q, const float *P, const float *Nk, int64_t N, int64_t K, int64_t D,
                                     float alpha, float *L) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (int64_t i = blockIdx.x; i < N; i += gridDim.x) {
        const float *q = Q + i * D;
        for (int64_t j = warp; j <= K; j += warps) { /* j = 0: the positive */
            const float *o = j == 0 ? P + i * D : Nk + (i * K + j - 1) * D;
            double s = 0.0;
            for (int64_t d = lane; d < D; d += 32) s += (double)q[d] * (double)o[d];
            for (int off = 16; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
            if (lane == 0) L[i * (K + 1) + j] = (float)((double)alpha * s);
        }
    }
}

__global__ void negatives_bwd_kernel(const float *G, const float *Q, const float *P, const float *Nk, int64_t N, int64_t K,
                                     int64_t D, float alpha, float *dQ, float *dP, float *dN) {
    for (int64_t i = blockIdx.x; i < N; i += gridDim.x) {
        const float *g = G + i * (K + 1), *q = Q + i * D;
        for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
            const double qd = q[d];
            double acc = (double)g[0] * (double)P[i * D + d];
            for (int64_t j = 0; j < K; j++) {
                const int64_t at = (i * K + j) * D + d;
                acc += (double)g[1 + j] * (double)Nk[at];
                dN[at] = (float)((double)alpha * (double)g[1 + j] * qd);
            }
            dQ[i * D + d] = (float)((double)alpha * acc);
            dP[i * D + d] = (float)((double)alpha * (double)g[0] * qd);
        }
    }
}

static int32_t neg_check(const char *op, const void *a, const void *b, const void *c, const void *d, int64_t N, int64_t K,
                         int64_t D) {
    if (a == NULL || b == NULL || c == NULL || d == NULL || N < 1 || K < 1 || D < 1)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "%s (cuda): null buffer or N=%lld K=%lld D=%lld (each >= 1)", op,
                              (long long)N, (long long)K, (long long)D);
    return JNCE_OK;
}

int32_t jnce_cuda_negatives_logits_fwd(jnce_cuda_ctx *ctx, const float *Q, const float *P, const float *Nk, int64_t N,
                                       int64_t K, int64_t D, float alpha, float *L) {
    int32_t s = neg_check("negatives_logits_fwd", Q, P, Nk, L, N, K, D);
    if (s == JNCE_OK) s = jnce_cuda_enter(ctx, "negatives_logits_fwd");
    if (s != JNCE_OK) return s;
    negatives_fwd_kernel<<<jnce_cuda_row_blocks(N), NEG_THREADS, 0, ctx->stream>>>(Q, P, Nk, N, K, D, alpha, L);
    return jnce_cuda_launched("negatives_logits_fwd (cuda) launch");
}

int32_t jnce_cuda_negatives_logits_bwd(jnce_cuda_ctx *ctx, const float *G, const float *Q, const float *P, const float *Nk,
                                       int64_t N, int64_t K, int64_t D, float alpha, float *dQ, float *dP, float *dN) {
    int32_t s = neg_check("negatives_logits_bwd", G, Q, P, Nk, N, K, D);
    if (s == JNCE_OK) s = neg_check("negatives_logits_bwd", dQ, dP, dN, G, N, K, D);
    if (s == JNCE_OK) s = jnce_cuda_enter(ctx, "negatives_logits_bwd");
    if (s != JNCE_OK) return s;
    negatives_bwd_kernel<<<jnce_cuda_row_blocks(N), D >= 256 ? 256 : D >= 128 ? 128 : 32, 0, ctx->stream>>>(
        G, Q, P, Nk, N, K, D, alpha, dQ, dP, dN);
    return jnce_cuda_launched("negatives_logits_bwd (cuda) launch");
}
