package dev.jnce;

/**
 * How per-row losses are combined, with PyTorch's {@code reduction} meaning: one enum for every
 * loss and kernel.
 */
public enum Reduction {
    /** One loss per row (or element), shape {@code (N)}. */
    NONE,
    /** The mean, shape {@code ()}. PyTorch's default. */
    MEAN,
    /** The sum, shape {@code ()}. */
    SUM,
    /**
     * PyTorch's {@code 'batchmean'}: the sum divided by the batch size N (dimension 0), the true
     * KL divergence per row. Only {@link dev.jnce.loss.KlDiv} takes it; other losses reject it.
     */
    BATCHMEAN
}
