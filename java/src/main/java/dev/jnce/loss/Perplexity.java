package dev.jnce.loss;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.internal.Checks;
import dev.jnce.internal.Outputs;

/**
 * Perplexity: the exponential of the mean per-token cross-entropy over the tokens that count,
 * {@code exp(sum of kept losses / number kept)}, and its gradient with respect to the token
 * losses. In PyTorch terms, {@code torch.exp((losses * keep).sum() / keep.sum())}.
 *
 * <pre>{@code
 * // token losses from CrossEntropy with Reduction.NONE, targets with -100 at padding
 * float ppl = Perplexity.create().forward(tokenLosses, targets).item();
 * }</pre>
 *
 * <p>Which tokens count is said in one of two ways:
 * <ul>
 *   <li>{@link #forward(Tensor, Tensor) forward(tokenLosses, targets)}: targets (int32 or
 *   int64, the labels the losses were computed for) equal to the ignore index
 *   ({@link #DEFAULT_IGNORE_INDEX} = -100, PyTorch's {@code ignore_index}) are left out;</li>
 *   <li>{@link #forwardMasked(Tensor, Tensor) forwardMasked(tokenLosses, mask)}: an int32 or
 *   int64 mask of 0 (leave out) and 1 (keep), such as an attention mask.</li>
 * </ul>
 * Shapes: tokenLosses float32, any shape with at least one value ({@code (N)}, or
 * {@code (B, T)}); targets or mask of exactly that shape. Left-out tokens are never read, so a
 * NaN or Inf loss there does not spread (unlike {@code (losses * mask).sum()}, where NaN * 0 is NaN).
 *
 * <p><b>When every token is left out</b> the mean is over nothing: the perplexity is NaN by
 * default, as in PyTorch (0/0); {@link #withAllIgnored withAllIgnored(AllIgnored.ONE)} gives
 * 1.0 instead (exp(0), the perplexity of nothing). The gradient is then all zeros (PyTorch's
 * autograd of the formula above gives NaN there).
 *
 * <p>The gradient is d perplexity / d tokenLosses: {@code perplexity / count} for kept tokens
 * and 0 for left-out ones. The perplexity is computed in double and rounded once; it overflows
 * to +Inf in float32 once the mean loss exceeds about 88.7.
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class Perplexity {
    /** PyTorch's default {@code ignore_index}. */
    public static final long DEFAULT_IGNORE_INDEX = -100;

    /** The perplexity when no token is kept. */
    public enum AllIgnored {
        /** NaN, the mean of nothing (the default, as in PyTorch). */
        NAN,
        /** 1.0 = exp(0). */
        ONE
    }

    private final long ignoreIndex;
    private final AllIgnored allIgnored;
    private final Backend backend; // null: the backend of the call's tensors (Kernels.forCall)

    private Perplexity(long ignoreIndex, AllIgnored allIgnored, Backend backend) {
        this.ignoreIndex = ignoreIndex;
        this.allIgnored = allIgnored;
        this.backend = backend;
    }

    /**
     * Ignore index -100, NaN when every token is ignored; each call runs where its tensors live.
     *
     * @return a metric with the defaults stated
     */
    public static Perplexity create() {
        return new Perplexity(DEFAULT_IGNORE_INDEX, AllIgnored.NAN, null);
    }

    /**
     * Targets equal to this value are left out (only for the targets form, not the mask form).
     *
     * @param ignoreIndex the target value that marks a token to leave out
     * @return a copy of this instance with the setting changed; this instance is unchanged
     */
    public Perplexity withIgnoreIndex(long ignoreIndex) {
        return new Perplexity(ignoreIndex, allIgnored, backend);
    }

    /**
     * What the perplexity is when no token is kept.
     *
     * @param allIgnored NAN (default, as PyTorch) or ONE; not null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if allIgnored is null
     */
    public Perplexity withAllIgnored(AllIgnored allIgnored) {
        if (allIgnored == null) throw new IllegalArgumentException("allIgnored: must not be null");
        return new Perplexity(ignoreIndex, allIgnored, backend);
    }

    /**
     * The same pinned to a backend.
     *
     * @param backend the backend every call runs on, whatever device the tensors are on; not null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if backend is null
     */
    public Perplexity withBackend(Backend backend) {
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        return new Perplexity(ignoreIndex, allIgnored, backend);
    }

    /**
     * The target value whose tokens are left out.
     *
     * @return the ignore index
     */
    public long ignoreIndex() {
        return ignoreIndex;
    }

    /**
     * What the perplexity is when no token is kept.
     *
     * @return the rule
     */
    public AllIgnored allIgnored() {
        return allIgnored;
    }

    /**
     * The backend this metric is pinned to, else {@link Backends#current()}, the one host tensors
     * run on; a call on tensors of another device runs on that device's backend.
     *
     * @return the pinned backend, or the current host backend when not pinned
     */
    public Backend backend() {
        return Backends.orCurrent(backend);
    }

    /**
     * The perplexity (shape ()) over tokens whose target is not the ignore index.
     *
     * @param tokenLosses per-token losses, float32 of any shape with at least one value (e.g. a NONE
     *   cross-entropy)
     * @param targets int32 or int64 of tokenLosses' shape; tokens whose target is the ignore index are
     *   left out
     * @return the perplexity in a new tensor of shape ()
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Tensor forward(Tensor tokenLosses, Tensor targets) {
        return run(tokenLosses, targets, false, false).perplexity();
    }

    /**
     * The perplexity and its gradient with respect to tokenLosses, in new tensors on their device.
     *
     * @param tokenLosses per-token losses, float32 of any shape with at least one value (e.g. a NONE
     *   cross-entropy)
     * @param targets int32 or int64 of tokenLosses' shape; tokens whose target is the ignore index are
     *   left out
     * @return the perplexity and its gradient, in new tensors on the call's device; close the result (or
     *   use a {@link dev.jnce.TensorScope})
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Result forwardBackward(Tensor tokenLosses, Tensor targets) {
        return run(tokenLosses, targets, false, true);
    }

    /**
     * The perplexity and its gradient written into the caller's tensors, so that a training
     * loop allocates nothing per call.
     *
     * @param tokenLosses per-token losses, float32 of any shape with at least one value (e.g. a NONE
     *   cross-entropy)
     * @param targets int32 or int64 of tokenLosses' shape; tokens whose target is the ignore index are
     *   left out
     * @param perplexity one float32 element, shape () or (1)
     * @param grad       float32 shaped like tokenLosses, or null to skip it
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public void forwardBackward(Tensor tokenLosses, Tensor targets, Tensor perplexity, Tensor grad) {
        run(tokenLosses, targets, false, perplexity, grad);
    }

    /**
     * The perplexity (shape ()) over tokens whose mask is 1.
     *
     * @param tokenLosses per-token losses, float32 of any shape with at least one value (e.g. a NONE
     *   cross-entropy)
     * @param mask int32 or int64 of tokenLosses' shape, 1 keeps a token and 0 leaves it out
     * @return the perplexity in a new tensor of shape ()
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Tensor forwardMasked(Tensor tokenLosses, Tensor mask) {
        return run(tokenLosses, mask, true, false).perplexity();
    }

    /**
     * The perplexity over tokens whose mask is 1, and its gradient with respect to tokenLosses.
     *
     * @param tokenLosses per-token losses, float32 of any shape with at least one value (e.g. a NONE
     *   cross-entropy)
     * @param mask int32 or int64 of tokenLosses' shape, 1 keeps a token and 0 leaves it out
     * @return the perplexity and its gradient, in new tensors on the call's device; close the result (or
     *   use a {@link dev.jnce.TensorScope})
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Result forwardBackwardMasked(Tensor tokenLosses, Tensor mask) {
        return run(tokenLosses, mask, true, true);
    }

    /**
     * As {@link #forwardBackward(Tensor, Tensor, Tensor, Tensor)}, over tokens whose mask is 1.
     *
     * @param tokenLosses per-token losses, float32 of any shape with at least one value (e.g. a NONE
     *   cross-entropy)
     * @param mask int32 or int64 of tokenLosses' shape, 1 keeps a token and 0 leaves it out
     * @param perplexity one float32 element, shape () or (1)
     * @param grad       float32 shaped like tokenLosses, or null to skip it
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public void forwardBackwardMasked(Tensor tokenLosses, Tensor mask, Tensor perplexity, Tensor grad) {
        run(tokenLosses, mask, true, perplexity, grad);
    }

    /**
     * Perplexity straight from logits (N,C) and class targets (N): exp of the mean softmax
     * cross-entropy over the targets that are not the ignore index, with the gradient with
     * respect to the logits (ppl * d mean CE / d logits, 0 on ignored rows), in new tensors on
     * their device. An all-ignored batch follows {@link #withAllIgnored}: NaN (default) or 1
     * with a zero gradient.
     *
     * @param logits logits (N,C) float32
     * @param targets class targets (N) int32 or int64, each in [0, C) or the ignore index
     * @return the perplexity and d perplexity / d logits, in new tensors on the call's device; close the
     *   result (or use a {@link dev.jnce.TensorScope})
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Result forwardBackwardLogits(Tensor logits, Tensor targets) {
        Kernels k = Kernels.forCall(backend, "logits", logits, "targets", targets);
        Checks.usable("logits", logits, k); // before its shape sizes the gradient
        Tensor ppl = null, grad = null;
        try {
            ppl = Tensor.zeros(k.device(), DType.FLOAT32);
            grad = Tensor.zeros(k.device(), DType.FLOAT32, logits.shape());
            logits(k, logits, targets, ppl, grad);
            return new Result(ppl, grad);
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, ppl, grad);
        }
    }

    /**
     * As {@link #forwardBackwardLogits(Tensor, Tensor)}, written into the caller's tensors, so
     * that a training loop allocates nothing per call; {@code grad} may be {@code logits}.
     *
     * @param logits logits (N,C) float32
     * @param targets class targets (N) int32 or int64, each in [0, C) or the ignore index
     * @param perplexity one float32 element, shape () or (1)
     * @param grad       (N, C) float32
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public void forwardBackwardLogits(Tensor logits, Tensor targets, Tensor perplexity, Tensor grad) {
        Kernels k = Kernels.forCall(backend, "logits", logits, "targets", targets, Kernels.OUTPUTS, "perplexity", perplexity,
                "grad", grad, Kernels.inPlace("grad", "logits"));
        perplexityBuffer(k, perplexity);
        logits(k, logits, targets, perplexity, grad);
    }

    /**
     * A perplexity (shape ()) and its gradient (shaped like what it differentiates); closing it closes both.
     *
     * @param perplexity the perplexity, shape ()
     * @param grad d perplexity / d tokenLosses (or d logits), shaped like them; null after forward only
     */
    public record Result(Tensor perplexity, Tensor grad) implements AutoCloseable {
        @Override
        public void close() {
            perplexity.close();
            if (grad != null) grad.close();
        }
    }

    /** The mean cross-entropy goes into {@code ppl}, then the kernel makes it exp(mean) and scales the gradient. */
    private void logits(Kernels k, Tensor logits, Tensor targets, Tensor ppl, Tensor grad) {
        CrossEntropy ce = CrossEntropy.create().withIgnoreIndex(ignoreIndex)
                .withZeroWhenAllIgnored(allIgnored == AllIgnored.ONE).withBackend(k);
        ce.forwardBackward(logits, targets, ppl, grad);
        k.crossEntropy().perplexity(ppl, ppl, grad);
    }

    /** New outputs on the call's device. A mask is keys with ignore key 0 (keep iff mask != 0); targets use the ignore index. */
    private Result run(Tensor tokenLosses, Tensor keys, boolean isMask, boolean backward) {
        Kernels k = Kernels.forCall(backend, "tokenLosses", tokenLosses, isMask ? "mask" : "targets", keys);
        check(k, tokenLosses, keys, isMask);
        Tensor ppl = null, grad = null;
        try {
            ppl = Tensor.zeros(k.device(), DType.FLOAT32);
            grad = backward ? Tensor.zeros(k.device(), DType.FLOAT32, tokenLosses.shape()) : null;
            kernel(k, tokenLosses, keys, isMask, ppl, grad);
            return new Result(ppl, grad);
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, ppl, grad);
        }
    }

    /** Into the caller's outputs. */
    private void run(Tensor tokenLosses, Tensor keys, boolean isMask, Tensor ppl, Tensor grad) {
        Kernels k = Kernels.forCall(backend, "tokenLosses", tokenLosses, isMask ? "mask" : "targets", keys,
                Kernels.OUTPUTS, "perplexity", ppl, "grad", grad);
        check(k, tokenLosses, keys, isMask);
        perplexityBuffer(k, ppl);
        if (grad != null) Checks.floatBuffer("grad", grad, k, "of tokenLosses", tokenLosses.shape());
        kernel(k, tokenLosses, keys, isMask, ppl, grad);
    }

    private void kernel(Kernels k, Tensor tokenLosses, Tensor keys, boolean isMask, Tensor ppl, Tensor grad) {
        k.divergence().perplexity(tokenLosses, keys, isMask ? 0 : ignoreIndex,
                allIgnored == AllIgnored.ONE ? 1.0f : Float.NaN, ppl, grad);
    }

    private static void perplexityBuffer(Kernels k, Tensor ppl) {
        Checks.usable("perplexity", ppl, k);
        Checks.dtype("perplexity", ppl, DType.FLOAT32);
        if (ppl.numel() != 1) {
            throw new IllegalArgumentException("perplexity: expected one value, shape () or (1), got "
                    + Tensor.formatShape(ppl.shape()));
        }
    }

    /** Shapes and types; a mask's values (0 and 1 only) are scanned where the mask lives. */
    private static void check(Kernels k, Tensor tokenLosses, Tensor keys, boolean isMask) {
        String argument = isMask ? "mask" : "targets";
        Checks.floats("tokenLosses", tokenLosses, k);
        Checks.usable(argument, keys, k);
        if (keys.dtype() == DType.FLOAT32) {
            throw new IllegalArgumentException(argument + ": expected int32 or int64 of shape "
                    + Tensor.formatShape(tokenLosses.shape()) + ", got " + keys.describe());
        }
        Checks.dtype(argument, keys, DType.INT32, DType.INT64);
        Checks.sameShape(argument, keys, "tokenLosses", tokenLosses);
        if (!isMask) return;
        long bad = k.scan().firstOutside(keys, 2, 0);
        if (bad >= 0) {
            throw new IllegalArgumentException("mask[" + bad + "] = " + (long) k.scan().valueAt(keys, bad) + " in "
                    + keys.describe() + ": a mask holds only 0 (leave out) and 1 (keep); for labels with an ignore index "
                    + "use forward");
        }
    }
}
