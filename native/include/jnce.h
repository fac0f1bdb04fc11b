/*
 * jnce.h - the only header of jnce's native API, and the only file jextract reads.
 *
 * Rules for every function here:
 *  - fixed-size types only (int32_t, int64_t, float, double, pointers);
 *  - an int32_t status is returned (JNCE_OK on success), never exit() or abort();
 *  - on failure, jnce_last_error() copies a message for the calling thread;
 *  - arguments are validated in Java before the call, and the checks here are a second line,
 *    except the value checks a function's comment says it makes itself (class indices, say).
 *
 * Names: jnce_<op>_<pass> for the ops, <op> as its C file names it (clip_xent.c:
 * jnce_clip_xent_fwd_bwd) or the PyTorch function it mirrors (jnce_kl_div_fwd_bwd), <pass> one
 * of fwd, bwd, fwd_bwd, or grad: fwd_bwd carried on through the product that made the logits to
 * its operands' gradients (jnce_siglip_grad); products and searches that have no backward of their own keep their
 * BLAS-like names (jnce_sgemm, jnce_ssyrk, jnce_saxpy, jnce_hard_negatives); the runtime is
 * jnce_<verb>; CUDA entry points are jnce_cuda_<the same name> and take a context first.
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

/* Status codes returned by every function. Java maps them to dev.jnce.internal.NativeStatus. */
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

/* Threads used by jnce's kernels (at most 64) and by OpenBLAS (at most the CPUs this process may
 * run on); threads < 1 means all of those CPUs. get returns the count jnce's kernels use. */
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
 * Rows holding NaN or +Inf give NaN loss and NaN gradient.
 * The call checks its values itself (callers need not): a class target outside [0,C) that is not
 * ignore_index (masked rows included) or a weight that is not finite fails with
 * JNCE_ERR_INVALID_ARG naming the first offending index and its value, before anything is
 * written; with probability targets a row that is not a distribution (an entry < 0 or NaN, or a
 * sum off 1 by more than 1e-3) fails naming the first such row, and outputs are then unspecified.
 *
 * Every buffer is a direct argument (no struct of pointers), so that a caller holding its
 * buffers for the duration of a call (Java's FFM keeps a segment's memory alive while it is an
 * argument of a running downcall) holds all of them:
 *   N, C            rows and classes, both > 0
 *   logits          (N,C)
 *   targets         (N) class indices of target_dtype (JNCE_DTYPE_INT32 or JNCE_DTYPE_INT64),
 *                   or NULL with target_probs
 *   target_probs    (N,C) probability targets, or NULL with targets (exactly one of the two)
 *   row_mask        (N) int32, 0 = leave the row out, or NULL
 *   weight          (C) class weights, or NULL
 *   ignore_index    class targets equal to it are left out (PyTorch: -100)
 *   label_smoothing eps in [0,1];  z_loss  lambda >= 0 of lambda * lse^2, finite
 *   reduction       JNCE_REDUCTION_NONE, _MEAN or _SUM
 *   zero_if_empty   1: MEAN over no counted row gives 0 instead of NaN
 *   loss            (N) for NONE, else (1)
 *   grad            (N,C) d(loss)/d(logits) (for NONE: of the sum), or NULL; may alias logits
 *   lse             (N) log-sum-exp of every row (counted or not; +Inf for a row holding +Inf
 *                   and no NaN, as torch.logsumexp), or NULL
 * No output may overlap an input or another output, except grad == logits.
 */
JNCE_API int32_t jnce_cross_entropy_fwd_bwd(int64_t N, int64_t C, const float *logits, const void *targets,
                                            int32_t target_dtype, const float *target_probs,
                                            const int32_t *row_mask, const float *weight, int64_t ignore_index,
                                            float label_smoothing, float z_loss, int32_t reduction,
                                            int32_t zero_if_empty, float *loss, float *grad, float *lse);

/*
 * jnce_cross_entropy_fwd_bwd over logits whose rows lie ld floats apart (ld >= C): row i is
 * logits[i*ld .. i*ld + C), and grad, when given, has the same row stride (it may alias logits);
 * the floats from C to ld of a row are neither read nor written. target_probs stays (N,C)
 * contiguous. A row stride a little longer than C keeps rows of a multiple of 1 KiB out of the
 * same cache sets for the GEMMs that write the logits and read the gradient.
 */
JNCE_API int32_t jnce_cross_entropy_strided_fwd_bwd(int64_t N, int64_t C, int64_t ld, const float *logits,
                                                    const void *targets, int32_t target_dtype,
                                                    const float *target_probs, const int32_t *row_mask,
                                                    const float *weight, int64_t ignore_index, float label_smoothing,
                                                    float z_loss, int32_t reduction, int32_t zero_if_empty,
                                                    float *loss, float *grad, float *lse);

/*
 * Perplexity of a mean cross-entropy L (the one value of mean_loss, e.g. jnce_cross_entropy_fwd_bwd's
 * MEAN loss): ppl[0] = exp(L), and the gradient of L becomes that of the perplexity,
 * grad[k] *= exp(L) for k < M (grad (M) float32, or NULL). A gradient that is 0 stays 0, as the
 * ignored rows' do in autograd, also when exp(L) is NaN (every target ignored: L = 0/0) or +Inf.
 * ppl may alias mean_loss.
 */
JNCE_API int32_t jnce_cross_entropy_perplexity_fwd_bwd(const float *mean_loss, int64_t M, float *ppl, float *grad);

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
 * A class weight that is not finite, a target outside [0,C) that is not ignore_index, or with
 * JNCE_NLL_FROM_PROBS an input[i,t_i] outside [0, 1] (NaN passes), fails with
 * JNCE_ERR_INVALID_ARG naming the first such index and its value, before anything is written.
 */
JNCE_API int32_t jnce_nll_fwd_bwd(const float *input, const void *targets, int32_t target_dtype,
                                  const float *weight, int64_t N, int64_t C, int64_t ignore_index,
                                  int32_t reduction, int32_t flags, float *loss, float *grad);

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
 *   grad_target     (for NONE: of the sum of the element losses). Element k is read before its
 *                   outputs are written: grad_input may alias input, grad_target target.
 * Accuracy: with AVX2 the values are computed on 8 float lanes, within a few ulp of the double
 * formulas (arranged so that no step cancels); without, in double. Reduced losses are summed in
 * double either way.
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

/* Reduction of jnce_kl_div_fwd_bwd only: the sum divided by N (F.kl_div's 'batchmean'). */
#define JNCE_REDUCTION_BATCHMEAN 3

/*
 * KL divergence, F.kl_div(input, target, reduction, log_target), pointwise over N*C values.
 *
 *   input        (N,C) float32 log-probabilities; N = size(0), C = the product of the rest
 *   target       (N,C) float32 probabilities, or log-probabilities when log_target != 0
 *   loss         (N*C) for JNCE_REDUCTION_NONE, else (1): the sum divided by N*C (MEAN),
 *                by N (BATCHMEAN) or by 1 (SUM)
 *   grad_input   (N,C) or NULL: d(reduced loss)/d(input)  (for NONE, of the sum)
 *   grad_target  (N,C) or NULL: d(reduced loss)/d(target)
 *
 *   l = xlogy(t, t) - t*x  (0 where t == 0),   dl/dx = -t,      dl/dt = log(t) + 1 - x
 *   l = exp(t) * (t - x)   (log_target),       dl/dx = -exp(t), dl/dt = exp(t) * (t - x + 1)
 * dl/dt is NaN where t == 0 (not log_target), as PyTorch's autograd gives.
 */
JNCE_API int32_t jnce_kl_div_fwd_bwd(const float *input, const float *target, int64_t N, int64_t C,
                                     int32_t log_target, int32_t reduction, float *loss,
                                     float *grad_input, float *grad_target);

/*
 * Entropy of each row of probabilities, H_i = -sum_j p_ij log p_ij (0 log 0 = 0).
 *
 *   p     (N,C) float32, rows are distributions (checked in Java)
 *   loss  (N) for JNCE_REDUCTION_NONE, else (1) (MEAN divides by N)
 *   grad  (N,C) or NULL: -(log p + 1) * scale; +Inf where p == 0
 */
JNCE_API int32_t jnce_entropy_fwd_bwd(const float *p, int64_t N, int64_t C, int32_t reduction,
                                      float *loss, float *grad);

/*
 * Cross-entropy between distributions, H_i(p, q) = -sum_j p_ij log q_ij (0 where p_ij == 0).
 *
 *   p, q    (N,C) float32, rows are distributions (checked in Java)
 *   loss    (N) for JNCE_REDUCTION_NONE, else (1) (MEAN divides by N)
 *   grad_p  (N,C) or NULL: -log q * scale (+Inf where q == 0)
 *   grad_q  (N,C) or NULL: -p / q * scale, 0 where p == 0
 */
JNCE_API int32_t jnce_dist_xent_fwd_bwd(const float *p, const float *q, int64_t N, int64_t C,
                                        int32_t reduction, float *loss, float *grad_p, float *grad_q);

/*
 * Perplexity exp(mean of the kept token losses), and its gradient.
 *
 *   token_loss  (M) float32
 *   keys        (M) int32 or int64 as key_dtype says; token k is kept iff keys[k] != ignore_key
 *               (targets with ignore_index, or a 0/1 mask with ignore_key 0)
 *   ppl         (1): exp(sum of kept / count); all_ignored when no token is kept
 *   grad        (M) or NULL: ppl / count for kept tokens, 0 for ignored ones
 * Ignored tokens are never read, so a NaN there does not spread.
 */
JNCE_API int32_t jnce_perplexity_fwd_bwd(const float *token_loss, const void *keys, int32_t key_dtype,
                                         int64_t ignore_key, int64_t M, float all_ignored,
                                         float *ppl, float *grad);


/* ==== similarity, normalisation, triplet margin, mining (src/cpu/similarity.c, ...) ====== */

/*
 * C = alpha * op(A) * op(B) + beta * C, row-major float32, via OpenBLAS (src/cpu/gemm.c).
 *   op(A) (M,K): A is (M,K), or (K,M) when trans_a;  op(B) (K,N): B is (K,N), or (N,K) when
 *   trans_b;  C (M,N).  lda, ldb, ldc are the row strides (in floats) of A, B and C as stored.
 *   beta == 0 ignores what C holds (NaN included).
 */
JNCE_API int32_t jnce_sgemm(int32_t trans_a, int32_t trans_b, int64_t M, int64_t N, int64_t K,
                            float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                            float beta, float *C, int64_t ldc);

/*
 * The lower triangle (j <= i) of C (N,N) = alpha * A Aᵀ for A (N,K), via OpenBLAS ssyrk
 * (src/cpu/gemm.c): half the flops of jnce_sgemm for a symmetric product. C's upper
 * triangle is not touched; what C held before is ignored (NaN included).
 */
JNCE_API int32_t jnce_ssyrk(int64_t N, int64_t K, float alpha, const float *A, int64_t lda, float *C,
                            int64_t ldc);

/*
 * Cross-entropy over the rows of a symmetric logit matrix given by its lower triangle, forward
 * and backward (src/cpu/symmetric_xent.c): the one-tensor InfoNCE forms (S = f fᵀ / tau).
 *   S (N,N) float32, row stride ld >= N: only entries j <= i are read (what jnce_ssyrk writes).
 *   Row i's target is column p(i) = (i + offset) mod N, 0 <= offset < N. Row i's softmax runs
 *   over every column, less i itself when exclude_self (NT-Xent; needs offset != 0), less p(i)
 *   when decoupled (loss_i = log sum_{j != p(i)} exp S_ij - S_{i,p(i)}).
 *   loss (N) for JNCE_REDUCTION_NONE, else (1): MEAN over the N rows, or SUM.
 *   G (N,N) row stride ld, or NULL for the loss alone; may be S. Receives, in full (both
 *   triangles), g + gᵀ where g = d loss / d S (of the sum of the rows for NONE): with the
 *   gradient GEMM this gives d loss / d f = (g + gᵀ) f / tau.
 *   A row that meets a NaN or +Inf logit gets loss NaN, and NaN in its row and column of G.
 */
JNCE_API int32_t jnce_symmetric_xent_fwd_bwd(const float *S, int64_t N, int64_t ld, int64_t offset,
                                     int32_t exclude_self, int32_t decoupled, int32_t reduction,
                                     float *loss, float *G);

/*
 * The same with label targets (supervised contrastive, SupCon's L_out): row i's softmax runs over
 * every column but i, its positives P(i) are the other rows with its label, and
 * loss_i = log sum_{j != i} exp S_ij - mean_{j in P(i)} S_ij. labels (N) int32 or int64 as
 * labels_dtype says (JNCE_DTYPE_INT32 or JNCE_DTYPE_INT64). A label that no
 * other row carries is JNCE_ERR_INVALID_ARG naming the row, unless skip_empty: such a row then
 * has loss 0 and a zero row of g (its column still takes part in the other rows' softmax), and
 * MEAN divides by the rows counted (NaN when none is). S, loss, G and reduction as above.
 */
JNCE_API int32_t jnce_symmetric_xent_labels_fwd_bwd(const float *S, int64_t N, int64_t ld, const void *labels,
                                            int32_t labels_dtype, int32_t skip_empty, int32_t reduction, float *loss,
                                            float *G);

/*
 * The one-tensor backward in one call (src/cpu/symmetric_xent.c): the loss of
 * jnce_symmetric_xent_fwd_bwd and df = alpha (g + gᵀ) f, the product the gradient needs
 * (alpha = 1 / tau gives d loss / d f for S = f fᵀ / tau).
 *   S, N, ld, offset, exclude_self, decoupled, reduction, loss as there. S is the call's scratch:
 *   on return it holds g + gᵀ in the 1024 x 1024 blocks along the diagonal; what it holds
 *   elsewhere is unspecified (g + gᵀ or the logits below the diagonal).
 *   f (N,D) and df (N,D) float32, contiguous, D >= 1; df must not overlap S or f.
 * Against jnce_symmetric_xent_fwd_bwd (G = S) and one jnce_sgemm: the same values to rounding,
 * without writing the upper triangle g + gᵀ mirrors (the product reads H's lower part twice,
 * as block products, instead of all of H once); where the CPU has AVX-512 and one shift serves
 * every row, g + gᵀ left of the diagonal blocks is formed a cache-sized tile at a time and
 * multiplied there, never written to S.
 */
JNCE_API int32_t jnce_symmetric_xent_grad(float *S, int64_t N, int64_t ld, int64_t offset, int32_t exclude_self,
                                          int32_t decoupled, int32_t reduction, float *loss, float alpha,
                                          const float *f, int64_t D, float *df);

/* The same with label targets: as jnce_symmetric_xent_labels_fwd_bwd, then the product as above. */
JNCE_API int32_t jnce_symmetric_xent_labels_grad(float *S, int64_t N, int64_t ld, const void *labels,
                                                 int32_t labels_dtype, int32_t skip_empty, int32_t reduction,
                                                 float *loss, float alpha, const float *f, int64_t D, float *df);

/*
 * CLIP's symmetric cross-entropy over a square logit matrix, forward and backward
 * (src/cpu/clip_xent.c): the mean of the cross-entropy over the rows and over the columns, each
 * pair on the diagonal, both read from S where it lies (no transpose).
 *   S (N,N) float32, row stride ld >= N.  loss_i = (lse of row i + lse of column i) / 2 - S_ii;
 *   loss (N) for JNCE_REDUCTION_NONE, else (1): MEAN over the N pairs, or SUM.
 *   G (N,N) row stride ld, or NULL for the loss alone; may be S. Receives d loss / d S (of the
 *   sum of the pairs for NONE) = w/2 (softmax over row i + softmax over column j) - w [i = j],
 *   w = 1/N for MEAN, else 1: the gradient GEMMs G b and Gᵀ a need no other matrix.
 *   A row that meets NaN or +Inf makes its pair's loss and its row of G NaN; a column that does,
 *   its pair's loss and its column of G.
 */
JNCE_API int32_t jnce_clip_xent_fwd_bwd(const float *S, int64_t N, int64_t ld, int32_t reduction, float *loss, float *G);

/*
 * jnce_clip_xent_fwd_bwd's loss and the towers' gradients in one call (src/cpu/clip_xent.c), for
 * S = scale A Bᵀ (N,N) with row stride ld: with G = d loss / d S as there,
 *   dA (N,D) = alpha G B,  dB (N,D) = alpha Gᵀ A     (both overwritten)
 * A and B (N,D) float32 contiguous, D >= 1; dA and dB contiguous, overlapping neither each other
 * nor the inputs. Where the CPU has AVX-512, N >= 8 threads D and one shift serves every row and
 * column, G is formed a tile at a time in the cache and both products read it there (S is left
 * as it was); elsewhere S receives G and two GEMMs follow: S's contents are unspecified
 * afterwards.
 */
JNCE_API int32_t jnce_clip_xent_grad(float *S, int64_t N, int64_t ld, int32_t reduction, float *loss, const float *A,
                                     const float *B, int64_t D, float alpha, float *dA, float *dB);

/*
 * The logits of InfoNCE with explicit per-query negatives, and their gradients (src/cpu/negatives.c):
 * batched row dots, each query against its own positive and its own K negatives.
 *   Q, P (N,D), Nk (N,K,D), L and G (N,K+1), float32, contiguous; N, K, D >= 1.
 *   L[i][0] = alpha q_i . p_i,  L[i][1+j] = alpha q_i . n_ij  (dots summed in double).
 *   Given G = d loss / d L, overwrites dQ, dP (N,D) and dN (N,K,D) with
 *   dq_i = alpha (G_i0 p_i + sum_j G_ij n_ij),  dp_i = alpha G_i0 q_i,  dn_ij = alpha G_ij q_i.
 */
JNCE_API int32_t jnce_negatives_logits_fwd(const float *Q, const float *P, const float *Nk, int64_t N, int64_t K, int64_t D,
                                       float alpha, float *L);
JNCE_API int32_t jnce_negatives_logits_bwd(const float *G, const float *Q, const float *P, const float *Nk, int64_t N,
                                           int64_t K, int64_t D, float alpha, float *dQ, float *dP, float *dN);

/*
 * Bayesian Personalised Ranking (Rendle et al. 2009) with K explicit negatives a row, loss and
 * gradients in one call (src/cpu/bpr.c). Q, P (N,D), Nk (N,K,D) float32, contiguous; N, K, D >= 1.
 *   x_ik = q_i . n_ik - q_i . p_i (dots summed in double, rounded to float),
 *   row_i = (1/K) sum_k softplus(x_ik);  loss: (N) rows for JNCE_REDUCTION_NONE, else (1): their
 *   sum (SUM) or sum / N (MEAN), in double in row order.
 *   With w = 1/N for MEAN, else 1, g_ik = w sigmoid(x_ik) / K and g_i0 = -sum_k g_ik, overwrites
 *   dQ, dP (N,D) and dN (N,K,D) with dq_i = g_i0 p_i + sum_k g_ik n_ik, dp_i = g_i0 q_i, dn_ik = g_ik q_i.
 */
JNCE_API int32_t jnce_bpr_fwd_bwd(const float *Q, const float *P, const float *Nk, int64_t N, int64_t K, int64_t D,
                                  int32_t reduction, float *loss, float *dQ, float *dP, float *dN);

/*
 * SigLIP's pairwise sigmoid loss over a logit matrix, forward and backward, in one pass
 * (src/cpu/siglip.c): pair (i, j) has logit z_ij = S_ij + bias and label +1 where j = i + offset
 * (the batch's diagonal; offset = r0 for a block of rows from batch row r0), -1 elsewhere; its
 * loss is -log sigmoid(label z_ij).
 *   S (N,M) float32, row stride ld >= M; offset >= 0; bias finite.
 *   sums (2) double: the sum of the N M losses, and the sum of G (the gradient of that sum w.r.t.
 *   the bias). G (N,M) row stride ld, or NULL for the sums alone; may be S. Receives
 *   d (sum of the losses) / d S_ij = sigmoid(z_ij) - [j = i + offset]. A NaN logit gives NaN in
 *   the sums and in its entry of G.
 */
JNCE_API int32_t jnce_siglip_fwd_bwd(const float *S, int64_t N, int64_t M, int64_t ld, int64_t offset, float bias, double *sums,
                             float *G);

/*
 * jnce_siglip_fwd_bwd's sums and the towers' gradients in one call (src/cpu/siglip.c), for
 * S = scale A Bᵀ (or a block of its rows): with G = d (sum of the losses) / d S as there,
 *   dA (N,D) = alpha G B                 (overwritten)
 *   dB (M,D) = alpha Gᵀ A + beta dB      (dB is not read for beta = 0)
 * A (N,D) and B (M,D) float32 contiguous, D >= 1; dA and dB contiguous, overlapping none of the
 * others. With AVX-512 and N >= 8 threads D, G is formed a tile at a time in the cache and both
 * products read it there (S is left as it was); elsewhere S receives G and two GEMMs follow: S's
 * contents are unspecified afterwards. sums have the same bits as jnce_siglip_fwd_bwd gives for
 * the same S.
 */
JNCE_API int32_t jnce_siglip_grad(float *S, int64_t N, int64_t M, int64_t ld, int64_t offset, float bias, double *sums,
                                  const float *A, const float *B, int64_t D, float alpha, float beta, float *dA, float *dB);

/*
 * Cross-entropy rows with one target each over logits S (N,M), row stride ld >= M, S = scale A Bᵀ
 * or a block of its rows, and the towers' gradients, in one call (src/cpu/xent_rows.c):
 *   loss (N): the rows' losses, the same as jnce_cross_entropy_strided_fwd_bwd gives with int64
 *             targets, no options and JNCE_REDUCTION_NONE
 *   G_ij = softmax_i(j) - [j = targets_i]  (d loss_i / d S_ij; targets int64 (N) in [0, M))
 *   dA (N,D) = alpha G B                 (overwritten)
 *   dB (M,D) = alpha Gᵀ A + beta dB      (dB is not read for beta = 0)
 * A (N,D) and B (M,D) float32 contiguous (they may overlap: the one-tensor sweep's A is a block
 * of B), D >= 1; loss, dA and dB contiguous, overlapping neither each other nor the inputs. A row
 * with a NaN or +Inf logit gives NaN in its loss and its entries of G. With AVX-512 and
 * N >= 8 threads D, G is formed a tile at a time in the cache and both products read it there (S
 * is left as it was); elsewhere S receives G and two GEMMs follow: S's contents are unspecified
 * afterwards.
 */
JNCE_API int32_t jnce_xent_rows_grad(float *S, int64_t N, int64_t M, int64_t ld, const int64_t *targets, float *loss,
                                     const float *A, const float *B, int64_t D, float alpha, float beta, float *dA, float *dB);

/*
 * Cross-entropy with several positives per row over a logit matrix S (N,M), row stride ld,
 * forward and backward (src/cpu/positives_xent.c): InfoNCE by labels or by a mask, with no
 * (N,M) target matrix. Row i's positives P(i) are the keys j with key_labels[j] == query_labels[i]
 * ((N) and (M), each int32 or int64 as query_dtype and key_dtype say), or else mask[i*M + j] != 0
 * (int32 (N,M)): give the two label arrays or
 * the mask. self_offset >= 0 (one tensor, M >= 2): column i + self_offset is row i's own and takes
 * no part in it, neither as a candidate nor as a positive (0 for the whole matrix, the block's
 * first row for a block of rows); -1: no such column.
 *   loss_i = log sum_{candidates j} exp S_ij - mean_{j in P(i)} S_ij
 *   G_ij   = w (softmax_i(j) - [j in P(i)] / |P(i)|), w = 1 / (rows counted) for MEAN, else 1
 * loss (N) for JNCE_REDUCTION_NONE, else (1). G (N,M) with stride ld, or NULL; may be S.
 * A row with no positive is JNCE_ERR_INVALID_ARG with *empty_row (when not NULL) set to the
 * first such row, before anything is written, unless skip_empty: such rows then have loss 0 and
 * a zero gradient row, and MEAN is over the other rows (NaN when there are none, PyTorch's mean
 * of nothing). *empty_row is -1 otherwise. *counted (when not NULL) receives the number of rows
 * counted (those with a positive). A row that meets NaN or +Inf gets loss NaN and a NaN gradient
 * row. Called on a block of rows (S, query_labels or mask advanced by the block's first row) with
 * reduction NONE, it gives each row's loss and the gradient of their sum: what a caller needs to
 * sweep an (N,M) problem a few rows at a time.
 */
JNCE_API int32_t jnce_positives_xent_fwd_bwd(const float *S, int64_t N, int64_t M, int64_t ld, const void *query_labels,
                                     int32_t query_dtype, const void *key_labels, int32_t key_dtype, const int32_t *mask,
                                     int64_t self_offset, int32_t skip_empty, int32_t reduction, float *loss, float *G,
                                     int64_t *empty_row, int64_t *counted);

/*
 * BLAS level-1 operations over whole float32 arrays (src/cpu/blas1.c), for the steps around the
 * fused kernels: d loss / d tau as a dot product, the MEAN scale of a gradient, sums and copies of
 * gradient blocks. x, y (n) float32, contiguous, n >= 0; x and y of saxpy and scopy do not overlap.
 *   dsdot: *out = sum_i x_i y_i accumulated in double (independent of the thread count)
 *   sscal: x = alpha x      saxpy: y = y + alpha x      scopy: y = x      sfill: x = value
 */
JNCE_API int32_t jnce_dsdot(const float *x, const float *y, int64_t n, double *out);
JNCE_API int32_t jnce_sscal(int64_t n, float alpha, float *x);
JNCE_API int32_t jnce_saxpy(int64_t n, float alpha, const float *x, float *y);
JNCE_API int32_t jnce_scopy(int64_t n, const float *x, float *y);
JNCE_API int32_t jnce_sfill(int64_t n, float value, float *x);

/*
 * F.normalize(x, p=2, dim=-1, eps) on rows (src/cpu/similarity.c):  y = x / max(||x||_2, eps).
 *   x, y, dy, dx (N,D) float32; y may alias x, dx may alias dy.
 * Backward (dx from the upstream dy), with c = max(||x||, eps):
 *   ||x|| >= eps:  dx = (dy - y * (y . dy)) / c;     ||x|| < eps:  dx = dy / eps.
 */
JNCE_API int32_t jnce_l2_normalize_fwd(const float *x, int64_t N, int64_t D, float eps, float *y);
JNCE_API int32_t jnce_l2_normalize_bwd(const float *x, const float *dy, int64_t N, int64_t D,
                                       float eps, float *dx);

/*
 * F.cosine_similarity(x1, x2, dim=1, eps) row by row (src/cpu/similarity.c), PyTorch 1.13:
 *   out_i = (x1_i / c1_i) . (x2_i / c2_i),  c_i = max(||x_i||_2, eps).
 *   x1, x2, dx1, dx2 (N,D) float32; out, dout (N) float32. dx1 or dx2 may be NULL.
 * Backward: dx1 = dout * (x2/c2 - out * x1/c1) / c1, and symmetrically (also when clamped).
 */
JNCE_API int32_t jnce_cosine_similarity_fwd(const float *x1, const float *x2, int64_t N, int64_t D,
                                            float eps, float *out);
JNCE_API int32_t jnce_cosine_similarity_bwd(const float *x1, const float *x2, const float *dout,
                                            int64_t N, int64_t D, float eps, float *dx1, float *dx2);

/* Distances of the triplet margin loss. */
#define JNCE_DISTANCE_PAIRWISE 0 /* F.pairwise_distance: ||x1 - x2 + eps||_p */
#define JNCE_DISTANCE_COSINE   1 /* 1 - F.cosine_similarity(x1, x2, dim=1, eps) */

/*
 * Triplet margin loss forward and backward (src/cpu/triplet.c), F.triplet_margin_loss or
 * F.triplet_margin_with_distance_loss with a cosine distance:
 *   d_neg = swap ? min(d(a,n), d(p,n)) : d(a,n);   loss_i = max(margin + d(a,p) - d_neg, 0)
 *   anchor, positive, negative, grad_* (N,D) float32;  loss (N) for NONE, else (1).
 *   p (> 0) is used by the pairwise distance only; eps is that distance's eps.
 *   grad_* are all NULL (forward only) or all non-NULL: d(reduced loss)/d(input).
 * A row with a NaN hinge (a NaN or infinite input) has loss NaN and NaN gradient rows for both
 * inputs of each NaN or infinite distance (autograd's 0 * NaN); the other rows are unaffected.
 */
JNCE_API int32_t jnce_triplet_margin_fwd_bwd(const float *anchor, const float *positive,
                                             const float *negative, int64_t N, int64_t D,
                                             int32_t distance, float margin, float p, float eps,
                                             int32_t swap, int32_t reduction, float *loss,
                                             float *grad_anchor, float *grad_positive,
                                             float *grad_negative);

/*
 * Hard-negative mining (src/cpu/mining.c): for each query row of sim (N,M) the indices of the
 * K most similar keys that are not positives, by decreasing similarity, ties by lower index.
 * Positives: query_labels (N) and key_labels (M) when given (same label = positive); else
 * mask (N,M) when given (nonzero = positive); else the diagonal (key i for query i).
 * Label and mask element types are JNCE_DTYPE_INT32 or JNCE_DTYPE_INT64.
 *   indices (N,K) int64, written.  Fails on NaN in sim.
 *   short_row (2) int64 or NULL: a row with fewer than K negatives (every row when K > M)
 *   leaves its row of indices unwritten; with short_row, the call succeeds and short_row =
 *   {first such row, its number of negatives} ({-1, 0} when none); with NULL, the call fails
 *   naming the row.
 */
JNCE_API int32_t jnce_hard_negatives(const float *sim, int64_t N, int64_t M, int64_t K,
                                     const void *query_labels, int32_t query_dtype,
                                     const void *key_labels, int32_t key_dtype,
                                     const void *mask, int32_t mask_dtype, int64_t *indices,
                                     int64_t *short_row);

/*
 * Top-k per row (src/cpu/topk.c): for each row of scores (N,M) the K highest-scoring columns,
 * by decreasing score, ties by lower index, never any of the row's excluded columns; the
 * selection of ranking metrics (Recall@K, NDCG@K), with no sort of the full row.
 *   exclude_offsets (N+1) int64 and exclude_items int32, or both NULL: row i excludes
 *   exclude_items[exclude_offsets[i] .. exclude_offsets[i+1]) (positions into exclude_items;
 *   offsets non-decreasing, items in [0,M): checked by the caller; repeats allowed).
 *   indices (N,K) int64 and values (N,K) float32 (values may be NULL), written; a row with
 *   fewer than K columns left pads with index -1 and value -Inf.
 *   nan_row (1) int64, written: the first row holding NaN in a column it does not exclude
 *   (its indices are then not written), or -1. K may exceed M.
 */
JNCE_API int32_t jnce_topk(const float *scores, int64_t N, int64_t M, int64_t K,
                           const int64_t *exclude_offsets, const int32_t *exclude_items,
                           int64_t *indices, float *values, int64_t *nan_row);

/*
 * Scaled dot-product attention, forward and backward (src/cpu/attention.c), tiled with an online
 * softmax so that no (L, S) matrix exists: out = softmax(q kᵀ * scale + mask) v per batch-head.
 *   q (BH,L,d), k (BH,S,d), v (BH,S,dv), out (BH,L,dv), lse (BH,L) float32; BH = B x H.
 *   key_mask (B,S) int32 or NULL: key j of batch b = bh / H takes part where nonzero.
 *   attn_bias (L,S) float32 or NULL: added to every batch-head's scaled scores (PyTorch's float
 *   attn_mask); finite or -inf (-inf hides a key), never NaN or +inf (not checked here).
 *   causal: query i sees keys j <= i. scale finite, > 0 (1/sqrt(d) is PyTorch's default).
 *   A row with every key masked: out NaN and lse -inf (PyTorch's NaN), or out 0 with
 *   masked_rows_zero. Backward takes the forward's out and lse and dout (BH,L,dv), writes
 *   dq (BH,L,d), dk (BH,S,d), dv_out (BH,S,dv); a masked row gives NaN in its dq row and in all
 *   of its batch-head's dk, dv (as autograd through PyTorch's NaN), or nothing with masked_rows_zero.
 */
JNCE_API int32_t jnce_attention_fwd(int64_t BH, int64_t H, int64_t L, int64_t S, int64_t d, int64_t dv,
                                    const float *q, const float *k, const float *v, const int32_t *key_mask,
                                    const float *attn_bias, float scale, int32_t causal, int32_t masked_rows_zero,
                                    float *out, float *lse);
JNCE_API int32_t jnce_attention_bwd(int64_t BH, int64_t H, int64_t L, int64_t S, int64_t d, int64_t dv,
                                    const float *q, const float *k, const float *v, const int32_t *key_mask,
                                    const float *attn_bias, float scale, int32_t causal, int32_t masked_rows_zero,
                                    const float *out,
                                    const float *dout, const float *lse, float *dq, float *dk, float *dv_out);

/*
 * Rows picked by index and its gradient (src/cpu/gather_rows.c): explicit negatives from
 * mined indices, keys[indices] in PyTorch, and index_add_ of their gradient.
 *   src, dst (M,D) float32;  indices (R) JNCE_DTYPE_INT32 or JNCE_DTYPE_INT64, each in [0,M);
 *   out, grad (R,D) float32.  R may be 0.
 * Forward:  out[r] = src[indices[r]].
 * Backward: dst[indices[r]] += grad[r], in increasing r (float32; repeated indices accumulate).
 * An index outside [0,M) fails the call, naming it, before anything is written.
 */
JNCE_API int32_t jnce_gather_rows_fwd(const float *src, int64_t M, int64_t D, const void *indices,
                                      int32_t index_dtype, int64_t R, float *out);
JNCE_API int32_t jnce_gather_rows_bwd(const float *grad, const void *indices, int32_t index_dtype,
                                      int64_t R, int64_t M, int64_t D, float *dst);

/* ==== CUDA (src/cuda/<op>.cu, libjnce_cuda.so) ========================================== */

/*
 * These functions live in a separate library, libjnce_cuda.so, built only where nvcc is found
 * and loaded by Java only when it loads and a GPU is present; libjnce.so never needs CUDA. The
 * CUDA runtime is linked statically; cuBLAS is opened with dlopen on the first GEMM.
 *
 * A context is one device and one stream. Kernels are queued on the stream and the call
 * returns without waiting; only copies to or from the host (and jnce_cuda_synchronize) wait.
 * Pointers passed with a context are device memory unless the name says host. CUDA errors
 * become JNCE_ERR_OUT_OF_MEMORY (allocation), JNCE_ERR_UNSUPPORTED (no device, driver too old,
 * no kernel image for the GPU, cuBLAS missing), JNCE_ERR_INVALID_ARG or JNCE_ERR_INTERNAL (an
 * illegal address and other faults), with CUDA's message in jnce_cuda_last_error(). Bad data
 * found by a kernel (a class index out of range, a probability row that is not a distribution)
 * fails the next call that waits, as CUDA's own asynchronous errors do.
 */
typedef struct jnce_cuda_ctx jnce_cuda_ctx;

/* The calling thread's last CUDA-side error message (libjnce_cuda.so keeps its own). */
JNCE_API int32_t jnce_cuda_last_error(char *buf, int64_t cap);
/* CUDA runtime version built against and the GPU architectures compiled in. */
JNCE_API int32_t jnce_cuda_build_info(char *buf, int64_t cap);
/* GPUs visible (0 with an error status when there is no driver or no device). */
JNCE_API int32_t jnce_cuda_device_count(int32_t *count);
/* Driver and runtime versions as 1000*major + 10*minor (13000 is CUDA 13.0). */
JNCE_API int32_t jnce_cuda_driver_version(int32_t *driver, int32_t *runtime);
/* Name, compute capability and SM count of a device; total_bytes may be NULL. */
JNCE_API int32_t jnce_cuda_device_name(int32_t device, char *buf, int64_t cap, int64_t *total_bytes);

/* Creates a context (a new non-blocking stream) on device; destroy waits for its stream. */
JNCE_API int32_t jnce_cuda_create(int32_t device, jnce_cuda_ctx **ctx);
JNCE_API int32_t jnce_cuda_destroy(jnce_cuda_ctx *ctx);
/* Waits for the stream; reports bad data found by kernels since the last wait. */
JNCE_API int32_t jnce_cuda_synchronize(jnce_cuda_ctx *ctx);

/* Stream-ordered device memory (cudaMallocAsync / cudaFreeAsync on the context's stream). */
JNCE_API int32_t jnce_cuda_malloc(jnce_cuda_ctx *ctx, int64_t bytes, void **ptr);
JNCE_API int32_t jnce_cuda_free(jnce_cuda_ctx *ctx, void *ptr);
JNCE_API int32_t jnce_cuda_memset_zero(jnce_cuda_ctx *ctx, void *dst, int64_t bytes);
/* Copies; h2d and d2h take host pointers on one side and wait until the copy is done. */
JNCE_API int32_t jnce_cuda_memcpy_h2d(jnce_cuda_ctx *ctx, void *dst, const void *host_src, int64_t bytes);
JNCE_API int32_t jnce_cuda_memcpy_d2h(jnce_cuda_ctx *ctx, void *host_dst, const void *src, int64_t bytes);
JNCE_API int32_t jnce_cuda_memcpy_d2d(jnce_cuda_ctx *ctx, void *dst, const void *src, int64_t bytes);
/* Pinned (page-locked) host memory, for staging buffers that copy at full speed. */
JNCE_API int32_t jnce_cuda_host_alloc(int64_t bytes, void **host_ptr);
JNCE_API int32_t jnce_cuda_host_free(void *host_ptr);

/*
 * jnce_cross_entropy_fwd_bwd on the GPU (src/cuda/cross_entropy.cu): the same meaning and
 * arguments, device pointers. Its value checks (weights, class targets, probability rows) fail
 * the next call that waits, with the CPU kernel's message.
 */
JNCE_API int32_t jnce_cuda_cross_entropy_fwd_bwd(jnce_cuda_ctx *ctx, int64_t N, int64_t C, const float *logits,
                                                 const void *targets, int32_t target_dtype,
                                                 const float *target_probs, const int32_t *row_mask,
                                                 const float *weight, int64_t ignore_index, float label_smoothing,
                                                 float z_loss, int32_t reduction, int32_t zero_if_empty,
                                                 float *loss, float *grad, float *lse);
/* jnce_cross_entropy_perplexity_fwd_bwd on the GPU: the same meaning, device pointers. */
JNCE_API int32_t jnce_cuda_cross_entropy_perplexity_fwd_bwd(jnce_cuda_ctx *ctx, const float *mean_loss, int64_t M, float *ppl,
                                                    float *grad);

/*
 * jnce_hard_negatives and jnce_gather_rows_fwd/_bwd on the GPU (src/cuda/mining.cu): the same
 * meaning and arguments, device pointers but short_row (host: the mining call waits for its
 * count of negatives). The gather's indices are the caller's to check; its backward adds with
 * atomics (repeated indices accumulate in no fixed order).
 */
JNCE_API int32_t jnce_cuda_hard_negatives(jnce_cuda_ctx *ctx, const float *sim, int64_t N, int64_t M, int64_t K,
                                          const void *query_labels, int32_t query_dtype, const void *key_labels,
                                          int32_t key_dtype, const void *mask, int32_t mask_dtype, int64_t *indices,
                                          int64_t *short_row);
JNCE_API int32_t jnce_cuda_gather_rows_fwd(jnce_cuda_ctx *ctx, const float *src, int64_t M, int64_t D, const void *indices,
                                           int32_t index_dtype, int64_t R, float *out);
JNCE_API int32_t jnce_cuda_gather_rows_bwd(jnce_cuda_ctx *ctx, const float *grad, const void *indices, int32_t index_dtype,
                                           int64_t R, int64_t M, int64_t D, float *dst);

/* jnce_triplet_margin_fwd_bwd on the GPU (src/cuda/triplet.cu): the same meaning and arguments, device pointers. */
JNCE_API int32_t jnce_cuda_triplet_margin_fwd_bwd(jnce_cuda_ctx *ctx, const float *anchor, const float *positive,
                                                  const float *negative, int64_t N, int64_t D, int32_t distance,
                                                  float margin, float p, float eps, int32_t swap, int32_t reduction,
                                                  float *loss, float *grad_anchor, float *grad_positive,
                                                  float *grad_negative);

/*
 * jnce_positives_xent_fwd_bwd on the GPU (src/cuda/positives_xent.cu): the same meaning and
 * arguments; S, the labels, the mask, loss and G device pointers, empty_row and counted host
 * pointers: the call waits for the count of positives before it writes anything.
 */
JNCE_API int32_t jnce_cuda_positives_xent_fwd_bwd(jnce_cuda_ctx *ctx, const float *S, int64_t N, int64_t M, int64_t ld,
                                                  const void *query_labels, int32_t query_dtype, const void *key_labels,
                                                  int32_t key_dtype, const int32_t *mask, int64_t self_offset,
                                                  int32_t skip_empty, int32_t reduction, float *loss, float *G,
                                                  int64_t *empty_row, int64_t *counted);

/* jnce_negatives_logits_fwd/_bwd on the GPU (src/cuda/negatives.cu): the same meaning and arguments, device pointers. */
JNCE_API int32_t jnce_cuda_negatives_logits_fwd(jnce_cuda_ctx *ctx, const float *Q, const float *P, const float *Nk,
                                                int64_t N, int64_t K, int64_t D, float alpha, float *L);
JNCE_API int32_t jnce_cuda_negatives_logits_bwd(jnce_cuda_ctx *ctx, const float *G, const float *Q, const float *P,
                                                const float *Nk, int64_t N, int64_t K, int64_t D, float alpha, float *dQ,
                                                float *dP, float *dN);

/*
 * jnce_siglip_fwd_bwd on the GPU (src/cuda/siglip.cu): the same meaning and arguments; S and G
 * device pointers, sums (2) a host pointer: the call waits for the stream.
 */
JNCE_API int32_t jnce_cuda_siglip_fwd_bwd(jnce_cuda_ctx *ctx, const float *S, int64_t N, int64_t M, int64_t ld,
                                          int64_t offset, float bias, double *sums, float *G);

/*
 * jnce_clip_xent_fwd_bwd on the GPU (src/cuda/clip_xent.cu): the same meaning and arguments,
 * device pointers; the rows' and the columns' log-sum-exp first, then G in one pass (G may be S).
 */
JNCE_API int32_t jnce_cuda_clip_xent_fwd_bwd(jnce_cuda_ctx *ctx, const float *S, int64_t N, int64_t ld,
                                             int32_t reduction, float *loss, float *G);

/*
 * jnce_kl_div_fwd_bwd, jnce_entropy_fwd_bwd, jnce_dist_xent_fwd_bwd and jnce_perplexity_fwd_bwd
 * on the GPU (src/cuda/divergence.cu): the same meaning and arguments, device pointers; values
 * and sums in double.
 */
JNCE_API int32_t jnce_cuda_kl_div_fwd_bwd(jnce_cuda_ctx *ctx, const float *input, const float *target, int64_t N,
                                          int64_t C, int32_t log_target, int32_t reduction, float *loss,
                                          float *grad_input, float *grad_target);
JNCE_API int32_t jnce_cuda_entropy_fwd_bwd(jnce_cuda_ctx *ctx, const float *p, int64_t N, int64_t C, int32_t reduction,
                                           float *loss, float *grad);
JNCE_API int32_t jnce_cuda_dist_xent_fwd_bwd(jnce_cuda_ctx *ctx, const float *p, const float *q, int64_t N, int64_t C,
                                             int32_t reduction, float *loss, float *grad_p, float *grad_q);
JNCE_API int32_t jnce_cuda_perplexity_fwd_bwd(jnce_cuda_ctx *ctx, const float *token_loss, const void *keys,
                                              int32_t key_dtype, int64_t ignore_key, int64_t M, float all_ignored,
                                              float *ppl, float *grad);

/*
 * jnce_nll_fwd_bwd on the GPU (src/cuda/nll.cu): the same meaning and arguments, device
 * pointers. Its value checks (weights, targets, probabilities) fail the next call that waits,
 * with the CPU kernel's message.
 */
JNCE_API int32_t jnce_cuda_nll_fwd_bwd(jnce_cuda_ctx *ctx, const float *input, const void *targets,
                                       int32_t target_dtype, const float *weight, int64_t N, int64_t C,
                                       int64_t ignore_index, int32_t reduction, int32_t flags, float *loss,
                                       float *grad);

/*
 * jnce_softmax_focal_fwd_bwd on the GPU (src/cuda/focal.cu): the same meaning and arguments, device
 * pointers; the class indices are the caller's to check (the CPU kernel checks them itself).
 */
JNCE_API int32_t jnce_cuda_softmax_focal_fwd_bwd(jnce_cuda_ctx *ctx, const float *logits, const void *targets,
                                                 int32_t target_dtype, int64_t N, int64_t C, const float *alpha,
                                                 float gamma, int32_t reduction, float *loss, float *grad);

/*
 * jnce_softmax_fwd and its relatives on the GPU (src/cuda/softmax.cu): the same meaning and
 * arguments, non-finite rows included, device pointers; one block a row, row sums in double.
 */
JNCE_API int32_t jnce_cuda_softmax_fwd(jnce_cuda_ctx *ctx, const float *x, int64_t N, int64_t C, float *y);
JNCE_API int32_t jnce_cuda_log_softmax_fwd(jnce_cuda_ctx *ctx, const float *x, int64_t N, int64_t C, float *y);
JNCE_API int32_t jnce_cuda_logsumexp_fwd(jnce_cuda_ctx *ctx, const float *x, int64_t N, int64_t C, float *out);
JNCE_API int32_t jnce_cuda_softmax_bwd(jnce_cuda_ctx *ctx, const float *y, const float *dy, int64_t N, int64_t C,
                                       float *dx);
JNCE_API int32_t jnce_cuda_log_softmax_bwd(jnce_cuda_ctx *ctx, const float *y, const float *dy, int64_t N, int64_t C,
                                           float *dx);
JNCE_API int32_t jnce_cuda_logsumexp_bwd(jnce_cuda_ctx *ctx, const float *x, const float *dout, int64_t N, int64_t C,
                                         float *dx);

/*
 * The linear cross-entropy's soft-capping on the GPU (src/cuda/softcap.cu), in place over n values:
 * softcap s = cap tanh(s / cap); softcap_bwd grad *= 1 - (capped / cap)^2. cap finite and > 0.
 */
JNCE_API int32_t jnce_cuda_softcap(jnce_cuda_ctx *ctx, float *s, int64_t n, float cap);
JNCE_API int32_t jnce_cuda_softcap_bwd(jnce_cuda_ctx *ctx, const float *capped, float *grad, int64_t n, float cap);

/*
 * jnce_bce_fwd_bwd, jnce_bce_logits_fwd_bwd and jnce_sigmoid_focal_fwd_bwd on the GPU
 * (src/cuda/binary_cross_entropy.cu): the same meaning and arguments, device pointers; each
 * element's terms in double, the reduced loss summed in double. No value checks on the device:
 * probabilities in [0,1] and finite weights are checked before the call.
 */
JNCE_API int32_t jnce_cuda_bce_fwd_bwd(jnce_cuda_ctx *ctx, const float *input, const float *target, int64_t numel,
                                       const float *weight, int64_t weight_len, int32_t reduction, float *loss,
                                       float *grad_input, float *grad_target);
JNCE_API int32_t jnce_cuda_bce_logits_fwd_bwd(jnce_cuda_ctx *ctx, const float *input, const float *target,
                                              int64_t numel, const float *weight, int64_t weight_len,
                                              const float *pos_weight, int64_t pos_len, int32_t reduction,
                                              float *loss, float *grad_input, float *grad_target);
JNCE_API int32_t jnce_cuda_sigmoid_focal_fwd_bwd(jnce_cuda_ctx *ctx, const float *input, const float *target,
                                                 int64_t numel, float alpha, float gamma, int32_t reduction,
                                                 float *loss, float *grad_input, float *grad_target);

/* jnce_l2_normalize_fwd/_bwd on the GPU (src/cuda/similarity.cu). */
JNCE_API int32_t jnce_cuda_l2_normalize_fwd(jnce_cuda_ctx *ctx, const float *x, int64_t N, int64_t D, float eps,
                                            float *y);
JNCE_API int32_t jnce_cuda_l2_normalize_bwd(jnce_cuda_ctx *ctx, const float *x, const float *dy, int64_t N,
                                            int64_t D, float eps, float *dx);

/*
 * InfoNCE masking step (src/cuda/infonce.cu), in place on S (N,M) with row stride ld:
 * S[i,j] *= scale, then S[i,i+offset] = value where fill != 0 and 0 <= i+offset < M.
 */
JNCE_API int32_t jnce_cuda_infonce_scale_fill_diagonal(jnce_cuda_ctx *ctx, float *S, int64_t N, int64_t M,
                                                       int64_t ld, float scale, int64_t offset, float value,
                                                       int32_t fill);

/*
 * The InfoNCE row-block sweep's O(N) steps (src/cuda/infonce.cu), device pointers:
 *   diagonal_targets  targets (n) int64: targets[i] = (i + offset) mod modulus; offset >= 0, modulus >= 1
 *   exclude_logits    S (R,M) contiguous, in place: S[i][self_column + i] = value where self_column >= 0
 *                     and that column exists; then, when positives (R) is not NULL, positives[i] = S[i][c_i]
 *                     and S[i][c_i] = value, c_i = (positive_column + i * positive_step) mod M
 *   reduce_rows       l_i = rows_i - minus_i (minus (n) or NULL); loss (n) = l for JNCE_REDUCTION_NONE, else
 *                     loss[0] = sum of l (SUM), or that sum / counted (MEAN; NaN when counted is 0); in double
 */
JNCE_API int32_t jnce_cuda_infonce_diagonal_targets(jnce_cuda_ctx *ctx, int64_t *targets, int64_t n, int64_t offset,
                                                    int64_t modulus);
JNCE_API int32_t jnce_cuda_infonce_exclude_logits(jnce_cuda_ctx *ctx, float *S, int64_t R, int64_t M, int64_t self_column,
                                                  int64_t positive_column, int64_t positive_step, float value,
                                                  float *positives);
JNCE_API int32_t jnce_cuda_infonce_reduce_rows(jnce_cuda_ctx *ctx, const float *rows, const float *minus, int64_t n,
                                               int32_t reduction, int64_t counted, float *loss);

/*
 * jnce_dsdot, jnce_sscal, jnce_saxpy, jnce_scopy and jnce_sfill on the GPU (src/cuda/blas1.cu):
 * x, y device pointers; dsdot's out is a host pointer and the call waits for the stream.
 */
JNCE_API int32_t jnce_cuda_dsdot(jnce_cuda_ctx *ctx, const float *x, const float *y, int64_t n, double *out);
JNCE_API int32_t jnce_cuda_sscal(jnce_cuda_ctx *ctx, int64_t n, float alpha, float *x);
JNCE_API int32_t jnce_cuda_saxpy(jnce_cuda_ctx *ctx, int64_t n, float alpha, const float *x, float *y);
JNCE_API int32_t jnce_cuda_scopy(jnce_cuda_ctx *ctx, int64_t n, const float *x, float *y);
JNCE_API int32_t jnce_cuda_sfill(jnce_cuda_ctx *ctx, int64_t n, float value, float *x);

/* GEMM modes of jnce_cuda_sgemm: products in float32, TF32 or bfloat16; float32 accumulation. */
#define JNCE_CUDA_GEMM_FP32 0
#define JNCE_CUDA_GEMM_TF32 1
#define JNCE_CUDA_GEMM_BF16 2

/* jnce_sgemm on the GPU through cuBLAS (src/cuda/gemm.cu), in one of the modes above. */
JNCE_API int32_t jnce_cuda_sgemm(jnce_cuda_ctx *ctx, int32_t trans_a, int32_t trans_b, int64_t M, int64_t N,
                                 int64_t K, float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                                 float beta, float *C, int64_t ldc, int32_t mode);
/* Where to dlopen cuBLAS from (before the first GEMM); NULL or "" restores the search. */
JNCE_API int32_t jnce_cuda_set_cublas_path(const char *path);
/* Loads cuBLAS if needed and says which file, or why it could not be loaded. */
JNCE_API int32_t jnce_cuda_cublas_info(char *buf, int64_t cap);

#ifdef __cplusplus
}
#endif

#endif /* JNCE_H */
