/*
 * runtime.cu - the CUDA side's runtime: error messages, device queries, contexts (one device,
 * one stream), device memory and host<->device copies. jnce.h's CUDA section states the API.
 *
 * Copies to and from the host wait for the stream (they are the host boundary); everything
 * else is stream-ordered and returns without waiting. Device memory comes from the stream-
 * ordered allocator (cudaMallocAsync), so freeing it never synchronises the device.
 * Build: part of libjnce_cuda.so (native/CMakeLists.txt, when nvcc is found).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.cuh"

static __thread char last_error[1024];

int32_t jnce_cuda_fail(int32_t status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

int32_t jnce_cuda_check(cudaError_t err, const char *what) {
    if (err == cudaSuccess) return JNCE_OK;
    cudaGetLastError(); /* clear a non-sticky error so the next call starts clean */
    int32_t status;
    switch (err) {
    case cudaErrorMemoryAllocation: status = JNCE_ERR_OUT_OF_MEMORY; break;
    case cudaErrorInvalidValue:
    case cudaErrorInvalidDevicePointer:
    case cudaErrorInvalidDevice: status = JNCE_ERR_INVALID_ARG; break;
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorNoKernelImageForDevice:
    case cudaErrorUnsupportedPtxVersion:
    case cudaErrorCallRequiresNewerDriver: status = JNCE_ERR_UNSUPPORTED; break;
    default: status = JNCE_ERR_INTERNAL; break;
    }
    return jnce_cuda_fail(status, "%s: %s (%s)", what, cudaGetErrorString(err), cudaGetErrorName(err));
}

int32_t jnce_cuda_enter(jnce_cuda_ctx *ctx, const char *op) {
    if (ctx == NULL) return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "%s: context is null", op);
    return jnce_cuda_check(cudaSetDevice(ctx->device), op);
}

int32_t jnce_cuda_scratch(jnce_cuda_ctx *ctx, int64_t bytes, void **out, const char *op) {
    if (bytes > ctx->scratch_bytes) {
        if (ctx->scratch != NULL) {
            int32_t s = jnce_cuda_check(cudaFreeAsync(ctx->scratch, ctx->stream), op);
            ctx->scratch = NULL;
            ctx->scratch_bytes = 0;
            if (s != JNCE_OK) return s;
        }
        int32_t s = jnce_cuda_check(cudaMallocAsync(&ctx->scratch, (size_t)bytes, ctx->stream), op);
        if (s != JNCE_OK) return s;
        ctx->scratch_bytes = bytes;
    }
    *out = ctx->scratch;
    return JNCE_OK;
}

/* jnce_format_float of src/cpu/runtime.c (libjnce_cuda.so does not link libjnce.so): Java's digits. */
static void format_float(char *buf, int64_t cap, float v) {
    if (buf == NULL || cap <= 0) return;
    if (isnan(v) || isinf(v) || v == 0.0f) {
        snprintf(buf, (size_t)cap, "%s", isnan(v) ? "NaN" : isinf(v) ? (v > 0 ? "Infinity" : "-Infinity")
                                                   : signbit(v) ? "-0.0" : "0.0");
        return;
    }
    /* The fewest significant digits that read back as v (Java's choice too), as d.ddde[+-]x. */
    char sci[32];
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(sci, sizeof sci, "%.*e", digits - 1, (double)v);
        if (strtof(sci, NULL) == v) break;
    }
    char mant[16];
    int m = 0, exp10 = 0;
    const char *c = sci + (sci[0] == '-');
    for (; *c != 'e'; c++)
        if (*c != '.') mant[m++] = *c;
    mant[m] = '\0';
    exp10 = atoi(c + 1);
    char out[48];
    int o = 0;
    if (v < 0) out[o++] = '-';
    float a = fabsf(v);
    if (a >= 1e-3f && a < 1e7f) { /* plain decimal, at least one digit after the point */
        if (exp10 < 0) {
            out[o++] = '0';
            out[o++] = '.';
            for (int k = -1; k > exp10; k--) out[o++] = '0';
            for (int k = 0; k < m; k++) out[o++] = mant[k];
        } else {
            for (int k = 0; k <= exp10; k++) out[o++] = k < m ? mant[k] : '0';
            out[o++] = '.';
            if (m > exp10 + 1) for (int k = exp10 + 1; k < m; k++) out[o++] = mant[k];
            else out[o++] = '0';
        }
        out[o] = '\0';
    } else { /* computerized scientific notation: 1.0E-4 */
        out[o++] = mant[0];
        out[o++] = '.';
        if (m > 1) for (int k = 1; k < m; k++) out[o++] = mant[k];
        else out[o++] = '0';
        snprintf(out + o, sizeof out - (size_t)o, "E%d", exp10);
    }
    snprintf(buf, (size_t)cap, "%s", out);
}

/* Reads and clears the context's error record; waits for the stream first. */
static int32_t drain_errors(jnce_cuda_ctx *ctx, const char *op) {
    int32_t s = jnce_cuda_check(cudaStreamSynchronize(ctx->stream), op);
    if (s != JNCE_OK) return s;
    jnce_cuda_error_record rec;
    s = jnce_cuda_check(cudaMemcpy(&rec, ctx->error, sizeof rec, cudaMemcpyDeviceToHost), op);
    if (s != JNCE_OK || rec.code == 0) return s;
    cudaMemset(ctx->error, 0, sizeof rec);
    /* The words of the CPU kernel's messages (src/cpu/cross_entropy.c), then where it surfaced. */
    char what[320];
    const char *found = rec.code >= JNCE_CUDA_NLL_BAD_TARGET ? "nll" : "cross_entropy";
    if (rec.code == JNCE_CUDA_NLL_BAD_TARGET) {
        snprintf(what, sizeof what, "targets[%lld] = %lld is outside [0, %lld) for input of shape (%lld, %lld) and is not "
                 "the ignore index %lld", (long long)rec.row, (long long)rec.value, (long long)rec.c, (long long)rec.n,
                 (long long)rec.c, (long long)rec.extra);
    } else if (rec.code == JNCE_CUDA_NLL_BAD_PROB) {
        int32_t bits = (int32_t)rec.value;
        float p;
        memcpy(&p, &bits, sizeof p);
        char v[48];
        format_float(v, sizeof v, p);
        snprintf(what, sizeof what, "input[%lld, %lld] = %s is not a probability in [0, 1]: NLL from probabilities takes "
                 "probabilities, not log-probabilities or logits", (long long)rec.row, (long long)rec.extra, v);
    } else if (rec.code == JNCE_CUDA_BAD_TARGET) {
        snprintf(what, sizeof what, "targets[%lld] = %lld is outside [0, %lld) for logits of shape (%lld, %lld) and is not "
                 "the ignore index %lld", (long long)rec.row, (long long)rec.value, (long long)rec.c, (long long)rec.n,
                 (long long)rec.c, (long long)rec.extra);
    } else if (rec.code == JNCE_CUDA_BAD_WEIGHT || rec.code == JNCE_CUDA_NLL_BAD_WEIGHT) {
        int32_t bits = (int32_t)rec.value;
        float w;
        memcpy(&w, &bits, sizeof w);
        snprintf(what, sizeof what, "weight[%lld] = %s is not finite", (long long)rec.row,
                 isnan(w) ? "NaN" : w > 0 ? "Infinity" : "-Infinity");
    } else {
        snprintf(what, sizeof what, "targets: row %lld is not a probability distribution (entries must be >= 0 and sum to 1 within 1e-3) "
                 "for logits of shape (%lld, %lld)", (long long)rec.row, (long long)rec.n, (long long)rec.c);
    }
    return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "%s (found by %s (cuda), reported at %s)", what, found, op);
}

int32_t jnce_cuda_last_error(char *buf, int64_t cap) {
    if (buf == NULL || cap <= 0) return JNCE_ERR_INVALID_ARG;
    snprintf(buf, (size_t)cap, "%s", last_error);
    return JNCE_OK;
}

int32_t jnce_cuda_build_info(char *buf, int64_t cap) {
    if (buf == NULL || cap <= 0) return JNCE_ERR_INVALID_ARG;
    snprintf(buf, (size_t)cap, "jnce CUDA kernels built with CUDA runtime %d.%d (static), targets %s",
             CUDART_VERSION / 1000, CUDART_VERSION % 1000 / 10, JNCE_CUDA_ARCHS);
    return JNCE_OK;
}

int32_t jnce_cuda_device_count(int32_t *count) {
    if (count == NULL) return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "device_count: count is null");
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    *count = err == cudaSuccess ? n : 0;
    return jnce_cuda_check(err, "cudaGetDeviceCount");
}

int32_t jnce_cuda_driver_version(int32_t *driver, int32_t *runtime) {
    if (driver == NULL || runtime == NULL) return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "driver_version: null output");
    int d = 0, r = 0;
    int32_t s = jnce_cuda_check(cudaDriverGetVersion(&d), "cudaDriverGetVersion");
    if (s == JNCE_OK) s = jnce_cuda_check(cudaRuntimeGetVersion(&r), "cudaRuntimeGetVersion");
    *driver = d;
    *runtime = r;
    return s;
}

int32_t jnce_cuda_device_name(int32_t device, char *buf, int64_t cap, int64_t *total_bytes) {
    if (buf == NULL || cap <= 0) return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "device_name: null buffer");
    cudaDeviceProp prop;
    int32_t s = jnce_cuda_check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
    if (s != JNCE_OK) return s;
    snprintf(buf, (size_t)cap, "%s (sm_%d%d, %d SMs)", prop.name, prop.major, prop.minor, prop.multiProcessorCount);
    if (total_bytes != NULL) *total_bytes = (int64_t)prop.totalGlobalMem;
    return JNCE_OK;
}

int32_t jnce_cuda_create(int32_t device, jnce_cuda_ctx **out) {
    if (out == NULL) return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "create: out is null");
    *out = NULL;
    int32_t s = jnce_cuda_check(cudaSetDevice(device), "cudaSetDevice");
    if (s != JNCE_OK) return s;
    jnce_cuda_ctx *ctx = (jnce_cuda_ctx *)calloc(1, sizeof *ctx);
    if (ctx == NULL) return jnce_cuda_fail(JNCE_ERR_OUT_OF_MEMORY, "create: no host memory for a context");
    ctx->device = device;
    s = jnce_cuda_check(cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking), "cudaStreamCreate");
    if (s == JNCE_OK) s = jnce_cuda_check(cudaMalloc((void **)&ctx->error, sizeof *ctx->error), "cudaMalloc");
    if (s == JNCE_OK) s = jnce_cuda_check(cudaMemset(ctx->error, 0, sizeof *ctx->error), "cudaMemset");
    if (s != JNCE_OK) {
        if (ctx->error) cudaFree(ctx->error);
        if (ctx->stream) cudaStreamDestroy(ctx->stream);
        free(ctx);
        return s;
    }
    *out = ctx;
    return JNCE_OK;
}

/* Defined in gemm.cu: releases the context's cuBLAS handle, if any. */
void jnce_cuda_release_cublas(jnce_cuda_ctx *ctx);

int32_t jnce_cuda_destroy(jnce_cuda_ctx *ctx) {
    if (ctx == NULL) return JNCE_OK;
    int32_t s = jnce_cuda_enter(ctx, "destroy");
    jnce_cuda_release_cublas(ctx);
    if (ctx->scratch) cudaFreeAsync(ctx->scratch, ctx->stream);
    int32_t s2 = jnce_cuda_check(cudaStreamSynchronize(ctx->stream), "destroy");
    cudaStreamDestroy(ctx->stream);
    cudaFree(ctx->error);
    free(ctx);
    return s != JNCE_OK ? s : s2;
}

int32_t jnce_cuda_synchronize(jnce_cuda_ctx *ctx) {
    int32_t s = jnce_cuda_enter(ctx, "synchronize");
    return s != JNCE_OK ? s : drain_errors(ctx, "synchronize");
}

int32_t jnce_cuda_malloc(jnce_cuda_ctx *ctx, int64_t bytes, void **ptr) {
    int32_t s = jnce_cuda_enter(ctx, "malloc");
    if (s != JNCE_OK) return s;
    if (ptr == NULL || bytes < 0) return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "malloc: bytes=%lld", (long long)bytes);
    cudaError_t err = cudaMallocAsync(ptr, (size_t)(bytes > 0 ? bytes : 1), ctx->stream);
    if (err == cudaSuccess) return JNCE_OK;
    char what[96];
    snprintf(what, sizeof what, "cudaMallocAsync of %lld bytes on device %d", (long long)bytes, ctx->device);
    return jnce_cuda_check(err, what);
}

int32_t jnce_cuda_free(jnce_cuda_ctx *ctx, void *ptr) {
    int32_t s = jnce_cuda_enter(ctx, "free");
    if (s != JNCE_OK || ptr == NULL) return s;
    return jnce_cuda_check(cudaFreeAsync(ptr, ctx->stream), "cudaFreeAsync");
}

int32_t jnce_cuda_memset_zero(jnce_cuda_ctx *ctx, void *dst, int64_t bytes) {
    int32_t s = jnce_cuda_enter(ctx, "memset");
    if (s != JNCE_OK) return s;
    return jnce_cuda_check(cudaMemsetAsync(dst, 0, (size_t)bytes, ctx->stream), "cudaMemsetAsync");
}

static int32_t copy(jnce_cuda_ctx *ctx, void *dst, const void *src, int64_t bytes, cudaMemcpyKind kind, const char *op) {
    int32_t s = jnce_cuda_enter(ctx, op);
    if (s != JNCE_OK) return s;
    if (bytes < 0 || (bytes > 0 && (dst == NULL || src == NULL)))
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "%s: %lld bytes between %p and %p", op, (long long)bytes, dst, src);
    if (bytes > 0) s = jnce_cuda_check(cudaMemcpyAsync(dst, src, (size_t)bytes, kind, ctx->stream), op);
    if (s != JNCE_OK || kind == cudaMemcpyDeviceToDevice) return s;
    /* To or from pageable host memory: the copy is complete only once the stream is. */
    return drain_errors(ctx, op);
}

int32_t jnce_cuda_memcpy_h2d(jnce_cuda_ctx *ctx, void *dst, const void *src, int64_t bytes) {
    return copy(ctx, dst, src, bytes, cudaMemcpyHostToDevice, "memcpy_h2d");
}

int32_t jnce_cuda_memcpy_d2h(jnce_cuda_ctx *ctx, void *dst, const void *src, int64_t bytes) {
    return copy(ctx, dst, src, bytes, cudaMemcpyDeviceToHost, "memcpy_d2h");
}

int32_t jnce_cuda_memcpy_d2d(jnce_cuda_ctx *ctx, void *dst, const void *src, int64_t bytes) {
    return copy(ctx, dst, src, bytes, cudaMemcpyDeviceToDevice, "memcpy_d2d");
}

int32_t jnce_cuda_host_alloc(int64_t bytes, void **ptr) {
    if (ptr == NULL || bytes <= 0) return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "host_alloc: bytes=%lld", (long long)bytes);
    return jnce_cuda_check(cudaHostAlloc(ptr, (size_t)bytes, cudaHostAllocDefault), "cudaHostAlloc");
}

int32_t jnce_cuda_host_free(void *ptr) {
    return ptr == NULL ? JNCE_OK : jnce_cuda_check(cudaFreeHost(ptr), "cudaFreeHost");
}
