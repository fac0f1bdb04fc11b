package dev.jnce.metrics;

import dev.jnce.Tensor;
import dev.jnce.testutil.Golden;
import dev.jnce.testutil.ScopedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ROC curve, ROC-AUC, precision-recall curve, average precision and best thresholds against
 * scikit-learn (golden/metrics.txt from golden_metrics.py): ties, all-equal scores, signed
 * zeros and single-class inputs; and the errors on bad input.
 */
class BinaryScoresTest extends ScopedTest {
    private static final Map<String, Golden.Case> GOLDEN = Golden.load("/golden/metrics.txt");
    private static final double TOL = 1e-12;

    static Stream<Golden.Case> binaryCases() {
        return GOLDEN.values().stream().filter(c -> c.fields().containsKey("scores"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("binaryCases")
    void matchesScikitLearn(Golden.Case g) {
        int[] labels = Arrays.stream(g.longs("labels")).mapToInt(v -> (int) v).toArray();
        // the same values as doubles and as the float32 they are
        for (BinaryScores s : new BinaryScores[] {BinaryScores.of(g.doubles("scores"), labels), BinaryScores.of(g.floats("scores"), labels),
                BinaryScores.of(Tensor.of(g.floats("scores")), Tensor.of(labels))}) {
            RocCurve roc = s.roc();
            assertArrayEquals(g.doubles("roc_fpr"), roc.fpr(), TOL, g + " fpr");
            assertArrayEquals(g.doubles("roc_tpr"), roc.tpr(), TOL, g + " tpr");
            double[] thr = g.doubles("roc_thresholds");
            assertEquals(Double.POSITIVE_INFINITY, roc.thresholds()[0], g + ": first threshold is +Inf (1.2 wrote max + 1)");
            assertArrayEquals(Arrays.copyOfRange(thr, 1, thr.length), Arrays.copyOfRange(roc.thresholds(), 1, thr.length), 0,
                    g + " thresholds");
            PrecisionRecallCurve pr = s.precisionRecall();
            assertArrayEquals(g.doubles("pr_precision"), pr.precision(), TOL, g + " precision");
            assertArrayEquals(g.doubles("pr_recall"), pr.recall(), TOL, g + " recall");
            assertArrayEquals(g.doubles("pr_thresholds"), pr.thresholds(), 0, g + " pr thresholds");
            assertEquals(g.doubles("ap")[0], s.averagePrecision(), TOL, g + " average precision");
            Threshold f1 = s.bestF1();
            assertEquals(g.doubles("best_f1_threshold")[0], f1.threshold(), 0, g + " best F1 threshold");
            assertEquals(g.doubles("best_f1")[0], f1.value(), TOL, g + " best F1");
            if (g.fields().containsKey("roc_auc")) {
                assertEquals(g.doubles("roc_auc")[0], s.rocAuc(), TOL, g + " roc_auc");
                Threshold j = s.bestYoudenJ();
                double want = g.doubles("best_j_threshold")[0];
                assertEquals(want == thr[0] ? Double.POSITIVE_INFINITY : want, j.threshold(), 0, g + " best J threshold");
                assertEquals(g.doubles("best_j")[0], j.value(), TOL, g + " best J");
            } else {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, s::rocAuc, g.name());
                assertTrue(e.getMessage().startsWith("labels: only one class present"), e.getMessage());
                assertThrows(IllegalArgumentException.class, s::bestYoudenJ, g.name());
            }
        }
    }

    /** ROC-AUC is the probability that a positive outscores a negative, ties one half: O(P N) by definition. */
    @Test
    void aucIsTheMannWhitneyStatisticOnLargeTiedInputs() {
        Random r = new Random(7);
        int n = 20000;
        float[] scores = new float[n];
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            labels[i] = r.nextInt(3) == 0 ? 1 : 0;
            scores[i] = (r.nextInt(200) + 30 * labels[i]) / 7f - 10f;
        }
        long wins2 = 0, p = 0, q = 0;
        for (int i = 0; i < n; i++) {
            if (labels[i] != 1) continue;
            p++;
            for (int j = 0; j < n; j++) {
                if (labels[j] != 0) continue;
                wins2 += scores[i] > scores[j] ? 2 : scores[i] == scores[j] ? 1 : 0;
            }
        }
        for (int l : labels) q += l == 0 ? 1 : 0;
        assertEquals(wins2 / 2.0 / p / q, BinaryScores.of(scores, labels).rocAuc(), 1e-15);
    }

    @Test
    void badInputNamesTheArgument() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> BinaryScores.of(new double[] {0.1, 0.2}, new int[] {0, 1, 1}));
        assertEquals("labels: expected shape (N) = (2) of scores, got (3)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> BinaryScores.of(new double[] {0.1, Double.NaN}, new int[] {0, 1}));
        assertTrue(e.getMessage().startsWith("scores[1] = NaN"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> BinaryScores.of(new float[] {0.1f, Float.POSITIVE_INFINITY}, new int[] {0, 1}));
        assertTrue(e.getMessage().startsWith("scores[1] = Infinity"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> BinaryScores.of(new double[] {0.1, 0.2}, new int[] {0, 2}));
        assertEquals("labels[1] = 2: labels must be 0 or 1", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> BinaryScores.of(new double[0], new int[0]));
        assertTrue(e.getMessage().startsWith("scores: expected at least one sample"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> BinaryScores.of(Tensor.of(new float[] {1, 2}, 1, 2), Tensor.of(new int[] {0, 1})));
        assertEquals("scores: expected shape (N), got (1, 2)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> BinaryScores.of(Tensor.of(new float[] {1, 2}), Tensor.of(new long[] {0, 1, 1})));
        assertEquals("labels: expected shape (N) = (2) of scores, got (3)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> BinaryScores.of(Tensor.of(new float[] {1, 2}), Tensor.of(new float[] {0, 1})));
        assertTrue(e.getMessage().startsWith("labels: expected [int32, int64]"), e.getMessage());
    }

    @Test
    void radixSortOrdersEveryKindOfDouble() {
        double[] values = {Double.MAX_VALUE, -Double.MAX_VALUE, Double.MIN_VALUE, -Double.MIN_VALUE, 0.0, -0.0, 1, -1, 1e-300, -1e300,
                3.5, 3.5000000000000004, Float.MAX_VALUE, -7};
        long[] keys = Arrays.stream(values).mapToLong(ScoreSort::key).toArray();
        byte[] labels = new byte[values.length];
        for (int i = 0; i < labels.length; i++) labels[i] = (byte) (i % 2);
        ScoreSort.sort(keys, labels);
        double[] sorted = Arrays.stream(keys).mapToDouble(ScoreSort::score).toArray();
        double[] want = values.clone();
        for (int i = 0; i < want.length; i++) want[i] += 0.0;
        Arrays.sort(want);
        for (int i = 0; i < want.length / 2; i++) {
            double t = want[i];
            want[i] = want[want.length - 1 - i];
            want[want.length - 1 - i] = t;
        }
        assertArrayEquals(want, sorted, 0);
        for (int i = 0; i < values.length; i++) { // each label travelled with its score
            double v = sorted[i];
            int orig = 0;
            while (Double.compare(values[orig] + 0.0, v) != 0) orig++;
            if (v != 0) assertEquals(orig % 2, labels[i], "label of " + v);
        }
    }
}
