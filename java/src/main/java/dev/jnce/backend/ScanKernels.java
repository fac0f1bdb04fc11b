package dev.jnce.backend;

import dev.jnce.Tensor;

/**
 * Scans of a tensor's values for the argument checks that must read data (finiteness, ranges,
 * class indices), so that they run where the tensor lives: on the host through
 * {@code internal/ValueScan} (cpu and java), on a GPU through the cuda backend. Each returns the
 * flat index of the first offending element, or -1, and the caller names it in its message.
 */
public interface ScanKernels {

    /** What every float32 value must be. */
    enum Rule {
        /** not NaN */
        NOT_NAN,
        /** neither NaN nor ±Inf */
        FINITE,
        /** in [0, 1] (NaN breaks it) */
        UNIT_INTERVAL,
        /** finite and >= 0 */
        NON_NEGATIVE_FINITE,
        /** finite or -Inf (neither NaN nor +Inf) */
        BELOW_POSITIVE_INFINITY
    }

    /** The flat index of the first float32 value of t that breaks rule, or -1. */
    long firstBreaking(Tensor t, Rule rule);

    /**
     * The flat index of the first int32 or int64 value of indices outside [0, bound) that is not
     * {@code except} (an ignore index; pass a value inside the range for none), or -1.
     */
    long firstOutside(Tensor indices, long bound, long except);

    /** Element {@code index} (flat) of a float32, int32 or int64 tensor, as a double: for a message. */
    double valueAt(Tensor t, long index);
}
