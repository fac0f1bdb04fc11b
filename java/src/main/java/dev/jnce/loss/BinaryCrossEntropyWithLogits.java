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
 * Binary cross-entropy on logits, with the meaning of PyTorch's
 * {@code F.binary_cross_entropy_with_logits(input, target, weight=None, reduction='mean',
 * pos_weight=None)}: per element {@code -w (pw y log sigmoid(x) + (1-y) log(1 - sigmoid(x)))},
 * evaluated in the stable form {@code (1-y) x + (1 + (pw-1) y) softplus(-x)}, so logits of any
 * finite size (1e4 and beyond) give exact losses and gradients.
 *
 * <pre>{@code
 * BinaryCrossEntropyWithLogits bce = BinaryCrossEntropyWithLogits.create().withPosWeight(posWeight);
 * try (InputTargetResult r = bce.forwardBackward(logits, targets)) { ... }
 * }</pre>
 *
 * <p>Shapes: input and target float32 of one shape, any rank, at least one element; targets in
 * [0, 1] (soft targets allowed; PyTorch does not check this, jnce does). {@code weight} and
 * {@code posWeight} broadcast like {@link BinaryCrossEntropy}'s weight: usually (C) per class
 * for (N, C) multi-label input. weight must be finite; pos_weight must be finite and &ge; 0: it
 * multiplies the positive term ({@code pw > 1} raises recall; {@code pw = numNegatives /
 * numPositives} is the usual choice).
 *
 * <p>Gradients (PyTorch 1.13): w.r.t. the logits {@code w ((1 + (pw-1) y) sigmoid(x) - pw y)},
 * w.r.t. the target {@code w (-x + (pw-1) softplus(-x))}, of the reduced loss (for NONE, of the
 * sum). MEAN divides by the number of elements. NaN logits give NaN; infinite logits follow
 * PyTorch's formula (e.g. +Inf with target 1 is NaN). The gradients may be written into a
 * caller's buffers, over the logits and target themselves.
 *
 * <p>A call runs on the backend this loss is pinned to, else on the backend of the device its
 * tensors live on (all on one device). Instances are immutable and thread-safe; weight tensors are
 * held by reference and must stay open while the loss is used.
 */
public final class BinaryCrossEntropyWithLogits {
    private final Reduction reduction;
    private final Tensor weight, posWeight; // null: absent
    private final Backend backend;          // null: follow the tensors' device

    private BinaryCrossEntropyWithLogits(Reduction reduction, Tensor weight, Tensor posWeight, Backend backend) {
        this.reduction = reduction;
        this.weight = weight;
        this.posWeight = posWeight;
        this.backend = backend;
    }

    /**
     * Mean reduction, no weights, on the backend of the tensors' device.
     *
     * @return a loss with reduction MEAN and no weights
     */
    public static BinaryCrossEntropyWithLogits create() {
        return new BinaryCrossEntropyWithLogits(Reduction.MEAN, null, null, null);
    }

    /**
     * The same loss with another reduction.
     *
     * @param reduction MEAN (over all elements), SUM or NONE; not null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if reduction is null or BATCHMEAN (kl_div's alone)
     */
    public BinaryCrossEntropyWithLogits withReduction(Reduction reduction) {
        Checks.reduction(reduction);
        return new BinaryCrossEntropyWithLogits(reduction, weight, posWeight, backend);
    }

    /**
     * The same loss with a rescaling weight per element, float32 with finite values, of the
     * input's shape or a trailing part of it (usually (C)); null removes it.
     *
     * @param weight float32 of the input's shape or of a trailing part of it, finite values; or null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     */
    public BinaryCrossEntropyWithLogits withWeight(Tensor weight) {
        return new BinaryCrossEntropyWithLogits(reduction, weight, posWeight, backend);
    }

    /**
     * The same loss with a weight of positive examples, float32 finite and &ge; 0, usually (C); null removes it.
     *
     * @param posWeight float32 of a trailing part of the input's shape (usually (C)), finite and &ge; 0;
     *   or null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     */
    public BinaryCrossEntropyWithLogits withPosWeight(Tensor posWeight) {
        return new BinaryCrossEntropyWithLogits(reduction, weight, posWeight, backend);
    }

    /**
     * The same loss pinned to a backend.
     *
     * @param backend the backend every call runs on, whatever device the tensors are on; not null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if backend is null
     */
    public BinaryCrossEntropyWithLogits withBackend(Backend backend) {
        return new BinaryCrossEntropyWithLogits(reduction, weight, posWeight, Checks.nonNull("backend", backend));
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
     * The loss alone: shape () for MEAN and SUM, the input's shape for NONE.
     *
     * @param input logits, float32 of any shape with at least one element
     * @param target targets, float32 of the input's shape, every value in [0, 1] (soft targets allowed)
     * @return the loss in a new tensor: shape () for MEAN and SUM, the input's shape for NONE
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Tensor forward(Tensor input, Tensor target) {
        Kernels k = kernels(input, target, null, null, null);
        check(k, input, target);
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
     * @param target targets, float32 of the input's shape, every value in [0, 1] (soft targets allowed)
     * @return the loss and the gradients with respect to the logits and the target, in new tensors on the
     *   call's device; close the result (or use a {@link dev.jnce.TensorScope})
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public InputTargetResult forwardBackward(Tensor input, Tensor target) {
        Kernels k = kernels(input, target, null, null, null);
        check(k, input, target);
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
     * @param target targets, float32 of the input's shape, every value in [0, 1] (soft targets allowed)
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
        check(k, input, target);
        Checks.binaryOutputs(k, reduction, input, loss, gradInput, gradTarget);
        run(k, input, target, loss, gradInput, gradTarget);
    }

    private Kernels kernels(Tensor input, Tensor target, Tensor loss, Tensor gradInput, Tensor gradTarget) {
        return Kernels.forCall(backend, "input", input, "target", target, "weight", weight, "posWeight", posWeight,
                Kernels.OUTPUTS, "loss", loss, "gradInput", gradInput, "gradTarget", gradTarget,
                Kernels.inPlace("gradInput", "input"), Kernels.inPlace("gradTarget", "target"));
    }

    private Tensor newLoss(Kernels k, Tensor input) {
        return Tensor.zeros(k.device(), DType.FLOAT32, reduction == Reduction.NONE ? input.shape() : new long[0]);
    }

    private void run(Kernels k, Tensor input, Tensor target, Tensor loss, Tensor gradInput, Tensor gradTarget) {
        k.binaryCrossEntropy().binaryCrossEntropyWithLogits(input, target, weight, posWeight, reduction, loss,
                gradInput, gradTarget);
    }

    private void check(Kernels k, Tensor input, Tensor target) {
        Checks.binaryInputAndTarget(k, input, target);
        Checks.broadcastable(k, "weight", weight, input);
        Checks.broadcastable(k, "posWeight", posWeight, input);
        if (weight != null) Checks.finite(k, "weight", weight);
        if (posWeight != null) Checks.nonNegativeFinite(k, "posWeight", posWeight, "a weight of the positive term");
    }
}
