package dev.jnce.backend;

import dev.jnce.Reduction;
import dev.jnce.Tensor;

/**
 * Losses and searches over pairs of rows (native/src/cpu/triplet.c, mining.c and their Java
 * twins): the triplet margin loss and hard-negative mining. Callers have checked every argument.
 */
public interface PairKernels {

    /** Options of the triplet margin loss; p is used by the pairwise distance only. */
    record Triplet(boolean cosine, float margin, float p, float eps, boolean swap, Reduction reduction) {
    }

    /**
     * Triplet margin loss of (N,D) anchor, positive, negative into loss ((N) for NONE, else
     * one element); the three gradients are all null (forward only) or all (N,D).
     */
    void tripletMargin(Tensor anchor, Tensor positive, Tensor negative, Triplet options, Tensor loss,
                       Tensor gradAnchor, Tensor gradPositive, Tensor gradNegative);

    /**
     * Indices (N,K) int64 of the K most similar non-positive keys of each row of sim (N,M),
     * by decreasing similarity, ties by lower index. Positives: queryLabels (N) and keyLabels
     * (M) when non-null, else mask (N,M) when non-null (nonzero = positive), else the diagonal.
     * Callers have checked that sim holds no NaN and that every row has K negatives.
     */
    void hardNegatives(Tensor sim, Tensor queryLabels, Tensor keyLabels, Tensor mask, Tensor indices);
}
