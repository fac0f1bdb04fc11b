/*
 * jnce.h - the only header of jnce's native API, and the only file jextract reads.
 *
 * Rules for every function here:
 *  - fixed-size types only (int32_t, int64_t, float, double, pointers);
 *  - an int32_t status is returned (JNCE_OK on success), never exit() or abort();
 *  - on failure, jnce_last_error() copies a message for the calling thread;
 *  - arguments are validated in Java before the call; the checks here are a second line.
 *
 * Dimension letters are the same everywhere: N rows, C classes, D features, K negatives.
 */
#ifndef JNCE_H
#define JNCE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  define JNCE_API __declspec(dllexport)
#else
#  define JNCE_API __attribute__((visibility("default")))
#endif

/* Status codes returned by every function. Java maps them to dev.jnce.NativeStatus. */
#define JNCE_OK               0
#define JNCE_ERR_INVALID_ARG  1
#define JNCE_ERR_OUT_OF_MEMORY 2
#define JNCE_ERR_UNSUPPORTED  3
#define JNCE_ERR_INTERNAL     4

/* Element types of index tensors. */
#define JNCE_DTYPE_INT32 1
#define JNCE_DTYPE_INT64 2

/* Reductions, with F.cross_entropy's meaning. */
#define JNCE_REDUCTION_NONE 0
#define JNCE_REDUCTION_MEAN 1
#define JNCE_REDUCTION_SUM  2

/* Version of the native library as major*10000 + minor*100 + patch. */
JNCE_API int32_t jnce_version(int32_t *version);

/* Copies the calling thread's last error message (NUL-terminated, truncated to cap bytes). */
JNCE_API int32_t jnce_last_error(char *buf, int64_t cap);

/* Describes the build: SIMD paths compiled in and chosen, OpenBLAS configuration. */
JNCE_API int32_t jnce_build_info(char *buf, int64_t cap);

/* Threads used by jnce's kernels and by OpenBLAS; threads < 1 means "all cores". */
JNCE_API int32_t jnce_set_num_threads(int32_t threads);
JNCE_API int32_t jnce_get_num_threads(int32_t *threads);

/* ==== cross-entropy (src/cpu/softmax_xent.c) ============================================ */

/*
 * Softmax cross-entropy over the last dimension, forward and backward in one fused pass.
 *
 *   logits    (N,C) float32, row-major
 *   targets   (N)   class indices in [0,C), int32 or int64 as target_dtype says
 *   loss      (N) for JNCE_REDUCTION_NONE, else (1)
 *   grad      (N,C) float32 or NULL for forward only; may alias logits (in place).
 *             It is d(reduced loss)/d(logits); with JNCE_REDUCTION_NONE it is
 *             d(sum of losses)/d(logits), i.e. an upstream gradient of ones.
 *
 * Per row: one pass for max and sum of exponentials (online softmax), one pass writing grad.
 * Sums are accumulated in double. Rows containing NaN or +Inf give NaN loss and NaN grad.
 */
JNCE_API int32_t jnce_softmax_xent_fwd_bwd(const float *logits, const void *targets,
                                           int32_t target_dtype, int64_t N, int64_t C,
                                           int32_t reduction, float *loss, float *grad);

/* ==== softmax, log_softmax, logsumexp, NLL (src/cpu/softmax.c, src/cpu/nll.c) ========== */

/*
 * Softmax family over the last dimension of row-major float32 data (F.softmax, F.log_softmax,
 * torch.logsumexp with dim=-1), forward and backward. Every output may alias its same-shaped
 * input (in place). Sums are accumulated in double; N >= 1 and C >= 1.
 *
 *   jnce_softmax_fwd       x (N,C) -> y (N,C)        y = exp(x - m) / sum exp(x - m)
 *   jnce_log_softmax_fwd   x (N,C) -> y (N,C)        y = x - m - log(sum exp(x - m))
 *   jnce_logsumexp_fwd     x (N,C) -> out (N)        out = m + log(sum exp(x - m))
 *   jnce_softmax_bwd       y, dy (N,C) -> dx (N,C)   dx = y * (dy - sum(dy * y)), y the softmax
 *   jnce_log_softmax_bwd   y, dy (N,C) -> dx (N,C)   dx = dy - exp(y) * sum(dy), y the log_softmax
 *   jnce_logsumexp_bwd     x (N,C), dout (N) -> dx (N,C)   dx = dout * softmax(x)
 *
 * Non-finite rows, as PyTorch 1.13: a row holding NaN or +Inf gives NaN for softmax and
 * log_softmax; logsumexp gives NaN for a NaN row and +Inf for a +Inf row (no NaN). A row of
 * only -Inf gives NaN for softmax and log_softmax and -Inf for logsumexp, whose gradient
 * there is NaN. -Inf entries of other rows have probability 0.
 */
JNCE_API int32_t jnce_softmax_fwd(const float *x, int64_t N, int64_t C, float *y);
JNCE_API int32_t jnce_log_softmax_fwd(const float *x, int64_t N, int64_t C, float *y);
JNCE_API int32_t jnce_logsumexp_fwd(const float *x, int64_t N, int64_t C, float *out);
JNCE_API int32_t jnce_softmax_bwd(const float *y, const float *dy, int64_t N, int64_t C, float *dx);
JNCE_API int32_t jnce_log_softmax_bwd(const float *y, const float *dy, int64_t N, int64_t C, float *dx);
JNCE_API int32_t jnce_logsumexp_bwd(const float *x, const float *dout, int64_t N, int64_t C, float *dx);

/* Flags of jnce_nll_fwd_bwd. */
#define JNCE_NLL_FROM_PROBS 1        /* input holds probabilities: the loss uses max(log p, -100) */
#define JNCE_NLL_ZERO_IF_NO_WEIGHT 2 /* mean over no weighted row is 0 with gradient 0, not NaN */

/*
 * Negative log-likelihood (F.nll_loss), forward and backward.
 *
 *   input     (N,C) float32 log-probabilities (or probabilities with JNCE_NLL_FROM_PROBS)
 *   targets   (N)   class indices in [0,C) or equal to ignore_index; int32/int64 per target_dtype
 *   weight    (C)   float32 class weights, or NULL for all ones
 *   loss      (N) for JNCE_REDUCTION_NONE, else (1)
 *   grad      (N,C) float32 or NULL; may alias input. Gradient of the reduced loss (of the sum
 *             of losses for NONE): zero except -w[t]*scale (times 1/p for probabilities).
 *
 * Row loss l_i = -w[t_i] * v_i with v_i = input[i,t_i] (or max(log p, -100), gradient 0 where
 * clamped); ignored rows give 0. MEAN divides the sum by the sum of w[t_i] over non-ignored
 * rows: NaN when that is 0, unless JNCE_NLL_ZERO_IF_NO_WEIGHT and no row has a non-zero weight.
 */
JNCE_API int32_t jnce_nll_fwd_bwd(const float *input, const void *targets, int32_t target_dtype,
                                  const float *weight, int64_t N, int64_t C, int64_t ignore_index,
                                  int32_t reduction, int32_t flags, float *loss, float *grad);

/* ==== binary cross-entropy, focal loss (src/cpu/binary_cross_entropy.c, src/cpu/focal.c) = */

/* ==== KL divergence, entropy, cross-entropy of distributions (src/cpu/divergence.c) ====== */

/* ==== similarity, normalisation, triplet margin, mining (src/cpu/similarity.c, ...) ====== */

/* C = alpha * A(M,K) * B(K,N)^T(if trans_b) + beta * C, row-major float32, via OpenBLAS. */
JNCE_API int32_t jnce_sgemm(int32_t trans_a, int32_t trans_b, int64_t M, int64_t N, int64_t K,
                            float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                            float beta, float *C, int64_t ldc);

#ifdef __cplusplus
}
#endif

#endif /* JNCE_H */
