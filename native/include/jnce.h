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

/* ==== binary cross-entropy, focal loss (src/cpu/binary_cross_entropy.c, src/cpu/focal.c) = */

/*
 * Element-wise binary losses over tensors of any shape, flattened to numel elements.
 * Shared buffer rules:
 *   input, target   (numel) float32; target in [0,1] (soft targets allowed)
 *   weight          (weight_len) float32 or NULL; element k uses weight[k % weight_len], so a
 *                   weight of the trailing shape of input broadcasts over the leading dims
 *                   ((C) per class for (N,C) input; (numel) element-wise)
 *   loss            (numel) for JNCE_REDUCTION_NONE, else (1); the mean is over all elements
 *   grad_input,     (numel) float32 or NULL; d(reduced loss)/d(input) and d(reduced loss)/d(target)
 *   grad_target     (for NONE: of the sum of the element losses). Computed in double.
 */

/* F.binary_cross_entropy on probabilities in [0,1]: log terms clamped to >= -100. */
JNCE_API int32_t jnce_bce_fwd_bwd(const float *input, const float *target, int64_t numel,
                                  const float *weight, int64_t weight_len, int32_t reduction,
                                  float *loss, float *grad_input, float *grad_target);

/*
 * F.binary_cross_entropy_with_logits: (1-y)x + (1+(pw-1)y) softplus(-x), evaluated stably.
 *   pos_weight  (pos_len) float32 >= 0 or NULL; element k uses pos_weight[k % pos_len]
 */
JNCE_API int32_t jnce_bce_logits_fwd_bwd(const float *input, const float *target, int64_t numel,
                                         const float *weight, int64_t weight_len,
                                         const float *pos_weight, int64_t pos_len, int32_t reduction,
                                         float *loss, float *grad_input, float *grad_target);

/*
 * torchvision.ops.sigmoid_focal_loss: alpha_t (1-p_t)^gamma BCE-with-logits(x, y), p = sigmoid(x),
 * p_t = p y + (1-p)(1-y), alpha_t = alpha y + (1-alpha)(1-y); alpha < 0 means alpha_t = 1.
 * gamma >= 0. Same buffers as jnce_bce_fwd_bwd, without weight.
 */
JNCE_API int32_t jnce_sigmoid_focal_fwd_bwd(const float *input, const float *target, int64_t numel,
                                            float alpha, float gamma, int32_t reduction,
                                            float *loss, float *grad_input, float *grad_target);

/*
 * Multi-class focal loss on softmax probabilities: loss_i = -alpha_t (1-p_t)^gamma log p_t,
 * p = softmax(logits_i), t = targets[i].
 *   logits   (N,C) float32        targets (N) int32|int64 in [0,C) as target_dtype says
 *   alpha    (C) float32 or NULL (alpha_t = 1)          gamma >= 0
 *   loss     (N) for NONE, else (1); the mean is over N (not weighted by alpha)
 *   grad     (N,C) float32 or NULL; may alias logits. Rows holding NaN or +Inf are NaN.
 */
JNCE_API int32_t jnce_softmax_focal_fwd_bwd(const float *logits, const void *targets,
                                            int32_t target_dtype, int64_t N, int64_t C,
                                            const float *alpha, float gamma, int32_t reduction,
                                            float *loss, float *grad);

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
