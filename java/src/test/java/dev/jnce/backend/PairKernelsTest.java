package dev.jnce.backend;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.PairKernels.MiningOutcome;
import dev.jnce.testutil.ScopedTest;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static dev.jnce.testutil.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The pair kernels that have no op of their own to test them through, on every backend: the row
 * gather and its scatter-add against float64 (int32 and int64 indices, repeated indices, R = 0,
 * enough rows and columns for several threads), and the rows mining reports as short of
 * negatives (labels, mask, K past M) while mining the others as a full sort does.
 */
class PairKernelsTest extends ScopedTest {

    static Stream<Arguments> gatherCases() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(DType.INT32, DType.INT64).flatMap(t -> Stream.of(
                Arguments.of(b, t, 1, 1, 1, 1), Arguments.of(b, t, 5, 3, 0, 4), Arguments.of(b, t, 9, 7, 6, 5),
                Arguments.of(b, t, 300, 40, 16, 128), Arguments.of(b, t, 50, 400, 8, 700))));
    }

    @ParameterizedTest(name = "{0} {1} M={2} N={3} K={4} D={5}")
    @MethodSource("gatherCases")
    void gatherAndScatterAddMatchFloat64(Backend backend, DType type, int m, int n, int k, int d) {
        PairKernels pair = ((Kernels) backend).pair();
        SplittableRandom r = new SplittableRandom(m * 131L + n * 7L + d);
        float[] keys = random(r, m * d), grad = random(r, n * k * d), start = random(r, m * d);
        long[] idx = new long[n * k];
        for (int i = 0; i < idx.length; i++) idx[i] = r.nextInt(m); // repeats whenever N K > M
        Tensor indices = type == DType.INT64 ? Tensor.of(idx, n, k) : Tensor.of(toInts(idx), n, k);

        Tensor out = Tensor.of(random(r, n * k * d), n, k, d); // overwritten
        pair.gatherRows(Tensor.of(keys, m, d), indices, out);
        double[] want = new double[n * k * d];
        for (int row = 0; row < idx.length; row++) {
            for (int j = 0; j < d; j++) want[row * d + j] = keys[(int) idx[row] * d + j];
        }
        assertClose(want, floats(out), 0, backend + " gathered rows");

        Tensor gradKeys = Tensor.of(start.clone(), m, d);
        pair.gatherRowsBackward(Tensor.of(grad, n, k, d), indices, gradKeys);
        double[] sum = new double[m * d];
        float[] inOrder = start.clone(); // the float32 additions in increasing r, as the kernels make them
        for (int i = 0; i < sum.length; i++) sum[i] = start[i];
        for (int row = 0; row < idx.length; row++) {
            for (int j = 0; j < d; j++) {
                sum[(int) idx[row] * d + j] += grad[row * d + j];
                inOrder[(int) idx[row] * d + j] += grad[row * d + j];
            }
        }
        float[] got = gradKeys.toFloatArray();
        assertClose(sum, got, 1e-5, backend + " scatter-add vs float64");
        assertArrayEquals(inOrder, got, backend + " scatter-add: float32 sums in increasing r, on any thread count");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void miningReportsTheFirstShortRowAndMinesTheOthers(Backend backend) {
        PairKernels pair = ((Kernels) backend).pair();
        int n = 40, m = 90, k = 12;
        float[] s = random(new SplittableRandom(3), n * m);
        Tensor sim = Tensor.of(s, n, m);

        // labels: label 5 has 80 keys, so its rows (17 and 33) keep 10 negatives
        long[] ql = new long[n], kl = new long[m];
        for (int i = 0; i < n; i++) ql[i] = i % 4;
        ql[17] = ql[33] = 5;
        for (int j = 0; j < m; j++) kl[j] = j < 80 ? 5 : j % 4;
        boolean[][] byLabel = new boolean[n][m];
        for (int i = 0; i < n; i++) for (int j = 0; j < m; j++) byLabel[i][j] = ql[i] == kl[j];
        Tensor indices = Tensor.zeros(DType.INT64, n, k);
        MiningOutcome o = pair.hardNegatives(sim, Tensor.of(ql), Tensor.of(kl), null, indices);
        assertEquals(new MiningOutcome(17, 10), o, backend + " labels");
        assertCompleteRowsMined(s, m, k, byLabel, indices.toLongArray(), Arrays.asList(17L, 33L), backend + " labels");

        // mask (int32): rows 6 and 30 have 3 negatives
        int[] mask = new int[n * m];
        boolean[][] byMask = new boolean[n][m];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < m; j++) {
                boolean positive = (i == 6 || i == 30) ? j >= 3 : (i + j) % 9 == 0;
                mask[i * m + j] = positive ? 2 : 0;
                byMask[i][j] = positive;
            }
        }
        indices = Tensor.zeros(DType.INT64, n, k);
        o = pair.hardNegatives(sim, null, null, Tensor.of(mask, n, m), indices);
        assertEquals(new MiningOutcome(6, 3), o, backend + " mask");
        assertCompleteRowsMined(s, m, k, byMask, indices.toLongArray(), Arrays.asList(6L, 30L), backend + " mask");

        // no short row; then K past M: row 0 is the first, with M - 1 negatives (its diagonal key is positive)
        boolean[][] diagonal = new boolean[n][m];
        for (int i = 0; i < n; i++) diagonal[i][i] = true;
        indices = Tensor.zeros(DType.INT64, n, k);
        assertEquals(MiningOutcome.COMPLETE, pair.hardNegatives(sim, null, null, null, indices), backend + " diagonal");
        assertCompleteRowsMined(s, m, k, diagonal, indices.toLongArray(), Arrays.asList(), backend + " diagonal");
        assertEquals(new MiningOutcome(0, m - 1), pair.hardNegatives(sim, null, null, null, Tensor.zeros(DType.INT64, n, m + 1)),
                backend + " K > M");
    }

    /** Every row not listed as short holds its K best negatives (a full sort by similarity, ties by index). */
    private static void assertCompleteRowsMined(float[] s, int m, int k, boolean[][] positive, long[] got, java.util.List<Long> shortRows,
                                                String what) {
        for (int i = 0; i < positive.length; i++) {
            if (shortRows.contains((long) i)) continue;
            int row = i;
            long[] want = java.util.stream.IntStream.range(0, m).filter(j -> !positive[row][j]).boxed()
                    .sorted((x, y) -> s[row * m + x] != s[row * m + y] ? Float.compare(s[row * m + y], s[row * m + x])
                            : Integer.compare(x, y))
                    .limit(k).mapToLong(Integer::longValue).toArray();
            assertArrayEquals(want, Arrays.copyOfRange(got, i * k, (i + 1) * k), what + " row " + i);
        }
    }

    private static float[] random(SplittableRandom r, int size) {
        float[] x = new float[size];
        for (int i = 0; i < size; i++) x[i] = (float) r.nextDouble(-1, 1);
        return x;
    }

    /** The values, also of an empty tensor (R = 0). */
    private static float[] floats(Tensor t) {
        return t.numel() == 0 ? new float[0] : t.toFloatArray();
    }

    private static int[] toInts(long[] v) {
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) out[i] = (int) v[i];
        return out;
    }
}
