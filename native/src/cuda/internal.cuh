/*
 * internal.cuh - helpers shared by jnce's CUDA sources (libjnce_cuda.so); not part of the API.
 *
 * The context (jnce_cuda_ctx) is one device, one stream, a lazily made cuBLAS handle, a
 * growable device scratch buffer and a device error record that kernels write when they meet
 * bad data (a class index out of range, a probability row that is not a distribution). The
 * record is read at the next host synchronisation (a device-to-host copy or
 * jnce_cuda_synchronize), as CUDA's own asynchronous errors are.
 */
#ifndef JNCE_CUDA_INTERNAL_CUH
#define JNCE_CUDA_INTERNAL_CUH

#include <cuda_runtime.h>
#include <float.h>
#include <stdint.h>

#include "jnce.h"

/* What a kernel found wrong, written once (the first error wins) into device memory. */
typedef struct {
    int32_t code;   /* 0, or one of the JNCE_CUDA_BAD_* below */
    int32_t pad;
    int64_t row;    /* the offending index: a row, or a class for a weight */
    int64_t value;  /* its value: a class index, or a weight's float bits */
    int64_t n, c;   /* the call's shape (N,C), for the message */
    int64_t extra;  /* the call's ignore_index */
} jnce_cuda_error_record;

#define JNCE_CUDA_BAD_TARGET 1 /* a class index outside [0,C) and not ignore_index */
#define JNCE_CUDA_BAD_PROBS  2 /* a probability row that is not a distribution */
#define JNCE_CUDA_BAD_WEIGHT 3 /* a class weight that is not finite */
#define JNCE_CUDA_NLL_BAD_TARGET 4 /* nll: a class index outside [0,C) and not ignore_index */
#define JNCE_CUDA_NLL_BAD_PROB 5   /* nll from probabilities: input[i,t] outside [0,1] (value: its bits, extra: t) */
#define JNCE_CUDA_NLL_BAD_WEIGHT 6 /* nll: a class weight that is not finite */

struct jnce_cuda_ctx {
    int32_t device;
    cudaStream_t stream;
    void *cublas;                       /* cublasHandle_t, made on first GEMM */
    void *scratch;                      /* device bytes, stream-ordered */
    int64_t scratch_bytes;
    jnce_cuda_error_record *error;      /* device */
};

/* Records a printf-style message for jnce_cuda_last_error() and returns status. */
int32_t jnce_cuda_fail(int32_t status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Turns a CUDA error into a status with "<what>: <CUDA message> (<name>)"; JNCE_OK for cudaSuccess. */
int32_t jnce_cuda_check(cudaError_t err, const char *what);

/* Makes ctx's device current on the calling thread; fails on a NULL or unusable context. */
int32_t jnce_cuda_enter(jnce_cuda_ctx *ctx, const char *op);

/* Device scratch of at least bytes (grown on the stream; earlier contents are lost). */
int32_t jnce_cuda_scratch(jnce_cuda_ctx *ctx, int64_t bytes, void **out, const char *op);

/* Status of the last kernel launch (configuration errors only; the kernel runs asynchronously). */
static inline int32_t jnce_cuda_launched(const char *op) {
    return jnce_cuda_check(cudaGetLastError(), op);
}

/* Grid size for a grid-stride loop over n rows: at most 65535 * 32 blocks. */
static inline unsigned jnce_cuda_row_blocks(int64_t n) {
    return (unsigned)(n < 65535LL * 32 ? n : 65535LL * 32);
}

/* ---- block reductions (blockDim.x a multiple of 32, at most 1024) ------------------------ */

__device__ __forceinline__ float jnce_warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ int jnce_warp_or(int v) {
    return __any_sync(0xffffffffu, v);
}

/* Sum over the block; every thread gets the result. shared holds 32 floats. */
__device__ __forceinline__ float jnce_block_sum(float v, float *shared) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = jnce_warp_sum(v);
    __syncthreads(); /* shared may still be read by an earlier reduction */
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    v = lane < warps ? shared[lane] : 0.0f;
    return jnce_warp_sum(v);
}

/* Sum over the block in double; every thread gets the result. shared holds 32 doubles. */
__device__ __forceinline__ double jnce_block_sum_double(double v, double *shared) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    __syncthreads(); /* shared may still be read by an earlier reduction */
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    v = lane < warps ? shared[lane] : 0.0;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* Maximum over the block (fmaxf: NaN is passed over); every thread gets it. shared holds 32 floats. */
__device__ __forceinline__ float jnce_block_max(float v, float *shared) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    __syncthreads();
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    v = lane < warps ? shared[lane] : -INFINITY;
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Online-softmax state: running maximum and the sum of exp(x - max). */
typedef struct {
    float max;
    float sum;
} jnce_softmax_state;

__device__ __forceinline__ jnce_softmax_state jnce_softmax_merge(jnce_softmax_state a, jnce_softmax_state b) {
    float m = fmaxf(a.max, b.max);
    jnce_softmax_state r = {m, a.sum * __expf(a.max - m) + b.sum * __expf(b.max - m)};
    return r;
}

/* Merges the state over the block; every thread gets the result. shared holds 64 floats. */
__device__ __forceinline__ jnce_softmax_state jnce_block_softmax(jnce_softmax_state s, float *shared) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (int o = 16; o > 0; o >>= 1) {
        jnce_softmax_state other = {__shfl_xor_sync(0xffffffffu, s.max, o), __shfl_xor_sync(0xffffffffu, s.sum, o)};
        s = jnce_softmax_merge(s, other);
    }
    __syncthreads();
    if (lane == 0) {
        shared[warp] = s.max;
        shared[32 + warp] = s.sum;
    }
    __syncthreads();
    jnce_softmax_state init = {-FLT_MAX, 0.0f};
    s = lane < warps ? jnce_softmax_state{shared[lane], shared[32 + lane]} : init;
    for (int o = 16; o > 0; o >>= 1) {
        jnce_softmax_state other = {__shfl_xor_sync(0xffffffffu, s.max, o), __shfl_xor_sync(0xffffffffu, s.sum, o)};
        s = jnce_softmax_merge(s, other);
    }
    return s;
}

/* Records the first error of a launch into the context's error record. */
__device__ __forceinline__ void jnce_cuda_report(jnce_cuda_error_record *rec, int32_t code, int64_t row, int64_t value,
                                                 int64_t n, int64_t c, int64_t extra) {
    if (atomicCAS(&rec->code, 0, code) == 0) {
        rec->row = row;
        rec->value = value;
        rec->n = n;
        rec->c = c;
        rec->extra = extra;
    }
}

#endif
