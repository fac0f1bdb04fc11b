package dev.jnce.loss;

import dev.jnce.Tensor;

/**
 * A loss and its gradient with respect to the one float input it differentiates (log-probabilities,
 * logits or probabilities; class indices have none), shaped like that input; closing it closes
 * both. Returned by {@link NllLoss}, {@link SoftmaxFocalLoss} and {@link Entropy#forwardBackward(Tensor)};
 * {@link CrossEntropy.Result} adds the per-row log-sum-exp.
 *
 * @param loss the loss: shape () for MEAN and SUM, the per-row losses for NONE
 * @param grad d loss / d the float input, shaped like it; null after a forward-only call
 */
public record LossResult(Tensor loss, Tensor grad) implements AutoCloseable {
    @Override
    public void close() {
        loss.close();
        if (grad != null) grad.close();
    }
}
