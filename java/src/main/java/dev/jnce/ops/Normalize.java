package dev.jnce.ops;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.internal.Checks;
import dev.jnce.internal.Outputs;

/**
 * L2 normalisation over the last dimension, {@code F.normalize(x, p=2, dim=-1, eps=1e-12)}:
 * {@code y = x / max(||x||_2, eps)}, and its gradient given an upstream {@code dy}.
 *
 * <p>x may have any rank &ge; 1; every vector along the last dimension is normalised. The
 * gradient follows autograd through {@code clamp_min}: for a vector whose norm is below eps
 * (a zero vector, say) {@code dx = dy / eps}, which is huge for the default eps; otherwise
 * {@code dx = (dy - y (y . dy)) / ||x||}. Only p = 2 is offered.
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class Normalize {
    /** F.normalize's default eps. */
    public static final double DEFAULT_EPS = 1e-12;

    private final double eps;
    private final Backend backend;

    private Normalize(double eps, Backend backend) {
        this.eps = eps;
        this.backend = backend;
    }

    /**
     * eps 1e-12, not pinned: calls run on the backend of their tensors' device.
     *
     * @return an op with eps 1e-12
     */
    public static Normalize create() {
        return new Normalize(DEFAULT_EPS, null);
    }

    /**
     * The same op with another eps (finite, &ge; 0; rounded to float32).
     *
     * @param eps the eps, finite and &ge; 0
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if eps is negative or not finite
     */
    public Normalize withEps(double eps) {
        Checks.float32Eps(eps);
        return new Normalize(eps, backend);
    }

    /**
     * The same op pinned to a backend.
     *
     * @param backend the backend every call runs on, whatever device the tensors are on; not null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if backend is null
     */
    public Normalize withBackend(Backend backend) {
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        return new Normalize(eps, backend);
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
     * y in a new tensor of x's shape, on x's device.
     *
     * @param x the rows to normalise, (N,D) float32
     * @return the normalised rows in a new tensor
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Tensor forward(Tensor x) {
        Kernels k = Kernels.forCall(backend, "x", x);
        check(k, "x", x);
        Tensor y = Tensor.zeros(k.device(), DType.FLOAT32, x.shape());
        try {
            forward(x, y);
            return y;
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, y);
        }
    }

    /**
     * y into the caller's tensor of x's shape, which may be x itself (in place).
     *
     * @param x the rows to normalise, (N,D) float32
     * @param y the normalised rows, float32 of x's shape; may be x
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public void forward(Tensor x, Tensor y) {
        Kernels k = Kernels.forCall(backend, "x", x, Kernels.OUTPUTS, "y", y, Kernels.inPlace("y", "x"));
        check(k, "x", x);
        Checks.output("y", y, k, "of x", x.shape());
        k.similarity().normalize(x, (float) eps, y);
    }

    /**
     * dx for the upstream dy (x's shape), in a new tensor on x's device.
     *
     * @param x the rows to normalise, (N,D) float32
     * @param dy the upstream gradient, float32 of x's shape
     * @return dx in a new tensor
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Tensor backward(Tensor x, Tensor dy) {
        Kernels k = Kernels.forCall(backend, "x", x, "dy", dy);
        check(k, "x", x);
        Checks.output("dy", dy, k, "of x", x.shape());
        Tensor dx = Tensor.zeros(k.device(), DType.FLOAT32, x.shape());
        try {
            backward(x, dy, dx);
            return dx;
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, dx);
        }
    }

    /**
     * dx into the caller's tensor, which may be dy itself but not x.
     *
     * @param x the rows to normalise, (N,D) float32
     * @param dy the upstream gradient, float32 of x's shape
     * @param dx the gradient with respect to x, of x's shape; may be dy, not x
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public void backward(Tensor x, Tensor dy, Tensor dx) {
        Kernels k = Kernels.forCall(backend, "x", x, "dy", dy, Kernels.OUTPUTS, "dx", dx, Kernels.inPlace("dx", "dy"));
        check(k, "x", x);
        Checks.output("dy", dy, k, "of x", x.shape());
        Checks.output("dx", dx, k, "of x", x.shape());
        Checks.noOverlap("dx", dx, "x", x);
        k.similarity().normalizeBackward(x, dy, (float) eps, dx);
    }

    private static void check(Kernels k, String argument, Tensor x) {
        Checks.usable(argument, x, k);
        Checks.dtype(argument, x, DType.FLOAT32);
        if (x.rank() == 0 || x.numel() == 0) {
            throw new IllegalArgumentException(argument + ": expected a non-empty tensor of rank >= 1 (..., D), got "
                    + Tensor.formatShape(x.shape()));
        }
    }
}
