package dev.jnce.loss;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.internal.Checks;

/**
 * Softmax cross-entropy of logits against class indices, with the meaning of PyTorch's
 * {@code F.cross_entropy(input, target, reduction=...)}, forward and backward in one fused pass.
 *
 * <pre>{@code
 * CrossEntropy ce = CrossEntropy.create();                  // reduction MEAN, current backend
 * try (CrossEntropy.Result r = ce.forwardBackward(logits, targets)) {
 *     float loss = r.loss().item();
 *     float[] dLogits = r.grad().toFloatArray();             // d loss / d logits, (N,C)
 * }
 * }</pre>
 *
 * <p>Shapes: logits {@code (N,C)} float32 with N &ge; 1 and C &ge; 2; targets {@code (N)} int32
 * or int64 in {@code [0,C)}. Everything is checked before any native call; a mistake throws
 * {@link IllegalArgumentException} naming the argument and the shapes, a closed tensor
 * {@link IllegalStateException}.
 *
 * <p>Non-finite logits: a row holding NaN or +Inf gets a NaN loss and a NaN gradient row (so a
 * reduced loss is NaN too, as in PyTorch). An entry of -Inf has probability 0 and gradient 0;
 * if the target's logit is -Inf the row's loss is +Inf. A row that is all -Inf is NaN.
 *
 * <p>The gradient is that of the reduced loss: {@code (softmax - onehot) / N} for MEAN. For
 * NONE it is the gradient of the sum of the row losses (an upstream gradient of ones).
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class CrossEntropy {
    private final Reduction reduction;
    private final Backend backend; // null: Backends.current() at call time

    private CrossEntropy(Reduction reduction, Backend backend) {
        this.reduction = reduction;
        this.backend = backend;
    }

    /** Mean reduction, on {@link Backends#current()}. */
    public static CrossEntropy create() {
        return new CrossEntropy(Reduction.MEAN, null);
    }

    /** The same loss with another reduction. */
    public CrossEntropy withReduction(Reduction reduction) {
        if (reduction == null) throw new IllegalArgumentException("reduction: must not be null");
        return new CrossEntropy(reduction, backend);
    }

    /** The same loss pinned to a backend. */
    public CrossEntropy withBackend(Backend backend) {
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        return new CrossEntropy(reduction, backend);
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
        Kernels k = kernels();
        long n = check(k, logits, targets);
        Tensor loss = newLoss(n);
        k.crossEntropy().softmaxCrossEntropy(logits, targets, reduction, loss, null);
        return loss;
    }

    /** The loss and its gradient with respect to the logits, in new tensors. */
    public Result forwardBackward(Tensor logits, Tensor targets) {
        Kernels k = kernels();
        long n = check(k, logits, targets);
        Tensor loss = newLoss(n);
        Tensor grad = Tensor.zeros(DType.FLOAT32, logits.shape());
        k.crossEntropy().softmaxCrossEntropy(logits, targets, reduction, loss, grad);
        return new Result(loss, grad);
    }

    /**
     * The loss and gradient written into the caller's tensors, so that a training loop
     * allocates nothing per call. {@code grad} may be {@code logits} itself: the gradient then
     * replaces the logits in place.
     *
     * @param loss (N) float32 for NONE, else a one-element float32 tensor of shape () or (1)
     * @param grad (N,C) float32
     */
    public void forwardBackward(Tensor logits, Tensor targets, Tensor loss, Tensor grad) {
        Kernels k = kernels();
        long n = check(k, logits, targets);
        Checks.usable("loss", loss, k);
        Checks.dtype("loss", loss, DType.FLOAT32);
        if (reduction == Reduction.NONE) {
            Checks.shape("loss", loss, "(N)", n);
        } else if (loss.numel() != 1) {
            throw new IllegalArgumentException("loss: expected shape () or (1) for reduction " + reduction
                    + ", got " + Tensor.formatShape(loss.shape()));
        }
        Checks.usable("grad", grad, k);
        Checks.dtype("grad", grad, DType.FLOAT32);
        Checks.shape("grad", grad, "(N, C) of logits", logits.shape());
        k.crossEntropy().softmaxCrossEntropy(logits, targets, reduction, loss, grad);
    }

    /** A loss and its gradient; closing it closes both. */
    public record Result(Tensor loss, Tensor grad) implements AutoCloseable {
        @Override
        public void close() {
            loss.close();
            grad.close();
        }
    }

    private Kernels kernels() {
        return (Kernels) backend();
    }

    private Tensor newLoss(long n) {
        return reduction == Reduction.NONE ? Tensor.zeros(DType.FLOAT32, n) : Tensor.zeros(DType.FLOAT32);
    }

    /** Checks logits and targets; returns N. */
    private static long check(Kernels k, Tensor logits, Tensor targets) {
        Checks.usable("logits", logits, k);
        Checks.usable("targets", targets, k);
        Checks.dtype("logits", logits, DType.FLOAT32);
        if (logits.rank() != 2) {
            throw new IllegalArgumentException("logits: expected shape (N, C), got " + Tensor.formatShape(logits.shape()));
        }
        long n = logits.size(0), c = logits.size(1);
        if (n == 0) {
            throw new IllegalArgumentException("logits: empty batch, shape " + Tensor.formatShape(logits.shape())
                    + "; expected (N, C) with N >= 1");
        }
        if (c < 2) {
            throw new IllegalArgumentException("logits: shape " + Tensor.formatShape(logits.shape()) + " has C = " + c
                    + " class; cross-entropy needs (N, C) with C >= 2 (for one logit per row, use a binary "
                    + "cross-entropy with logits)");
        }
        if (targets.dtype() == DType.FLOAT32) {
            throw new IllegalArgumentException("targets: expected int32 or int64 class indices of shape (N) = ("
                    + n + "), got " + targets.describe());
        }
        Checks.dtype("targets", targets, DType.INT32, DType.INT64);
        if (targets.rank() == 2 && targets.size(1) == 1 && targets.size(0) == n) {
            throw new IllegalArgumentException("targets: shape " + Tensor.formatShape(targets.shape())
                    + ", expected (N) = (" + n + "): class indices are one per row; drop the trailing dimension");
        }
        if (targets.rank() != 1 || targets.size(0) != n) {
            throw new IllegalArgumentException("targets: shape " + Tensor.formatShape(targets.shape())
                    + " does not match logits " + Tensor.formatShape(logits.shape()) + "; expected (N) = (" + n + ")");
        }
        Checks.classIndices("targets", targets, c, "for logits of shape " + Tensor.formatShape(logits.shape()));
        return n;
    }
}
