package dev.jnce.loss;

import dev.jnce.Tensor;

/**
 * A loss and its gradients with respect to the input (probabilities, log-probabilities or
 * logits) and to the target, each shaped like what it differentiates; closing it closes all
 * three. The losses that return it: binary cross-entropy (with logits), sigmoid focal loss,
 * KL divergence and the cross-entropy of two distributions. Targets are float inputs too:
 * PyTorch gives them a gradient, and so does jnce (useful when targets come from another model,
 * as in distillation).
 *
 * @param loss the loss: shape () for MEAN and SUM (BATCHMEAN), the per-element or per-row losses for
 *   NONE
 * @param gradInput d loss / d input, shaped like the input; null when not asked for
 * @param gradTarget d loss / d target, shaped like the target; null when not asked for
 */
public record InputTargetResult(Tensor loss, Tensor gradInput, Tensor gradTarget) implements AutoCloseable {
    @Override
    public void close() {
        loss.close();
        if (gradInput != null) gradInput.close();
        if (gradTarget != null) gradTarget.close();
    }
}
