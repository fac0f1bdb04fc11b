package dev.jnce.loss;

import dev.jnce.Tensor;

/**
 * The result of a loss over one embedding tensor f (N,D) whose logits are {@code f fᵀ / tau}:
 * {@link InfoNce#forwardBackward(Tensor)}, {@link InfoNce#forwardBackwardLabels(Tensor, Tensor)}
 * and {@link NtXent}. Closing it closes both tensors.
 *
 * @param loss            shape () for MEAN and SUM, (N) for NONE
 * @param grad            d loss / d f (N,D): both sides of {@code f fᵀ} (for NONE, of the sum of the rows' losses)
 * @param gradTemperature d loss / d tau
 */
public record EmbeddingResult(Tensor loss, Tensor grad, float gradTemperature) implements AutoCloseable {
    @Override
    public void close() {
        loss.close();
        grad.close();
    }
}
