package dev.jnce.ops;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.SoftmaxKernels;
import dev.jnce.internal.Checks;
import dev.jnce.internal.Outputs;

import java.util.Locale;

/**
 * Softmax, log-softmax and logsumexp over the last dimension, with the meaning of PyTorch's
 * {@code F.softmax(x, dim=-1)}, {@code F.log_softmax(x, dim=-1)} and
 * {@code torch.logsumexp(x, dim=-1)}, and their backward passes.
 *
 * <pre>{@code
 * Softmax logSoftmax = Softmax.logSoftmax();                 // current backend
 * Tensor y = logSoftmax.forward(x);                          // (N,C) -> (N,C)
 * Tensor dx = logSoftmax.backward(y, dy);                    // dy: upstream gradient, (N,C)
 * try (Softmax.Result r = Softmax.logsumexp().forwardBackward(x, dOut)) { ... }  // dOut (N)
 * }</pre>
 *
 * <p>Shapes: input {@code (N,C)} float32 with N &ge; 1 and C &ge; 1, or {@code (C)} as one row.
 * The output has the input's shape, except that logsumexp drops the last dimension:
 * {@code (N)}, or {@code ()} for a {@code (C)} input. The upstream gradient has the output's
 * shape; the input gradient has the input's shape.
 *
 * <p>Backward, as PyTorch's autograd: {@link #backward} takes the forward <em>output</em> for
 * softmax ({@code dx = y * (dy - sum(dy * y))}) and log-softmax ({@code dx = dy - exp(y) *
 * sum(dy)}), but the forward <em>input</em> for logsumexp ({@code dx = dy * softmax(x)}, with
 * the softmax recomputed exactly from x). Passing the wrong one is not detectable and gives
 * a wrong gradient; {@link #forwardBackward} avoids the question.
 *
 * <p>Numerics: every row is shifted by its maximum and sums are accumulated in double, so any
 * finite input is safe (logits of &plusmn;1e4 included). Non-finite rows follow PyTorch 1.13:
 * <ul>
 * <li>-Inf entries have probability 0 (log-probability -Inf) as long as the row has a finite
 *     entry; their softmax gradient is 0 and their log-softmax gradient is {@code dy}.</li>
 * <li>A row of only -Inf: softmax and log-softmax are NaN (0/0), logsumexp is -Inf, and the
 *     logsumexp gradient of that row is NaN.</li>
 * <li>A row holding NaN is NaN everywhere. A row holding +Inf (no NaN) is NaN for softmax and
 *     log-softmax; its logsumexp is +Inf with gradient NaN at the +Inf entries and 0 elsewhere.</li>
 * </ul>
 *
 * <p>Every argument is checked before any native call: a mistake throws
 * {@link IllegalArgumentException} naming the argument and the shapes seen and expected, a
 * closed tensor {@link IllegalStateException}. Instances are immutable and thread-safe.
 */
public final class Softmax {

    /** Which function of the row. */
    public enum Function {
        /** {@code exp(x_j) / sum_k exp(x_k)}. */
        SOFTMAX,
        /** {@code x_j - log sum_k exp(x_k)}. */
        LOG_SOFTMAX,
        /** {@code log sum_k exp(x_k)}: one value per row. */
        LOGSUMEXP
    }

    private final Function function;
    private final Backend backend; // null: the backend of the call's tensors (Kernels.forCall)

    private Softmax(Function function, Backend backend) {
        this.function = function;
        this.backend = backend;
    }

    /**
     * Softmax over the last dimension; each call runs where its tensors live.
     *
     * @return a softmax
     */
    public static Softmax create() {
        return new Softmax(Function.SOFTMAX, null);
    }

    /**
     * Log-softmax over the last dimension; each call runs where its tensors live.
     *
     * @return a log-softmax
     */
    public static Softmax logSoftmax() {
        return new Softmax(Function.LOG_SOFTMAX, null);
    }

    /**
     * Logsumexp over the last dimension; each call runs where its tensors live.
     *
     * @return a logsumexp
     */
    public static Softmax logsumexp() {
        return new Softmax(Function.LOGSUMEXP, null);
    }

    /**
     * The same op computing another function.
     *
     * @param function SOFTMAX, LOG_SOFTMAX or LOGSUMEXP; not null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if function is null
     */
    public Softmax withFunction(Function function) {
        if (function == null) throw new IllegalArgumentException("function: must not be null");
        return new Softmax(function, backend);
    }

    /**
     * The same op pinned to a backend.
     *
     * @param backend the backend every call runs on, whatever device the tensors are on; not null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if backend is null
     */
    public Softmax withBackend(Backend backend) {
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        return new Softmax(function, backend);
    }

    /**
     * The function computed.
     *
     * @return the function
     */
    public Function function() {
        return function;
    }

    /**
     * The backend this op is pinned to, else {@link Backends#current()}, the one host tensors run
     * on; a call on tensors of another device runs on that device's backend.
     *
     * @return the pinned backend, or the current host backend when not pinned
     */
    public Backend backend() {
        return Backends.orCurrent(backend);
    }

    /**
     * The function of every row, in a new tensor on the input's device.
     *
     * @param input the input, float32 of rank &ge; 1 (the function runs along the last dimension)
     * @return the output in a new tensor: the input's shape, or without the last dimension for LOGSUMEXP
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Tensor forward(Tensor input) {
        Kernels k = Kernels.forCall(backend, "input", input);
        checkRows(k, "input", input);
        Tensor out = Tensor.zeros(k.device(), DType.FLOAT32, outputShape(input.shape()));
        try {
            k.softmax().forward(kernel(), input, rows(input), columns(input), out);
            return out;
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, out);
        }
    }

    /**
     * The function of every row written into {@code out} (the output shape: the input's, or (N)
     * / () for LOGSUMEXP), so that a loop allocates nothing; {@code out} may be {@code input}
     * for SOFTMAX and LOG_SOFTMAX.
     *
     * @param input the input, float32 of rank &ge; 1 (the function runs along the last dimension)
     * @param out the output
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public void forward(Tensor input, Tensor out) {
        Kernels k = Kernels.forCall(backend, "input", input, Kernels.OUTPUTS, "out", out, Kernels.inPlace("out", "input"));
        checkRows(k, "input", input);
        Checks.floatBuffer("out", out, k, "of the " + name() + " output", outputShape(input.shape()));
        k.softmax().forward(kernel(), input, rows(input), columns(input), out);
    }

    /**
     * The gradient with respect to the input written into {@code gradInput} (the saved tensor's
     * shape); it may be {@code gradOutput} for SOFTMAX and LOG_SOFTMAX.
     *
     * @param saved the forward output for SOFTMAX and LOG_SOFTMAX, the forward input for LOGSUMEXP
     * @param gradOutput the upstream gradient, of the forward output's shape
     * @param gradInput the gradient with respect to the input, of the input's shape; may be gradOutput for
     *   SOFTMAX and LOG_SOFTMAX
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public void backward(Tensor saved, Tensor gradOutput, Tensor gradInput) {
        Kernels k = Kernels.forCall(backend, savedName(), saved, "gradOutput", gradOutput, Kernels.OUTPUTS, "gradInput", gradInput,
                Kernels.inPlace("gradInput", "gradOutput"));
        checkBackward(k, saved, gradOutput);
        Checks.floatBuffer("gradInput", gradInput, k, "of the saved tensor", saved.shape());
        k.softmax().backward(kernel(), saved, gradOutput, rows(saved), columns(saved), gradInput);
    }

    /**
     * The gradient with respect to the input, in a new tensor of the input's shape on its device.
     *
     * @param saved      the forward output for SOFTMAX and LOG_SOFTMAX, the forward input for LOGSUMEXP
     * @param gradOutput the upstream gradient, of the forward output's shape
     * @return the gradient with respect to the input, in a new tensor
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Tensor backward(Tensor saved, Tensor gradOutput) {
        Kernels k = Kernels.forCall(backend, savedName(), saved, "gradOutput", gradOutput);
        checkBackward(k, saved, gradOutput);
        Tensor gradInput = Tensor.zeros(k.device(), DType.FLOAT32, saved.shape());
        try {
            k.softmax().backward(kernel(), saved, gradOutput, rows(saved), columns(saved), gradInput);
            return gradInput;
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, gradInput);
        }
    }

    /**
     * The output and the gradient with respect to the input for the upstream gradient
     * {@code gradOutput}, in new tensors on the input's device.
     *
     * @param input the input, float32 of rank &ge; 1 (the function runs along the last dimension)
     * @param gradOutput the upstream gradient, of the forward output's shape
     * @return the output and the gradient with respect to the input, in new tensors on the call's device;
     *   close the result (or use a {@link dev.jnce.TensorScope})
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Result forwardBackward(Tensor input, Tensor gradOutput) {
        Kernels k = Kernels.forCall(backend, "input", input, "gradOutput", gradOutput);
        checkRows(k, "input", input);
        checkGradOutput(k, input, gradOutput);
        Tensor out = null, gradInput = null;
        try {
            out = Tensor.zeros(k.device(), DType.FLOAT32, outputShape(input.shape()));
            gradInput = Tensor.zeros(k.device(), DType.FLOAT32, input.shape());
            run(k, input, gradOutput, out, gradInput);
            return new Result(out, gradInput);
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, out, gradInput);
        }
    }

    /**
     * The output and the gradient with respect to the input written into the caller's tensors,
     * so that a loop allocates nothing.
     *
     * @param input the input, float32 of rank &ge; 1 (the function runs along the last dimension)
     * @param gradOutput the upstream gradient, of the forward output's shape
     * @param out       the output shape: the input's, or (N) / () for LOGSUMEXP; may be {@code input}
     *                  for SOFTMAX and LOG_SOFTMAX
     * @param gradInput the input's shape; may be {@code gradOutput}, {@code out} or {@code input}
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public void forwardBackward(Tensor input, Tensor gradOutput, Tensor out, Tensor gradInput) {
        Kernels k = Kernels.forCall(backend, "input", input, "gradOutput", gradOutput, Kernels.OUTPUTS, "out", out,
                "gradInput", gradInput, Kernels.inPlace("out", "input"), Kernels.inPlace("gradInput", "gradOutput"),
                Kernels.inPlace("gradInput", "out"), Kernels.inPlace("gradInput", "input"));
        checkRows(k, "input", input);
        checkGradOutput(k, input, gradOutput);
        Checks.floatBuffer("out", out, k, "of the " + name() + " output", outputShape(input.shape()));
        Checks.floatBuffer("gradInput", gradInput, k, "of input", input.shape());
        run(k, input, gradOutput, out, gradInput);
    }

    /**
     * An output and the gradient with respect to the input; closing it closes both.
     *
     * @param output the forward output
     * @param grad the gradient with respect to the input
     */
    public record Result(Tensor output, Tensor grad) implements AutoCloseable {
        @Override
        public void close() {
            output.close();
            if (grad != null) grad.close();
        }
    }

    private void run(Kernels k, Tensor input, Tensor gradOutput, Tensor out, Tensor gradInput) {
        long n = rows(input), c = columns(input);
        k.softmax().forward(kernel(), input, n, c, out);
        k.softmax().backward(kernel(), function == Function.LOGSUMEXP ? input : out, gradOutput, n, c, gradInput);
    }

    private SoftmaxKernels.Function kernel() {
        return SoftmaxKernels.Function.valueOf(function.name());
    }

    private String name() {
        return function.name().toLowerCase(Locale.ROOT);
    }

    /** What backward takes: the forward output, or for LOGSUMEXP the forward input. */
    private String savedName() {
        return function == Function.LOGSUMEXP ? "input" : "output";
    }

    private static long rows(Tensor t) {
        return t.rank() == 1 ? 1 : t.size(0);
    }

    private static long columns(Tensor t) {
        return t.size(t.rank() - 1);
    }

    private long[] outputShape(long[] inputShape) {
        if (function != Function.LOGSUMEXP) return inputShape;
        return inputShape.length == 1 ? new long[0] : new long[] {inputShape[0]};
    }

    /** A float32 (N,C) or (C) tensor with N, C >= 1. */
    private static void checkRows(Kernels k, String argument, Tensor t) {
        Checks.usable(argument, t, k);
        Checks.dtype(argument, t, DType.FLOAT32);
        if (t.rank() != 1 && t.rank() != 2) {
            throw new IllegalArgumentException(argument + ": expected shape (N, C) or (C), got " + Tensor.formatShape(t.shape()));
        }
        if (t.numel() == 0) {
            throw new IllegalArgumentException(argument + ": empty, shape " + Tensor.formatShape(t.shape())
                    + "; expected (N, C) with N >= 1 and C >= 1");
        }
    }

    private void checkBackward(Kernels k, Tensor saved, Tensor gradOutput) {
        checkRows(k, savedName(), saved);
        checkGradOutput(k, saved, gradOutput);
    }

    private void checkGradOutput(Kernels k, Tensor rows, Tensor gradOutput) {
        Checks.floatBuffer("gradOutput", gradOutput, k, "of the " + name() + " output", outputShape(rows.shape()));
    }
}
