package dev.jnce.internal;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

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

    /** Every class index in targets (int32 or int64) is in [0, classes); names the first that is not. */
    public static void classIndices(String argument, Tensor targets, long classes, String context) {
        MemorySegment s = targets.segment();
        long n = targets.numel();
        boolean wide = targets.dtype() == DType.INT64;
        for (long i = 0; i < n; i++) {
            long t = wide ? s.getAtIndex(ValueLayout.JAVA_LONG, i) : s.getAtIndex(ValueLayout.JAVA_INT, i);
            if (t < 0 || t >= classes) {
                throw new IllegalArgumentException(argument + "[" + i + "] = " + t + " is outside [0, " + classes
                        + ") " + context);
            }
        }
    }
}
