package dev.jnce.loss;

import dev.jnce.Reduction;
import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;

import java.lang.foreign.ValueLayout;

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
 * for (N, C) multi-label input. pos_weight must be &ge; 0: it multiplies the positive term
 * ({@code pw > 1} raises recall; {@code pw = numNegatives / numPositives} is the usual choice).
 *
 * <p>Gradients (PyTorch 1.13): w.r.t. the logits {@code w ((1 + (pw-1) y) sigmoid(x) - pw y)},
 * w.r.t. the target {@code w (-x + (pw-1) softplus(-x))}, of the reduced loss (for NONE, of the
 * sum). MEAN divides by the number of elements. NaN logits give NaN; infinite logits follow
 * PyTorch's formula (e.g. +Inf with target 1 is NaN).
 *
 * <p>Instances are immutable and thread-safe; weight tensors are held by reference and must stay
 * open while the loss is used.
 */
public final class BinaryCrossEntropyWithLogits {
    private final Reduction reduction;
    private final Tensor weight, posWeight; // null: absent
    private final Backend backend;          // null: Backends.current() at call time

    private BinaryCrossEntropyWithLogits(Reduction reduction, Tensor weight, Tensor posWeight, Backend backend) {
        this.reduction = reduction;
        this.weight = weight;
        this.posWeight = posWeight;
        this.backend = backend;
    }

    /** Mean reduction, no weights, on {@link Backends#current()}. */
    public static BinaryCrossEntropyWithLogits create() {
        return new BinaryCrossEntropyWithLogits(Reduction.MEAN, null, null, null);
    }

    /** The same loss with another reduction. */
    public BinaryCrossEntropyWithLogits withReduction(Reduction reduction) {
        return new BinaryCrossEntropyWithLogits(BinaryArgs.nonNull(reduction), weight, posWeight, backend);
    }

    /** The same loss with a rescaling weight per element (see the class notes); null removes it. */
    public BinaryCrossEntropyWithLogits withWeight(Tensor weight) {
        return new BinaryCrossEntropyWithLogits(reduction, weight, posWeight, backend);
    }

    /** The same loss with a weight of positive examples, float32 &ge; 0, usually (C); null removes it. */
    public BinaryCrossEntropyWithLogits withPosWeight(Tensor posWeight) {
        return new BinaryCrossEntropyWithLogits(reduction, weight, posWeight, backend);
    }

    /** The same loss pinned to a backend. */
    public BinaryCrossEntropyWithLogits withBackend(Backend backend) {
        return new BinaryCrossEntropyWithLogits(reduction, weight, posWeight, BinaryArgs.nonNull("backend", backend));
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
        return BinaryArgs.forward(reduction, input, (loss, gi, gt) -> k.binaryCrossEntropy()
                .binaryCrossEntropyWithLogits(input, target, weight, posWeight, reduction, loss, gi, gt));
    }

    /** The loss and its gradients with respect to the logits and the target, in new tensors. */
    public InputTargetResult forwardBackward(Tensor input, Tensor target) {
        Kernels k = check(input, target);
        return BinaryArgs.forwardBackward(reduction, input, (loss, gi, gt) -> k.binaryCrossEntropy()
                .binaryCrossEntropyWithLogits(input, target, weight, posWeight, reduction, loss, gi, gt));
    }

    private Kernels check(Tensor input, Tensor target) {
        Kernels k = (Kernels) backend();
        BinaryArgs.inputAndTarget(k, input, target);
        BinaryArgs.broadcastable(k, "weight", weight, input);
        BinaryArgs.broadcastable(k, "posWeight", posWeight, input);
        if (posWeight != null) {
            for (long i = 0; i < posWeight.numel(); i++) {
                float v = posWeight.segment().getAtIndex(ValueLayout.JAVA_FLOAT, i);
                if (!(v >= 0)) {
                    throw new IllegalArgumentException("posWeight[" + i + "] = " + v + " must be >= 0 (a weight of "
                            + "the positive term; NaN is not allowed)");
                }
            }
        }
        return k;
    }
}
