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

    /** Temperature 0.5 (SimCLR's), cosine similarity, MEAN over the 2N rows. */
    public static NtXent create() {
        return new NtXent(InfoNce.create().withTemperature(0.5f));
    }

    /** The temperature tau: finite, > 0 and a normal float32, as {@link InfoNce#withTemperature}. */
    public NtXent withTemperature(float tau) {
        return new NtXent(inner.withTemperature(tau));
    }

    /** false: plain dot product instead of cosine similarity. */
    public NtXent withNormalize(boolean normalize) {
        return new NtXent(inner.withNormalize(normalize));
    }

    /** Removes the positive from the denominator as well (decoupled contrastive learning, Yeh et al. 2022). */
    public NtXent withDecoupled(boolean decoupled) {
        return new NtXent(inner.withDecoupled(decoupled));
    }

    public NtXent withReduction(Reduction reduction) {
        return new NtXent(inner.withReduction(reduction));
    }

    public NtXent withBackend(Backend backend) {
        return new NtXent(inner.withBackend(backend));
    }

    /** Rows of logits held at once: below 2N, blocks instead of the (2N,2N) buffer ({@link InfoNce#withBlockRows}). */
    public NtXent withBlockRows(long rows) {
        return new NtXent(inner.withBlockRows(rows));
    }

    /** The loss and d loss / d views (2N,D) for views (2N,D), in new tensors. */
    public EmbeddingResult forwardBackward(Tensor views) {
        Kernels k = inner.kernels("views", views);
        long d = check(k, views);
        return inner.allocated(k, views.size(0), d, (loss, grad) -> run(k, views, loss, grad));
    }

    /**
     * The loss into {@code loss} and d loss / d views into {@code grad}; returns d loss / d tau.
     *
     * @param loss (2N) float32 for NONE, else a one-element float32 tensor
     * @param grad (2N,D) float32, not the views
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
