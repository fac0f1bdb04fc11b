package dev.jnce.ops;

import dev.jnce.Tensor;

/**
 * The gradients of an op of two inputs, in argument order: {@code dA} with respect to the
 * first ({@code a} of {@link Similarity}, {@code x1} of {@link CosineSimilarity}), {@code dB}
 * with respect to the second ({@code b}, {@code x2}). Closing it closes both.
 *
 * @param dA the gradient with respect to the first input, or null when skipped
 * @param dB the gradient with respect to the second input, or null when skipped
 */
public record Gradients(Tensor dA, Tensor dB) implements AutoCloseable {
    @Override
    public void close() {
        dA.close();
        dB.close();
    }
}
