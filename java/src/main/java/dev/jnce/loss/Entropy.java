package dev.jnce.loss;

import dev.jnce.internal.Checks;
import dev.jnce.Reduction;
import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;

/**
 * Entropy of probability distributions, H(p) = -sum_j p_j log p_j per row, and cross-entropy
 * between distributions, H(p, q) = -sum_j p_j log q_j per row, with their gradients.
 *
 * <pre>{@code
 * Entropy entropy = Entropy.create();                      // reduction MEAN over rows
 * float h = entropy.forward(p).item();
 * try (Entropy.CrossResult r = entropy.crossForwardBackward(p, q)) {
 *     float[] dq = r.gradQ().toFloatArray();
 * }
 * }</pre>
 *
 * <p>H(p) is {@code torch.special.entr(p).sum(-1)}; H(p, q) is {@code -torch.xlogy(p, q).sum(-1)}
 * and equals H(p) + KL(p || q). They take <em>probabilities</em>; for logits and class
 * indices use {@link CrossEntropy}.
 *
 * <p>Shapes: p and q are float32 {@code (N, C)}, one distribution per row, N, C &ge; 1; the
 * loss is {@code (N)} for NONE and {@code ()} otherwise (MEAN divides by N).
 *
 * <p><b>Inputs must be distributions.</b> Before any computation every row is checked: entries
 * finite and &ge; 0, summing (in double) to 1 within {@link #DEFAULT_TOLERANCE} (absolute, i.e.
 * relative to the sum 1), or the tolerance given to {@link #withTolerance}. A row that fails
 * throws {@link IllegalArgumentException} naming the row and its sum. This check reads every
 * value once more; {@code withTolerance(Double.POSITIVE_INFINITY)} keeps only the sign check.
 *
 * <p>Zeros: {@code 0 log 0 = 0}, so entries with p = 0 add nothing (also where q = 0). The
 * gradients are the derivatives of the reduced loss (for NONE, of the sum):
 * <ul>
 *   <li>H(p): d/dp = -(log p + 1), which is +Inf where p = 0 (as PyTorch's autograd gives);</li>
 *   <li>H(p, q): d/dp = -log q (+Inf where q = 0) and d/dq = -p / q, 0 where p = 0. PyTorch's
 *   {@code xlogy} autograd differs only at p = 0: it gives d/dp = 0 there and d/dq = NaN
 *   where p = q = 0; jnce gives the true derivative -log q and 0.</li>
 * </ul>
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class Entropy {
    /** Largest accepted |row sum - 1| unless {@link #withTolerance} says otherwise. */
    public static final double DEFAULT_TOLERANCE = 1e-4;

    private final Reduction reduction;
    private final double tolerance;
    private final Backend backend; // null: Backends.current() at call time

    private Entropy(Reduction reduction, double tolerance, Backend backend) {
        this.reduction = reduction;
        this.tolerance = tolerance;
        this.backend = backend;
    }

    /** Mean over rows, tolerance {@link #DEFAULT_TOLERANCE}, on {@link Backends#current()}. */
    public static Entropy create() {
        return new Entropy(Reduction.MEAN, DEFAULT_TOLERANCE, null);
    }

    /** The same with another reduction over rows. */
    public Entropy withReduction(Reduction reduction) {
        Checks.reduction(reduction);
        return new Entropy(reduction, tolerance, backend);
    }

    /** The largest accepted |row sum - 1|; {@code Double.POSITIVE_INFINITY} turns the sum check off. */
    public Entropy withTolerance(double tolerance) {
        DivergenceChecks.tolerance(tolerance);
        return new Entropy(reduction, tolerance, backend);
    }

    /** The same pinned to a backend. */
    public Entropy withBackend(Backend backend) {
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        return new Entropy(reduction, tolerance, backend);
    }

    public Reduction reduction() {
        return reduction;
    }

    public double tolerance() {
        return tolerance;
    }

    /** The backend calls run on. */
    public Backend backend() {
        return backend != null ? backend : Backends.current();
    }

    /** H(p): shape (N) for NONE, else (). */
    public Tensor forward(Tensor p) {
        Kernels k = check(p, null);
        Tensor loss = newLoss(p);
        k.divergence().entropy(p, reduction, loss, null);
        return loss;
    }

    /** H(p) and its gradient with respect to p. */
    public Result forwardBackward(Tensor p) {
        Kernels k = check(p, null);
        Tensor loss = newLoss(p), grad = Tensor.zeros(DType.FLOAT32, p.shape());
        k.divergence().entropy(p, reduction, loss, grad);
        return new Result(loss, grad);
    }

    /** The cross-entropy H(p, q): shape (N) for NONE, else (). */
    public Tensor cross(Tensor p, Tensor q) {
        Kernels k = check(p, q);
        Tensor loss = newLoss(p);
        k.divergence().distributionCrossEntropy(p, q, reduction, loss, null, null);
        return loss;
    }

    /** H(p, q) and its gradients with respect to p and q. */
    public CrossResult crossForwardBackward(Tensor p, Tensor q) {
        Kernels k = check(p, q);
        Tensor loss = newLoss(p);
        Tensor gradP = Tensor.zeros(DType.FLOAT32, p.shape()), gradQ = Tensor.zeros(DType.FLOAT32, q.shape());
        k.divergence().distributionCrossEntropy(p, q, reduction, loss, gradP, gradQ);
        return new CrossResult(loss, gradP, gradQ);
    }

    /** An entropy and its gradient; closing it closes both. */
    public record Result(Tensor loss, Tensor grad) implements AutoCloseable {
        @Override
        public void close() {
            loss.close();
            grad.close();
        }
    }

    /** A cross-entropy and its gradients; closing it closes all three. */
    public record CrossResult(Tensor loss, Tensor gradP, Tensor gradQ) implements AutoCloseable {
        @Override
        public void close() {
            loss.close();
            gradP.close();
            gradQ.close();
        }
    }

    private Tensor newLoss(Tensor p) {
        return reduction == Reduction.NONE ? Tensor.zeros(DType.FLOAT32, p.size(0)) : Tensor.zeros(DType.FLOAT32);
    }

    /** Checks p, and q unless null; returns the backend's kernels. */
    private Kernels check(Tensor p, Tensor q) {
        Kernels k = (Kernels) backend();
        DivergenceChecks.rows("p", p, k);
        if (q != null) {
            DivergenceChecks.rows("q", q, k);
            DivergenceChecks.sameShape("q", q, "p", p);
        }
        DivergenceChecks.distributions("p", p, tolerance);
        if (q != null) DivergenceChecks.distributions("q", q, tolerance);
        return k;
    }
}
