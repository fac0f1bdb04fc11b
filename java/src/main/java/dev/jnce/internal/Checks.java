package dev.jnce.internal;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.backend.DivergenceKernels;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.ScanKernels;

import java.util.Arrays;
import java.util.Locale;

/**
 * Argument checks run in Java before any native call. Every message names the argument,
 * the shape seen and the shape expected.
 */
public final class Checks {
    private Checks() {
    }

    /** The tensor is non-null, open, and on the backend's device. */
    public static void usable(String argument, Tensor t, Backend backend) {
        if (t == null) throw new IllegalArgumentException(argument + ": must not be null");
        t.requireOpen(argument);
        if (!t.device().equals(backend.device())) {
            throw new IllegalArgumentException(argument + ": tensor " + t.describe() + " is on " + t.device()
                    + ", but backend '" + backend.name() + "' computes on " + backend.device());
        }
    }

    /** A reduction every loss takes: NONE, MEAN or SUM (BATCHMEAN is KL divergence's alone). */
    public static void reduction(Reduction reduction) {
        if (reduction == null) throw new IllegalArgumentException("reduction: must not be null");
        if (reduction == Reduction.BATCHMEAN) {
            throw new IllegalArgumentException("reduction: BATCHMEAN is kl_div's alone; use MEAN, SUM or NONE");
        }
    }

    public static void dtype(String argument, Tensor t, DType... allowed) {
        if (Arrays.asList(allowed).contains(t.dtype())) return;
        String expected = allowed.length == 1 ? allowed[0].toString() : Arrays.toString(allowed);
        throw new IllegalArgumentException(argument + ": expected " + expected + ", got " + t.describe());
    }

    /** The tensor has exactly this shape. */
    public static void shape(String argument, Tensor t, String meaning, long... expected) {
        if (!Arrays.equals(t.shape(), expected)) {
            throw new IllegalArgumentException(argument + ": expected shape " + meaning + " = "
                    + Tensor.formatShape(expected) + ", got " + Tensor.formatShape(t.shape()));
        }
    }

    /**
     * A caller's loss buffer: open, float32, {@code (N)} when {@code perRow} (reduction NONE),
     * else one element of shape () or (1); {@code reduction} names the reduction in messages.
     */
    public static void lossBuffer(String argument, Tensor loss, Backend backend, boolean perRow, long n, Object reduction) {
        usable(argument, loss, backend);
        dtype(argument, loss, DType.FLOAT32);
        if (perRow) {
            shape(argument, loss, "(N)", n);
        } else if (loss.numel() != 1) {
            throw new IllegalArgumentException(argument + ": expected shape () or (1) for reduction " + reduction
                    + ", got " + Tensor.formatShape(loss.shape()));
        }
    }

    // ---- binary cross-entropy and focal losses ------------------------------------------------

    /** value, else an IllegalArgumentException naming the argument. */
    public static <T> T nonNull(String argument, T value) {
        if (value == null) throw new IllegalArgumentException(argument + ": must not be null");
        return value;
    }

    /**
     * The input and target of an element-wise binary loss: usable, float32, one non-empty shape,
     * target values in [0, 1].
     */
    public static void binaryInputAndTarget(Kernels k, Tensor input, Tensor target) {
        usable("input", input, k);
        usable("target", target, k);
        dtype("input", input, DType.FLOAT32);
        dtype("target", target, DType.FLOAT32);
        if (input.numel() == 0) {
            throw new IllegalArgumentException("input: empty, shape " + Tensor.formatShape(input.shape())
                    + "; expected at least one element");
        }
        if (!Arrays.equals(input.shape(), target.shape())) {
            throw new IllegalArgumentException("target: shape " + Tensor.formatShape(target.shape())
                    + " does not match input " + Tensor.formatShape(input.shape()) + "; expected the same shape");
        }
        unitInterval(k, "target", target);
    }

    /** Every float32 value is in [0, 1] (NaN is not); names the first that is not. */
    public static void unitInterval(Kernels k, String argument, Tensor t) {
        long i = k.scan().firstBreaking(t, ScanKernels.Rule.UNIT_INTERVAL);
        if (i >= 0) {
            throw new IllegalArgumentException(argument + "[" + i + "] = " + (float) k.scan().valueAt(t, i)
                    + " is outside [0, 1] (flat index into " + Tensor.formatShape(t.shape()) + ")");
        }
    }

    /** Every float32 value is finite (neither NaN nor +-Inf); names the first that is not. */
    public static void finite(Kernels k, String argument, Tensor t) {
        long i = k.scan().firstBreaking(t, ScanKernels.Rule.FINITE);
        if (i >= 0) {
            throw new IllegalArgumentException(argument + "[" + i + "] = " + (float) k.scan().valueAt(t, i)
                    + " is not finite (flat index into " + Tensor.formatShape(t.shape()) + ")");
        }
    }

    /** Every float32 value is finite and >= 0; names the first that is not, and what the values mean. */
    public static void nonNegativeFinite(Kernels k, String argument, Tensor t, String meaning) {
        long i = k.scan().firstBreaking(t, ScanKernels.Rule.NON_NEGATIVE_FINITE);
        if (i >= 0) {
            throw new IllegalArgumentException(argument + "[" + i + "] = " + (float) k.scan().valueAt(t, i)
                    + " must be finite and >= 0 (" + meaning + ")");
        }
    }

    /**
     * An optional weight broadcast over input: usable float32 whose shape, without leading 1s, is
     * a trailing part of input's shape ((C) per class for (N, C), or input's own shape).
     */
    public static void broadcastable(Kernels k, String argument, Tensor weight, Tensor input) {
        if (weight == null) return;
        usable(argument, weight, k);
        dtype(argument, weight, DType.FLOAT32);
        long[] w = weight.shape(), in = input.shape();
        int lead = 0;
        while (lead < w.length && w[lead] == 1) lead++;
        long[] core = Arrays.copyOfRange(w, lead, w.length);
        if (core.length > in.length || !Arrays.equals(core, Arrays.copyOfRange(in, in.length - core.length, in.length))) {
            String perClass = in.length == 0 ? "" : ", e.g. (C) = (" + in[in.length - 1] + ") per class";
            throw new IllegalArgumentException(argument + ": shape " + Tensor.formatShape(w) + " does not broadcast over input "
                    + Tensor.formatShape(in) + "; expected a trailing part of the input's shape" + perClass);
        }
    }

    /**
     * A caller's buffers for an element-wise binary loss: loss float32 of input's shape for NONE,
     * else one element of shape () or (1); gradInput float32 of input's shape; gradTarget null or
     * the same, and not gradInput itself.
     */
    public static void binaryOutputs(Kernels k, Reduction reduction, Tensor input, Tensor loss, Tensor gradInput,
                                     Tensor gradTarget) {
        usable("loss", loss, k);
        dtype("loss", loss, DType.FLOAT32);
        if (reduction == Reduction.NONE) {
            shape("loss", loss, "of input for reduction NONE", input.shape());
        } else if (loss.numel() != 1) {
            throw new IllegalArgumentException("loss: expected shape () or (1) for reduction " + reduction
                    + ", got " + Tensor.formatShape(loss.shape()));
        }
        usable("gradInput", gradInput, k);
        dtype("gradInput", gradInput, DType.FLOAT32);
        shape("gradInput", gradInput, "of input", input.shape());
        if (gradTarget != null) {
            usable("gradTarget", gradTarget, k);
            dtype("gradTarget", gradTarget, DType.FLOAT32);
            shape("gradTarget", gradTarget, "of input", input.shape());
            if (gradTarget == gradInput) {
                throw new IllegalArgumentException("gradTarget: is gradInput itself; the two gradients need two tensors");
            }
        }
    }

    /** A sigmoid focal loss's alpha: any number (negative turns the weighting off), not NaN. */
    public static float focalAlpha(float alpha) {
        if (Float.isNaN(alpha)) throw new IllegalArgumentException("alpha: must be a number, got NaN");
        return alpha;
    }

    /** A focal loss's focusing exponent: finite and >= 0. */
    public static float focalGamma(float gamma) {
        if (!(gamma >= 0) || Float.isInfinite(gamma)) {
            throw new IllegalArgumentException("gamma: must be finite and >= 0, got " + gamma);
        }
        return gamma;
    }

    // ---- distributions and token losses: KlDiv, Entropy, Perplexity --------------------------

    /** Open, on the backend's device, float32, at least one value. */
    public static void floats(String argument, Tensor t, Backend backend) {
        usable(argument, t, backend);
        dtype(argument, t, DType.FLOAT32);
        if (t.numel() == 0) {
            throw new IllegalArgumentException(argument + ": empty tensor " + t.describe() + "; expected at least one value");
        }
    }

    /** A caller's float32 output buffer: non-null, open, on the backend's device, of exactly this shape. */
    public static void floatBuffer(String argument, Tensor t, Backend backend, String meaning, long... shape) {
        usable(argument, t, backend);
        dtype(argument, t, DType.FLOAT32);
        shape(argument, t, meaning, shape);
    }

    /** {@code other} has exactly {@code reference}'s shape. */
    public static void sameShape(String argument, Tensor other, String referenceName, Tensor reference) {
        if (!Arrays.equals(other.shape(), reference.shape())) {
            throw new IllegalArgumentException(argument + ": shape " + Tensor.formatShape(other.shape())
                    + " does not match " + referenceName + " " + Tensor.formatShape(reference.shape())
                    + "; expected the same shape");
        }
    }

    /** A float32 (N, C) tensor of probabilities with N, C >= 1 (its values: {@link #distributions}). */
    public static void distributionRows(String argument, Tensor t, Backend backend) {
        floats(argument, t, backend);
        if (t.rank() != 2) {
            throw new IllegalArgumentException(argument + ": expected shape (N, C), one distribution per row, got "
                    + Tensor.formatShape(t.shape()) + (t.rank() == 1 ? "; for a single distribution use shape (1, C)" : ""));
        }
    }

    /**
     * Every row of the (N, C) tensor is a probability distribution: entries finite and
     * non-negative, summing (in double) to 1 within tolerance. Names the first row that is not;
     * the values are read by the kernel, where the tensor lives.
     */
    public static void distributions(String argument, Tensor t, double tolerance, DivergenceKernels kernels) {
        DivergenceKernels.RowFault f = kernels.firstNonDistribution(t, tolerance);
        if (f == null) return;
        if (f.column() >= 0) {
            throw new IllegalArgumentException(argument + "[" + f.row() + ", " + f.column() + "] = " + (float) f.value()
                    + " in row " + f.row() + " of " + t.describe() + ": a probability must be finite and >= 0");
        }
        throw new IllegalArgumentException(argument + ": row " + f.row() + " of " + t.describe() + " sums to "
                + String.format(Locale.ROOT, "%.7g", f.value()) + ", expected 1 within " + tolerance
                + " (each row must be a probability distribution)");
    }

    /** A row-sum tolerance: >= 0 ({@code Double.POSITIVE_INFINITY} skips the sum check). */
    public static void tolerance(double tolerance) {
        if (!(tolerance >= 0)) {
            throw new IllegalArgumentException("tolerance: " + tolerance + " must be >= 0 (Double.POSITIVE_INFINITY "
                    + "skips the row-sum check)");
        }
    }

    // ---- matrices, outputs and eps of the similarity ops, mining and the triplet loss ----

    /** An open, non-empty float32 matrix {@code meaning} (e.g. "(N, D)") on the backend; returns its shape. */
    public static long[] matrix(String argument, Tensor t, Backend backend, String meaning) {
        usable(argument, t, backend);
        dtype(argument, t, DType.FLOAT32);
        if (t.rank() != 2) {
            throw new IllegalArgumentException(argument + ": expected shape " + meaning + ", got "
                    + Tensor.formatShape(t.shape()));
        }
        if (t.numel() == 0) {
            throw new IllegalArgumentException(argument + ": empty, shape " + Tensor.formatShape(t.shape())
                    + "; expected " + meaning + " with both sizes >= 1");
        }
        return t.shape();
    }

    /** b has a's number of columns (the feature dimension D). */
    public static void sameFeatures(String argA, Tensor a, String argB, Tensor b) {
        if (a.size(-1) != b.size(-1)) {
            throw new IllegalArgumentException(argB + ": feature dimension D = " + b.size(-1) + " differs from " + argA
                    + "'s D = " + a.size(-1) + " (shapes " + Tensor.formatShape(a.shape()) + " and "
                    + Tensor.formatShape(b.shape()) + ")");
        }
    }

    /** An open float32 tensor of exactly this shape. */
    public static void output(String argument, Tensor t, Backend backend, String meaning, long... shape) {
        usable(argument, t, backend);
        dtype(argument, t, DType.FLOAT32);
        shape(argument, t, meaning, shape);
    }

    /**
     * out shares no memory with in (either may be null); named by both arguments if it does.
     * Compares address ranges, so that it also holds for device tensors (the callers have put
     * both on one device).
     */
    public static void noOverlap(String outArg, Tensor out, String inArg, Tensor in) {
        if (out == null || in == null) return;
        long o = out.segment().address(), i = in.segment().address();
        long oBytes = out.numel() * out.dtype().byteSize(), iBytes = in.numel() * in.dtype().byteSize();
        if (oBytes > 0 && iBytes > 0 && o < i + iBytes && i < o + oBytes) {
            throw new IllegalArgumentException(outArg + ": shares memory with " + inArg + "; use a separate tensor");
        }
    }

    /** eps is finite and >= 0; returned as the float the kernels take. */
    public static float eps(double eps) {
        if (!(eps >= 0) || Double.isInfinite(eps)) {
            throw new IllegalArgumentException("eps: must be finite and >= 0, got " + eps);
        }
        return (float) eps;
    }

    // ---- options the kernels take as float32 ---------------------------------------------------

    /**
     * An eps that stays finite as the float32 the kernels take: finite, >= 0 and at most
     * {@link Float#MAX_VALUE} (a larger double rounds to +Infinity, and a division by it gives 0
     * silently); returned as that float.
     */
    public static float float32Eps(double eps) {
        if (!(eps >= 0) || !(eps <= Float.MAX_VALUE)) {
            throw new IllegalArgumentException("eps: must be finite and >= 0 as a float32, in [0, " + Float.MAX_VALUE
                    + "], got " + eps);
        }
        return (float) eps;
    }

    /**
     * A double option the kernels take as float32 that must stay a finite, normal, positive
     * float32: in [{@link Float#MIN_NORMAL}, {@link Float#MAX_VALUE}]. A larger double rounds to
     * +Infinity and a smaller one to a subnormal or 0, and the kernel's result is then wrong without
     * an error.
     *
     * @param why what the value does, for the message
     */
    public static float float32Positive(String argument, double v, String why) {
        if (!(v >= Float.MIN_NORMAL) || !(v <= Float.MAX_VALUE)) {
            throw new IllegalArgumentException(argument + ": must be finite and > 0 as a normal float32, in ["
                    + Float.MIN_NORMAL + ", " + Float.MAX_VALUE + "] (" + why + "), got " + v);
        }
        return (float) v;
    }
}
