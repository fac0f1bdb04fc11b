package dev.jnce.loss;

import dev.jnce.internal.Checks;
import dev.jnce.internal.Outputs;
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
 * try (InputTargetResult r = entropy.crossForwardBackward(p, q)) {  // q is the input, p the target
 *     float[] dq = r.gradInput().toFloatArray();
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
    private final Backend backend; // null: the backend of the call's tensors (Kernels.forCall)

    private Entropy(Reduction reduction, double tolerance, Backend backend) {
        this.reduction = reduction;
        this.tolerance = tolerance;
        this.backend = backend;
    }

    /**
     * Mean over rows, tolerance {@link #DEFAULT_TOLERANCE}; each call runs where its tensors live.
     *
     * @return an entropy with the defaults stated
     */
    public static Entropy create() {
        return new Entropy(Reduction.MEAN, DEFAULT_TOLERANCE, null);
    }

    /**
     * The same with another reduction over rows.
     *
     * @param reduction how the per-row losses are combined (MEAN, SUM or NONE); not null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if reduction is null or BATCHMEAN (kl_div's alone)
     */
    public Entropy withReduction(Reduction reduction) {
        Checks.reduction(reduction);
        return new Entropy(reduction, tolerance, backend);
    }

    /**
     * The largest accepted |row sum - 1|; {@code Double.POSITIVE_INFINITY} turns the sum check off.
     *
     * @param tolerance the largest accepted |row sum - 1|, &ge; 0 (or +Infinity)
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if tolerance is negative or NaN
     */
    public Entropy withTolerance(double tolerance) {
        Checks.tolerance(tolerance);
        return new Entropy(reduction, tolerance, backend);
    }

    /**
     * The same pinned to a backend.
     *
     * @param backend the backend every call runs on, whatever device the tensors are on; not null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if backend is null
     */
    public Entropy withBackend(Backend backend) {
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        return new Entropy(reduction, tolerance, backend);
    }

    /**
     * The reduction in use.
     *
     * @return the reduction
     */
    public Reduction reduction() {
        return reduction;
    }

    /**
     * The largest accepted |row sum - 1| of a probability row.
     *
     * @return the tolerance
     */
    public double tolerance() {
        return tolerance;
    }

    /**
     * The backend this loss is pinned to, else {@link Backends#current()}, the one host tensors
     * run on; a call on tensors of another device runs on that device's backend.
     *
     * @return the pinned backend, or the current host backend when not pinned
     */
    public Backend backend() {
        return Backends.orCurrent(backend);
    }

    /**
     * H(p): shape (N) for NONE, else ().
     *
     * @param p probabilities (N,C) float32, each row a distribution (within the tolerance)
     * @return H(p) in a new tensor: (N) for NONE, else ()
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Tensor forward(Tensor p) {
        Kernels k = Kernels.forCall(backend, "p", p);
        check(k, p, null);
        Tensor loss = newLoss(k, p);
        try {
            k.divergence().entropy(p, reduction, loss, null);
            return loss;
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, loss);
        }
    }

    /**
     * H(p) and its gradient with respect to p, in new tensors on p's device.
     *
     * @param p probabilities (N,C) float32, each row a distribution (within the tolerance)
     * @return H(p) and d H / d p, in new tensors on the call's device; close the result (or use a {@link
     *   dev.jnce.TensorScope})
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public LossResult forwardBackward(Tensor p) {
        Kernels k = Kernels.forCall(backend, "p", p);
        check(k, p, null);
        Tensor loss = null, grad = null;
        try {
            loss = newLoss(k, p);
            grad = Tensor.zeros(k.device(), DType.FLOAT32, p.shape());
            k.divergence().entropy(p, reduction, loss, grad);
            return new LossResult(loss, grad);
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, loss, grad);
        }
    }

    /**
     * H(p) and its gradient written into the caller's tensors, so that a training loop
     * allocates nothing per call.
     *
     * @param p probabilities (N,C) float32, each row a distribution (within the tolerance)
     * @param loss (N) float32 for NONE, else one element of shape () or (1)
     * @param grad (N, C) float32, or null to skip it
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public void forwardBackward(Tensor p, Tensor loss, Tensor grad) {
        Kernels k = Kernels.forCall(backend, "p", p, Kernels.OUTPUTS, "loss", loss, "grad", grad);
        check(k, p, null);
        Checks.lossBuffer("loss", loss, k, reduction == Reduction.NONE, p.size(0), reduction);
        if (grad != null) Checks.floatBuffer("grad", grad, k, "(N, C) of p", p.shape());
        k.divergence().entropy(p, reduction, loss, grad);
    }

    /**
     * The cross-entropy H(p, q): shape (N) for NONE, else ().
     *
     * @param p probabilities (N,C) float32, each row a distribution (within the tolerance)
     * @param q the model's probabilities (N,C) float32, each row a distribution (within the tolerance)
     * @return H(p, q) in a new tensor: (N) for NONE, else ()
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Tensor cross(Tensor p, Tensor q) {
        Kernels k = Kernels.forCall(backend, "p", p, "q", q);
        check(k, p, Checks.nonNull("q", q)); // a null q would be read as the entropy H(p)
        Tensor loss = newLoss(k, p);
        try {
            k.divergence().distributionCrossEntropy(p, q, reduction, loss, null, null);
            return loss;
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, loss);
        }
    }

    /**
     * H(p, q) and its gradients, in new tensors on their device: q is the input (the model's
     * distribution) and p the target, so {@link InputTargetResult#gradInput()} is d/dq and
     * {@link InputTargetResult#gradTarget()} is d/dp.
     *
     * @param p probabilities (N,C) float32, each row a distribution (within the tolerance)
     * @param q the model's probabilities (N,C) float32, each row a distribution (within the tolerance)
     * @return H(p, q) with d/dq as gradInput and d/dp as gradTarget, in new tensors on the call's device;
     *   close the result (or use a {@link dev.jnce.TensorScope})
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public InputTargetResult crossForwardBackward(Tensor p, Tensor q) {
        Kernels k = Kernels.forCall(backend, "p", p, "q", q);
        check(k, p, Checks.nonNull("q", q)); // a null q would be read as the entropy H(p)
        Tensor loss = null, gradP = null, gradQ = null;
        try {
            loss = newLoss(k, p);
            gradP = Tensor.zeros(k.device(), DType.FLOAT32, p.shape());
            gradQ = Tensor.zeros(k.device(), DType.FLOAT32, q.shape());
            k.divergence().distributionCrossEntropy(p, q, reduction, loss, gradP, gradQ);
            return new InputTargetResult(loss, gradQ, gradP);
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, loss, gradP, gradQ);
        }
    }

    /**
     * H(p, q) and its gradients written into the caller's tensors, so that a training loop
     * allocates nothing per call.
     *
     * @param p probabilities (N,C) float32, each row a distribution (within the tolerance)
     * @param q the model's probabilities (N,C) float32, each row a distribution (within the tolerance)
     * @param loss  (N) float32 for NONE, else one element of shape () or (1)
     * @param gradP (N, C) float32 d/dp, or null to skip it
     * @param gradQ (N, C) float32 d/dq, or null to skip it
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public void crossForwardBackward(Tensor p, Tensor q, Tensor loss, Tensor gradP, Tensor gradQ) {
        Kernels k = Kernels.forCall(backend, "p", p, "q", q, Kernels.OUTPUTS, "loss", loss, "gradP", gradP, "gradQ", gradQ);
        check(k, p, Checks.nonNull("q", q)); // a null q would be read as the entropy H(p)
        Checks.lossBuffer("loss", loss, k, reduction == Reduction.NONE, p.size(0), reduction);
        if (gradP != null) Checks.floatBuffer("gradP", gradP, k, "(N, C) of p", p.shape());
        if (gradQ != null) Checks.floatBuffer("gradQ", gradQ, k, "(N, C) of q", q.shape());
        k.divergence().distributionCrossEntropy(p, q, reduction, loss, gradP, gradQ);
    }

    private Tensor newLoss(Kernels k, Tensor p) {
        return Tensor.zeros(k.device(), DType.FLOAT32, reduction == Reduction.NONE ? new long[] {p.size(0)} : new long[0]);
    }

    /** Checks p, and q unless null: shapes, then that every row is a distribution (read by the kernels). */
    private void check(Kernels k, Tensor p, Tensor q) {
        Checks.distributionRows("p", p, k);
        if (q != null) {
            Checks.distributionRows("q", q, k);
            Checks.sameShape("q", q, "p", p);
        }
        Checks.distributions("p", p, tolerance, k.divergence());
        if (q != null) Checks.distributions("q", q, tolerance, k.divergence());
    }
}
