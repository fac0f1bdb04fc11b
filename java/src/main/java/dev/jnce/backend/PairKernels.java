package dev.jnce.backend;

import dev.jnce.Reduction;
import dev.jnce.Tensor;

/**
 * Losses and searches over pairs of rows (native/src/cpu/triplet.c, mining.c, topk.c,
 * gather_rows.c and their Java twins): the triplet margin loss, hard-negative mining, the top-k
 * of ranking metrics, and the gather of mined rows with its scatter-add. Callers have checked every argument.
 */
public interface PairKernels {

    /** Options of the triplet margin loss; p is used by the pairwise distance only. */
    record Triplet(boolean cosine, float margin, float p, float eps, boolean swap, Reduction reduction) {
    }

    /**
     * Triplet margin loss of (N,D) anchor, positive, negative into loss ((N) for NONE, else
     * one element); the three gradients are all null (forward only) or all (N,D). A row whose
     * hinge is NaN has loss NaN and NaN gradient rows for both inputs of each NaN or infinite
     * distance (autograd's 0 · NaN).
     */
    void tripletMargin(Tensor anchor, Tensor positive, Tensor negative, Triplet options, Tensor loss,
                       Tensor gradAnchor, Tensor gradPositive, Tensor gradNegative);

    /**
     * What {@link #hardNegatives} found: the first row with fewer than K negatives (keys that are
     * not its positives) and how many it has, or row -1 when every row has K. A short row's
     * indices are not written.
     */
    record MiningOutcome(long shortRow, long negatives) {
        public static final MiningOutcome COMPLETE = new MiningOutcome(-1, 0);
    }

    /**
     * Indices (N,K) int64 of the K most similar non-positive keys of each row of sim (N,M),
     * by decreasing similarity, ties by lower index. Positives: queryLabels (N) and keyLabels
     * (M) when non-null, else mask (N,M) when non-null (nonzero = positive), else the diagonal.
     * Callers have checked that sim holds no NaN; rows with fewer than K negatives are reported,
     * the counting costs nothing beside the search.
     */
    MiningOutcome hardNegatives(Tensor sim, Tensor queryLabels, Tensor keyLabels, Tensor mask, Tensor indices);

    /**
     * Indices (N,K) int64 of the K highest scores of each row of scores (N,M) float32, by
     * decreasing score, ties by lower index, leaving out row i's excluded columns
     * {@code excludeItems[excludeOffsets[i] .. excludeOffsets[i+1])} (offsets (N+1) int64,
     * items int32 in [0,M); both null for none), and their scores into values (N,K) float32
     * when non-null. A row with fewer than K columns left pads with index -1 and score -Inf.
     * Returns the first row holding NaN in a column it does not exclude, or -1; that row's
     * outputs are not written.
     */
    long topK(Tensor scores, Tensor excludeOffsets, Tensor excludeItems, Tensor indices, Tensor values);

    /**
     * Rows of keys (M,D) picked by indices (int32 or int64, any shape of R elements, each in
     * [0, M)) into out (R,D) or any shape of R·D elements: {@code out[r] = keys[indices[r]]}.
     */
    void gatherRows(Tensor keys, Tensor indices, Tensor out);

    /**
     * The gradient of {@link #gatherRows}: {@code gradKeys[indices[r]] += grad[r]} for r in
     * increasing order, in float32 (repeated indices accumulate); gradKeys (M,D), grad R·D.
     */
    void gatherRowsBackward(Tensor grad, Tensor indices, Tensor gradKeys);
}
