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
 * Binary cross-entropy of probabilities against targets, with the meaning of PyTorch's
 * {@code F.binary_cross_entropy(input, target, weight=None, reduction='mean')}:
 * {@code loss = -w (y log p + (1-y) log(1-p))} per element, each log clamped to &ge; -100 as
 * PyTorch does (so p = 0 or 1 gives a loss of at most 100 per element, never Inf).
 *
 * <pre>{@code
 * try (InputTargetResult r = BinaryCrossEntropy.create().forwardBackward(probs, targets)) {
 *     float loss = r.loss().item();                  // mean over all elements
 *     float[] dProbs = r.gradInput().toFloatArray();
 * }
 * }</pre>
 *
 * <p>Shapes: input and target float32 of one shape, any rank ((N) or multi-label (N, C) alike),
 * at least one element. Input values must lie in [0, 1] (PyTorch raises the same error); so must
 * targets, which may be soft. Prefer {@link BinaryCrossEntropyWithLogits} when you have logits: it
 * is stable where sigmoid-then-BCE saturates.
 *
 * <p>Gradients, as PyTorch 1.13 computes them: w.r.t. the input
 * {@code w (p - y) / max((1-p) p, 1e-12)} (huge, up to 1e12, near p = 0 or 1); w.r.t. the target
 * {@code w (log(1-p) - log p)}, <em>not</em> clamped: +Inf at p = 0 and -Inf at p = 1.
 * Both are of the reduced loss (for NONE, of the sum of the element losses); MEAN divides by the
 * number of elements, also with a weight. They may be written into a caller's buffers, over the
 * input and target themselves, so that a training loop allocates nothing.
 *
 * <p>A call runs on the backend this loss is pinned to, else on the backend of the device its
 * tensors live on (all on one device). Instances are immutable and thread-safe; a weight tensor is
 * held by reference and must stay open while the loss is used.
 */
public final class BinaryCrossEntropy {
    private final Reduction reduction;
    private final Tensor weight;   // null: no weight
    private final Backend backend; // null: follow the tensors' device

    private BinaryCrossEntropy(Reduction reduction, Tensor weight, Backend backend) {
        this.reduction = reduction;
        this.weight = weight;
        this.backend = backend;
    }

    /**
     * Mean reduction, no weight, on the backend of the tensors' device.
     *
     * @return a loss with reduction MEAN and no weight
     */
    public static BinaryCrossEntropy create() {
        return new BinaryCrossEntropy(Reduction.MEAN, null, null);
    }

    /**
     * The same loss with another reduction.
     *
     * @param reduction MEAN (over all elements), SUM or NONE; not null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if reduction is null or BATCHMEAN (kl_div's alone)
     */
    public BinaryCrossEntropy withReduction(Reduction reduction) {
        Checks.reduction(reduction);
        return new BinaryCrossEntropy(reduction, weight, backend);
    }

    /**
     * The same loss with a rescaling weight per element: float32 with finite values, of the
     * input's shape, or of a trailing part of it that broadcasts over the leading dimensions ((C)
     * per class for (N, C) input). Null removes the weight. Checked against the input at each call.
     *
     * @param weight float32 of the input's shape or of a trailing part of it, finite values; or null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     */
    public BinaryCrossEntropy withWeight(Tensor weight) {
        return new BinaryCrossEntropy(reduction, weight, backend);
    }

    /**
     * The same loss pinned to a backend.
     *
     * @param backend the backend every call runs on, whatever device the tensors are on; not null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if backend is null
     */
    public BinaryCrossEntropy withBackend(Backend backend) {
        return new BinaryCrossEntropy(reduction, weight, Checks.nonNull("backend", backend));
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
     * @param input probabilities, float32 of any shape with at least one element, every value in [0, 1]
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
     * The loss and its gradients with respect to input and target, in new tensors.
     *
     * @param input probabilities, float32 of any shape with at least one element, every value in [0, 1]
     * @param target targets, float32 of the input's shape, every value in [0, 1] (soft targets allowed)
     * @return the loss and the gradients with respect to input and target, in new tensors on the call's
     *   device; close the result (or use a {@link dev.jnce.TensorScope})
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
     * @param input probabilities, float32 of any shape with at least one element, every value in [0, 1]
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
        return Kernels.forCall(backend, "input", input, "target", target, "weight", weight, Kernels.OUTPUTS, "loss", loss,
                "gradInput", gradInput, "gradTarget", gradTarget, Kernels.inPlace("gradInput", "input"),
                Kernels.inPlace("gradTarget", "target"));
    }

    private Tensor newLoss(Kernels k, Tensor input) {
        return Tensor.zeros(k.device(), DType.FLOAT32, reduction == Reduction.NONE ? input.shape() : new long[0]);
    }

    private void run(Kernels k, Tensor input, Tensor target, Tensor loss, Tensor gradInput, Tensor gradTarget) {
        k.binaryCrossEntropy().binaryCrossEntropy(input, target, weight, reduction, loss, gradInput, gradTarget);
    }

    private void check(Kernels k, Tensor input, Tensor target) {
        Checks.binaryInputAndTarget(k, input, target);
        Checks.unitInterval(k, "input", input);
        Checks.broadcastable(k, "weight", weight, input);
        if (weight != null) Checks.finite(k, "weight", weight);
    }
}
