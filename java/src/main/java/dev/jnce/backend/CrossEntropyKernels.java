package dev.jnce.backend;

/** Softmax cross-entropy kernels (native/src/cpu/cross_entropy.c and backend/java/JavaCrossEntropy). */
public interface CrossEntropyKernels {

    /**
     * Fused softmax cross-entropy forward and backward, with the meaning jnce.h gives
     * {@code jnce_cross_entropy}. Writes {@code loss}, and {@code grad} and {@code lse} when set.
     *
     * @throws IllegalArgumentException if a probability target row is not a distribution
     */
    void crossEntropy(CrossEntropyCall call);
}
