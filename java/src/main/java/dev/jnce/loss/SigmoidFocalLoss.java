package dev.jnce.loss;

import dev.jnce.Reduction;
import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;

/**
 * Sigmoid focal loss (Lin et al., RetinaNet) with the meaning of torchvision's
 * {@code torchvision.ops.sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2, reduction='none')}:
 * per element, with {@code p = sigmoid(x)}, {@code p_t = p y + (1-p)(1-y)} and
 * {@code alpha_t = alpha y + (1-alpha)(1-y)},
 * {@code loss = alpha_t (1 - p_t)^gamma BCE_with_logits(x, y)}.
 *
 * <p>Defaults mirror torchvision, including the one that surprises: the reduction is
 * {@link Reduction#NONE} (one loss per element), not MEAN. A negative alpha turns the alpha_t
 * weighting off. gamma = 0 with alpha &lt; 0 is plain BCE with logits.
 *
 * <p>Shapes: input (logits) and target float32 of one shape, any rank, at least one element;
 * targets in [0, 1] (soft targets allowed). Gradients w.r.t. logits and targets are computed
 * analytically in double, of the reduced loss (for NONE, of the sum). Where torch's autograd of
 * the torchvision formula gives NaN (gamma &lt; 1 with a saturated logit, {@code 1 - p_t = 0}),
 * jnce gives the limit, a finite value.
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class SigmoidFocalLoss {
    private final float alpha, gamma;
    private final Reduction reduction;
    private final Backend backend; // null: Backends.current() at call time

    private SigmoidFocalLoss(float alpha, float gamma, Reduction reduction, Backend backend) {
        this.alpha = alpha;
        this.gamma = gamma;
        this.reduction = reduction;
        this.backend = backend;
    }

    /** torchvision's defaults: alpha 0.25, gamma 2, reduction NONE, on {@link Backends#current()}. */
    public static SigmoidFocalLoss create() {
        return new SigmoidFocalLoss(0.25f, 2.0f, Reduction.NONE, null);
    }

    /** Weight of the positive class in [0, 1] (negatives get 1 - alpha); negative: no weighting. */
    public SigmoidFocalLoss withAlpha(float alpha) {
        if (Float.isNaN(alpha)) throw new IllegalArgumentException("alpha: must be a number, got NaN");
        return new SigmoidFocalLoss(alpha, gamma, reduction, backend);
    }

    /** The focusing exponent, finite and &ge; 0 (0: no focusing). */
    public SigmoidFocalLoss withGamma(float gamma) {
        return new SigmoidFocalLoss(alpha, FocalArgs.gamma(gamma), reduction, backend);
    }

    /** The same loss with another reduction (MEAN is over all elements). */
    public SigmoidFocalLoss withReduction(Reduction reduction) {
        return new SigmoidFocalLoss(alpha, gamma, BinaryArgs.nonNull(reduction), backend);
    }

    /** The same loss pinned to a backend. */
    public SigmoidFocalLoss withBackend(Backend backend) {
        return new SigmoidFocalLoss(alpha, gamma, reduction, BinaryArgs.nonNull("backend", backend));
    }

    public float alpha() {
        return alpha;
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

    /** The loss alone: the input's shape for NONE, shape () for MEAN and SUM. */
    public Tensor forward(Tensor input, Tensor target) {
        Kernels k = check(input, target);
        return BinaryArgs.forward(reduction, input, (loss, gi, gt) ->
                k.focal().sigmoidFocal(input, target, alpha, gamma, reduction, loss, gi, gt));
    }

    /** The loss and its gradients with respect to the logits and the target, in new tensors. */
    public InputTargetResult forwardBackward(Tensor input, Tensor target) {
        Kernels k = check(input, target);
        return BinaryArgs.forwardBackward(reduction, input, (loss, gi, gt) ->
                k.focal().sigmoidFocal(input, target, alpha, gamma, reduction, loss, gi, gt));
    }

    private Kernels check(Tensor input, Tensor target) {
        Kernels k = (Kernels) backend();
        BinaryArgs.inputAndTarget(k, input, target);
        return k;
    }
}
