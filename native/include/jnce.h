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

/* ==== cross-entropy (src/cpu/cross_entropy.c) ============================================= */

/*
 * Softmax cross-entropy over the last dimension, forward and backward in one fused pass, with
 * F.cross_entropy's meaning (weight, ignore_index, label_smoothing, reduction, probability
 * targets) and three additions: a row mask, a z-loss term and the per-row log-sum-exp output.
 *
 * Per counted row i, with p = softmax(x_i), lse_i = log sum_c exp(x_ic) and w the class weights
 * (all 1 when weight is NULL):
 *   class index y:       q_c = (1-eps) w_y [c == y] + (eps/C) w_c
 *   probabilities t:     q_c = w_c ((1-eps) t_c + eps/C)
 *   loss_i = sum_c q_c (lse_i - x_ic)  (+ z_loss * lse_i^2, see below)
 *   grad_ic = scale (p_c sum_c' q_c' - q_c) + zscale 2 z_loss lse_i p_c
 * A row is counted unless its class target equals ignore_index or row_mask[i] == 0; rows not
 * counted have loss 0 and gradient 0. Reductions: NONE gives loss_i per row; SUM adds them;
 * MEAN divides the CE part by D = sum of w_{y_i} over counted rows (class targets; PyTorch's
 * weighted mean) or by the number of counted rows (probability targets) — with D = 0 the mean
 * is NaN (PyTorch) unless zero_if_empty, which gives 0. The z-loss part is always averaged over
 * counted rows for MEAN (unweighted), summed for SUM, per row for NONE.
 * Rows holding NaN or +Inf give NaN loss and NaN gradient. With probability targets a row that
 * is not a distribution (an entry < 0 or NaN, or a sum off 1 by more than 1e-3) fails with
 * JNCE_ERR_INVALID_ARG naming the row; outputs are then unspecified.
 */
typedef struct jnce_xent_args {
    int64_t N, C;
    const float *logits;       /* (N,C) */
    const void *targets;       /* (N) class indices (target_dtype), or NULL with probs */
    int32_t target_dtype;      /* JNCE_DTYPE_INT32 or JNCE_DTYPE_INT64 */
    const float *probs;        /* (N,C) probability targets, or NULL with targets */
    const int32_t *row_mask;   /* (N) 0 = leave the row out, or NULL */
    const float *weight;       /* (C) class weights, or NULL */
    int64_t ignore_index;      /* class targets equal to it are left out (PyTorch: -100) */
    float label_smoothing;     /* eps in [0,1] */
    float z_loss;              /* lambda >= 0 of lambda * lse^2 */
    int32_t reduction;         /* JNCE_REDUCTION_* */
    int32_t zero_if_empty;     /* MEAN over no counted row gives 0 instead of NaN */
    float *loss;               /* (N) for NONE, else (1) */
    float *grad;               /* (N,C) d(loss)/d(logits) (for NONE: of the sum), or NULL; may alias logits */
    float *lse;                /* (N) log-sum-exp of every row (counted or not), or NULL */
} jnce_xent_args;

JNCE_API int32_t jnce_cross_entropy(const jnce_xent_args *args);

/* ==== softmax, log_softmax, logsumexp, NLL (src/cpu/softmax.c, src/cpu/nll.c) ========== */

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
