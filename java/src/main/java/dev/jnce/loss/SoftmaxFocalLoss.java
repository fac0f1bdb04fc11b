package dev.jnce.loss;

import dev.jnce.Reduction;
import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.internal.Checks;

/**
 * Multi-class focal loss on softmax probabilities: per row i with target class t,
 * {@code loss_i = -alpha_t (1 - p_t)^gamma log p_t}, {@code p = softmax(logits_i)}. With gamma = 0
 * and no alpha it equals {@link CrossEntropy}. PyTorch has no built-in for it; jnce's golden data
 * come from this definition evaluated by torch's autograd.
 *
 * <pre>{@code
 * SoftmaxFocalLoss focal = SoftmaxFocalLoss.create().withGamma(2).withAlpha(classWeights);
 * try (SoftmaxFocalLoss.Result r = focal.forwardBackward(logits, targets)) { ... }
 * }</pre>
 *
 * <p>Shapes: logits (N, C) float32 with N &ge; 1 and C &ge; 2; targets (N) int32 or int64 in
 * [0, C); alpha, if given, (C) float32. Defaults: gamma 2, no alpha (alpha_t = 1), reduction
 * MEAN. Pitfall: MEAN is the plain mean over the N rows, not divided by the sum of alpha_t as
 * {@code F.cross_entropy(weight=...)} does.
 *
 * <p>The gradient w.r.t. the logits, of the reduced loss (for NONE, of the sum), is analytic:
 * {@code alpha_t (p_j - [j = t]) (1-p_t)^gamma (1 - gamma p_t log(p_t) / (1-p_t))}, evaluated so
 * that p_t &rarr; 1 is finite for every gamma &ge; 0 (also gamma &lt; 1, where autograd gives NaN).
 * Non-finite logits follow {@link CrossEntropy}: a row holding NaN or +Inf is NaN, -Inf entries have
 * probability 0, a -Inf target logit gives +Inf.
 *
 * <p>Instances are immutable and thread-safe; an alpha tensor is held by reference and must stay
 * open while the loss is used.
 */
public final class SoftmaxFocalLoss {
    private final float gamma;
    private final Tensor alpha;    // null: alpha_t = 1
    private final Reduction reduction;
    private final Backend backend; // null: Backends.current() at call time

    private SoftmaxFocalLoss(float gamma, Tensor alpha, Reduction reduction, Backend backend) {
        this.gamma = gamma;
        this.alpha = alpha;
        this.reduction = reduction;
        this.backend = backend;
    }

    /** gamma 2, no alpha, reduction MEAN, on {@link Backends#current()}. */
    public static SoftmaxFocalLoss create() {
        return new SoftmaxFocalLoss(2.0f, null, Reduction.MEAN, null);
    }

    /** The focusing exponent, finite and &ge; 0 (0 with no alpha: cross-entropy). */
    public SoftmaxFocalLoss withGamma(float gamma) {
        return new SoftmaxFocalLoss(FocalArgs.gamma(gamma), alpha, reduction, backend);
    }

    /** A weight per class, (C) float32, checked against the logits at each call; null removes it. */
    public SoftmaxFocalLoss withAlpha(Tensor alpha) {
        return new SoftmaxFocalLoss(gamma, alpha, reduction, backend);
    }

    /** The same loss with another reduction. */
    public SoftmaxFocalLoss withReduction(Reduction reduction) {
        return new SoftmaxFocalLoss(gamma, alpha, BinaryArgs.nonNull(reduction), backend);
    }

    /** The same loss pinned to a backend. */
    public SoftmaxFocalLoss withBackend(Backend backend) {
        return new SoftmaxFocalLoss(gamma, alpha, reduction, BinaryArgs.nonNull("backend", backend));
    }

    public float gamma() {
        return gamma;
    }

    public Reduction reduction() {
        return reduction;
    }

    /** The backend calls run on. */
    public Backend backend() {
        return backend != null ? backend : Backends.current();
    }

    /** The loss alone: shape () for MEAN and SUM, (N) for NONE. */
    public Tensor forward(Tensor logits, Tensor targets) {
        Kernels k = check(logits, targets);
        Tensor loss = newLoss(logits);
        k.focal().softmaxFocal(logits, targets, alpha, gamma, reduction, loss, null);
        return loss;
    }

    /** The loss and its gradient with respect to the logits, in new tensors. */
    public Result forwardBackward(Tensor logits, Tensor targets) {
        Kernels k = check(logits, targets);
        Tensor loss = newLoss(logits);
        Tensor grad = Tensor.zeros(DType.FLOAT32, logits.shape());
        k.focal().softmaxFocal(logits, targets, alpha, gamma, reduction, loss, grad);
        return new Result(loss, grad);
    }

    /** A loss and its gradient w.r.t. the logits; closing it closes both. */
    public record Result(Tensor loss, Tensor grad) implements AutoCloseable {
        @Override
        public void close() {
            loss.close();
            grad.close();
        }
    }

    private Tensor newLoss(Tensor logits) {
        return reduction == Reduction.NONE ? Tensor.zeros(DType.FLOAT32, logits.size(0)) : Tensor.zeros(DType.FLOAT32);
    }

    private Kernels check(Tensor logits, Tensor targets) {
        Kernels k = (Kernels) backend();
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
        Checks.classIndices("targets", targets, c, "for logits of shape " + shape);
        if (alpha != null) {
            Checks.usable("alpha", alpha, k);
            Checks.dtype("alpha", alpha, DType.FLOAT32);
            Checks.shape("alpha", alpha, "(C) one weight per class", c);
        }
        return k;
    }
}
