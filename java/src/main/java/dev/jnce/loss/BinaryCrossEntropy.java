package dev.jnce.loss;

import dev.jnce.Reduction;
import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;

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
 * number of elements, also with a weight.
 *
 * <p>Instances are immutable and thread-safe; a weight tensor is held by reference and must stay
 * open while the loss is used.
 */
public final class BinaryCrossEntropy {
    private final Reduction reduction;
    private final Tensor weight;   // null: no weight
    private final Backend backend; // null: Backends.current() at call time

    private BinaryCrossEntropy(Reduction reduction, Tensor weight, Backend backend) {
        this.reduction = reduction;
        this.weight = weight;
        this.backend = backend;
    }

    /** Mean reduction, no weight, on {@link Backends#current()}. */
    public static BinaryCrossEntropy create() {
        return new BinaryCrossEntropy(Reduction.MEAN, null, null);
    }

    /** The same loss with another reduction. */
    public BinaryCrossEntropy withReduction(Reduction reduction) {
        return new BinaryCrossEntropy(BinaryArgs.nonNull(reduction), weight, backend);
    }

    /**
     * The same loss with a rescaling weight per element: float32 of the input's shape, or of a
     * trailing part of it that broadcasts over the leading dimensions ((C) per class for
     * (N, C) input). Null removes the weight. Checked against the input at each call.
     */
    public BinaryCrossEntropy withWeight(Tensor weight) {
        return new BinaryCrossEntropy(reduction, weight, backend);
    }

    /** The same loss pinned to a backend. */
    public BinaryCrossEntropy withBackend(Backend backend) {
        return new BinaryCrossEntropy(reduction, weight, BinaryArgs.nonNull("backend", backend));
    }

    public Reduction reduction() {
        return reduction;
    }

    /** The backend calls run on. */
    public Backend backend() {
        return backend != null ? backend : Backends.current();
    }

    /** The loss alone: shape () for MEAN and SUM, the input's shape for NONE. */
    public Tensor forward(Tensor input, Tensor target) {
        Kernels k = check(input, target);
        return BinaryArgs.forward(reduction, input, (loss, gi, gt) ->
                k.binaryCrossEntropy().binaryCrossEntropy(input, target, weight, reduction, loss, gi, gt));
    }

    /** The loss and its gradients with respect to input and target, in new tensors. */
    public InputTargetResult forwardBackward(Tensor input, Tensor target) {
        Kernels k = check(input, target);
        return BinaryArgs.forwardBackward(reduction, input, (loss, gi, gt) ->
                k.binaryCrossEntropy().binaryCrossEntropy(input, target, weight, reduction, loss, gi, gt));
    }

    private Kernels check(Tensor input, Tensor target) {
        Kernels k = (Kernels) backend();
        BinaryArgs.inputAndTarget(k, input, target);
        BinaryArgs.inUnitInterval("input", input);
        BinaryArgs.broadcastable(k, "weight", weight, input);
        return k;
    }
}
