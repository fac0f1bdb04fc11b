package dev.jnce.ops;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.internal.Checks;
import dev.jnce.internal.Outputs;

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

    /**
     * eps 1e-8, not pinned: calls run on the backend of their tensors' device.
     *
     * @return an op with eps 1e-8
     */
    public static CosineSimilarity create() {
        return new CosineSimilarity(DEFAULT_EPS, null);
    }

    /**
     * The same op with another eps (finite, &ge; 0).
     *
     * @param eps the eps, finite and &ge; 0
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if eps is negative or not finite
     */
    public CosineSimilarity withEps(double eps) {
        Checks.float32Eps(eps);
        return new CosineSimilarity(eps, backend);
    }

    /**
     * The same op pinned to a backend.
     *
     * @param backend the backend every call runs on, whatever device the tensors are on; not null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if backend is null
     */
    public CosineSimilarity withBackend(Backend backend) {
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        return new CosineSimilarity(eps, backend);
    }

    /**
     * The eps the norms are clamped to.
     *
     * @return eps
     */
    public double eps() {
        return eps;
    }

    /**
     * The backend this op is pinned to, else {@link Backends#current()}; unpinned calls follow their tensors' device.
     *
     * @return the pinned backend, or the current host backend when not pinned
     */
    public Backend backend() {
        return Backends.orCurrent(backend);
    }

    /**
     * The (N) similarities, in a new tensor on the inputs' device.
     *
     * @param x1 the first rows (N,D) float32
     * @param x2 the second rows (N,D) float32
     * @return the (N) similarities in a new tensor
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Tensor forward(Tensor x1, Tensor x2) {
        Kernels k = Kernels.forCall(backend, "x1", x1, "x2", x2);
        Tensor out = Tensor.zeros(k.device(), DType.FLOAT32, check(k, x1, x2));
        try {
            forward(x1, x2, out);
            return out;
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, out);
        }
    }

    /**
     * The (N) similarities into the caller's out, which must not share memory with x1 or x2.
     *
     * @param x1 the first rows (N,D) float32
     * @param x2 the second rows (N,D) float32
     * @param out the (N) float32 similarities
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public void forward(Tensor x1, Tensor x2, Tensor out) {
        Kernels k = Kernels.forCall(backend, "x1", x1, "x2", x2, Kernels.OUTPUTS, "out", out);
        long n = check(k, x1, x2);
        Checks.output("out", out, k, "(N)", n);
        Checks.noOverlap("out", out, "x1", x1);
        Checks.noOverlap("out", out, "x2", x2);
        k.similarity().cosineSimilarity(x1, x2, (float) eps, out);
    }

    /**
     * dx1 and dx2 (N,D) for the upstream dOut (N), in new tensors on the inputs' device: dA is dx1, dB is dx2.
     *
     * @param x1 the first rows (N,D) float32
     * @param x2 the second rows (N,D) float32
     * @param dOut the upstream gradient (N) float32
     * @return dx1 (as dA) and dx2 (as dB), in new tensors on the call's device; close the result (or use a
     *   {@link dev.jnce.TensorScope})
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Gradients backward(Tensor x1, Tensor x2, Tensor dOut) {
        Kernels k = Kernels.forCall(backend, "x1", x1, "x2", x2, "dOut", dOut);
        checkBackward(k, x1, x2, dOut);
        Tensor dx1 = null, dx2 = null;
        try {
            dx1 = Tensor.zeros(k.device(), DType.FLOAT32, x1.shape());
            dx2 = Tensor.zeros(k.device(), DType.FLOAT32, x2.shape());
            backward(x1, x2, dOut, dx1, dx2);
            return new Gradients(dx1, dx2);
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, dx1, dx2);
        }
    }

    /**
     * dx1 and dx2 (N,D) into the caller's tensors; either may be null to skip it. They must not
     * share memory with x1, x2, dOut or each other.
     *
     * @param x1 the first rows (N,D) float32
     * @param x2 the second rows (N,D) float32
     * @param dOut the upstream gradient (N) float32
     * @param dx1 d / d x1 (N,D) float32, or null to skip it
     * @param dx2 d / d x2 (N,D) float32, or null to skip it
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public void backward(Tensor x1, Tensor x2, Tensor dOut, Tensor dx1, Tensor dx2) {
        Kernels k = Kernels.forCall(backend, "x1", x1, "x2", x2, "dOut", dOut, Kernels.OUTPUTS, "dx1", dx1, "dx2", dx2);
        checkBackward(k, x1, x2, dOut);
        for (Tensor g : new Tensor[] {dx1, dx2}) {
            if (g == null) continue;
            String argument = g == dx1 ? "dx1" : "dx2";
            Checks.output(argument, g, k, "(N, D) of " + (g == dx1 ? "x1" : "x2"), x1.shape());
            Checks.noOverlap(argument, g, "x1", x1);
            Checks.noOverlap(argument, g, "x2", x2);
            Checks.noOverlap(argument, g, "dOut", dOut);
        }
        Checks.noOverlap("dx2", dx2, "dx1", dx1);
        if (dx1 != null || dx2 != null) k.similarity().cosineSimilarityBackward(x1, x2, dOut, (float) eps, dx1, dx2);
    }

    /** Checks x1 and x2; returns N. */
    private static long check(Kernels k, Tensor x1, Tensor x2) {
        Checks.matrix("x1", x1, k, "(N, D)");
        Checks.matrix("x2", x2, k, "(N, D)");
        Checks.sameFeatures("x1", x1, "x2", x2);
        if (x1.size(0) != x2.size(0)) {
            throw new IllegalArgumentException("x2: " + x2.size(0) + " rows, x1 has " + x1.size(0) + " (shapes "
                    + Tensor.formatShape(x1.shape()) + " and " + Tensor.formatShape(x2.shape())
                    + "); rows are paired, broadcasting is not supported");
        }
        return x1.size(0);
    }

    private static void checkBackward(Kernels k, Tensor x1, Tensor x2, Tensor dOut) {
        Checks.output("dOut", dOut, k, "(N)", check(k, x1, x2));
    }
}
