package dev.jnce.metrics;

import java.util.Arrays;

/**
 * The confusion matrix of single-label classification, and precision, recall and F1 from it,
 * as scikit-learn's {@code confusion_matrix} and {@code precision_recall_fscore_support}.
 *
 * <p>The labels are the sorted union of the true and predicted labels (scikit-learn's default
 * {@code labels=None}); {@code count(t, p)} is the number of samples of true label
 * {@code labels()[t]} predicted as {@code labels()[p]}. A ratio whose denominator is 0 (precision
 * of a label never predicted, recall of a label never true, F1 when both are 0) is 0, as
 * scikit-learn's default {@code zero_division="warn"} returns (it also warns; this class does not).
 * Immutable and thread-safe.
 *
 * <pre>{@code
 * ConfusionMatrix cm = ConfusionMatrix.of(new int[] {0, 1, 2, 2}, new int[] {0, 2, 2, 1});
 * double f1 = cm.f1(Average.MACRO);   // f1_score(y_true, y_pred, average="macro")
 * }</pre>
 */
public final class ConfusionMatrix {
    private final int[] labels;
    private final long[][] counts;

    private ConfusionMatrix(int[] labels, long[][] counts) {
        this.labels = labels;
        this.counts = counts;
    }

    /**
     * Counts yTrue against yPred.
     *
     * @param yTrue the true labels, one per sample, any ints; not empty
     * @param yPred the predicted labels, as many as yTrue
     * @return the confusion matrix over the sorted union of the labels
     * @throws IllegalArgumentException if an array is null or empty, or their lengths differ (the
     *   message names the argument and both lengths)
     */
    public static ConfusionMatrix of(int[] yTrue, int[] yPred) {
        if (yTrue == null) throw new IllegalArgumentException("yTrue: must not be null");
        if (yPred == null) throw new IllegalArgumentException("yPred: must not be null");
        if (yPred.length != yTrue.length) {
            throw new IllegalArgumentException("yPred: expected shape (N) = (" + yTrue.length + ") of yTrue, got ("
                    + yPred.length + ")");
        }
        if (yTrue.length == 0) throw new IllegalArgumentException("yTrue: expected at least one sample, got shape (0)");
        int[] labels = java.util.stream.IntStream.concat(Arrays.stream(yTrue), Arrays.stream(yPred)).distinct().sorted().toArray();
        long[][] counts = new long[labels.length][labels.length];
        for (int i = 0; i < yTrue.length; i++) {
            counts[Arrays.binarySearch(labels, yTrue[i])][Arrays.binarySearch(labels, yPred[i])]++;
        }
        return new ConfusionMatrix(labels, counts);
    }

    /**
     * The labels of the rows and columns, ascending.
     *
     * @return a copy of the labels
     */
    public int[] labels() {
        return labels.clone();
    }

    /**
     * The samples of true label {@code labels()[t]} predicted as {@code labels()[p]}.
     *
     * @param t the row: index of the true label in {@link #labels()}
     * @param p the column: index of the predicted label in {@link #labels()}
     * @return the count
     * @throws IndexOutOfBoundsException if t or p is outside [0, labels().length)
     */
    public long count(int t, int p) {
        return counts[t][p];
    }

    /**
     * The whole matrix, rows true labels and columns predicted ones, as scikit-learn's {@code confusion_matrix}.
     *
     * @return a copy of the (L, L) counts
     */
    public long[][] counts() {
        long[][] copy = new long[counts.length][];
        for (int i = 0; i < counts.length; i++) copy[i] = counts[i].clone();
        return copy;
    }

    /**
     * Precision, tp / (tp + fp), averaged as asked ({@code precision_score}).
     *
     * @param average how the per-class values are folded; not null
     * @return the precision, in [0, 1]
     * @throws IllegalArgumentException if average is null, or BINARY with more than two labels, or two without label 1
     */
    public double precision(Average average) {
        return score(average, 0);
    }

    /**
     * Recall, tp / (tp + fn), averaged as asked ({@code recall_score}).
     *
     * @param average how the per-class values are folded; not null
     * @return the recall, in [0, 1]
     * @throws IllegalArgumentException if average is null, or BINARY with more than two labels, or two without label 1
     */
    public double recall(Average average) {
        return score(average, 1);
    }

    /**
     * F1, 2 p r / (p + r) per class (0 when p + r = 0), averaged as asked ({@code f1_score});
     * MICRO takes p and r of the summed counts.
     *
     * @param average how the per-class values are folded; not null
     * @return the F1 score, in [0, 1]
     * @throws IllegalArgumentException if average is null, or BINARY with more than two labels, or two without label 1
     */
    public double f1(Average average) {
        return score(average, 2);
    }

    /** what: 0 precision, 1 recall, 2 F1. */
    private double score(Average average, int what) {
        if (average == null) throw new IllegalArgumentException("average: must not be null");
        int l = labels.length;
        long[] tp = new long[l], predicted = new long[l], support = new long[l];
        for (int t = 0; t < l; t++) {
            tp[t] = counts[t][t];
            for (int p = 0; p < l; p++) {
                predicted[p] += counts[t][p];
                support[t] += counts[t][p];
            }
        }
        switch (average) {
            case BINARY -> {
                int at = Arrays.binarySearch(labels, 1);
                if (l > 2 || (l == 2 && at < 0)) {
                    throw new IllegalArgumentException("average: BINARY needs at most two labels, one of them the positive "
                            + "label 1, got labels " + Arrays.toString(labels) + "; use MICRO, MACRO or WEIGHTED");
                }
                return at < 0 ? 0.0 : of(what, tp[at], predicted[at], support[at]);
            }
            case MICRO -> {
                long sumTp = 0, sumPredicted = 0, sumSupport = 0;
                for (int c = 0; c < l; c++) {
                    sumTp += tp[c];
                    sumPredicted += predicted[c];
                    sumSupport += support[c];
                }
                return of(what, sumTp, sumPredicted, sumSupport);
            }
            case MACRO -> {
                double sum = 0;
                for (int c = 0; c < l; c++) sum += of(what, tp[c], predicted[c], support[c]);
                return sum / l;
            }
            case WEIGHTED -> {
                double sum = 0;
                long total = 0;
                for (int c = 0; c < l; c++) {
                    sum += of(what, tp[c], predicted[c], support[c]) * support[c];
                    total += support[c];
                }
                return sum / total;
            }
        }
        throw new AssertionError(average);
    }

    private static double of(int what, long tp, long predicted, long support) {
        double p = ratio(tp, predicted), r = ratio(tp, support);
        return switch (what) {
            case 0 -> p;
            case 1 -> r;
            default -> p + r == 0 ? 0.0 : 2 * p * r / (p + r);
        };
    }

    private static double ratio(long num, long den) {
        return den == 0 ? 0.0 : (double) num / den;
    }

    @Override
    public String toString() {
        return "ConfusionMatrix" + Arrays.toString(labels) + Arrays.deepToString(counts);
    }
}
