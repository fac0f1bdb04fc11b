package dev.jnce.backend;

import dev.jnce.Tensor;
import dev.jnce.Reduction;

/** Negative log-likelihood kernels (native/src/cpu/nll.c and its Java twin). */
public interface NllKernels {

    /**
     * NLL forward and backward.
     *
     * @param input             (N,C) float32 log-probabilities, or probabilities if {@code fromProbabilities}
     * @param targets           (N) int32 or int64, each in [0,C) or equal to {@code ignoreIndex} (checked here)
     * @param weight            (C) float32 class weights, or null for all ones
     * @param fromProbabilities the loss uses max(log p, -100), gradient 0 where clamped
     * @param zeroWhenNoWeight  a MEAN over no row of non-zero weight is 0 (gradient 0), not NaN
     * @param loss              (N) for {@link Reduction#NONE}, else () float32, written
     * @param grad              (N,C) float32 or null; may be {@code input}. d(reduced loss)/d(input),
     *                          for NONE of the sum of losses
     * @throws IllegalArgumentException if a target is outside [0, C) and not {@code ignoreIndex},
     *                                  or, from probabilities, {@code input[i, t_i]} is outside [0, 1]
     *                                  (NaN passes): the kernel's own checks, made before anything is
     *                                  written, naming the first such row and its value
     */
    void nll(Tensor input, Tensor targets, Tensor weight, long ignoreIndex, Reduction reduction,
             boolean fromProbabilities, boolean zeroWhenNoWeight, Tensor loss, Tensor grad);
}
