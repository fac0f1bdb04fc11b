/*
 * siglip.cu - SigLIP's pairwise sigmoid loss over a logit matrix on the GPU, with the meaning
 * jnce.h gives jnce_siglip_fwd_bwd (src/cpu/siglip.c): pair (i, j) has logit z = S_ij + bias and
 * label +1 where j = i + offset, -1 elsewhere; its loss is -log sigmoid(label z) = softplus(-label z),
 * G_ij = sigmoid(z) - [j = i + offset] (G may be S). One block a row, each value in double; the
 * sums of the losses and of G in double, per block, then added by one block in order and copied
 * to the caller's host memory (the call waits for the stream, as jnce_cuda_dsdot does).
 */
#include <math.h>

#include "internal.cuh"

#define SIG_BLOCKS 4096

__global__ void siglip_kernel(const float *S, int64_t N, int64_t M, int64_t ld, int64_t offset, float bias, float *G,
                              double *partial) {
    __shared__ double shared[32];
    double loss = 0.0, gsum = 0.0;
    for (int64_t i = blockIdx.x; i < N; i += gridDim.x) {
        const float *r = S + i * ld;
        float *g = G != NULL ? G + i * ld : NULL;
        for (int64_t j = threadIdx.x; j < M; j += blockDim.x) {
            const double z = (double)r[j] + (double)bias;
            const bool pos = j == i + offset;
            const double u = pos ? -z : z; /* the loss is softplus(u) */
            loss += fmax(u, 0.0) + log1p(exp(-fabs(u)));
            const double e = exp(-fabs(z)), sig = z >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
            const double gij = isnan(z) ? (double)NAN : sig - (pos ? 1.0 : 0.0);
            gsum += gij;
            if (g != NULL) g[j] = (float)gij;
        }
    }
    loss = jnce_block_sum_double(loss, shared);
    gsum = jnce_block_sum_double(gsum, shared);
    if (threadIdx.x == 0) {
        partial[2 * blockIdx.x] = loss;
        partial[2 * blockIdx.x + 1] = gsum;
    }
}

__global__ void siglip_total_kernel(const double *partial, int count, double *out) {
    if (threadIdx.x == 0) { /* in order: a few thousand doubles */
        double l = 0.0, g = 0.0;
        for (int b = 0; b < count; b++) {
            l += partial[2 * b];
            g += partial[2 * b + 1];
        }
        out[0] = l;
        out[1] = g;
    }
}

int32_t jnce_cuda_siglip_fwd_bwd(jnce_cuda_ctx *ctx, const float *S, int64_t N, int64_t M, int64_t ld, int64_t offset,
                                 float bias, double *sums, float *G) {
    if (S == NULL || sums == NULL || N <= 0 || M <= 0 || ld < M || offset < 0 || !isfinite(bias))
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "siglip (cuda): S=%p sums=%p N=%lld M=%lld ld=%lld offset=%lld bias=%g",
                              (const void *)S, (void *)sums, (long long)N, (long long)M, (long long)ld, (long long)offset,
                              (double)bias);
    int32_t s = jnce_cuda_enter(ctx, "siglip");
    if (s != JNCE_OK) return s;
    const int blocks = (int)(N < SIG_BLOCKS ? N : SIG_BLOCKS);
    void *scratch;
    s = jnce_cuda_scratch(ctx, (2 * (int64_t)blocks + 2) * (int64_t)sizeof(double), &scratch, "siglip");
    if (s != JNCE_OK) return s;
    double *partial = (double *)scratch;
    const int threads = M >= 4096 ? 256 : M >= 256 ? 128 : 32;
    siglip_kernel<<<blocks, threads, 0, ctx->stream>>>(S, N, M, ld, offset, bias, G, partial);
    siglip_total_kernel<<<1, 32, 0, ctx->stream>>>(partial, blocks, partial + 2 * blocks);
    s = jnce_cuda_launched("siglip (cuda) launch");
    if (s != JNCE_OK) return s;
    return jnce_cuda_memcpy_d2h(ctx, sums, partial + 2 * blocks, 2 * sizeof(double));
}
