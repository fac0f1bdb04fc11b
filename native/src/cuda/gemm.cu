/*
 * gemm.cu - C = alpha * op(A) * op(B) + beta * C on the GPU through cuBLAS, row-major float32,
 * with the meaning jnce.h gives jnce_sgemm. Pointers are device memory.
 *
 *   op(A) (M,K): A is (M,K), or (K,M) when trans_a;  op(B) (K,N): B is (K,N), or (N,K) when
 *   trans_b;  C (M,N);  lda, ldb, ldc are row strides in floats.
 *   mode JNCE_CUDA_GEMM_FP32  cublasSgemm, float32 products (default)
 *        JNCE_CUDA_GEMM_TF32  cublasGemmEx, CUBLAS_COMPUTE_32F_FAST_TF32: inputs rounded to
 *                             TF32 (10-bit mantissa, relative error ~1e-3 per product)
 *        JNCE_CUDA_GEMM_BF16  cublasGemmEx, CUBLAS_COMPUTE_32F_FAST_16BF: inputs rounded to
 *                             bfloat16 (7-bit mantissa, relative error ~8e-3 per product);
 *                             accumulation stays float32 in both fast modes
 * Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, so cuBLAS gets B first.
 *
 * cuBLAS is loaded at run time with dlopen, never linked: a path from jnce_cuda_set_cublas_path
 * (Java passes the jnce.cublas.path property) or JNCE_CUBLAS_PATH, else libcublas.so.13,
 * .so.12, .so.11, .so from the system's search path. The few prototypes and enum values used
 * are declared here (values from cublas_api.h and library_types.h), so building needs no
 * cuBLAS header.
 */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.cuh"

/* ---- the part of cuBLAS's API used here -------------------------------------------------- */

typedef void *cublas_handle;
typedef int cublas_status;              /* cublasStatus_t: 0 is CUBLAS_STATUS_SUCCESS */
enum { CUBLAS_OP_N_ = 0, CUBLAS_OP_T_ = 1 };
enum { CUDA_R_32F_ = 0 };               /* cudaDataType */
enum { CUBLAS_COMPUTE_32F_FAST_16BF_ = 75, CUBLAS_COMPUTE_32F_FAST_TF32_ = 77 };
enum { CUBLAS_GEMM_DEFAULT_ = -1 };

typedef cublas_status (*create_fn)(cublas_handle *);
typedef cublas_status (*destroy_fn)(cublas_handle);
typedef cublas_status (*set_stream_fn)(cublas_handle, cudaStream_t);
typedef cublas_status (*sgemm_fn)(cublas_handle, int, int, int, int, int, const float *, const float *, int,
                                  const float *, int, const float *, float *, int);
typedef cublas_status (*gemm_ex_fn)(cublas_handle, int, int, int, int, int, const void *, const void *, int, int,
                                    const void *, int, int, const void *, void *, int, int, int, int);
typedef const char *(*status_string_fn)(cublas_status);
typedef cublas_status (*get_version_fn)(cublas_handle, int *);

static struct {
    pthread_mutex_t lock;
    int tried;
    void *lib;
    char path[512];       /* requested path, or "" */
    char loaded[512];     /* what dlopen opened */
    char error[768];      /* why loading failed */
    create_fn create;
    destroy_fn destroy;
    set_stream_fn set_stream;
    sgemm_fn sgemm;
    gemm_ex_fn gemm_ex;
    status_string_fn status_string;
    get_version_fn get_version;
} cublas = {PTHREAD_MUTEX_INITIALIZER};

static void *symbol(const char *name, int required) {
    void *p = dlsym(cublas.lib, name);
    if (p == NULL && required && cublas.error[0] == '\0')
        snprintf(cublas.error, sizeof cublas.error, "%s has no symbol %s", cublas.loaded, name);
    return p;
}

static void try_open(const char *name) {
    if (cublas.lib != NULL) return;
    cublas.lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (cublas.lib != NULL) {
        snprintf(cublas.loaded, sizeof cublas.loaded, "%s", name);
    } else {
        const char *e = dlerror();
        size_t used = strlen(cublas.error);
        snprintf(cublas.error + used, sizeof cublas.error - used, "%s%s", used ? "; " : "", e ? e : name);
    }
}

/* Loads cuBLAS once; returns JNCE_OK or JNCE_ERR_UNSUPPORTED with the dlopen messages. */
static int32_t load_cublas(void) {
    pthread_mutex_lock(&cublas.lock);
    if (!cublas.tried) {
        cublas.tried = 1;
        const char *env = getenv("JNCE_CUBLAS_PATH");
        if (cublas.path[0] != '\0') try_open(cublas.path);
        else if (env != NULL && env[0] != '\0') try_open(env);
        else {
            const char *names[] = {"libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"};
            for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) try_open(names[k]);
        }
        if (cublas.lib != NULL) {
            cublas.error[0] = '\0';
            cublas.create = (create_fn)symbol("cublasCreate_v2", 1);
            cublas.destroy = (destroy_fn)symbol("cublasDestroy_v2", 1);
            cublas.set_stream = (set_stream_fn)symbol("cublasSetStream_v2", 1);
            cublas.sgemm = (sgemm_fn)symbol("cublasSgemm_v2", 1);
            cublas.gemm_ex = (gemm_ex_fn)symbol("cublasGemmEx", 1);
            cublas.status_string = (status_string_fn)symbol("cublasGetStatusString", 0);
            cublas.get_version = (get_version_fn)symbol("cublasGetVersion_v2", 0);
            if (cublas.error[0] != '\0') {
                dlclose(cublas.lib);
                cublas.lib = NULL;
            }
        }
    }
    int ok = cublas.lib != NULL;
    pthread_mutex_unlock(&cublas.lock);
    if (ok) return JNCE_OK;
    return jnce_cuda_fail(JNCE_ERR_UNSUPPORTED,
                          "cuBLAS could not be loaded (set JNCE_CUBLAS_PATH or the jnce.cublas.path property to "
                          "libcublas.so, e.g. from the nvidia-cublas Python package): %s", cublas.error);
}

static int32_t cublas_fail(cublas_status st, const char *what) {
    const char *name = cublas.status_string ? cublas.status_string(st) : "cuBLAS error";
    return jnce_cuda_fail(st == 3 ? JNCE_ERR_OUT_OF_MEMORY : st == 7 ? JNCE_ERR_INVALID_ARG : JNCE_ERR_INTERNAL,
                          "%s: %s (cublasStatus_t %d)", what, name, st);
}

int32_t jnce_cuda_set_cublas_path(const char *path) {
    pthread_mutex_lock(&cublas.lock);
    int32_t s = JNCE_OK;
    if (cublas.tried) s = jnce_cuda_fail(JNCE_ERR_UNSUPPORTED, "set_cublas_path: cuBLAS was already looked for");
    else snprintf(cublas.path, sizeof cublas.path, "%s", path ? path : "");
    pthread_mutex_unlock(&cublas.lock);
    return s;
}

int32_t jnce_cuda_cublas_info(char *buf, int64_t cap) {
    if (buf == NULL || cap <= 0) return JNCE_ERR_INVALID_ARG;
    int32_t s = load_cublas();
    if (s != JNCE_OK) {
        snprintf(buf, (size_t)cap, "cuBLAS not loaded: %s", cublas.error);
        return s;
    }
    snprintf(buf, (size_t)cap, "cuBLAS from %s", cublas.loaded);
    return JNCE_OK;
}

void jnce_cuda_release_cublas(jnce_cuda_ctx *ctx) {
    if (ctx->cublas != NULL && cublas.destroy != NULL) cublas.destroy(ctx->cublas);
    ctx->cublas = NULL;
}

static int32_t handle_for(jnce_cuda_ctx *ctx) {
    if (ctx->cublas != NULL) return JNCE_OK;
    int32_t s = load_cublas();
    if (s != JNCE_OK) return s;
    cublas_handle h = NULL;
    cublas_status st = cublas.create(&h);
    if (st != 0) return cublas_fail(st, "cublasCreate");
    st = cublas.set_stream(h, ctx->stream);
    if (st != 0) {
        cublas.destroy(h);
        return cublas_fail(st, "cublasSetStream");
    }
    ctx->cublas = h;
    return JNCE_OK;
}

/* C (M,N), row stride ldc = beta * C, 0 for beta = 0: the BLAS meaning of alpha = 0, which
 * reads neither A nor B (so their NaN never reach C), done here rather than left to cuBLAS. */
__global__ void gemm_alpha_zero_kernel(int64_t M, int64_t N, float beta, float *C, int64_t ldc) {
    for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < M * N; k += (int64_t)gridDim.x * blockDim.x) {
        float *c = C + (k / N) * ldc + k % N;
        *c = beta == 0.0f ? 0.0f : beta * *c;
    }
}

int32_t jnce_cuda_sgemm(jnce_cuda_ctx *ctx, int32_t trans_a, int32_t trans_b, int64_t M, int64_t N, int64_t K,
                        float alpha, const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                        int64_t ldc, int32_t mode) {
    if (M <= 0 || N <= 0 || K <= 0 || M > INT_MAX || N > INT_MAX || K > INT_MAX)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "sgemm (cuda): M=%lld N=%lld K=%lld must be in [1, 2^31)",
                              (long long)M, (long long)N, (long long)K);
    if (A == NULL || B == NULL || C == NULL) return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "sgemm (cuda): null matrix");
    int64_t a_cols = trans_a ? M : K, b_cols = trans_b ? K : N;
    if (lda < a_cols || ldb < b_cols || ldc < N || lda > INT_MAX || ldb > INT_MAX || ldc > INT_MAX)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "sgemm (cuda): lda=%lld ldb=%lld ldc=%lld are too small or too large",
                              (long long)lda, (long long)ldb, (long long)ldc);
    if (mode < JNCE_CUDA_GEMM_FP32 || mode > JNCE_CUDA_GEMM_BF16)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "sgemm (cuda): unknown mode %d", mode);
    int32_t s = jnce_cuda_enter(ctx, "sgemm");
    if (s == JNCE_OK) s = handle_for(ctx);
    if (s != JNCE_OK) return s;
    if (alpha == 0.0f) {
        int64_t blocks = (M * N + 255) / 256;
        gemm_alpha_zero_kernel<<<(unsigned)(blocks < 4096 ? blocks : 4096), 256, 0, ctx->stream>>>(M, N, beta, C, ldc);
        return jnce_cuda_launched("sgemm (cuda) alpha = 0");
    }
    int op_a = trans_a ? CUBLAS_OP_T_ : CUBLAS_OP_N_, op_b = trans_b ? CUBLAS_OP_T_ : CUBLAS_OP_N_;
    cublas_status st;
    if (mode == JNCE_CUDA_GEMM_FP32) {
        st = cublas.sgemm(ctx->cublas, op_b, op_a, (int)N, (int)M, (int)K, &alpha, B, (int)ldb, A, (int)lda, &beta, C,
                          (int)ldc);
    } else {
        int compute = mode == JNCE_CUDA_GEMM_TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32_ : CUBLAS_COMPUTE_32F_FAST_16BF_;
        st = cublas.gemm_ex(ctx->cublas, op_b, op_a, (int)N, (int)M, (int)K, &alpha, B, CUDA_R_32F_, (int)ldb, A,
                            CUDA_R_32F_, (int)lda, &beta, C, CUDA_R_32F_, (int)ldc, compute, CUBLAS_GEMM_DEFAULT_);
    }
    return st == 0 ? JNCE_OK : cublas_fail(st, mode == JNCE_CUDA_GEMM_FP32 ? "cublasSgemm" : "cublasGemmEx");
}
