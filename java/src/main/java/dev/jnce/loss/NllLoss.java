package dev.jnce.loss;

import dev.jnce.Reduction;
import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.internal.Checks;
import dev.jnce.internal.Outputs;

/**
 * Negative log-likelihood of class indices, with the meaning of PyTorch's
 * {@code F.nll_loss(input, target, weight=None, ignore_index=-100, reduction='mean')}, forward
 * and backward; or, with {@link #fromProbabilities()}, the same from probabilities.
 *
 * <pre>{@code
 * NllLoss nll = NllLoss.create();                              // MEAN, no weights, ignore -100
 * try (LossResult r = nll.forwardBackward(logProbs, targets)) {
 *     float loss = r.loss().item();
 *     float[] dInput = r.grad().toFloatArray();                // (N,C): -w[t]/sum(w) at targets
 * }
 * }</pre>
 *
 * <p>Shapes: input {@code (N,C)} float32 with N &ge; 1 and C &ge; 1; targets {@code (N)} int32 or
 * int64, each in {@code [0,C)} or equal to the ignore index; weight {@code (C)} float32 with finite
 * values (as {@link CrossEntropy}'s).
 *
 * <p>Row loss: {@code l_i = -w[t_i] * input[i, t_i]}; an ignored row has loss 0 and gradient 0.
 * MEAN is PyTorch's <em>weighted</em> mean {@code sum_i l_i / sum_i w[t_i]} over the rows not
 * ignored (without weights: over the number of such rows, not N). SUM adds the row losses;
 * NONE returns them, shape {@code (N)}, and its gradient is that of their sum.
 *
 * <p>Pitfalls:
 * <ul>
 * <li>The input must be <em>log</em>-probabilities (e.g. a {@code Softmax.logSoftmax()} output);
 *     logits give a meaningless value, and probabilities need {@link #fromProbabilities()}.
 *     Nothing can check this. For logits use {@link CrossEntropy}, which fuses both and is
 *     more exact.</li>
 * <li>A MEAN over a batch whose rows are all ignored is 0/0 = NaN, as in PyTorch (the gradient
 *     is 0). {@link #withZeroWhenAllIgnored(boolean) withZeroWhenAllIgnored(true)} makes it 0
 *     instead. The same holds when every non-ignored row has class weight 0; the NaN gradient
 *     PyTorch gives at those rows' targets then also becomes 0.</li>
 * <li>The ignore index may be a valid class: rows of that class are then skipped.</li>
 * </ul>
 *
 * <p>From probabilities: {@code l_i = -w[t_i] * max(log p[i, t_i], -100)} (PyTorch's clamp for
 * {@code binary_cross_entropy}), so {@code p = 0} gives 100 instead of +Inf. The gradient is
 * {@code -w/p} (scaled for MEAN) and 0 where the clamp holds, i.e. for {@code p < e^-100}
 * (about 3.7e-44, denormal in float32); for {@code p} below about 3e-39 it overflows float32
 * to -Inf. The plain {@code -log(p[i, y_i]).mean()} is this with MEAN, except that it has no
 * clamp (+Inf at p = 0). Target entries must lie in {@code [0, 1]} (or be NaN, which gives NaN):
 * a negative value means log-probabilities or logits were passed.
 *
 * <p>Mistakes throw {@link IllegalArgumentException} naming the argument and the shapes or values
 * seen and expected, before anything is written: shapes, types and devices are checked here, the
 * values (class weights finite, targets in range, probabilities in [0, 1]) by the kernel in its
 * first pass over the weights and the targets.
 * A closed tensor (including the weight) throws {@link IllegalStateException}. Instances are immutable and thread-safe; the weight
 * tensor is referenced, not copied, so it must stay open and unchanged while the loss is used.
 */
public final class NllLoss {
    /** PyTorch's default {@code ignore_index}. */
    public static final long DEFAULT_IGNORE_INDEX = -100;

    private final Reduction reduction;
    private final Tensor weight;            // null: all ones
    private final long ignoreIndex;
    private final boolean fromProbabilities;
    private final boolean zeroWhenAllIgnored;
    private final Backend backend;          // null: the backend of the call's tensors (Kernels.forCall)

    private NllLoss(Reduction reduction, Tensor weight, long ignoreIndex, boolean fromProbabilities,
                    boolean zeroWhenAllIgnored, Backend backend) {
        this.reduction = reduction;
        this.weight = weight;
        this.ignoreIndex = ignoreIndex;
        this.fromProbabilities = fromProbabilities;
        this.zeroWhenAllIgnored = zeroWhenAllIgnored;
        this.backend = backend;
    }

    /**
     * NLL of log-probabilities: MEAN, no weights, ignore index -100; each call runs where its tensors live.
     *
     * @return a loss of log-probabilities with PyTorch's defaults
     */
    public static NllLoss create() {
        return new NllLoss(Reduction.MEAN, null, DEFAULT_IGNORE_INDEX, false, false, null);
    }

    /**
     * NLL of probabilities, {@code -max(log p[i, t_i], -100)}; otherwise as {@link #create()}.
     *
     * @return a loss of probabilities with PyTorch's defaults
     */
    public static NllLoss fromProbabilities() {
        return new NllLoss(Reduction.MEAN, null, DEFAULT_IGNORE_INDEX, true, false, null);
    }

    /**
     * The same loss with another reduction: MEAN (PyTorch's weighted mean), SUM or NONE.
     *
     * @param reduction MEAN, SUM or NONE; not null
     * @return a copy with this reduction; this instance is unchanged
     * @throws IllegalArgumentException if reduction is null or BATCHMEAN
     */
    public NllLoss withReduction(Reduction reduction) {
        Checks.reduction(reduction);
        return new NllLoss(reduction, weight, ignoreIndex, fromProbabilities, zeroWhenAllIgnored, backend);
    }

    /**
     * Class weights, {@code (C)} float32 with finite values (PyTorch's {@code weight}), or null for
     * none. The tensor is referenced, not copied; its shape is checked against the input at each
     * call, its values by the kernel (a NaN or infinite weight is an IllegalArgumentException
     * naming its class).
     *
     * @param weight (C) float32 with finite values, or null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     */
    public NllLoss withWeight(Tensor weight) {
        return new NllLoss(reduction, weight, ignoreIndex, fromProbabilities, zeroWhenAllIgnored, backend);
    }

    /**
     * Rows whose target equals this value count for nothing (PyTorch's {@code ignore_index}).
     *
     * @param ignoreIndex the target value that marks a row to leave out
     * @return a copy of this instance with the setting changed; this instance is unchanged
     */
    public NllLoss withIgnoreIndex(long ignoreIndex) {
        return new NllLoss(reduction, weight, ignoreIndex, fromProbabilities, zeroWhenAllIgnored, backend);
    }

    /**
     * With true, a MEAN over no weighted row (every row ignored, or of class weight 0) is 0 with
     * a zero gradient instead of PyTorch's NaN. Default false.
     *
     * @param zero true for 0 where PyTorch gives NaN
     * @return a copy of this instance with the setting changed; this instance is unchanged
     */
    public NllLoss withZeroWhenAllIgnored(boolean zero) {
        return new NllLoss(reduction, weight, ignoreIndex, fromProbabilities, zero, backend);
    }

    /**
     * The same loss pinned to a backend.
     *
     * @param backend the backend every call runs on, whatever device the tensors are on; not null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if backend is null
     */
    public NllLoss withBackend(Backend backend) {
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        return new NllLoss(reduction, weight, ignoreIndex, fromProbabilities, zeroWhenAllIgnored, backend);
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
     * The target value whose rows are left out.
     *
     * @return the ignore index
     */
    public long ignoreIndex() {
        return ignoreIndex;
    }

    /**
     * Whether the input holds probabilities rather than log-probabilities.
     *
     * @return true for {@link #fromProbabilities()}
     */
    public boolean isFromProbabilities() {
        return fromProbabilities;
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
     * @param input log-probabilities (N,C) float32 (probabilities with {@link #fromProbabilities()}), N
     *   &ge; 1, C &ge; 1
     * @param targets class indices (N) int32 or int64, each in [0, C) or the ignore index
     * @return the loss in a new tensor: shape () for MEAN and SUM, (N) for NONE
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Tensor forward(Tensor input, Tensor targets) {
        Kernels k = kernels(input, targets, null, null);
        long n = check(k, input, targets);
        Tensor loss = newLoss(k, n);
        try {
            run(k, input, targets, loss, null);
            return loss;
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, loss); // the kernel rejected a value (a class index, a weight, a probability)
        }
    }

    /**
     * The loss and its gradient with respect to the input, in new tensors on the input's device
     * .
     *
     * @param input log-probabilities (N,C) float32 (probabilities with {@link #fromProbabilities()}), N
     *   &ge; 1, C &ge; 1
     * @param targets class indices (N) int32 or int64, each in [0, C) or the ignore index
     * @return the loss and the gradient with respect to the input, in new tensors on the call's device;
     *   close the result (or use a {@link dev.jnce.TensorScope})
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public LossResult forwardBackward(Tensor input, Tensor targets) {
        Kernels k = kernels(input, targets, null, null);
        long n = check(k, input, targets);
        Tensor loss = null, grad = null;
        try {
            loss = newLoss(k, n);
            grad = Tensor.zeros(k.device(), DType.FLOAT32, input.shape());
            run(k, input, targets, loss, grad);
            return new LossResult(loss, grad);
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, loss, grad); // the kernel rejected a value
        }
    }

    /**
     * The loss and gradient written into the caller's tensors, so that a training loop
     * allocates nothing per call; {@code grad} may be {@code input}.
     *
     * @param input log-probabilities (N,C) float32 (probabilities with {@link #fromProbabilities()}), N
     *   &ge; 1, C &ge; 1
     * @param targets class indices (N) int32 or int64, each in [0, C) or the ignore index
     * @param loss (N) float32 for NONE, else a one-element float32 tensor of shape () or (1)
     * @param grad (N,C) float32
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public void forwardBackward(Tensor input, Tensor targets, Tensor loss, Tensor grad) {
        Kernels k = kernels(input, targets, loss, grad);
        long n = check(k, input, targets);
        Checks.lossBuffer("loss", loss, k, reduction == Reduction.NONE, n, reduction);
        Checks.usable("grad", grad, k);
        Checks.dtype("grad", grad, DType.FLOAT32);
        Checks.shape("grad", grad, "(N, C) of input", input.shape());
        run(k, input, targets, loss, grad);
    }

    private void run(Kernels k, Tensor input, Tensor targets, Tensor loss, Tensor grad) {
        k.nll().nll(input, targets, weight, ignoreIndex, reduction, fromProbabilities, zeroWhenAllIgnored, loss, grad);
    }

    /** The pinned backend, else the one of the tensors' device (every tensor on one device). */
    private Kernels kernels(Tensor input, Tensor targets, Tensor loss, Tensor grad) {
        return Kernels.forCall(backend, "input", input, "targets", targets, "weight", weight, Kernels.OUTPUTS, "loss", loss, "grad", grad,
                Kernels.inPlace("grad", "input"));
    }

    private Tensor newLoss(Kernels k, long n) {
        return Tensor.zeros(k.device(), DType.FLOAT32, reduction == Reduction.NONE ? new long[] {n} : new long[0]);
    }

    /**
     * Checks shapes, types and devices; returns N. The values (weights finite, targets in range,
     * probabilities in [0, 1]) are checked by the kernel in its first pass.
     */
    private long check(Kernels k, Tensor input, Tensor targets) {
        Checks.usable("input", input, k);
        Checks.usable("targets", targets, k);
        Checks.dtype("input", input, DType.FLOAT32);
        if (input.rank() != 2) {
            throw new IllegalArgumentException("input: expected shape (N, C), got " + Tensor.formatShape(input.shape()));
        }
        long n = input.size(0), c = input.size(1);
        if (n == 0 || c == 0) {
            throw new IllegalArgumentException("input: empty, shape " + Tensor.formatShape(input.shape())
                    + "; expected (N, C) with N >= 1 and C >= 1");
        }
        if (targets.dtype() == DType.FLOAT32) {
            throw new IllegalArgumentException("targets: expected int32 or int64 class indices of shape (N) = ("
                    + n + "), got " + targets.describe());
        }
        if (targets.rank() != 1 || targets.size(0) != n) {
            throw new IllegalArgumentException("targets: shape " + Tensor.formatShape(targets.shape())
                    + " does not match input " + Tensor.formatShape(input.shape()) + "; expected (N) = (" + n + ")");
        }
        if (weight != null) {
            Checks.usable("weight", weight, k);
            Checks.dtype("weight", weight, DType.FLOAT32);
            Checks.shape("weight", weight, "(C) of input " + Tensor.formatShape(input.shape()), c);
        }
        return n;
    }
}
