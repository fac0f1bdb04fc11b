package dev.jnce.loss;

import dev.jnce.Backend;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.loss.InfoNceSweep.Positives;

/**
 * NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR (Chen et al. 2020): 2N
 * views (N,D) stacked as {@code [view1 of every sample; view2 of every sample]}, cosine
 * similarity divided by tau, the positive of row i is row i+N (and of row i+N, row i), the row's
 * similarity to itself is left out of the softmax, and the cross-entropy is averaged over all 2N
 * rows.
 *
 * <pre>{@code
 * try (EmbeddingResult r = NtXent.create().withTemperature(0.5f).forwardBackward(views)) {
 *     r.loss(); r.grad();   // d loss / d views, (2N,D)
 *     r.gradTemperature();
 * }
 * }</pre>
 *
 * Same memory and rules as {@link InfoNce}: one (2N,2N) buffer, gradient in place; the logits
 * are symmetric, so they cost half a GEMM (SYRK) and the gradient one GEMM ({@link #withBlockRows}
 * trades that for a bounded buffer). {@link #forwardBackward(Tensor, Tensor, Tensor)} writes into
 * the caller's tensors. Needs N >= 2 samples (4 views) so that every row has a negative.
 * Immutable, thread-safe.
 */
public final class NtXent {
    private final InfoNce inner;

    private NtXent(InfoNce inner) {
        this.inner = inner;
    }

    /**
     * Temperature 0.5 (SimCLR's), cosine similarity, MEAN over the 2N rows.
     *
     * @return a loss with SimCLR's settings
     */
    public static NtXent create() {
        return new NtXent(InfoNce.create().withTemperature(0.5f));
    }

    /**
     * The temperature tau: finite, > 0 and a normal float32, as {@link InfoNce#withTemperature}.
     *
     * @param tau the temperature, a normal positive float32
     * @return a copy of this instance with the setting changed; this instance is unchanged
     */
    public NtXent withTemperature(float tau) {
        return new NtXent(inner.withTemperature(tau));
    }

    /**
     * false: plain dot product instead of cosine similarity.
     *
     * @param normalize true for cosine similarity, false for the plain dot product
     * @return a copy of this instance with the setting changed; this instance is unchanged
     */
    public NtXent withNormalize(boolean normalize) {
        return new NtXent(inner.withNormalize(normalize));
    }

    /**
     * Removes the positive from the denominator as well (decoupled contrastive learning, Yeh et al. 2022).
     *
     * @param decoupled true to leave the positive out of the denominator
     * @return a copy of this instance with the setting changed; this instance is unchanged
     */
    public NtXent withDecoupled(boolean decoupled) {
        return new NtXent(inner.withDecoupled(decoupled));
    }

    /**
     * The same loss with another reduction over the 2N rows: MEAN (default), SUM, or NONE for (2N) per-row
     * losses.
     *
     * @param reduction MEAN, SUM or NONE; not null
     * @return a copy with this reduction; this instance is unchanged
     * @throws IllegalArgumentException if reduction is null or BATCHMEAN
     */
    public NtXent withReduction(Reduction reduction) {
        return new NtXent(inner.withReduction(reduction));
    }

    /**
     * The same loss pinned to a backend: every call runs there, whatever device the tensors are on.
     *
     * @param backend the backend; not null
     * @return a copy pinned to {@code backend}; this instance is unchanged
     * @throws IllegalArgumentException if backend is null
     */
    public NtXent withBackend(Backend backend) {
        return new NtXent(inner.withBackend(backend));
    }

    /**
     * Rows of logits held at once: below 2N, blocks instead of the (2N,2N) buffer ({@link InfoNce#withBlockRows}).
     *
     * @param rows the rows of logits held at once: 0 for about 64 MiB of them, else &ge; 1
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if rows is negative
     */
    public NtXent withBlockRows(long rows) {
        return new NtXent(inner.withBlockRows(rows));
    }

    /**
     * The loss and d loss / d views (2N,D) for views (2N,D), in new tensors.
     *
     * @param views the two views (2N,D) float32: row i and row i + N are the two views of one example, N
     *   &ge; 1
     * @return the loss and d loss / d views, in new tensors on the call's device; close the result (or use
     *   a {@link dev.jnce.TensorScope})
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public EmbeddingResult forwardBackward(Tensor views) {
        Kernels k = inner.kernels("views", views);
        long d = check(k, views);
        return inner.allocated(k, views.size(0), d, (loss, grad) -> run(k, views, loss, grad));
    }

    /**
     * The loss into {@code loss} and d loss / d views into {@code grad}; returns d loss / d tau.
     *
     * @param views the two views (2N,D) float32: row i and row i + N are the two views of one example, N
     *   &ge; 1
     * @param loss (2N) float32 for NONE, else a one-element float32 tensor
     * @param grad (2N,D) float32, not the views
     * @return d loss / d tau
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public float forwardBackward(Tensor views, Tensor loss, Tensor grad) {
        Kernels k = inner.kernels("views", views, Kernels.OUTPUTS, "loss", loss, "grad", grad);
        check(k, views);
        Contrastive.lossBuffer(loss, k, inner.reduction(), views.size(0));
        Contrastive.gradBuffer("grad", grad, k, "(2N, D) of views", views, views);
        return run(k, views, loss, grad);
    }

    private float run(Kernels k, Tensor views, Tensor loss, Tensor grad) {
        return inner.oneTensor(k, views, Positives.diagonal(views.size(0) / 2), loss, grad);
    }

    /** Views (2N,D) with N >= 2, finite; returns D. */
    private static long check(Kernels k, Tensor views) {
        long d = Contrastive.embeddings("views", views, k, 4, "NT-Xent needs 2N >= 4 views (N >= 2 samples) so every row has a negative");
        if (views.size(0) % 2 != 0) {
            throw new IllegalArgumentException("views: shape " + Tensor.formatShape(views.shape())
                    + " has an odd number of rows; expected (2N, D) = both views of N samples stacked");
        }
        return d;
    }
}
