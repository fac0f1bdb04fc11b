package dev.jnce.metrics;

/**
 * A ROC curve as scikit-learn's {@code roc_curve(y_true, y_score)} returns it (with its default
 * {@code drop_intermediate=True}): points by decreasing threshold, a sample predicted positive
 * when its score is &ge; the threshold. The first point is (0, 0) at threshold +Infinity
 * (scikit-learn &ge; 1.3 writes {@code inf}; 1.2 wrote the largest score + 1). With one class
 * only, the rate whose denominator is 0 is NaN at every point, as scikit-learn returns it.
 *
 * @param fpr false-positive rates, non-decreasing
 * @param tpr true-positive rates, non-decreasing
 * @param thresholds the thresholds, decreasing
 */
public record RocCurve(double[] fpr, double[] tpr, double[] thresholds) {
}
