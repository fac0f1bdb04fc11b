package dev.jnce.loss;

/** How per-row losses are combined, with PyTorch's {@code reduction} meaning. */
public enum Reduction {
    /** One loss per row, shape {@code (N)}. */
    NONE,
    /** The mean over rows, shape {@code ()}. PyTorch's default. */
    MEAN,
    /** The sum over rows, shape {@code ()}. */
    SUM
}
