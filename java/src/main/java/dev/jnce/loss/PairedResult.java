package dev.jnce.loss;

import dev.jnce.Tensor;

/**
 * The result of a loss over paired towers a (N,D) and b (N,D) with logits
 * {@code scale * â b̂ᵀ + bias}: {@link ClipLoss} and {@link SigLipLoss}. Closing it closes the
 * tensors.
 *
 * @param loss           shape () for MEAN and SUM, (N) for NONE (CLIP only)
 * @param gradA          d loss / d a (N,D)
 * @param gradB          d loss / d b (N,D)
 * @param gradLogitScale d loss / d scale (a learnt {@code t = log scale} gets scale times it)
 * @param gradBias       d loss / d bias (0 for CLIP, whose softmax ignores a shift)
 */
public record PairedResult(Tensor loss, Tensor gradA, Tensor gradB, float gradLogitScale, float gradBias)
        implements AutoCloseable {

    /**
     * The scalar gradients, what the forms that write into a caller's tensors return.
     *
     * @param gradLogitScale d loss / d logit scale (not d loss / d log scale)
     * @param gradBias d loss / d bias (always 0 for CLIP)
     */
    public record Scalars(float gradLogitScale, float gradBias) {
    }

    @Override
    public void close() {
        loss.close();
        gradA.close();
        gradB.close();
    }
}
