package dev.jnce.backend;

import dev.jnce.Tensor;

/** Softmax cross-entropy kernels (native/src/cpu/cross_entropy.c and backend/java/JavaCrossEntropy). */
public interface CrossEntropyKernels {

    /**
     * Fused softmax cross-entropy forward and backward, with the meaning jnce.h gives
     * {@code jnce_cross_entropy_fwd_bwd}. Writes {@code loss}, and {@code grad} and {@code lse} when set.
     * The values of the call are checked here and nowhere else (callers check shapes, types and
     * devices): the message names the first offending index and its value, in the same words on
     * every backend.
     *
     * @throws IllegalArgumentException if a class weight is not finite, a class target is outside
     *                                  [0, C) and not the ignore index (nothing is written then),
     *                                  or a probability target row is not a distribution
     */
    void crossEntropy(CrossEntropyCall call);

    /**
     * The perplexity of a mean cross-entropy L (one value, e.g. {@link #crossEntropy}'s MEAN
     * loss): writes {@code perplexity = exp(L)} and scales {@code grad}, the gradient of L (or
     * null), in place into that of the perplexity, {@code exp(L) dL/dx}.
     *
     * @param meanLoss   one float32 value
     * @param perplexity one float32 value, written; may be {@code meanLoss}
     * @param grad       float32 of any shape, or null
     */
    void perplexity(Tensor meanLoss, Tensor perplexity, Tensor grad);
}
