package dev.jnce.loss;

import dev.jnce.Reduction;
import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.CrossEntropyCall;
import dev.jnce.backend.Kernels;
import dev.jnce.internal.Checks;
import dev.jnce.internal.Outputs;


/**
 * Softmax cross-entropy of logits, with the meaning of PyTorch's
 * {@code F.cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)},
 * forward and backward in one fused pass.
 *
 * <pre>{@code
 * CrossEntropy ce = CrossEntropy.create()                    // reduction MEAN; runs where the tensors live
 *         .withWeight(classWeights).withLabelSmoothing(0.1f);
 * try (CrossEntropy.Result r = ce.forwardBackward(logits, targets)) {
 *     float loss = r.loss().item();
 *     float[] dLogits = r.grad().toFloatArray();              // d loss / d logits, (N,C)
 * }
 * }</pre>
 *
 * <h2>Targets</h2>
 * int32 or int64 class indices of shape {@code (N)} in {@code [0,C)}, where the value
 * {@link #withIgnoreIndex ignore index} (default -100, and it may be a valid class) leaves a row
 * out; or float32 probabilities of shape {@code (N,C)}, each counted row a distribution (entries
 * &ge; 0 summing to 1 within 1e-3). The kernel checks these values, and that class weights are
 * finite, as it reads them: a bad one throws {@link IllegalArgumentException} naming the first
 * offending index and its value (for class indices and weights, before anything is written). Logits are {@code (N,C)} float32, N &ge; 1,
 * C &ge; 2. A row mask {@code (N)} int32 (0 leaves a row out) may be given with either kind:
 * it is how soft targets get PyTorch's ignore_index behaviour.
 *
 * <h2>Reductions</h2>
 * As PyTorch: MEAN of class-index targets divides by the sum of the class weights of the counted
 * rows (the number of counted rows without weights); MEAN of probability targets divides by the
 * number of counted rows. A MEAN over no counted row is NaN, as in PyTorch, unless
 * {@link #withZeroWhenAllIgnored(boolean)} makes it 0 with a zero gradient. Label smoothing mixes
 * in the uniform distribution with PyTorch's weighting ({@code q = (1-eps) onehot + eps/C},
 * each term times its class weight).
 *
 * <h2>Beyond PyTorch</h2>
 * {@link #withZLoss(float)} adds {@code lambda * lse^2} per counted row (averaged over counted
 * rows for MEAN, without class weights), the stabiliser of large-vocabulary training;
 * {@link #withLogSumExp(boolean)} returns each row's log-sum-exp.
 *
 * <h2>Non-finite logits</h2>
 * A counted row holding NaN or +Inf gets a NaN loss and a NaN gradient row (so a reduced loss is
 * NaN too, as in PyTorch); rows left out contribute 0 whatever they hold. An entry of -Inf has
 * probability 0 and gradient 0; if a class target's logit is -Inf the row's loss is +Inf. A row of
 * only -Inf is NaN.
 *
 * <h2>Gradient</h2>
 * That of the reduced loss ({@code (softmax - onehot) / N} for plain MEAN). For NONE it is the
 * gradient of the sum of the row losses (an upstream gradient of ones). It may be written into a
 * caller's buffer, or over the logits themselves, so that a training loop allocates nothing.
 *
 * <p>Instances are immutable and thread-safe; they hold the weight tensor, which must stay open.
 */
public final class CrossEntropy {
    private final Reduction reduction;
    private final Tensor weight;
    private final long ignoreIndex;
    private final float labelSmoothing;
    private final float zLoss;
    private final boolean zeroWhenAllIgnored;
    private final boolean logSumExp;
    private final Backend backend; // null: the backend of the call's tensors (Kernels.forCall)

    private CrossEntropy(Reduction reduction, Tensor weight, long ignoreIndex, float labelSmoothing, float zLoss,
                         boolean zeroWhenAllIgnored, boolean logSumExp, Backend backend) {
        this.reduction = reduction;
        this.weight = weight;
        this.ignoreIndex = ignoreIndex;
        this.labelSmoothing = labelSmoothing;
        this.zLoss = zLoss;
        this.zeroWhenAllIgnored = zeroWhenAllIgnored;
        this.logSumExp = logSumExp;
        this.backend = backend;
    }

    /**
     * PyTorch's defaults: MEAN, no weight, ignore index -100, no smoothing; each call runs where its tensors live.
     *
     * @return a loss with PyTorch's defaults
     */
    public static CrossEntropy create() {
        return new CrossEntropy(Reduction.MEAN, null, -100, 0f, 0f, false, false, null);
    }

    /**
     * The same loss with another reduction over rows: MEAN (PyTorch's weighted mean over counted rows),
     * SUM or NONE.
     *
     * @param reduction MEAN, SUM or NONE; not null
     * @return a copy with this reduction; this instance is unchanged
     * @throws IllegalArgumentException if reduction is null or BATCHMEAN
     */
    public CrossEntropy withReduction(Reduction reduction) {
        Checks.reduction(reduction);
        return new CrossEntropy(reduction, weight, ignoreIndex, labelSmoothing, zLoss, zeroWhenAllIgnored, logSumExp, backend);
    }

    /**
     * Class weights, a float32 tensor of shape (C) with finite values; null removes them.
     *
     * @param weight (C) float32 with finite values, or null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if the weight is not float32 of shape (C)
     * @throws IllegalStateException if the weight is closed
     */
    public CrossEntropy withWeight(Tensor weight) {
        if (weight != null) {
            weight.requireOpen("weight");
            Checks.dtype("weight", weight, DType.FLOAT32);
            if (weight.rank() != 1) {
                throw new IllegalArgumentException("weight: expected shape (C), got " + Tensor.formatShape(weight.shape()));
            }
        }
        return new CrossEntropy(reduction, weight, ignoreIndex, labelSmoothing, zLoss, zeroWhenAllIgnored, logSumExp, backend);
    }

    /**
     * Class targets equal to this are left out (PyTorch's ignore_index; default -100).
     *
     * @param ignoreIndex the class target that marks a row to leave out
     * @return a copy of this instance with the setting changed; this instance is unchanged
     */
    public CrossEntropy withIgnoreIndex(long ignoreIndex) {
        return new CrossEntropy(reduction, weight, ignoreIndex, labelSmoothing, zLoss, zeroWhenAllIgnored, logSumExp, backend);
    }

    /**
     * PyTorch's label_smoothing, in [0, 1].
     *
     * @param labelSmoothing the smoothing, in [0, 1]
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if labelSmoothing is outside [0, 1]
     */
    public CrossEntropy withLabelSmoothing(float labelSmoothing) {
        if (!(labelSmoothing >= 0f && labelSmoothing <= 1f)) {
            throw new IllegalArgumentException("labelSmoothing: " + labelSmoothing + " is outside [0, 1]");
        }
        return new CrossEntropy(reduction, weight, ignoreIndex, labelSmoothing, zLoss, zeroWhenAllIgnored, logSumExp, backend);
    }

    /**
     * Adds lambda * lse^2 per counted row (0 turns it off); lambda finite and >= 0.
     *
     * @param lambda the z-loss weight, finite and &ge; 0; 0 turns it off
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if lambda is negative or not finite
     */
    public CrossEntropy withZLoss(float lambda) {
        if (!(lambda >= 0f) || Float.isInfinite(lambda)) {
            throw new IllegalArgumentException("zLoss: lambda " + lambda + " must be finite and >= 0");
        }
        return new CrossEntropy(reduction, weight, ignoreIndex, labelSmoothing, lambda, zeroWhenAllIgnored, logSumExp, backend);
    }

    /**
     * When true, a MEAN over a batch with no counted row is 0 (gradient 0) instead of PyTorch's NaN.
     *
     * @param zero true for 0 where PyTorch gives NaN
     * @return a copy of this instance with the setting changed; this instance is unchanged
     */
    public CrossEntropy withZeroWhenAllIgnored(boolean zero) {
        return new CrossEntropy(reduction, weight, ignoreIndex, labelSmoothing, zLoss, zero, logSumExp, backend);
    }

    /**
     * When true, {@link Result#lse()} holds each row's log-sum-exp (N), counted or not, as
     * {@code torch.logsumexp}: NaN for a row holding NaN, +Inf for one holding +Inf (and no NaN),
     * -Inf for a row of -Inf only.
     *
     * @param on true to compute the per-row log-sum-exp
     * @return a copy of this instance with the setting changed; this instance is unchanged
     */
    public CrossEntropy withLogSumExp(boolean on) {
        return new CrossEntropy(reduction, weight, ignoreIndex, labelSmoothing, zLoss, zeroWhenAllIgnored, on, backend);
    }

    /**
     * The same loss pinned to a backend.
     *
     * @param backend the backend every call runs on, whatever device the tensors are on; not null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if backend is null
     */
    public CrossEntropy withBackend(Backend backend) {
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        return new CrossEntropy(reduction, weight, ignoreIndex, labelSmoothing, zLoss, zeroWhenAllIgnored, logSumExp, backend);
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
     * @param logits unnormalised scores (N,C) float32, N &ge; 1, C &ge; 2
     * @param targets class indices (N) int32 or int64, each in [0, C) or the ignore index; or
     *   probabilities (N,C) float32, each row a distribution
     * @return the loss in a new tensor: shape () for MEAN and SUM, (N) for NONE
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Tensor forward(Tensor logits, Tensor targets) {
        return forward(logits, targets, null);
    }

    /**
     * The loss alone, with a row mask (N) int32 or null.
     *
     * @param logits unnormalised scores (N,C) float32, N &ge; 1, C &ge; 2
     * @param targets class indices (N) int32 or int64, each in [0, C) or the ignore index; or
     *   probabilities (N,C) float32, each row a distribution
     * @param rowMask (N) int32, 0 leaves a row out (as if ignored), non-zero keeps it; or null for every
     *   row
     * @return the loss in a new tensor: shape () for MEAN and SUM, (N) for NONE
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Tensor forward(Tensor logits, Tensor targets, Tensor rowMask) {
        Kernels k = kernels(logits, targets, rowMask, null, null, null);
        long n = check(k, logits, targets, rowMask);
        Tensor loss = newLoss(k, n);
        try {
            run(k, logits, targets, rowMask, loss, null, null);
            return loss;
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, loss); // the kernel rejected a value (a class index, a weight)
        }
    }

    /**
     * The loss and its gradient with respect to the logits (and the log-sum-exp if asked), in new tensors.
     *
     * @param logits unnormalised scores (N,C) float32, N &ge; 1, C &ge; 2
     * @param targets class indices (N) int32 or int64, each in [0, C) or the ignore index; or
     *   probabilities (N,C) float32, each row a distribution
     * @return the loss, the gradient with respect to the logits and, if asked, the log-sum-exp, in new
     *   tensors on the call's device; close the result (or use a {@link dev.jnce.TensorScope})
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Result forwardBackward(Tensor logits, Tensor targets) {
        return forwardBackward(logits, targets, (Tensor) null);
    }

    /**
     * As {@link #forwardBackward(Tensor, Tensor)} with a row mask (N) int32, or null.
     *
     * @param logits unnormalised scores (N,C) float32, N &ge; 1, C &ge; 2
     * @param targets class indices (N) int32 or int64, each in [0, C) or the ignore index; or
     *   probabilities (N,C) float32, each row a distribution
     * @param rowMask (N) int32, 0 leaves a row out (as if ignored), non-zero keeps it; or null for every
     *   row
     * @return the loss, the gradient with respect to the logits and, if asked, the log-sum-exp, in new
     *   tensors on the call's device; close the result (or use a {@link dev.jnce.TensorScope})
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Result forwardBackward(Tensor logits, Tensor targets, Tensor rowMask) {
        Kernels k = kernels(logits, targets, rowMask, null, null, null);
        long n = check(k, logits, targets, rowMask);
        Tensor loss = null, grad = null, lse = null;
        try {
            loss = newLoss(k, n);
            grad = Tensor.zeros(k.device(), DType.FLOAT32, logits.shape());
            lse = logSumExp ? Tensor.zeros(k.device(), DType.FLOAT32, n) : null;
            run(k, logits, targets, rowMask, loss, grad, lse);
            return new Result(loss, grad, lse);
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, loss, grad, lse); // the kernel rejected a value
        }
    }

    /**
     * The loss and gradient written into the caller's tensors, so that a training loop
     * allocates nothing per call. {@code grad} may be {@code logits} itself: the gradient then
     * replaces the logits in place.
     *
     * @param logits unnormalised scores (N,C) float32, N &ge; 1, C &ge; 2
     * @param targets class indices (N) int32 or int64, each in [0, C) or the ignore index; or
     *   probabilities (N,C) float32, each row a distribution
     * @param loss (N) float32 for NONE, else a one-element float32 tensor of shape () or (1)
     * @param grad (N,C) float32
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public void forwardBackward(Tensor logits, Tensor targets, Tensor loss, Tensor grad) {
        forwardBackward(logits, targets, null, loss, grad, null);
    }

    /**
     * The fullest form: row mask, gradient and log-sum-exp are optional (null).
     *
     * @param logits unnormalised scores (N,C) float32, N &ge; 1, C &ge; 2
     * @param targets class indices (N) int32 or int64, each in [0, C) or the ignore index; or
     *   probabilities (N,C) float32, each row a distribution
     * @param rowMask (N) int32 or null
     * @param loss    (N) float32 for NONE, else a one-element float32 tensor
     * @param grad    (N,C) float32, may be {@code logits}; or null for forward only
     * @param lse     (N) float32 or null
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public void forwardBackward(Tensor logits, Tensor targets, Tensor rowMask, Tensor loss, Tensor grad, Tensor lse) {
        Kernels k = kernels(logits, targets, rowMask, loss, grad, lse);
        long n = check(k, logits, targets, rowMask);
        Checks.usable("loss", loss, k);
        Checks.dtype("loss", loss, DType.FLOAT32);
        if (reduction == Reduction.NONE) {
            Checks.shape("loss", loss, "(N)", n);
        } else if (loss.numel() != 1) {
            throw new IllegalArgumentException("loss: expected shape () or (1) for reduction " + reduction
                    + ", got " + Tensor.formatShape(loss.shape()));
        }
        if (grad != null) {
            Checks.usable("grad", grad, k);
            Checks.dtype("grad", grad, DType.FLOAT32);
            Checks.shape("grad", grad, "(N, C) of logits", logits.shape());
        }
        if (lse != null) {
            Checks.usable("lse", lse, k);
            Checks.dtype("lse", lse, DType.FLOAT32);
            Checks.shape("lse", lse, "(N)", n);
        }
        run(k, logits, targets, rowMask, loss, grad, lse);
    }

    /**
     * A loss, its gradient with respect to the one (N,C) input (null after forward only) and the
     * log-sum-exp (null unless asked); closing closes all. The result of every loss of one input
     * in this family: cross-entropy, {@link NllLoss} and {@link Entropy} (whose lse is null).
     *
     * @param loss the loss
     * @param grad the gradient with respect to the logits, (N,C)
     * @param lse the per-row log-sum-exp (N), or null
     */
    public record Result(Tensor loss, Tensor grad, Tensor lse) implements AutoCloseable {
        @Override
        public void close() {
            loss.close();
            if (grad != null) grad.close();
            if (lse != null) lse.close();
        }
    }

    /** The pinned backend, else the one of the tensors' device (every tensor on one device). */
    private Kernels kernels(Tensor logits, Tensor targets, Tensor rowMask, Tensor loss, Tensor grad, Tensor lse) {
        return Kernels.forCall(backend, "logits", logits, "targets", targets, "rowMask", rowMask, "weight", weight,
                Kernels.OUTPUTS, "loss", loss, "grad", grad, "lse", lse, Kernels.inPlace("grad", "logits"));
    }

    private Tensor newLoss(Kernels k, long n) {
        return Tensor.zeros(k.device(), DType.FLOAT32, reduction == Reduction.NONE ? new long[] {n} : new long[0]);
    }

    private void run(Kernels k, Tensor logits, Tensor targets, Tensor rowMask, Tensor loss, Tensor grad, Tensor lse) {
        boolean probs = targets.dtype() == DType.FLOAT32;
        k.crossEntropy().crossEntropy(new CrossEntropyCall(logits, probs ? null : targets, probs ? targets : null,
                rowMask, weight, ignoreIndex, labelSmoothing, zLoss, reduction, zeroWhenAllIgnored, loss, grad, lse));
    }

    /**
     * Checks shapes, types and devices; returns N. The values (class indices, weights,
     * probability rows) are checked by the kernel, in the one pass it makes over them anyway.
     */
    private long check(Kernels k, Tensor logits, Tensor targets, Tensor rowMask) {
        Checks.usable("logits", logits, k);
        Checks.usable("targets", targets, k);
        Checks.dtype("logits", logits, DType.FLOAT32);
        if (logits.rank() != 2) {
            throw new IllegalArgumentException("logits: expected shape (N, C), got " + Tensor.formatShape(logits.shape()));
        }
        long n = logits.size(0), c = logits.size(1);
        String logitsShape = Tensor.formatShape(logits.shape());
        if (n == 0) {
            throw new IllegalArgumentException("logits: empty batch, shape " + logitsShape + "; expected (N, C) with N >= 1");
        }
        if (c < 2) {
            throw new IllegalArgumentException("logits: shape " + logitsShape + " has C = " + c + " class; cross-entropy "
                    + "needs (N, C) with C >= 2 (for one logit per row, use a binary cross-entropy with logits)");
        }
        if (targets.dtype() == DType.FLOAT32) {
            if (targets.rank() != 2 || targets.size(0) != n || targets.size(1) != c) {
                throw new IllegalArgumentException("targets: float32 targets are probabilities of shape (N, C) = ("
                        + n + ", " + c + "), got " + targets.describe() + "; class indices must be int32 or int64 of shape ("
                        + n + ")");
            }
        } else {
            Checks.dtype("targets", targets, DType.INT32, DType.INT64);
            if (targets.rank() == 2 && targets.size(1) == 1 && targets.size(0) == n) {
                throw new IllegalArgumentException("targets: shape " + Tensor.formatShape(targets.shape())
                        + ", expected (N) = (" + n + "): class indices are one per row; drop the trailing dimension");
            }
            if (targets.rank() != 1 || targets.size(0) != n) {
                throw new IllegalArgumentException("targets: shape " + Tensor.formatShape(targets.shape())
                        + " does not match logits " + logitsShape + "; expected (N) = (" + n + ")");
            }
        }
        if (rowMask != null) {
            Checks.usable("rowMask", rowMask, k);
            Checks.dtype("rowMask", rowMask, DType.INT32);
            Checks.shape("rowMask", rowMask, "(N)", n);
        }
        if (weight != null) {
            Checks.usable("weight", weight, k);
            if (weight.size(0) != c) {
                throw new IllegalArgumentException("weight: shape " + Tensor.formatShape(weight.shape())
                        + " does not match logits " + logitsShape + "; expected (C) = (" + c + ")");
            }
        }
        return n;
    }
}
