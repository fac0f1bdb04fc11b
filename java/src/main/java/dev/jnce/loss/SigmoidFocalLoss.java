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
 * Sigmoid focal loss (Lin et al., RetinaNet) with the meaning of torchvision's
 * {@code torchvision.ops.sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2, reduction='none')}:
 * per element, with {@code p = sigmoid(x)}, {@code p_t = p y + (1-p)(1-y)} and
 * {@code alpha_t = alpha y + (1-alpha)(1-y)},
 * {@code loss = alpha_t (1 - p_t)^gamma BCE_with_logits(x, y)}.
 *
 * <pre>{@code
 * SigmoidFocalLoss focal = SigmoidFocalLoss.create(0.25f, 2f);   // (alpha, gamma), torchvision's order
 * try (InputTargetResult r = focal.forwardBackward(logits, targets)) { ... }
 * }</pre>
 *
 * <p>The options, in torchvision's order and meaning: {@code alpha}, the weighting factor in
 * [0, 1] that balances positive against negative examples (positives weigh alpha, negatives
 * 1 - alpha), or negative (torchvision's -1) for no weighting; {@code gamma}, the exponent of the
 * modulating factor {@code (1 - p_t)} that balances easy against hard examples (0: none).
 * Defaults mirror torchvision, including the one that surprises: the reduction is
 * {@link Reduction#NONE} (one loss per element), not MEAN. gamma = 0 with alpha &lt; 0 is plain
 * BCE with logits.
 *
 * <p>Shapes: input (logits) and target float32 of one shape, any rank, at least one element;
 * targets in [0, 1] (soft targets allowed). Gradients w.r.t. logits and targets are computed
 * analytically, of the reduced loss (for NONE, of the sum), into new tensors or a caller's
 * buffers: on {@code cpu} with AVX2 on 8 float lanes, within a few ulp of the double formulas,
 * else in double. Where torch's autograd of the torchvision formula gives NaN (gamma &lt; 1 with
 * a saturated logit, {@code 1 - p_t = 0}), jnce gives the limit, a finite value.
 *
 * <p>A call runs on the backend this loss is pinned to, else on the backend of the device its
 * tensors live on (all on one device). Instances are immutable and thread-safe.
 */
public final class SigmoidFocalLoss {
    private final float alpha, gamma;
    private final Reduction reduction;
    private final Backend backend; // null: follow the tensors' device

    private SigmoidFocalLoss(float alpha, float gamma, Reduction reduction, Backend backend) {
        this.alpha = alpha;
        this.gamma = gamma;
        this.reduction = reduction;
        this.backend = backend;
    }

    /**
     * torchvision's defaults: alpha 0.25, gamma 2, reduction NONE, on the backend of the tensors' device.
     *
     * @return a loss with these settings
     */
    public static SigmoidFocalLoss create() {
        return create(0.25f, 2.0f);
    }

    /**
     * alpha and gamma as {@link #withAlpha} and {@link #withGamma} take them; reduction NONE.
     *
     * @param alpha the positive class's weight in [0, 1], or negative for none
     * @param gamma the focusing exponent, finite and &ge; 0
     * @return a loss with these settings
     * @throws IllegalArgumentException if alpha is NaN, or gamma negative or not finite
     */
    public static SigmoidFocalLoss create(float alpha, float gamma) {
        return new SigmoidFocalLoss(Checks.focalAlpha(alpha), Checks.focalGamma(gamma), Reduction.NONE, null);
    }

    /**
     * Weight of the positive class in [0, 1] (negatives get 1 - alpha); negative: no weighting.
     *
     * @param alpha the positive class's weight in [0, 1], or negative for none
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if alpha is NaN
     */
    public SigmoidFocalLoss withAlpha(float alpha) {
        return new SigmoidFocalLoss(Checks.focalAlpha(alpha), gamma, reduction, backend);
    }

    /**
     * The exponent of the modulating factor (1 - p_t), finite and &ge; 0 (0: no focusing).
     *
     * @param gamma the focusing exponent, finite and &ge; 0
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if gamma is negative or not finite
     */
    public SigmoidFocalLoss withGamma(float gamma) {
        return new SigmoidFocalLoss(alpha, Checks.focalGamma(gamma), reduction, backend);
    }

    /**
     * The same loss with another reduction (MEAN is over all elements).
     *
     * @param reduction how the per-row losses are combined (MEAN, SUM or NONE); not null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if reduction is null or BATCHMEAN (kl_div's alone)
     */
    public SigmoidFocalLoss withReduction(Reduction reduction) {
        Checks.reduction(reduction);
        return new SigmoidFocalLoss(alpha, gamma, reduction, backend);
    }

    /**
     * The same loss pinned to a backend.
     *
     * @param backend the backend every call runs on, whatever device the tensors are on; not null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if backend is null
     */
    public SigmoidFocalLoss withBackend(Backend backend) {
        return new SigmoidFocalLoss(alpha, gamma, reduction, Checks.nonNull("backend", backend));
    }

    /**
     * The weight of the positive class; negative for none.
     *
     * @return alpha
     */
    public float alpha() {
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
     * The loss alone: the input's shape for NONE, shape () for MEAN and SUM.
     *
     * @param input logits, float32 of any shape with at least one element
     * @param target targets, float32 of the input's shape, every value in [0, 1]
     * @return the loss in a new tensor: the input's shape for NONE, else ()
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Tensor forward(Tensor input, Tensor target) {
        Kernels k = kernels(input, target, null, null, null);
        Checks.binaryInputAndTarget(k, input, target);
        Tensor loss = newLoss(k, input);
        try {
            run(k, input, target, loss, null, null);
            return loss;
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, loss);
        }
    }

    /**
     * The loss and its gradients with respect to the logits and the target, in new tensors.
     *
     * @param input logits, float32 of any shape with at least one element
     * @param target targets, float32 of the input's shape, every value in [0, 1]
     * @return the loss and the gradients with respect to the logits and the target, in new tensors on the
     *   call's device; close the result (or use a {@link dev.jnce.TensorScope})
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public InputTargetResult forwardBackward(Tensor input, Tensor target) {
        Kernels k = kernels(input, target, null, null, null);
        Checks.binaryInputAndTarget(k, input, target);
        Tensor loss = null, gradInput = null, gradTarget = null;
        try {
            loss = newLoss(k, input);
            gradInput = Tensor.zeros(k.device(), DType.FLOAT32, input.shape());
            gradTarget = Tensor.zeros(k.device(), DType.FLOAT32, input.shape());
            run(k, input, target, loss, gradInput, gradTarget);
            return new InputTargetResult(loss, gradInput, gradTarget);
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, loss, gradInput, gradTarget);
        }
    }

    /**
     * The loss and gradients written into the caller's tensors, so that a training loop allocates
     * nothing per call. Each element is read before its gradients are written, so
     * {@code gradInput} may be {@code input} itself and {@code gradTarget} may be {@code target}:
     * the gradients then replace them.
     *
     * @param input logits, float32 of any shape with at least one element
     * @param target targets, float32 of the input's shape, every value in [0, 1]
     * @param loss       float32 of the input's shape for NONE, else a one-element float32 tensor of shape () or (1)
     * @param gradInput  float32 of the input's shape
     * @param gradTarget float32 of the input's shape, or null when the target's gradient is not wanted
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public void forwardBackward(Tensor input, Tensor target, Tensor loss, Tensor gradInput, Tensor gradTarget) {
        Kernels k = kernels(input, target, loss, gradInput, gradTarget);
        Checks.binaryInputAndTarget(k, input, target);
        Checks.binaryOutputs(k, reduction, input, loss, gradInput, gradTarget);
        run(k, input, target, loss, gradInput, gradTarget);
    }

    private Kernels kernels(Tensor input, Tensor target, Tensor loss, Tensor gradInput, Tensor gradTarget) {
        return Kernels.forCall(backend, "input", input, "target", target, Kernels.OUTPUTS, "loss", loss, "gradInput", gradInput,
                "gradTarget", gradTarget, Kernels.inPlace("gradInput", "input"), Kernels.inPlace("gradTarget", "target"));
    }

    private Tensor newLoss(Kernels k, Tensor input) {
        return Tensor.zeros(k.device(), DType.FLOAT32, reduction == Reduction.NONE ? input.shape() : new long[0]);
    }

    private void run(Kernels k, Tensor input, Tensor target, Tensor loss, Tensor gradInput, Tensor gradTarget) {
        k.focal().sigmoidFocal(input, target, alpha, gamma, reduction, loss, gradInput, gradTarget);
    }
}
