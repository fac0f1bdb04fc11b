package dev.jnce.distributed;

import dev.jnce.Tensor;

/**
 * CLIP's symmetric loss over a batch sharded across ranks: the mean of the two InfoNCE directions
 * at temperature 1/logitScale over the global batch ({@link ShardedInfoNce} with
 * {@code withSymmetric(true)}), equal to {@link dev.jnce.loss.ClipLoss} on the concatenated batch;
 * d loss / d scale = -(d loss / d tau) / scale², the same on every rank.
 */
public final class ShardedClip {
    private final ShardedInfoNce inner;
    private final float logitScale;

    private ShardedClip(ShardedInfoNce inner, float logitScale) {
        this.inner = inner;
        this.logitScale = logitScale;
    }

    /**
     * Logit scale 1/0.07 (CLIP's initial value), cosine similarity.
     *
     * @param collective the group of ranks; not null
     * @return the loss
     * @throws IllegalArgumentException if collective is null
     */
    public static ShardedClip create(Collective collective) {
        return new ShardedClip(ShardedInfoNce.create(collective).withSymmetric(true), 1f / 0.07f);
    }

    /**
     * The multiplier of the cosine similarities.
     *
     * @param scale finite, &gt; 0, its inverse a normal float32
     * @return a copy with this scale
     * @throws IllegalArgumentException if scale is out of range
     */
    public ShardedClip withLogitScale(float scale) {
        if (!(scale > 0) || Float.isInfinite(scale)) throw new IllegalArgumentException("logitScale: " + scale + " must be finite and > 0");
        return new ShardedClip(inner.withTemperature(1f / scale), scale);
    }

    /**
     * The global loss and gradients of one step.
     *
     * @param loss           the loss of the global batch, the same on every rank
     * @param gradA          (n_r, D) d loss / d this rank's rows of the first tower
     * @param gradB          (n_r, D) d loss / d this rank's rows of the second tower
     * @param gradLogitScale d loss / d logitScale, the same on every rank
     */
    public record Result(float loss, Tensor gradA, Tensor gradB, float gradLogitScale) implements AutoCloseable {
        /** Closes the gradient tensors. */
        @Override
        public void close() {
            gradA.close();
            gradB.close();
        }
    }

    /**
     * One step: a collective, every rank passes its shard.
     *
     * @param a this rank's rows of the first tower (n_r, D) float32 on the host
     * @param b this rank's rows of the second tower, row i the positive of a's row i
     * @return the global loss and scale gradient, and this rank's gradients
     * @throws IllegalArgumentException if a shape is wrong here or the ranks' D differ
     * @throws IllegalStateException if another rank failed or timed out
     */
    public Result forwardBackward(Tensor a, Tensor b) {
        ShardedInfoNce.Step s = inner.step("a", a, "b", b, 1f / logitScale);
        return new Result(s.loss(), s.dq(), s.dk(), (float) (-s.dTau() / ((double) logitScale * logitScale)));
    }
}
