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
 * Kullback-Leibler divergence with the meaning of PyTorch's
 * {@code F.kl_div(input, target, reduction=..., log_target=...)}, and its gradients with
 * respect to both arguments.
 *
 * <pre>{@code
 * KlDiv kl = KlDiv.create().withReduction(Reduction.BATCHMEAN);  // the true KL per row
 * try (InputTargetResult r = kl.forwardBackward(logQ, p)) {            // KL(p || q)
 *     float loss = r.loss().item();
 *     float[] dLogQ = r.gradInput().toFloatArray();
 * }
 * }</pre>
 *
 * <p><b>Argument order is PyTorch's and easy to get backwards:</b> {@code input} holds
 * <em>log</em>-probabilities of the model distribution q (e.g. a log-softmax output) and
 * {@code target} the reference distribution p, as probabilities or, with
 * {@link #withLogTarget(boolean) logTarget}, as log-probabilities. The value is KL(p || q).
 * Pointwise, over every value:
 * <pre>
 *   l = xlogy(t, t) - t * x      = t * (log t - x), 0 where t == 0
 *   l = exp(t) * (t - x)         with logTarget
 * </pre>
 *
 * <p><b>Reductions.</b> {@link Reduction#MEAN} is PyTorch's default and divides the sum by
 * <em>every</em> value (N*C), which is not the KL divergence; {@link Reduction#BATCHMEAN}
 * divides by N = {@code input.size(0)} and gives the mean KL per row, which is usually what is
 * wanted. NONE returns the pointwise values, shaped like {@code input}.
 *
 * <p>Shapes: {@code input} and {@code target} float32, any shape with at least one value, the
 * same shape (no broadcasting). A scalar (shape {@code ()}) is not allowed with BATCHMEAN, as in
 * PyTorch. Values are not checked to be distributions (PyTorch does not check either): a
 * negative probability gives NaN.
 *
 * <p>Gradients are of the reduced loss (for NONE, of the sum):
 * d/dinput = {@code -t} (or {@code -exp(t)}), d/dtarget = {@code log t + 1 - x} (or
 * {@code exp(t) * (t - x + 1)}), times 1/(N*C) for MEAN and 1/N for BATCHMEAN. Where a
 * probability target is exactly 0 the target gradient is NaN, as PyTorch's autograd gives
 * (the derivative of t log t is unbounded there); the loss and the input gradient stay finite.
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class KlDiv {
    private final Reduction reduction;
    private final boolean logTarget;
    private final Backend backend; // null: the backend of the call's tensors (Kernels.forCall)

    private KlDiv(Reduction reduction, boolean logTarget, Backend backend) {
        this.reduction = reduction;
        this.logTarget = logTarget;
        this.backend = backend;
    }

    /**
     * PyTorch's defaults: reduction MEAN, probability targets; each call runs where its tensors live.
     *
     * @return a loss with PyTorch's defaults
     */
    public static KlDiv create() {
        return new KlDiv(Reduction.MEAN, false, null);
    }

    /**
     * The same loss with another reduction; {@link Reduction#BATCHMEAN} gives the true KL per row.
     *
     * @param reduction MEAN, SUM, NONE or BATCHMEAN; not null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if reduction is null
     */
    public KlDiv withReduction(Reduction reduction) {
        if (reduction == null) throw new IllegalArgumentException("reduction: must not be null");
        return new KlDiv(reduction, logTarget, backend);
    }

    /**
     * Whether target holds log-probabilities (PyTorch's {@code log_target}); default false.
     *
     * @param logTarget true when target holds log-probabilities
     * @return a copy of this instance with the setting changed; this instance is unchanged
     */
    public KlDiv withLogTarget(boolean logTarget) {
        return new KlDiv(reduction, logTarget, backend);
    }

    /**
     * The same loss pinned to a backend.
     *
     * @param backend the backend every call runs on, whatever device the tensors are on; not null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if backend is null
     */
    public KlDiv withBackend(Backend backend) {
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        return new KlDiv(reduction, logTarget, backend);
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
     * Whether target holds log-probabilities.
     *
     * @return true for log-probability targets
     */
    public boolean logTarget() {
        return logTarget;
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
     * The loss alone: shaped like input for NONE, else shape ().
     *
     * @param input log-probabilities of the model distribution q, float32 of any shape with at least one
     *   value
     * @param target the reference distribution p, float32 of the input's shape: probabilities, or
     *   log-probabilities with logTarget
     * @return the loss in a new tensor: shaped like input for NONE, else ()
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Tensor forward(Tensor input, Tensor target) {
        Kernels k = Kernels.forCall(backend, "input", input, "target", target);
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
     * The loss and its gradients with respect to input and target, in new tensors on their device.
     *
     * @param input log-probabilities of the model distribution q, float32 of any shape with at least one
     *   value
     * @param target the reference distribution p, float32 of the input's shape: probabilities, or
     *   log-probabilities with logTarget
     * @return the loss and the gradients with respect to input and target, in new tensors on the call's
     *   device; close the result (or use a {@link dev.jnce.TensorScope})
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public InputTargetResult forwardBackward(Tensor input, Tensor target) {
        Kernels k = Kernels.forCall(backend, "input", input, "target", target);
        check(k, input, target);
        Tensor loss = null, gradInput = null, gradTarget = null;
        try {
            loss = newLoss(k, input);
            gradInput = Tensor.zeros(k.device(), DType.FLOAT32, input.shape());
            gradTarget = Tensor.zeros(k.device(), DType.FLOAT32, target.shape());
            run(k, input, target, loss, gradInput, gradTarget);
            return new InputTargetResult(loss, gradInput, gradTarget);
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, loss, gradInput, gradTarget);
        }
    }

    /**
     * The loss and its gradients written into the caller's tensors, so that a training loop
     * allocates nothing per call.
     *
     * @param input log-probabilities of the model distribution q, float32 of any shape with at least one
     *   value
     * @param target the reference distribution p, float32 of the input's shape: probabilities, or
     *   log-probabilities with logTarget
     * @param loss       float32 shaped like input for NONE, else one element of shape () or (1)
     * @param gradInput  float32 shaped like input, or null to skip it
     * @param gradTarget float32 shaped like target, or null to skip it
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public void forwardBackward(Tensor input, Tensor target, Tensor loss, Tensor gradInput, Tensor gradTarget) {
        Kernels k = Kernels.forCall(backend, "input", input, "target", target, Kernels.OUTPUTS, "loss", loss, "gradInput", gradInput,
                "gradTarget", gradTarget);
        check(k, input, target);
        if (reduction == Reduction.NONE) Checks.floatBuffer("loss", loss, k, "of input", input.shape());
        else Checks.lossBuffer("loss", loss, k, false, 1, reduction);
        if (gradInput != null) Checks.floatBuffer("gradInput", gradInput, k, "of input", input.shape());
        if (gradTarget != null) Checks.floatBuffer("gradTarget", gradTarget, k, "of target", target.shape());
        run(k, input, target, loss, gradInput, gradTarget);
    }

    private void run(Kernels k, Tensor input, Tensor target, Tensor loss, Tensor gradInput, Tensor gradTarget) {
        long n = rows(input);
        k.divergence().klDiv(input, target, n, input.numel() / n, logTarget, reduction, loss, gradInput, gradTarget);
    }

    private Tensor newLoss(Kernels k, Tensor input) {
        return Tensor.zeros(k.device(), DType.FLOAT32, reduction == Reduction.NONE ? input.shape() : new long[0]);
    }

    /** N: the size of dimension 0, or 1 for a scalar. */
    private static long rows(Tensor input) {
        return input.rank() == 0 ? 1 : input.size(0);
    }

    private void check(Kernels k, Tensor input, Tensor target) {
        Checks.floats("input", input, k);
        Checks.floats("target", target, k);
        Checks.sameShape("target", target, "input", input);
        if (reduction == Reduction.BATCHMEAN && input.rank() == 0) {
            throw new IllegalArgumentException("input: reduction BATCHMEAN divides by input.size(0), but input "
                    + input.describe() + " is a scalar; use SUM or give it shape (1)");
        }
    }
}
