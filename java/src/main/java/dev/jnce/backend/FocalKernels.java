package dev.jnce.backend;

import dev.jnce.Tensor;
import dev.jnce.Reduction;

/**
 * Focal-loss kernels (native/src/cpu/focal.c and its Java twin), with torchvision's options in its
 * order: alpha weighs the classes, gamma is the exponent of the modulating factor (1 - p_t).
 * Gradients are of the reduced loss (for NONE: of the sum).
 */
public interface FocalKernels {

    /**
     * torchvision's {@code sigmoid_focal_loss}, element-wise over input and target of one shape.
     * Element k is read before its outputs are written, so gradInput may be input and gradTarget
     * may be target.
     *
     * @param alpha      weight of positives in [0,1]; negative: no weighting
     * @param gamma      focusing exponent, finite and &ge; 0
     * @param loss       shape of input for NONE, else () float32, written
     * @param gradInput  shape of input, or null
     * @param gradTarget shape of input, or null
     */
    void sigmoidFocal(Tensor input, Tensor target, float alpha, float gamma, Reduction reduction, Tensor loss,
                      Tensor gradInput, Tensor gradTarget);

    /**
     * Multi-class focal loss on softmax probabilities, {@code -alpha_t (1-p_t)^gamma log p_t} per row.
     *
     * @param logits  (N,C) float32
     * @param targets (N) int32 or int64 in [0,C)
     * @param alpha   (C) float32 or null
     * @param loss    (N) for NONE, else () float32, written
     * @param grad    (N,C) float32 or null; may be {@code logits} itself
     */
    void softmaxFocal(Tensor logits, Tensor targets, Tensor alpha, float gamma, Reduction reduction, Tensor loss,
                      Tensor grad);
}
