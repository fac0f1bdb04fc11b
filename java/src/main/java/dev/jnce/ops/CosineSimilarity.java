package dev.jnce.ops;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.internal.SimilarityChecks;

/**
 * Row-wise cosine similarity of paired vectors, {@code F.cosine_similarity(x1, x2, dim=1,
 * eps=1e-8)} of PyTorch 1.13: {@code out_i = x1_i/c1_i . x2_i/c2_i} with
 * {@code c = max(||x||_2, eps)}, for x1 and x2 of shape (N,D), and its gradients for an
 * upstream {@code dOut} (N).
 *
 * <p>Pitfall: PyTorch clamps each norm separately (older releases clamped their product), and
 * its gradient keeps the norm term even where the clamp bites:
 * {@code dx1 = dOut * (x2/c2 - out * x1/c1) / c1}; this class does the same. For the
 * similarity matrix of two sets use {@link Similarity#cosine()}. Immutable and thread-safe.
 */
public final class CosineSimilarity {
    /** F.cosine_similarity's default eps. */
    public static final double DEFAULT_EPS = 1e-8;

    private final double eps;
    private final Backend backend;

    private CosineSimilarity(double eps, Backend backend) {
        this.eps = eps;
        this.backend = backend;
    }

    /** eps 1e-8, on {@link Backends#current()}. */
    public static CosineSimilarity create() {
        return new CosineSimilarity(DEFAULT_EPS, null);
    }

    /** The same op with another eps (finite, &ge; 0). */
    public CosineSimilarity withEps(double eps) {
        SimilarityChecks.eps(eps);
        return new CosineSimilarity(eps, backend);
    }

    /** The same op pinned to a backend. */
    public CosineSimilarity withBackend(Backend backend) {
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        return new CosineSimilarity(eps, backend);
    }

    public double eps() {
        return eps;
    }

    /** The backend calls run on. */
    public Backend backend() {
        return backend != null ? backend : Backends.current();
    }

    /** The (N) similarities, in a new tensor. */
    public Tensor forward(Tensor x1, Tensor x2) {
        Kernels k = kernels();
        long n = check(k, x1, x2);
        Tensor out = Tensor.zeros(DType.FLOAT32, n);
        k.similarity().cosineSimilarity(x1, x2, (float) eps, out);
        return out;
    }

    /** dx1 and dx2 (N,D) for the upstream dOut (N), in new tensors. */
    public Gradients backward(Tensor x1, Tensor x2, Tensor dOut) {
        Kernels k = kernels();
        long n = check(k, x1, x2);
        SimilarityChecks.output("dOut", dOut, k, "(N)", n);
        Tensor dx1 = Tensor.zeros(DType.FLOAT32, x1.shape()), dx2 = Tensor.zeros(DType.FLOAT32, x2.shape());
        k.similarity().cosineSimilarityBackward(x1, x2, dOut, (float) eps, dx1, dx2);
        return new Gradients(dx1, dx2);
    }

    /** Gradients with respect to x1 and x2; closing it closes both. */
    public record Gradients(Tensor dx1, Tensor dx2) implements AutoCloseable {
        @Override
        public void close() {
            dx1.close();
            dx2.close();
        }
    }

    private Kernels kernels() {
        return (Kernels) backend();
    }

    /** Checks x1 and x2; returns N. */
    private static long check(Kernels k, Tensor x1, Tensor x2) {
        SimilarityChecks.matrix("x1", x1, k, "(N, D)");
        SimilarityChecks.matrix("x2", x2, k, "(N, D)");
        SimilarityChecks.sameFeatures("x1", x1, "x2", x2);
        if (x1.size(0) != x2.size(0)) {
            throw new IllegalArgumentException("x2: " + x2.size(0) + " rows, x1 has " + x1.size(0) + " (shapes "
                    + Tensor.formatShape(x1.shape()) + " and " + Tensor.formatShape(x2.shape())
                    + "); rows are paired, broadcasting is not supported");
        }
        return x1.size(0);
    }
}
