package dev.jnce.loss;

import dev.jnce.Tensor;

/**
 * A loss and its gradients with respect to the input (probabilities or logits) and to the
 * target, each shaped like the input; closing it closes all three. The targets are float
 * inputs too: PyTorch gives them a gradient, and so does jnce (useful when targets come from
 * another model, as in distillation).
 */
public record BinaryLossResult(Tensor loss, Tensor gradInput, Tensor gradTarget) implements AutoCloseable {
    @Override
    public void close() {
        loss.close();
        gradInput.close();
        gradTarget.close();
    }
}
