/*
 * blas1.cu - BLAS level-1 operations over whole float32 arrays on the GPU, with the meaning
 * jnce.h gives jnce_dsdot, jnce_sscal, jnce_saxpy, jnce_scopy and jnce_sfill (src/cpu/blas1.c):
 * the steps around the fused kernels (d loss / d tau as a dot product, the MEAN scale of a
 * gradient, sums and copies of gradient blocks). x, y (n) float32, device memory.
 *
 *   dsdot  partial sums in double per block over a grid whose size depends on n alone, then one
 *          block adds the partials (both in a fixed tree order): the same result on every run.
 *          *out is host memory; the call waits for the stream (and reports kernels' bad data).
 *   sscal, saxpy, sfill  grid-stride loops (alpha = 0 keeps a NaN NaN, as on the CPU)
 *   scopy  a device-to-device copy on the stream
 */
#include "internal.cuh"

#define THREADS 256
#define DOT_BLOCKS 1024

/* Sum over the block in a fixed tree order; shared holds blockDim.x doubles. */
static __device__ double blas1_block_sum(double v, double *shared) {
    shared[threadIdx.x] = v;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) shared[threadIdx.x] += shared[threadIdx.x + s];
        __syncthreads();
    }
    return shared[0];
}

__global__ void dsdot_partial_kernel(const float *x, const float *y, int64_t n, double *partial) {
    __shared__ double shared[THREADS];
    double s = 0.0;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        s += (double)x[i] * (double)y[i];
    s = blas1_block_sum(s, shared);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

__global__ void sum_partials_kernel(const double *partial, int64_t count, double *out) {
    __shared__ double shared[THREADS];
    double s = 0.0;
    for (int64_t i = threadIdx.x; i < count; i += blockDim.x) s += partial[i];
    s = blas1_block_sum(s, shared);
    if (threadIdx.x == 0) *out = s;
}

__global__ void sscal_kernel(int64_t n, float alpha, float *x) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) x[i] *= alpha;
}

__global__ void saxpy_kernel(int64_t n, float alpha, const float *x, float *y) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        y[i] += alpha * x[i];
}

__global__ void sfill_kernel(int64_t n, float value, float *x) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) x[i] = value;
}

static unsigned blocks_for(int64_t n) {
    int64_t b = (n + THREADS - 1) / THREADS;
    return (unsigned)(b < 65535LL * 16 ? b : 65535LL * 16);
}

static int32_t check(const char *op, const void *x, const void *y, int64_t n) {
    if (n < 0 || (n > 0 && (x == NULL || y == NULL)))
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "%s (cuda): n=%lld with x=%p y=%p", op, (long long)n, x, y);
    return JNCE_OK;
}

int32_t jnce_cuda_dsdot(jnce_cuda_ctx *ctx, const float *x, const float *y, int64_t n, double *out) {
    if (out == NULL) return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "dsdot (cuda): null out");
    *out = 0.0;
    int32_t s = check("dsdot", x, y, n);
    if (s == JNCE_OK) s = jnce_cuda_enter(ctx, "dsdot");
    if (s != JNCE_OK || n == 0) return s;
    int64_t blocks = (n + THREADS - 1) / THREADS;
    if (blocks > DOT_BLOCKS) blocks = DOT_BLOCKS;
    void *scratch;
    s = jnce_cuda_scratch(ctx, (blocks + 1) * (int64_t)sizeof(double), &scratch, "dsdot");
    if (s != JNCE_OK) return s;
    double *partial = (double *)scratch;
    dsdot_partial_kernel<<<(unsigned)blocks, THREADS, 0, ctx->stream>>>(x, y, n, partial);
    sum_partials_kernel<<<1, THREADS, 0, ctx->stream>>>(partial, blocks, partial + blocks);
    s = jnce_cuda_launched("dsdot (cuda) launch");
    if (s != JNCE_OK) return s;
    return jnce_cuda_memcpy_d2h(ctx, out, partial + blocks, sizeof(double));
}

int32_t jnce_cuda_sscal(jnce_cuda_ctx *ctx, int64_t n, float alpha, float *x) {
    int32_t s = check("sscal", x, x, n);
    if (s == JNCE_OK) s = jnce_cuda_enter(ctx, "sscal");
    if (s != JNCE_OK || n == 0) return s;
    sscal_kernel<<<blocks_for(n), THREADS, 0, ctx->stream>>>(n, alpha, x);
    return jnce_cuda_launched("sscal (cuda) launch");
}

int32_t jnce_cuda_saxpy(jnce_cuda_ctx *ctx, int64_t n, float alpha, const float *x, float *y) {
    int32_t s = check("saxpy", x, y, n);
    if (s == JNCE_OK) s = jnce_cuda_enter(ctx, "saxpy");
    if (s != JNCE_OK || n == 0) return s;
    saxpy_kernel<<<blocks_for(n), THREADS, 0, ctx->stream>>>(n, alpha, x, y);
    return jnce_cuda_launched("saxpy (cuda) launch");
}

int32_t jnce_cuda_scopy(jnce_cuda_ctx *ctx, int64_t n, const float *x, float *y) {
    int32_t s = check("scopy", x, y, n);
    if (s != JNCE_OK || n == 0) return s;
    return jnce_cuda_memcpy_d2d(ctx, y, x, n * (int64_t)sizeof(float));
}

int32_t jnce_cuda_sfill(jnce_cuda_ctx *ctx, int64_t n, float value, float *x) {
    int32_t s = check("sfill", x, x, n);
    if (s == JNCE_OK) s = jnce_cuda_enter(ctx, "sfill");
    if (s != JNCE_OK || n == 0) return s;
    sfill_kernel<<<blocks_for(n), THREADS, 0, ctx->stream>>>(n, value, x);
    return jnce_cuda_launched("sfill (cuda) launch");
}
