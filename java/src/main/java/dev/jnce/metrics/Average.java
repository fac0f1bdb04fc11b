package dev.jnce.metrics;

/**
 * How {@link ConfusionMatrix} folds per-class precision, recall and F1 into one number, with
 * scikit-learn's meanings of its {@code average=} argument.
 */
public enum Average {
    /**
     * The positive class (label 1) alone, the other label negative; at most two labels may be seen,
     * one of them 1 when there are two (else an error, as scikit-learn's {@code pos_label=1}).
     */
    BINARY,
    /** From the counts summed over all classes (for single-label data, precision = recall = F1 = accuracy). */
    MICRO,
    /** The unweighted mean over every label seen in the true or predicted labels. */
    MACRO,
    /** The mean over every label seen, weighted by its number of true instances (its support). */
    WEIGHTED
}
