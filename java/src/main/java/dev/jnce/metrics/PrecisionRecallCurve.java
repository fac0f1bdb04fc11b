package dev.jnce.metrics;

/**
 * A precision-recall curve as scikit-learn's {@code precision_recall_curve(y_true, y_score)}
 * returns it: thresholds are the distinct scores, increasing; precision and recall have one
 * entry more, the last being precision 1 and recall 0 (no threshold). Without positives the
 * recall is 1 at every threshold, as in scikit-learn.
 *
 * @param precision tp / (tp + fp) at each threshold, then 1
 * @param recall tp / (number of positives) at each threshold, then 0; non-increasing
 * @param thresholds the distinct scores, increasing
 */
public record PrecisionRecallCurve(double[] precision, double[] recall, double[] thresholds) {
}
