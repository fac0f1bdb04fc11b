/*
 * binary_cross_entropy.cu - the element-wise binary losses on the GPU, with the meaning jnce.h
 * gives their CPU kernels: F.binary_cross_entropy (jnce_bce_fwd_bwd),
 * F.binary_cross_entropy_with_logits (jnce_bce_logits_fwd_bwd) and torchvision's
 * sigmoid_focal_loss (jnce_sigmoid_focal_fwd_bwd). Every pointer argument is device memory.
 *
 *   input, target (numel) float32     weight (weight_len) or NULL: element k uses weight[k % weight_len]
 *   pos_weight (pos_len) or NULL      loss (numel) for NONE, else (1)
 *   grad_input, grad_target (numel) or NULL: of the reduced loss (for NONE: of the sum); element k
 *   is read before its outputs are written, so grad_input may be input and grad_target target
 *
 * One grid-stride kernel computes each element's terms in double (the CPU kernels' scalar formulas,
 * which their float lanes follow to a few ulp), rounds the outputs once, and leaves one double
 * partial sum of the weighted losses per block; a one-block kernel adds them (MEAN divides by
 * numel). Two launches on the context's stream, no host synchronisation. The value checks
 * (probabilities in [0,1], finite weights) are the Java layer's, before the call, as on the CPU.
 */
#include <math.h>

#include "internal.cuh"

#define BIN_THREADS 256
#define BIN_BLOCKS 1024 /* at most: the partial sums fit the scratch and one reducing block */

enum { BIN_BCE = 0, BIN_LOGITS = 1, BIN_FOCAL = 2 };

typedef struct {
    int op;
    const float *x, *y;
    int64_t n;
    const float *w;
    int64_t wl;
    const float *pw;
    int64_t pl;
    double alpha, gamma; /* focal: alpha < 0 means no weighting */
    int32_t reduction;
    double scale;        /* 1/numel for MEAN, else 1 */
    float *loss, *gx, *gy;
} bin_call;

typedef struct {
    double loss, dx, dy;
} bin_terms;

/* bce_terms of native/src/cpu/binary_cross_entropy.c */
__host__ __device__ __forceinline__ bin_terms bce_terms(double p, double y) {
    double log_p = log(p), log_1mp = log(1.0 - p); /* 1 - p is exact in double for a float p */
    bin_terms t = {-(y * fmax(log_p, -100.0) + (1.0 - y) * fmax(log_1mp, -100.0)),
                   (p - y) / fmax((1.0 - p) * p, 1e-12), log_1mp - log_p};
    return t;
}

/* jnce_bce_logits_terms of binary_cross_entropy.h: one exp and one log1p */
__host__ __device__ __forceinline__ bin_terms bce_logits_terms(double x, double y, double pw) {
    double e = exp(-fabs(x));
    double softplus_neg = (x < 0 ? -x : 0.0) + log1p(e); /* log(1 + exp(-x)) */
    double sigmoid = x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    double lw = 1.0 + (pw - 1.0) * y;
    bin_terms t = {(1.0 - y) * x + lw * softplus_neg, lw * sigmoid - pw * y,
                   pw == 1.0 ? -x : -x + (pw - 1.0) * softplus_neg};
    return t;
}

__host__ __device__ __forceinline__ double sigmoid_d(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/* sigmoid_focal_terms of native/src/cpu/focal.c */
__host__ __device__ __forceinline__ bin_terms focal_terms(double x, double y, double alpha, double g) {
    bin_terms ce = bce_logits_terms(x, y, 1.0);
    double p = sigmoid_d(x), q = sigmoid_d(-x);
    double m = p * (1.0 - y) + q * y;
    double mg = g == 2.0 ? m * m : g == 1.0 ? m : g == 0.0 ? 1.0 : pow(m, g);
    double a = 1.0, da = 0.0;
    if (alpha >= 0) {
        a = alpha * y + (1.0 - alpha) * (1.0 - y);
        da = 2.0 * alpha - 1.0;
    }
    double t = g == 0.0 ? 0.0 : g * (m > 0.0 ? ce.loss / m : 1.0) * mg; /* g (ce/m) m^g, -> g m^g at m = 0 */
    bin_terms out = {a * ce.loss * mg, a * (ce.dx * mg + t * (1.0 - 2.0 * y) * p * q),
                     da * ce.loss * mg + a * (ce.dy * mg + t * (q - p))};
    return out;
}

__global__ void binary_kernel(bin_call a, double *partial) {
    __shared__ double shared[BIN_THREADS / 32];
    double s = 0.0;
    for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < a.n; k += (int64_t)gridDim.x * blockDim.x) {
        const double x = a.x[k], y = a.y[k];
        const double w = a.w ? (double)a.w[a.wl == a.n ? k : k % a.wl] : 1.0;
        bin_terms t;
        if (a.op == BIN_BCE) t = bce_terms(x, y);
        else if (a.op == BIN_LOGITS) t = bce_logits_terms(x, y, a.pw ? (double)a.pw[a.pl == a.n ? k : k % a.pl] : 1.0);
        else t = focal_terms(x, y, a.alpha, a.gamma);
        const float wl = (float)(w * t.loss);
        if (a.reduction == JNCE_REDUCTION_NONE) a.loss[k] = wl;
        else s += (double)wl;
        if (a.gx) a.gx[k] = (float)(a.scale * w * t.dx);
        if (a.gy) a.gy[k] = (float)(a.scale * w * t.dy);
    }
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if ((threadIdx.x & 31) == 0) shared[threadIdx.x >> 5] = s;
    __syncthreads();
    if (threadIdx.x == 0) {
        double b = 0.0;
        for (int i = 0; i < BIN_THREADS / 32; i++) b += shared[i];
        partial[blockIdx.x] = b;
    }
}

__global__ void binary_reduce_kernel(const double *partial, int count, double scale, float *loss) {
    __shared__ double shared[BIN_THREADS / 32];
    double s = 0.0;
    for (int i = threadIdx.x; i < count; i += blockDim.x) s += partial[i];
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if ((threadIdx.x & 31) == 0) shared[threadIdx.x >> 5] = s;
    __syncthreads();
    if (threadIdx.x == 0) {
        double b = 0.0;
        for (int i = 0; i < BIN_THREADS / 32; i++) b += shared[i];
        loss[0] = (float)(b * scale);
    }
}

static int32_t binary_run(jnce_cuda_ctx *ctx, const char *op, bin_call *a) {
    if (a->x == NULL || a->y == NULL || a->loss == NULL)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "%s (cuda): input, target and loss must be non-null", op);
    if (a->n <= 0)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "%s (cuda): numel=%lld must be positive", op, (long long)a->n);
    if (a->w != NULL && (a->wl <= 0 || a->n % a->wl != 0))
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "%s (cuda): weight_len=%lld does not divide numel=%lld", op,
                              (long long)a->wl, (long long)a->n);
    if (a->pw != NULL && (a->pl <= 0 || a->n % a->pl != 0))
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "%s (cuda): pos_len=%lld does not divide numel=%lld", op,
                              (long long)a->pl, (long long)a->n);
    if (a->reduction != JNCE_REDUCTION_NONE && a->reduction != JNCE_REDUCTION_MEAN && a->reduction != JNCE_REDUCTION_SUM)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "%s (cuda): unknown reduction %d", op, (int)a->reduction);
    int32_t s = jnce_cuda_enter(ctx, op);
    if (s != JNCE_OK) return s;
    a->scale = a->reduction == JNCE_REDUCTION_MEAN ? 1.0 / (double)a->n : 1.0;
    int64_t blocks = (a->n + BIN_THREADS - 1) / BIN_THREADS;
    if (blocks > BIN_BLOCKS) blocks = BIN_BLOCKS;
    void *scratch;
    s = jnce_cuda_scratch(ctx, blocks * (int64_t)sizeof(double), &scratch, op);
    if (s != JNCE_OK) return s;
    binary_kernel<<<(unsigned)blocks, BIN_THREADS, 0, ctx->stream>>>(*a, (double *)scratch);
    if (a->reduction != JNCE_REDUCTION_NONE)
        binary_reduce_kernel<<<1, BIN_THREADS, 0, ctx->stream>>>((const double *)scratch, (int)blocks, a->scale, a->loss);
    return jnce_cuda_launched(op);
}

int32_t jnce_cuda_bce_fwd_bwd(jnce_cuda_ctx *ctx, const float *input, const float *target, int64_t numel,
                              const float *weight, int64_t weight_len, int32_t reduction, float *loss,
                              float *grad_input, float *grad_target) {
    bin_call a = {BIN_BCE, input, target, numel, weight, weight_len, NULL, 0, -1.0, 0.0, reduction, 1.0,
                  loss, grad_input, grad_target};
    return binary_run(ctx, "bce", &a);
}

int32_t jnce_cuda_bce_logits_fwd_bwd(jnce_cuda_ctx *ctx, const float *input, const float *target, int64_t numel,
                                     const float *weight, int64_t weight_len, const float *pos_weight,
                                     int64_t pos_len, int32_t reduction, float *loss, float *grad_input,
                                     float *grad_target) {
    bin_call a = {BIN_LOGITS, input, target, numel, weight, weight_len, pos_weight, pos_len, -1.0, 0.0, reduction,
                  1.0, loss, grad_input, grad_target};
    return binary_run(ctx, "bce_logits", &a);
}

int32_t jnce_cuda_sigmoid_focal_fwd_bwd(jnce_cuda_ctx *ctx, const float *input, const float *target, int64_t numel,
                                        float alpha, float gamma, int32_t reduction, float *loss,
                                        float *grad_input, float *grad_target) {
    if (!(gamma >= 0.0f) || isinf(gamma))
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "sigmoid_focal (cuda): gamma=%g must be finite and >= 0", (double)gamma);
    bin_call a = {BIN_FOCAL, input, target, numel, NULL, 0, NULL, 0, (double)alpha, (double)gamma, reduction, 1.0,
                  loss, grad_input, grad_target};
    return binary_run(ctx, "sigmoid_focal", &a);
}
