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
     * {@link #crossEntropy} over logits, and a gradient, whose rows are longer than the classes:
     * call's logits (and grad) are (N, stride) buffers of
     * {@link ContrastiveKernels#logitRowStride}(classes) whose first classes columns are the
     * logits (native {@code jnce_cross_entropy_strided_fwd_bwd}); probability targets stay
     * (N, classes). The default takes unpadded rows only.
     *
     * @throws IllegalArgumentException as {@link #crossEntropy}, or if this backend takes no padded
     *                                  rows and classes is not the logits' width
     */
    default void crossEntropyRows(CrossEntropyCall call, long classes) {
        if (classes != call.c()) {
            throw new IllegalArgumentException("logits: rows of " + call.c() + " floats for " + classes
                    + " classes; this backend takes unpadded rows");
        }
        crossEntropy(call);
    }

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

    /**
     * Reads class targets once for a MEAN taken apart from the kernel (the row blocks of the
     * linear cross-entropy): checks each is in [0, classes) or the ignore index, and returns
     * {@code {counted rows, denominator}}, the denominator being the sum of the counted rows' class
     * weights, or their number when weight is null.
     *
     * @param targets (N) int32 or int64
     * @param weight  (classes) float32 with finite values, or null
     * @throws IllegalArgumentException naming {@code targets[i]}, its value and the range, for the
     *                                  first target out of range
     */
    double[] classTargetTotals(Tensor targets, Tensor weight, long ignoreIndex, long classes);

    /** Soft-capping in place: {@code s = cap * tanh(s / cap)}, cap finite and &gt; 0. */
    void softcap(Tensor s, float cap);

    /**
     * The soft-cap's derivative applied to a gradient in place: {@code grad *= 1 - (capped / cap)^2},
     * capped being {@link #softcap}'s output; both of one shape.
     */
    void softcapBackward(Tensor capped, Tensor grad, float cap);
}
