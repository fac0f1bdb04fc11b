package dev.jnce.backend;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.testutil.ScopedTest;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.SplittableRandom;
import java.util.stream.Stream;

import static dev.jnce.testutil.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The O(N) steps of the InfoNCE row-block sweep ({@link ContrastiveKernels#diagonalTargets},
 * {@link ContrastiveKernels#excludeLogits}, {@link ContrastiveKernels#reduceRows},
 * {@link ContrastiveKernels#firstUnsharedLabel}) on every backend against plain loops (float64
 * sums): diagonals that wrap, self columns that run past the last column of a block, positives
 * on a diagonal and in one column, every reduction with and without a subtrahend, MEAN over no
 * row, and labels of either type.
 */
class SweepKernelsTest extends ScopedTest {
    private static final float X = ContrastiveKernels.EXCLUDED;

    static Stream<Arguments> diagonals() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(
                Arguments.of(b, 7, 0, 7), Arguments.of(b, 8, 4, 8), Arguments.of(b, 5, 9, 12), Arguments.of(b, 3, 30, 7),
                Arguments.of(b, 1, 0, 1)));
    }

    @ParameterizedTest(name = "{0} n={1} offset={2} modulus={3}")
    @MethodSource("diagonals")
    void diagonalTargetsWrap(Backend backend, int n, int offset, int modulus) {
        Tensor t = Tensor.zeros(DType.INT64, n);
        ((Kernels) backend).contrastive().diagonalTargets(offset, modulus, t);
        long[] want = new long[n];
        for (int i = 0; i < n; i++) want[i] = (i + offset) % modulus;
        assertArrayEquals(want, t.toLongArray());
    }

    /** (rows, M, selfColumn, positiveColumn, positiveStep, with positives): blocks of a sweep and explicit negatives. */
    static Stream<Arguments> exclusions() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(
                Arguments.of(b, 4, 10, 3, 0, 1, false),   // self pairs of rows 3..6
                Arguments.of(b, 4, 10, 8, 0, 1, false),   // the block's last rows have no self column
                Arguments.of(b, 4, 10, -1, 7, 1, true),   // decoupled positives 7, 8, 9, then 0: the diagonal wraps
                Arguments.of(b, 5, 12, 2, 8, 1, true),    // NT-Xent in blocks: self and positive (i + N) both out
                Arguments.of(b, 6, 4, -1, 0, 0, true)));  // explicit negatives: the positive in column 0
    }

    @ParameterizedTest(name = "{0} ({1},{2}) self={3} positive={4} step={5} positives={6}")
    @MethodSource("exclusions")
    void excludeLogitsTakesThemOutAndKeepsThePositives(Backend backend, int rows, int m, int self, int positive, int step,
                                                       boolean withPositives) {
        float[] s = new float[rows * m];
        SplittableRandom random = new SplittableRandom(rows * 31L + m);
        for (int k = 0; k < s.length; k++) s[k] = (float) random.nextGaussian();
        Tensor logits = Tensor.of(s, rows, m), positives = withPositives ? Tensor.zeros(DType.FLOAT32, rows) : null;
        ((Kernels) backend).contrastive().excludeLogits(logits, self, positive, step, positives);
        float[] want = s.clone(), wantPositives = new float[rows];
        for (int i = 0; i < rows; i++) {
            if (self >= 0 && self + i < m) want[i * m + self + i] = X;
            if (withPositives) {
                int c = Math.floorMod(positive + i * step, m);
                wantPositives[i] = want[i * m + c];
                want[i * m + c] = X;
            }
        }
        assertArrayEquals(want, logits.toFloatArray(), "logits");
        if (withPositives) assertArrayEquals(wantPositives, positives.toFloatArray(), "the positives' logits");
    }

    static Stream<Arguments> reductions() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(Reduction.NONE, Reduction.SUM, Reduction.MEAN)
                .flatMap(r -> Stream.of(Arguments.of(b, r, false), Arguments.of(b, r, true))));
    }

    @ParameterizedTest(name = "{0} {1} minus={2}")
    @MethodSource("reductions")
    void reduceRowsMatchesFloat64(Backend backend, Reduction reduction, boolean minus) {
        int n = 1000;
        long counted = 777;
        SplittableRandom random = new SplittableRandom(5);
        float[] rows = new float[n], sub = new float[n];
        for (int i = 0; i < n; i++) {
            rows[i] = (float) random.nextDouble(0, 30);
            sub[i] = (float) random.nextDouble(-10, 10);
        }
        double[] l = new double[n];
        double total = 0;
        for (int i = 0; i < n; i++) total += l[i] = minus ? (double) rows[i] - sub[i] : rows[i];
        Tensor loss = reduction == Reduction.NONE ? Tensor.zeros(DType.FLOAT32, n) : Tensor.zeros(DType.FLOAT32);
        ((Kernels) backend).contrastive().reduceRows(Tensor.of(rows), minus ? Tensor.of(sub) : null, reduction, counted, loss);
        double[] want = switch (reduction) {
            case NONE -> l;
            case SUM -> new double[] {total};
            default -> new double[] {total / counted};
        };
        assertClose(want, loss.toFloatArray(), 1e-7, reduction + " of the rows' losses");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void reduceRowsInPlaceAndOverNoRow(Backend backend) {
        ContrastiveKernels con = ((Kernels) backend).contrastive();
        Tensor rows = Tensor.of(new float[] {3f, 5f, 8f});
        con.reduceRows(rows, Tensor.of(new float[] {1f, 1f, 1f}), Reduction.NONE, 3, rows);
        assertArrayEquals(new float[] {2f, 4f, 7f}, rows.toFloatArray(), "NONE over the rows themselves");
        Tensor mean = Tensor.zeros(DType.FLOAT32);
        con.reduceRows(Tensor.of(new float[] {0f, 0f}), null, Reduction.MEAN, 0, mean);
        assertTrue(Float.isNaN(mean.item()), "MEAN over no counted row is NaN");
    }

    static Stream<Arguments> labelSets() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(
                Arguments.of(b, new long[] {0, 1, 2, 0, 1, 2}, -1),
                Arguments.of(b, new long[] {5, 9, 5, 7, 9}, 3),
                Arguments.of(b, new long[] {4, 4, 4, -2}, 3),
                Arguments.of(b, new long[] {Long.MAX_VALUE, 1, 1, Long.MIN_VALUE, Long.MAX_VALUE}, 3),
                Arguments.of(b, new long[] {1}, 0)));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("labelSets")
    void firstUnsharedLabelNamesTheFirstLoner(Backend backend, long[] labels, long want) {
        ContrastiveKernels con = ((Kernels) backend).contrastive();
        assertEquals(want, con.firstUnsharedLabel(Tensor.of(labels)), "int64");
        boolean fitsInt = java.util.Arrays.stream(labels).allMatch(l -> l == (int) l);
        if (fitsInt) {
            int[] narrow = java.util.Arrays.stream(labels).mapToInt(l -> (int) l).toArray();
            assertEquals(want, con.firstUnsharedLabel(Tensor.of(narrow)), "int32");
        }
    }
}
