/*
 * softmax.cu - F.softmax, F.log_softmax and torch.logsumexp over the last dimension, forward and
 * backward, on the GPU, with the meaning jnce.h gives jnce_softmax_fwd and its relatives
 * (src/cpu/softmax.c), non-finite rows included: a row holding NaN or +Inf gives NaN for softmax
 * and log_softmax, NaN or +Inf for logsumexp; a row of only -Inf gives NaN, and -Inf for
 * logsumexp, whose gradient there is NaN. Device pointers; every output may alias its same-shaped
 * input. One block a row (grid-stride over rows), row sums in double; no host synchronisation.
 */
#include <math.h>

#include "internal.cuh"

enum { SM_SOFTMAX = 0, SM_LOG_SOFTMAX = 1, SM_LOGSUMEXP = 2 };

static int sm_threads(int64_t C) {
    return C >= 8192 ? 512 : C >= 1024 ? 256 : C >= 128 ? 128 : 32;
}

typedef struct {
    float max;
    double sum;  /* sum of exp(x - max); 0 for a row of only -Inf */
    int bad;     /* NaN or +Inf in the row */
    int nan;
} sm_stats;

/* jnce_softmax_row_stats of one row, over the block. */
__device__ sm_stats sm_row_stats(const float *x, int64_t C, float *fshared, double *dshared) {
    float m = -INFINITY;
    int nan = 0, pinf = 0;
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
        float v = x[j];
        nan |= isnan(v);
        pinf |= v == INFINITY;
        m = fmaxf(m, v);
    }
    sm_stats st;
    st.nan = __syncthreads_or(nan);
    st.bad = __syncthreads_or(nan | pinf);
    st.max = jnce_block_max(m, fshared);
    double s = 0.0;
    if (!st.bad && st.max != -INFINITY)
        for (int64_t j = threadIdx.x; j < C; j += blockDim.x) s += exp((double)x[j] - (double)st.max);
    st.sum = jnce_block_sum_double(s, dshared);
    return st;
}

__global__ void softmax_fwd_kernel(int fn, const float *x, int64_t N, int64_t C, float *out) {
    __shared__ float fshared[32];
    __shared__ double dshared[32];
    for (int64_t i = blockIdx.x; i < N; i += gridDim.x) {
        const float *xr = x + i * C;
        sm_stats st = sm_row_stats(xr, C, fshared, dshared);
        if (fn == SM_LOGSUMEXP) {
            if (threadIdx.x == 0)
                out[i] = st.bad ? (st.nan ? NAN : INFINITY) : st.sum == 0.0 ? -INFINITY
                                                                              : (float)((double)st.max + log(st.sum));
        } else {
            float *y = out + i * C;
            const bool nan_row = st.bad || st.sum == 0.0;
            const double shift = nan_row ? 0.0 : (double)st.max + log(st.sum), inv = nan_row ? 0.0 : 1.0 / st.sum;
            for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
                double v = xr[j];
                y[j] = nan_row ? NAN : fn == SM_SOFTMAX ? (float)(exp(v - (double)st.max) * inv) : (float)(v - shift);
            }
        }
        __syncthreads(); /* the shared sums are rewritten by the next row */
    }
}

/* a: y (softmax, log_softmax) or x (logsumexp); b: dy (N,C) or dout (N) */
__global__ void softmax_bwd_kernel(int fn, const float *a, const float *b, int64_t N, int64_t C, float *dx) {
    __shared__ float fshared[32];
    __shared__ double dshared[32];
    for (int64_t i = blockIdx.x; i < N; i += gridDim.x) {
        const float *ar = a + i * C;
        float *dr = dx + i * C;
        if (fn == SM_LOGSUMEXP) {
            const float dout = b[i];
            sm_stats st = sm_row_stats(ar, C, fshared, dshared);
            const bool finite = !st.bad && st.sum != 0.0;
            const double scale = finite ? (double)dout / st.sum : 0.0;
            for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
                float v = ar[j];
                /* +Inf rows: exp(x - inf) is NaN at the +Inf entries and 0 elsewhere, as in PyTorch */
                dr[j] = finite ? (float)(exp((double)v - (double)st.max) * scale)
                               : (!st.bad || st.nan) ? NAN : v == INFINITY ? NAN : dout * 0.0f;
            }
        } else {
            const float *dy = b + i * C;
            double s = 0.0;
            for (int64_t j = threadIdx.x; j < C; j += blockDim.x)
                s += fn == SM_SOFTMAX ? (double)dy[j] * ar[j] : (double)dy[j];
            s = jnce_block_sum_double(s, dshared); /* every read of the row is done before any write */
            for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
                double y = ar[j], g = dy[j];
                dr[j] = fn == SM_SOFTMAX ? (float)(y * (g - s)) : (float)(g - exp(y) * s);
            }
        }
        __syncthreads();
    }
}

static int32_t sm_run(jnce_cuda_ctx *ctx, const char *op, int forward, int fn, const float *a, const float *b,
                      int64_t N, int64_t C, float *out) {
    if (a == NULL || out == NULL || (!forward && b == NULL))
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "%s (cuda): input, upstream gradient and output must be non-null", op);
    if (N < 1 || C < 1)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "%s (cuda): N=%lld and C=%lld must be >= 1", op, (long long)N,
                              (long long)C);
    int32_t s = jnce_cuda_enter(ctx, op);
    if (s != JNCE_OK) return s;
    if (forward) softmax_fwd_kernel<<<jnce_cuda_row_blocks(N), sm_threads(C), 0, ctx->stream>>>(fn, a, N, C, out);
    else softmax_bwd_kernel<<<jnce_cuda_row_blocks(N), sm_threads(C), 0, ctx->stream>>>(fn, a, b, N, C, out);
    return jnce_cuda_launched(op);
}

int32_t jnce_cuda_softmax_fwd(jnce_cuda_ctx *ctx, const float *x, int64_t N, int64_t C, float *y) {
    return sm_run(ctx, "softmax_fwd", 1, SM_SOFTMAX, x, NULL, N, C, y);
}
int32_t jnce_cuda_log_softmax_fwd(jnce_cuda_ctx *ctx, const float *x, int64_t N, int64_t C, float *y) {
    return sm_run(ctx, "log_softmax_fwd", 1, SM_LOG_SOFTMAX, x, NULL, N, C, y);
}
int32_t jnce_cuda_logsumexp_fwd(jnce_cuda_ctx *ctx, const float *x, int64_t N, int64_t C, float *out) {
    return sm_run(ctx, "logsumexp_fwd", 1, SM_LOGSUMEXP, x, NULL, N, C, out);
}
int32_t jnce_cuda_softmax_bwd(jnce_cuda_ctx *ctx, const float *y, const float *dy, int64_t N, int64_t C, float *dx) {
    return sm_run(ctx, "softmax_bwd", 0, SM_SOFTMAX, y, dy, N, C, dx);
}
int32_t jnce_cuda_log_softmax_bwd(jnce_cuda_ctx *ctx, const float *y, const float *dy, int64_t N, int64_t C, float *dx) {
    return sm_run(ctx, "log_softmax_bwd", 0, SM_LOG_SOFTMAX, y, dy, N, C, dx);
}
int32_t jnce_cuda_logsumexp_bwd(jnce_cuda_ctx *ctx, const float *x, const float *dout, int64_t N, int64_t C, float *dx) {
    return sm_run(ctx, "logsumexp_bwd", 0, SM_LOGSUMEXP, x, dout, N, C, dx);
}
