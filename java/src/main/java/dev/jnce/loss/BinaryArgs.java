package dev.jnce.loss;

import dev.jnce.Reduction;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.internal.Checks;
import dev.jnce.internal.ValueScan;

import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * Argument checks and the call skeleton shared by the element-wise binary losses
 * (BinaryCrossEntropy, BinaryCrossEntropyWithLogits, SigmoidFocalLoss).
 */
final class BinaryArgs {
    /** A kernel call writing the loss and, when non-null, the gradients. */
    @FunctionalInterface
    interface Call {
        void run(Tensor loss, Tensor gradInput, Tensor gradTarget);
    }

    private BinaryArgs() {
    }

    /** input and target: usable, float32, one non-empty shape; target values in [0, 1]. */
    static void inputAndTarget(Kernels k, Tensor input, Tensor target) {
        Checks.usable("input", input, k);
        Checks.usable("target", target, k);
        Checks.dtype("input", input, DType.FLOAT32);
        Checks.dtype("target", target, DType.FLOAT32);
        if (input.numel() == 0) {
            throw new IllegalArgumentException("input: empty, shape " + Tensor.formatShape(input.shape())
                    + "; expected at least one element");
        }
        if (!Arrays.equals(input.shape(), target.shape())) {
            throw new IllegalArgumentException("target: shape " + Tensor.formatShape(target.shape())
                    + " does not match input " + Tensor.formatShape(input.shape()) + "; expected the same shape");
        }
        inUnitInterval("target", target);
    }

    /** Every value is in [0, 1] (NaN is not); names the first that is not. */
    static void inUnitInterval(String argument, Tensor t) {
        long i = ValueScan.firstBreaking(t.segment(), t.numel(), ValueScan.Rule.UNIT_INTERVAL);
        if (i >= 0) {
            throw new IllegalArgumentException(argument + "[" + i + "] = " + t.segment().getAtIndex(ValueLayout.JAVA_FLOAT, i)
                    + " is outside [0, 1] (flat index into " + Tensor.formatShape(t.shape()) + ")");
        }
    }

    /**
     * An optional weight broadcast over input: float32 whose shape, without leading 1s, is a
     * trailing part of input's shape ((C) per class for (N, C), or input's own shape).
     */
    static void broadcastable(Kernels k, String argument, Tensor weight, Tensor input) {
        if (weight == null) return;
        Checks.usable(argument, weight, k);
        Checks.dtype(argument, weight, DType.FLOAT32);
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

    static Tensor newLoss(Reduction reduction, Tensor input) {
        return reduction == Reduction.NONE ? Tensor.zeros(DType.FLOAT32, input.shape()) : Tensor.zeros(DType.FLOAT32);
    }

    static Tensor forward(Reduction reduction, Tensor input, Call call) {
        Tensor loss = newLoss(reduction, input);
        call.run(loss, null, null);
        return loss;
    }

    static InputTargetResult forwardBackward(Reduction reduction, Tensor input, Call call) {
        Tensor loss = newLoss(reduction, input);
        Tensor gradInput = Tensor.zeros(DType.FLOAT32, input.shape());
        Tensor gradTarget = Tensor.zeros(DType.FLOAT32, input.shape());
        call.run(loss, gradInput, gradTarget);
        return new InputTargetResult(loss, gradInput, gradTarget);
    }

    static Reduction nonNull(Reduction reduction) {
        Checks.reduction(reduction);
        return reduction;
    }

    static <T> T nonNull(String argument, T value) {
        if (value == null) throw new IllegalArgumentException(argument + ": must not be null");
        return value;
    }
}
