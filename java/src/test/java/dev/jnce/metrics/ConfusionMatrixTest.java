package dev.jnce.metrics;

import dev.jnce.testutil.Golden;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Confusion matrix and precision / recall / F1 with every average against scikit-learn (golden/metrics.txt). */
class ConfusionMatrixTest {
    private static final Map<String, Golden.Case> GOLDEN = Golden.load("/golden/metrics.txt");

    static Stream<Golden.Case> cases() {
        return GOLDEN.values().stream().filter(c -> c.fields().containsKey("y_true"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesScikitLearn(Golden.Case g) {
        ConfusionMatrix cm = ConfusionMatrix.of(ints(g.longs("y_true")), ints(g.longs("y_pred")));
        assertArrayEquals(ints(g.longs("labels")), cm.labels(), g.name());
        assertArrayEquals(g.longs("cm"), Arrays.stream(cm.counts()).flatMapToLong(Arrays::stream).toArray(), g.name());
        for (Average a : Average.values()) {
            String key = a.name().toLowerCase();
            if (!g.fields().containsKey("precision_" + key)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cm.f1(a), g.name());
                assertTrue(e.getMessage().startsWith("average: BINARY needs at most two labels"), e.getMessage());
                continue;
            }
            assertEquals(g.doubles("precision_" + key)[0], cm.precision(a), 1e-12, g + " precision " + a);
            assertEquals(g.doubles("recall_" + key)[0], cm.recall(a), 1e-12, g + " recall " + a);
            assertEquals(g.doubles("f1_" + key)[0], cm.f1(a), 1e-12, g + " f1 " + a);
        }
    }

    @Test
    void badInputNamesTheArgument() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ConfusionMatrix.of(new int[] {0, 1}, new int[] {1}));
        assertEquals("yPred: expected shape (N) = (2) of yTrue, got (1)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ConfusionMatrix.of(null, new int[] {1}));
        assertEquals("yTrue: must not be null", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ConfusionMatrix.of(new int[0], new int[0]));
        assertTrue(e.getMessage().startsWith("yTrue: expected at least one sample"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ConfusionMatrix.of(new int[] {1}, new int[] {1}).recall(null));
        assertEquals("average: must not be null", e.getMessage());
    }

    private static int[] ints(long[] v) {
        return Arrays.stream(v).mapToInt(x -> (int) x).toArray();
    }
}
