package dev.jnce.loss;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.internal.Checks;
import dev.jnce.internal.Outputs;

/**
 * Multi-class focal loss on softmax probabilities: per row i with target class t,
 * {@code loss_i = -alpha_t (1 - p_t)^gamma log p_t}, {@code p = softmax(logits_i)}. With gamma = 0
 * and no alpha it equals {@link CrossEntropy}. PyTorch has no built-in for it; jnce's golden data
 * come from this definition evaluated by torch's autograd.
 *
 * <pre>{@code
 * SoftmaxFocalLoss focal = SoftmaxFocalLoss.create(classWeights, 2f);   // (alpha, gamma)
 * try (LossResult r = focal.forwardBackward(logits, targets)) { ... }
 * }</pre>
 *
 * <p>The options, in the order and with the meaning of torchvision's {@code sigmoid_focal_loss}
 * ({@link SigmoidFocalLoss}): {@code alpha}, the weighting factor that balances the classes, here
 * one finite weight per class (alpha_t = alpha[t]; none: alpha_t = 1); {@code gamma}, the
 * exponent of the modulating factor {@code (1 - p_t)} that balances easy against hard examples
 * (0: none).
 *
 * <p>Shapes: logits (N, C) float32 with N &ge; 1 and C &ge; 2; targets (N) int32 or int64 in
 * [0, C); alpha, if given, (C) float32. Defaults: no alpha, gamma 2, reduction MEAN. Pitfall: MEAN
 * is the plain mean over the N rows, not divided by the sum of alpha_t as
 * {@code F.cross_entropy(weight=...)} does.
 *
 * <p>The gradient w.r.t. the logits, of the reduced loss (for NONE, of the sum), is analytic:
 * {@code alpha_t (p_j - [j = t]) (1-p_t)^gamma (1 - gamma p_t log(p_t) / (1-p_t))}, evaluated so
 * that p_t &rarr; 1 is finite for every gamma &ge; 0 (also gamma &lt; 1, where autograd gives NaN).
 * It may be written into a caller's buffer, or over the logits themselves. Non-finite logits
 * follow {@link CrossEntropy}: a row holding NaN or +Inf is NaN, -Inf entries have probability 0,
 * a -Inf target logit gives +Inf.
 *
 * <p>A call runs on the backend this loss is pinned to, else on the backend of the device its
 * tensors live on (all on one device). Instances are immutable and thread-safe; an alpha tensor is
 * held by reference and must stay open while the loss is used.
 */
public final class SoftmaxFocalLoss {
    private final Tensor alpha;    // null: alpha_t = 1
    private final float gamma;
    private final Reduction reduction;
    private final Backend backend; // null: follow the tensors' device

    private SoftmaxFocalLoss(Tensor alpha, float gamma, Reduction reduction, Backend backend) {
        this.alpha = alpha;
        this.gamma = gamma;
        this.reduction = reduction;
        this.backend = backend;
    }

    /**
     * No alpha, gamma 2, reduction MEAN, on the backend of the tensors' device.
     *
     * @return a loss with these settings
     */
    public static SoftmaxFocalLoss create() {
        return create(null, 2.0f);
    }

    /**
     * alpha and gamma as {@link #withAlpha} and {@link #withGamma} take them; reduction MEAN.
     *
     * @param alpha class weights (C) float32 with finite values, or null
     * @param gamma the focusing exponent, finite and &ge; 0
     * @return a loss with these settings
     * @throws IllegalArgumentException if gamma is negative or not finite
     */
    public static SoftmaxFocalLoss create(Tensor alpha, float gamma) {
        return new SoftmaxFocalLoss(alpha, Checks.focalGamma(gamma), Reduction.MEAN, null);
    }

    /**
     * A weight per class, (C) float32 with finite values, checked against the logits at each call; null removes it.
     *
     * @param alpha class weights (C) float32 with finite values, or null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     */
    public SoftmaxFocalLoss withAlpha(Tensor alpha) {
        return new SoftmaxFocalLoss(alpha, gamma, reduction, backend);
    }

    /**
     * The exponent of the modulating factor (1 - p_t), finite and &ge; 0 (0 with no alpha: cross-entropy).
     *
     * @param gamma the focusing exponent, finite and &ge; 0
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if gamma is negative or not finite
     */
    public SoftmaxFocalLoss withGamma(float gamma) {
        return new SoftmaxFocalLoss(alpha, Checks.focalGamma(gamma), reduction, backend);
    }

    /**
     * The same loss with another reduction.
     *
     * @param reduction how the per-row losses are combined (MEAN, SUM or NONE); not null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if reduction is null or BATCHMEAN (kl_div's alone)
     */
    public SoftmaxFocalLoss withReduction(Reduction reduction) {
        Checks.reduction(reduction);
        return new SoftmaxFocalLoss(alpha, gamma, reduction, backend);
    }

    /**
     * The same loss pinned to a backend.
     *
     * @param backend the backend every call runs on, whatever device the tensors are on; not null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if backend is null
     */
    public SoftmaxFocalLoss withBackend(Backend backend) {
        return new SoftmaxFocalLoss(alpha, gamma, reduction, Checks.nonNull("backend", backend));
    }

    /**
     * The class weights, or null.
     *
     * @return the class weights (C), or null
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Tensor alpha() {
        return alpha;
    }

    /**
     * The focusing exponent.
     *
     * @return gamma
     */
    public float gamma() {
        return gamma;
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
     * The backend this loss is pinned to, else {@link Backends#current()}, the one host tensors
     * run on; a call on tensors of another device runs on that device's backend.
     *
     * @return the pinned backend, or the current host backend when not pinned
     */
    public Backend backend() {
        return Backends.orCurrent(backend);
    }

    /**
     * The loss alone: shape () for MEAN and SUM, (N) for NONE.
     *
     * @param logits logits (N,C) float32
     * @param targets class indices (N) int32 or int64, each in [0, C)
     * @return the loss in a new tensor: shape () for MEAN and SUM, (N) for NONE
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Tensor forward(Tensor logits, Tensor targets) {
        Kernels k = kernels(logits, targets, null, null);
        long n = check(k, logits, targets);
        Tensor loss = newLoss(k, n);
        try {
            run(k, logits, targets, loss, null);
            return loss;
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, loss);
        }
    }

    /**
     * The loss and its gradient with respect to the logits, in new tensors.
     *
     * @param logits logits (N,C) float32
     * @param targets class indices (N) int32 or int64, each in [0, C)
     * @return the loss and the gradient with respect to the logits, in new tensors on the call's device;
     *   close the result (or use a {@link dev.jnce.TensorScope})
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public LossResult forwardBackward(Tensor logits, Tensor targets) {
        Kernels k = kernels(logits, targets, null, null);
        long n = check(k, logits, targets);
        Tensor loss = null, grad = null;
        try {
            loss = newLoss(k, n);
            grad = Tensor.zeros(k.device(), DType.FLOAT32, logits.shape());
            run(k, logits, targets, loss, grad);
            return new LossResult(loss, grad);
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, loss, grad);
        }
    }

    /**
     * The loss and gradient written into the caller's tensors, so that a training loop allocates
     * nothing per call. {@code grad} may be {@code logits} itself: each row is read before its
     * gradient is written, and the gradient then replaces the logits.
     *
     * @param logits logits (N,C) float32
     * @param targets class indices (N) int32 or int64, each in [0, C)
     * @param loss (N) float32 for NONE, else a one-element float32 tensor of shape () or (1)
     * @param grad (N, C) float32
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public void forwardBackward(Tensor logits, Tensor targets, Tensor loss, Tensor grad) {
        Kernels k = kernels(logits, targets, loss, grad);
        long n = check(k, logits, targets);
        Checks.lossBuffer("loss", loss, k, reduction == Reduction.NONE, n, reduction);
        Checks.usable("grad", grad, k);
        Checks.dtype("grad", grad, DType.FLOAT32);
        Checks.shape("grad", grad, "(N, C) of logits", logits.shape());
        run(k, logits, targets, loss, grad);
    }

    private Kernels kernels(Tensor logits, Tensor targets, Tensor loss, Tensor grad) {
        return Kernels.forCall(backend, "logits", logits, "targets", targets, "alpha", alpha, Kernels.OUTPUTS, "loss", loss,
                "grad", grad, Kernels.inPlace("grad", "logits"));
    }

    private Tensor newLoss(Kernels k, long n) {
        return Tensor.zeros(k.device(), DType.FLOAT32, reduction == Reduction.NONE ? new long[] {n} : new long[0]);
    }

    private void run(Kernels k, Tensor logits, Tensor targets, Tensor loss, Tensor grad) {
        k.focal().softmaxFocal(logits, targets, alpha, gamma, reduction, loss, grad);
    }

    /** Checks logits, targets and alpha; returns N. */
    private long check(Kernels k, Tensor logits, Tensor targets) {
        Checks.usable("logits", logits, k);
        Checks.usable("targets", targets, k);
        Checks.dtype("logits", logits, DType.FLOAT32);
        String shape = Tensor.formatShape(logits.shape());
        if (logits.rank() != 2 || logits.size(0) == 0 || logits.size(1) < 2) {
            throw new IllegalArgumentException("logits: expected shape (N, C) with N >= 1 and C >= 2, got " + shape
                    + (logits.rank() == 2 && logits.size(1) == 1 ? "; for one logit per row use SigmoidFocalLoss" : ""));
        }
        long n = logits.size(0), c = logits.size(1);
        if (targets.dtype() != DType.INT32 && targets.dtype() != DType.INT64) {
            throw new IllegalArgumentException("targets: expected int32 or int64 class indices of shape (N) = (" + n
                    + "), got " + targets.describe() + " (for float multi-label targets use SigmoidFocalLoss)");
        }
        if (targets.rank() != 1 || targets.size(0) != n) {
            throw new IllegalArgumentException("targets: shape " + Tensor.formatShape(targets.shape())
                    + " does not match logits " + shape + "; expected class indices of shape (N) = (" + n + ")");
        }
        long bad = k.scan().firstOutside(targets, c, 0); // 0 is a class: no ignore index
        if (bad >= 0) {
            throw new IllegalArgumentException("targets[" + bad + "] = " + (long) k.scan().valueAt(targets, bad)
                    + " is outside [0, " + c + ") for logits of shape " + shape);
        }
        if (alpha != null) {
            Checks.usable("alpha", alpha, k);
            Checks.dtype("alpha", alpha, DType.FLOAT32);
            Checks.shape("alpha", alpha, "(C) one weight per class", c);
            Checks.finite(k, "alpha", alpha);
        }
        return n;
    }
}
