package dev.jnce.backend;

import dev.jnce.Tensor;
import dev.jnce.Reduction;

/**
 * Element-wise binary cross-entropy kernels (native/src/cpu/binary_cross_entropy.c and its Java
 * twin). Input and target have the same shape and are read flattened (numel elements); element k
 * uses {@code weight[k % weight.numel()]} and {@code posWeight[k % posWeight.numel()]}, so a weight
 * of the trailing shape of input broadcasts over the leading dimensions. The loss is the mean
 * over all elements for MEAN. Gradients are of the reduced loss (for NONE: of the sum). Element k
 * is read before its outputs are written, so gradInput may be input and gradTarget may be target.
 */
public interface BinaryCrossEntropyKernels {

    /**
     * {@code F.binary_cross_entropy} on probabilities.
     *
     * @param weight     float32 or null
     * @param loss       shape of input for NONE, else () float32, written
     * @param gradInput  shape of input, or null
     * @param gradTarget shape of input, or null
     */
    void binaryCrossEntropy(Tensor input, Tensor target, Tensor weight, Reduction reduction, Tensor loss,
                            Tensor gradInput, Tensor gradTarget);

    /** {@code F.binary_cross_entropy_with_logits}; posWeight float32 or null, otherwise as above. */
    void binaryCrossEntropyWithLogits(Tensor input, Tensor target, Tensor weight, Tensor posWeight, Reduction reduction,
                                      Tensor loss, Tensor gradInput, Tensor gradTarget);
}
