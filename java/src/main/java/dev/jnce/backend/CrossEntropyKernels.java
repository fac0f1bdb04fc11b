package dev.jnce.backend;

import dev.jnce.Tensor;
import dev.jnce.loss.Reduction;

/** Softmax cross-entropy kernels (native/src/cpu/softmax_xent.c and its Java twin). */
public interface CrossEntropyKernels {

    /**
     * Fused softmax cross-entropy forward and backward.
     *
     * @param logits    (N,C) float32
     * @param targets   (N) int32 or int64 in [0,C)
     * @param reduction how the row losses are combined into {@code loss}
     * @param loss      (N) for {@link Reduction#NONE}, else () float32, written
     * @param grad      (N,C) float32 or null for forward only; may be {@code logits} itself.
     *                  d(reduced loss)/d(logits); for NONE the gradient of the sum of losses
     */
    void softmaxCrossEntropy(Tensor logits, Tensor targets, Reduction reduction, Tensor loss, Tensor grad);
}
