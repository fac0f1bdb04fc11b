package dev.jnce.metrics;

/**
 * A decision threshold chosen by a criterion, and the criterion's value there: predict
 * positive when score &ge; threshold.
 *
 * @param threshold the score threshold
 * @param value the criterion at that threshold (F1, or Youden's J = tpr - fpr)
 */
public record Threshold(double threshold, double value) {
}
