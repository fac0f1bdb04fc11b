package dev.jnce.backend;

import dev.jnce.Reduction;
import dev.jnce.Tensor;

/**
 * The contrastive family's fused passes over a logit matrix (native/src/cpu/symmetric_xent.c,
 * positives_xent.c, clip_xent.c, siglip.c, negatives.c, bpr.c and their Java twins): the cross-entropy
 * of the symmetric one-tensor logits, several positives per row, CLIP's two directions,
 * SigLIP's pairwise sigmoid, and the logits of explicit negatives; and the O(N) steps of the
 * InfoNCE row-block sweep around the cross-entropy (targets, excluded logits, the reduction of
 * the rows' losses, the label check of the one-tensor label form). Callers have checked every
 * argument; all float tensors are float32, row-major and contiguous; label tensors are int32 or
 * int64.
 */
public interface ContrastiveKernels {

    /**
     * A logit that takes no part in a softmax: -Infinity, whose exp is exactly 0 whatever the
     * row's other logits are (a finite stand-in such as -1e30 would compete with real logits of
     * that size, which a tiny temperature or unnormalised embeddings can reach).
     */
    float EXCLUDED = Float.NEGATIVE_INFINITY;

    /**
     * Targets of {@link #symmetricCrossEntropy}: row i's target is column (i + offset) mod N;
     * excludeSelf leaves column i out of row i's softmax (needs offset != 0), decoupled leaves
     * the target out of it (the loss is then log sum over the others minus the target's logit).
     * With labels (int32 or int64 (N), not null), the targets are instead uniform over the other rows
     * with row i's label (SupCon); offset and decoupled are then unused and excludeSelf is
     * implied. A label on one row only leaves that row without positive: an error unless
     * skipEmpty, which leaves the row out (loss 0, no gradient, not in the mean).
     */
    record SymmetricTargets(long offset, boolean excludeSelf, boolean decoupled, Reduction reduction, Tensor labels,
                            boolean skipEmpty) {
        /** One target per row, (i + offset) mod N. */
        public SymmetricTargets(long offset, boolean excludeSelf, boolean decoupled, Reduction reduction) {
            this(offset, excludeSelf, decoupled, reduction, null, false);
        }

        /** Label targets. */
        public static SymmetricTargets labels(Tensor labels, boolean skipEmpty, Reduction reduction) {
            return new SymmetricTargets(0, true, false, reduction, labels, skipEmpty);
        }
    }

    /**
     * The row stride, in floats, of the logit buffer this backend's symmetric path works in for
     * N rows: N (the default), or more where a longer row avoids cache-set conflicts. The caller
     * then hands {@link SimilarityKernels#syrk}, {@link #symmetricCrossEntropy} and
     * {@link #symmetricGradient} an (N, stride) buffer whose first N columns are the logits.
     *
     * @param n the rows of the logit matrix, &ge; 1
     * @return the row stride, &ge; n
     */
    default long symmetricRowStride(long n) {
        return n;
    }

    /**
     * The row stride, in floats, of a buffer of logit rows cols wide that CLIP's, SigLIP's and the
     * plain two-tower paths work in: cols (the default), or more where a longer row avoids
     * cache-set conflicts. The caller then hands {@link SimilarityKernels#gemm} (as c, and as a),
     * {@link #clipCrossEntropy}, {@link #sigLipPairs(Tensor, long, long, float, Tensor)} and
     * {@link CrossEntropyKernels#crossEntropyRows} a (rows, stride) buffer whose first cols
     * columns are the logits.
     *
     * @param cols the logits' width, &ge; 1
     * @return the row stride, &ge; cols
     */
    default long logitRowStride(long cols) {
        return cols;
    }

    /**
     * Cross-entropy over the rows of a symmetric logit matrix s (N,N) of which only the lower
     * triangle (j <= i, what {@link SimilarityKernels#syrk} writes) is read: the one-tensor InfoNCE forms. loss is
     * (N) for NONE, else one element. grad is null (the loss alone) or (N,N), and may be s: it
     * receives, in full, g + gᵀ with g = d loss / d s (of the row sum for NONE), so that one GEMM
     * gives the embeddings' gradient. Rows that meet a NaN or +Inf logit get loss NaN and NaN in
     * their row and column of grad. Callers have checked that every row keeps a candidate. Where
     * {@link #symmetricRowStride} is more than N, s (and grad) are (N, stride): the logits are
     * their first N columns.
     */
    void symmetricCrossEntropy(Tensor s, SymmetricTargets targets, Tensor loss, Tensor grad);

    /**
     * {@link #symmetricCrossEntropy}'s loss and, in the same call, the product its gradient
     * needs: df (N,D) = alpha (g + gᵀ) f for f (N,D), which is d loss / d f when s = f fᵀ / tau
     * and alpha = 1 / tau. s is the call's scratch: it holds the logits' lower triangle on entry
     * and, afterwards, as much of g + gᵀ as this backend's product reads. The default writes
     * g + gᵀ over s in full and takes one GEMM of sim; a backend may write only the lower
     * triangle (and blocks along the diagonal) and take the product as block GEMMs, which saves
     * writing the mirrored half, or form g + gᵀ in tiles and multiply each where it lies, which
     * writes none of it.
     */
    default void symmetricGradient(Tensor s, SymmetricTargets targets, Tensor loss, float alpha, Tensor f, Tensor df,
                                   SimilarityKernels sim) {
        symmetricCrossEntropy(s, targets, loss, s);
        sim.gemm(false, false, alpha, s, f, 0f, df);
    }

    /**
     * Targets of {@link #positivesCrossEntropy}: row i's positives are the keys j with
     * {@code keyLabels[j] == queryLabels[i]} (int32 or int64 (N) and (M), each of either type), or else those with
     * {@code mask[i][j] != 0} (int32 (N,M)). selfOffset >= 0 (one tensor): column i + selfOffset
     * is row i's own and takes no part in it (0 for the whole matrix, the first row of a block of
     * rows); -1: none. skipEmpty leaves rows without positive out (loss 0, zero gradient, not in
     * the mean); otherwise such a row is reported and nothing is written.
     */
    record PositiveTargets(Tensor queryLabels, Tensor keyLabels, Tensor mask, long selfOffset, boolean skipEmpty,
                           Reduction reduction) {
        public static PositiveTargets labels(Tensor queryLabels, Tensor keyLabels, long selfOffset, boolean skipEmpty,
                                             Reduction reduction) {
            return new PositiveTargets(queryLabels, keyLabels, null, selfOffset, skipEmpty, reduction);
        }

        public static PositiveTargets mask(Tensor mask, boolean skipEmpty, Reduction reduction) {
            return new PositiveTargets(null, null, mask, -1, skipEmpty, reduction);
        }
    }

    /**
     * What {@link #positivesCrossEntropy} found: the rows counted (those with a positive), and
     * the first row without positive when skipEmpty is off (then nothing was written), else -1.
     */
    record PositivesOutcome(long counted, long rowWithoutPositive) {
    }

    /**
     * Cross-entropy with several positives per row over a logit matrix s (N,M) (native
     * jnce_positives_xent_fwd_bwd states the meaning), the target uniform over each row's positives, with
     * no (N,M) target buffer. loss is (N) for NONE, else one element; grad is null or (N,M) and
     * may be s. Rows that meet NaN or +Inf get loss NaN and a NaN gradient row. With NONE on a
     * block of rows (labels or mask rows of that block) it gives the rows' losses and the
     * gradient of their sum.
     */
    PositivesOutcome positivesCrossEntropy(Tensor s, PositiveTargets targets, Tensor loss, Tensor grad);

    /**
     * CLIP's symmetric cross-entropy over a square logit matrix s (N,N) (native jnce_clip_xent_fwd_bwd
     * states the meaning): the mean of the cross-entropy over the rows and over the columns, each
     * pair on the diagonal, both read from s as it lies. loss is (N) for NONE, else one element.
     * grad is null or (N,N) and may be s: it receives d loss / d s (of the pairs' sum for NONE), so
     * that {@code grad b} and {@code gradᵀ a} give the towers' gradients. A row or column that
     * meets NaN or +Inf makes its pair's loss NaN, and its row or column of grad. Where
     * {@link #logitRowStride}(N) is more than N, s and grad are (N, stride): the logits are their
     * first N columns.
     */
    void clipCrossEntropy(Tensor s, Reduction reduction, Tensor loss, Tensor grad);

    /**
     * {@link #clipCrossEntropy} over s (N, stride) = scale a bᵀ and the towers' gradients from
     * G = d loss / d s: da = alpha G b and db = alpha Gᵀ a, (N, D) each, overwritten. a, b, da
     * and db are contiguous; da and db overlap neither each other nor the inputs. s's contents
     * are unspecified afterwards. The default writes G into s and takes the two products with
     * sim; a backend may form G a tile at a time and multiply it in the cache.
     */
    default void clipGradient(Tensor s, Reduction reduction, Tensor loss, Tensor a, Tensor b, float alpha, Tensor da, Tensor db,
                              SimilarityKernels sim) {
        clipCrossEntropy(s, reduction, loss, s);
        sim.gemm(false, false, alpha, s, b, 0f, da);
        sim.gemm(true, false, alpha, s, a, 0f, db);
    }

    /** What {@link #sigLipPairs} sums over the pairs: their losses, and their gradients (d sum / d bias). */
    record PairSums(double loss, double grad) {
    }

    /**
     * SigLIP's pairwise sigmoid loss over a logit matrix s (N,M) in one pass (native jnce_siglip_fwd_bwd
     * states the meaning): pair (i, j) has logit s_ij + bias and label +1 where j = i + offset
     * (the batch's diagonal: offset 0 for the whole batch, r0 for a block of rows from batch row
     * r0), -1 elsewhere. grad is null or (N,M) and may be s: it receives d (sum of the losses) /
     * d s_ij = sigmoid(s_ij + bias) - [j = i + offset]. A NaN logit makes the sums NaN.
     */
    PairSums sigLipPairs(Tensor s, long offset, float bias, Tensor grad);

    /**
     * {@link #sigLipPairs(Tensor, long, float, Tensor)} over the first cols columns of s and grad,
     * (N, stride) buffers of {@link #logitRowStride}(cols). The default takes unpadded rows only.
     *
     * @throws IllegalArgumentException if this backend takes no padded rows and cols is not s's width
     */
    default PairSums sigLipPairs(Tensor s, long cols, long offset, float bias, Tensor grad) {
        if (cols != s.size(1)) {
            throw new IllegalArgumentException("s: rows of " + s.size(1) + " floats for " + cols + " logits; this backend takes unpadded rows");
        }
        return sigLipPairs(s, offset, bias, grad);
    }

    /**
     * The cross-entropy rows of a block of two-tower logits s (rows, stride) = scale q kᵀ (the
     * first cols columns; keys k (cols, D)), one target a row (targets int64 (rows)), nothing
     * taken out: their losses into loss (rows) as {@link CrossEntropyKernels#crossEntropyRows} with
     * Reduction.NONE gives them, and the towers' gradients from G = d (sum of the rows' losses) /
     * d s: dq (rows, D) = alpha G k (overwritten) and dk (cols, D) = alpha Gᵀ q + beta dk (beta 0
     * or 1; dk not read for 0). q, k, dq and dk are contiguous; dq and dk overlap neither each other
     * nor the inputs (q may be a block of k's rows: the one-tensor sweep). s's contents are
     * unspecified afterwards. The default writes G into s and takes the two products with sim; a
     * backend may form G a tile at a time from the rows' log-sum-exp and multiply it in the cache.
     */
    default void crossEntropyGradient(CrossEntropyKernels ce, SimilarityKernels sim, Tensor s, long cols, Tensor targets,
                                      Tensor loss, Tensor q, Tensor k, float alpha, float beta, Tensor dq, Tensor dk) {
        ce.crossEntropyRows(new CrossEntropyCall(s, targets, null, null, null, -1, 0f, 0f, Reduction.NONE, false, loss, s, null),
                cols);
        sim.gemm(false, false, alpha, s, k, 0f, dq);
        sim.gemm(true, false, alpha, s, q, beta, dk);
    }

    /**
     * {@link #sigLipPairs(Tensor, long, long, float, Tensor)} over s (rows, stride) = scale a bᵀ
     * (a block of the batch's rows from row offset, cols = b's rows), and the towers' gradients
     * from G = d (sum of the losses) / d s: da (rows, D) = alpha G b (overwritten) and db (cols, D)
     * = alpha Gᵀ a + beta db (beta 0 or 1; db not read for 0). a, b, da and db are contiguous and
     * distinct. s's contents are unspecified afterwards. The default writes G into s and takes
     * the two products with sim; a backend may form G a tile at a time and multiply it in the
     * cache.
     *
     * @return the pairs' sums, the same as sigLipPairs gives for the same s
     */
    default PairSums sigLipGradient(Tensor s, long cols, long offset, float bias, Tensor a, Tensor b, float alpha, float beta,
                                    Tensor da, Tensor db, SimilarityKernels sim) {
        PairSums sums = sigLipPairs(s, cols, offset, bias, s);
        sim.gemm(false, false, alpha, s, b, 0f, da);
        sim.gemm(true, false, alpha, s, a, beta, db);
        return sums;
    }

    /**
     * The logits of InfoNCE with explicit negatives: for q, p (N,D) and n (N,K,D), logits (N,K+1)
     * = alpha [q_i . p_i, q_i . n_i1, ..., q_i . n_iK] (native jnce_negatives_logits_fwd).
     */
    void negativeLogits(Tensor q, Tensor p, Tensor n, float alpha, Tensor logits);

    /**
     * Their gradients given g = d loss / d logits (N,K+1): dq_i = alpha (g_i0 p_i + sum_j g_ij n_ij),
     * dp_i = alpha g_i0 q_i, dn_ij = alpha g_ij q_i; dq, dp (N,D) and dn (N,K,D) are overwritten.
     */
    void negativeLogitsBackward(Tensor g, Tensor q, Tensor p, Tensor n, float alpha, Tensor dq, Tensor dp, Tensor dn);

    /**
     * Targets and corrections of {@link #retrievalCrossEntropy} for a block of R rows of logits
     * s (R,M) (and s2 (R,M2) when given: more candidates of the same softmax). Row i's target is
     * column {@code t_i = targetColumn + i} of s. Its logits are {@code z_ij = s_ij - b_j} with
     * {@code b_j = columnBias[j]} (float32 (M), or null: 0), or, when biasIsProbability,
     * {@code b_j = log(clamp(columnBias[j], 1e-6, 1))} (TFRS's sampling-probability correction);
     * then {@code z_it -= margin}. Taken out of the softmax (probability 0, not counted by the
     * smoothing): column {@code selfColumn + i} of s when selfColumn &gt;= 0 and it exists, column
     * {@code self2Column + i} of s2 likewise; every column j != t_i with
     * {@code columnIds[j] == columnIds[t_i]} (int32 or int64 (M), or null: none; accidental
     * hits); and, when inBatchColumns &gt; 0, every column j &lt; inBatchColumns other than t_i.
     * With K_i the candidates left, {@code loss_i = (1 - eps)(lse_i - z_it) + eps (lse_i - mean of
     * z_ij over them)}, eps = labelSmoothing: F.cross_entropy's smoothing over the candidates.
     */
    record RetrievalTargets(long targetColumn, long selfColumn, long self2Column, Tensor columnBias,
                            boolean biasIsProbability, Tensor columnIds, long inBatchColumns, float margin,
                            float labelSmoothing) {
    }

    /**
     * The cross-entropy of a block of retrieval logits with the corrections of
     * {@link RetrievalTargets}: rowLoss (R) receives each row's loss; when gradients, s (and s2)
     * are overwritten with {@code d loss_i / d s_ij} (0 where excluded). Returns the sum over the
     * rows of the gradient at their targets (0 without gradients), which the temperature's
     * gradient needs when a margin is set. A row meeting NaN or +Inf gets loss NaN and a NaN
     * gradient row.
     */
    double retrievalCrossEntropy(Tensor s, Tensor s2, RetrievalTargets targets, Tensor rowLoss, boolean gradients);

    /**
     * BPR (Rendle et al. 2009) over logits (N,K+1) with the positive in column 0: rowLoss (N)
     * receives {@code (1/K) sum_k softplus(l_ik - l_i0)} (= -mean_k log sigmoid(l_i0 - l_ik)),
     * and grad (N,K+1), null or the logits themselves, its gradient.
     */
    void bprPairs(Tensor logits, Tensor rowLoss, Tensor grad);

    /**
     * BPR's whole call in one pass, where this backend has one: for q, p (N,D) and n (N,K,D),
     * {@code x_ik = q_i . n_ik - q_i . p_i}, the rows' {@code (1/K) sum_k softplus(x_ik)} reduced
     * into loss ((N) for NONE, else one element: the sum, or the sum / N for MEAN), and the
     * gradients of that loss (of the rows' sum for NONE) overwriting dq, dp (N,D) and dn (N,K,D).
     * Returns false, having written nothing, where the backend has no such pass: the caller then
     * composes {@link #negativeLogits}, {@link #bprPairs} and {@link #negativeLogitsBackward}.
     */
    default boolean bprLoss(Tensor q, Tensor p, Tensor n, Reduction reduction, Tensor loss, Tensor dq, Tensor dp, Tensor dn) {
        return false;
    }

    // ---- the O(N) steps of the row-block sweep --------------------------------------------

    /**
     * Class targets on a diagonal: {@code targets[i] = (i + offset) mod modulus}, targets int64
     * (N), offset >= 0, modulus >= 1. The positives of the in-batch forms (offset 0), of NT-Xent's
     * 2N views (offset N), and of a block of rows (offset its first row).
     */
    void diagonalTargets(long offset, long modulus, Tensor targets);

    /**
     * Takes entries of a block of logits s (R,M) out of its softmax, in place, before its
     * cross-entropy. selfColumn >= 0: {@code s[i][selfColumn + i] = EXCLUDED} where that column
     * exists (a row's similarity to itself in the one-tensor forms; selfColumn is the block's
     * first row); -1: none. positives (R) float32, or null: {@code positives[i] = s[i][c_i]},
     * then {@code s[i][c_i] = EXCLUDED}, with {@code c_i = (positiveColumn + i * positiveStep) mod M}
     * (step 1: a diagonal; step 0: one column): the positive logit, which decoupled contrastive
     * learning (Yeh et al. 2022) leaves out of the denominator. Both apply, self first.
     */
    void excludeLogits(Tensor s, long selfColumn, long positiveColumn, long positiveStep, Tensor positives);

    /**
     * The rows' losses reduced: {@code l_i = rows_i - minus_i} (minus (N) float32, or null for
     * none); loss (N) receives l for NONE, else one element: the sum of l for SUM, that sum /
     * counted for MEAN (NaN when counted is 0, PyTorch's mean of nothing). Summed in double in
     * row order: the result does not depend on the thread count. loss may be rows (NONE).
     */
    void reduceRows(Tensor rows, Tensor minus, Reduction reduction, long counted, Tensor loss);

    /**
     * The first row of labels (N) whose label no other row carries, or -1: in the one-tensor
     * label form (SupCon) such a row has no positive.
     */
    long firstUnsharedLabel(Tensor labels);
}
