package dev.jnce.metrics;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.testutil.ScopedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.Comparator;
import java.util.Random;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Top-k selection and ranking metrics on every backend against a float64 reference written
 * out from the definitions (a full sort of each row, ties to the lower index), a worked example
 * by hand, the fused embedding sweep against the score-matrix form, and the errors.
 */
class RankingTest extends ScopedTest {

    /** Worked by hand: top (5, 2, 9, 1), relevant {1, 2, 7}, K = 4: hits at ranks 2 and 4. */
    @Test
    void workedExample() {
        Tensor top = Tensor.of(new long[] {5, 2, 9, 1, 0, 1, 2, 3, 4, 8, -1, -1}, 3, 4);
        ItemSets relevant = ItemSets.of(new int[][] {{7, 2, 1, 2}, {}, {8}});
        RankingMetrics m = Ranking.atK(4).evaluate(top, relevant);
        double log2of3 = Math.log(3) / Math.log(2), log2of5 = Math.log(5) / Math.log(2);
        // query 0: hits at ranks 2 and 4 of R = 3; query 2: hit at rank 2 of R = 1 (then two empty slots)
        assertEquals(2, m.queries());
        assertEquals(1, m.skipped());
        assertEquals((2.0 / 3 + 1.0) / 2, m.recall(), 1e-15);
        assertEquals((2.0 / 4 + 1.0 / 4) / 2, m.precision(), 1e-15);
        assertEquals(1.0, m.hitRate(), 0);
        assertEquals((1.0 / 2 + 1.0 / 2) / 2, m.mrr(), 1e-15);
        double ndcg0 = (1 / log2of3 + 1 / log2of5) / (1 + 1 / log2of3 + 1 / 2.0), ndcg2 = (1 / log2of3) / 1;
        assertEquals((ndcg0 + ndcg2) / 2, m.ndcg(), 1e-15);
        double map0 = (1.0 / 2 + 2.0 / 4) / 3, map2 = (1.0 / 2) / 1;
        assertEquals((map0 + map2) / 2, m.map(), 1e-15);
        assertEquals(4, m.k());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void topKMatchesAFullSort(Backend backend) {
        Random r = new Random(11);
        for (int[] nmk : new int[][] {{1, 1, 1}, {3, 5, 8}, {17, 64, 10}, {40, 3000, 50}, {5, 20000, 3}}) {
            int n = nmk[0], m = nmk[1], k = nmk[2];
            float[] s = new float[n * m];
            for (int i = 0; i < s.length; i++) s[i] = i % 3 == 0 ? Math.round(r.nextFloat() * 4) / 4f : r.nextFloat() * 2 - 1;
            ItemSets exclude = randomSets(r, n, m, 12);
            long[] got = TopK.of(k).withBackend(backend).select(Tensor.of(s, n, m), exclude).toLongArray();
            for (int i = 0; i < n; i++) {
                long[] want = new long[k], full = reference(s, i, m, exclude);
                for (int c = 0; c < k; c++) want[c] = c < full.length ? full[c] : -1;
                assertArrayEquals(want, Arrays.copyOfRange(got, i * k, i * k + k), backend + " n=" + n + " m=" + m + " row " + i);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void metricsMatchTheFloat64Reference(Backend backend) {
        Random r = new Random(5);
        int n = 60, m = 500, k = 10;
        float[] s = new float[n * m];
        for (int i = 0; i < s.length; i++) s[i] = Math.round(r.nextGaussian() * 8) / 8f; // ties
        ItemSets exclude = randomSets(r, n, m, 30), relevant = randomSets(r, n, m, 25);
        RankingMetrics got = Ranking.atK(k).withBackend(backend).evaluate(Tensor.of(s, n, m), relevant, exclude);
        double[] want = new double[6];
        int queries = 0;
        for (int i = 0; i < n; i++) {
            int rel = relevant.size(i);
            if (rel == 0) continue;
            queries++;
            long[] order = reference(s, i, m, exclude);
            double hits = 0, dcg = 0, idcg = 0, ap = 0, rr = 0;
            for (int rank = 1; rank <= k; rank++) {
                if (rank <= Math.min(k, rel)) idcg += 1 / (Math.log(rank + 1) / Math.log(2));
                if (rank > order.length || !relevant.contains(i, order[rank - 1])) continue;
                hits++;
                dcg += 1 / (Math.log(rank + 1) / Math.log(2));
                ap += hits / rank;
                if (rr == 0) rr = 1.0 / rank;
            }
            double[] per = {hits / rel, hits / k, hits > 0 ? 1 : 0, rr, dcg / idcg, ap / Math.min(k, rel)};
            for (int j = 0; j < 6; j++) want[j] += per[j];
        }
        for (int j = 0; j < 6; j++) want[j] /= queries;
        assertEquals(queries, got.queries());
        assertEquals(n - queries, got.skipped());
        assertArrayEquals(want, new double[] {got.recall(), got.precision(), got.hitRate(), got.mrr(), got.ndcg(), got.map()}, 1e-12);
    }

    /** Integer embeddings make every dot product exact, so blocks of any size must give the full matrix's ranking. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void embeddingSweepEqualsTheScoreMatrix(Backend backend) {
        Random r = new Random(3);
        int n = 53, m = 700, d = 16;
        float[] q = new float[n * d], it = new float[m * d];
        for (int i = 0; i < q.length; i++) q[i] = r.nextInt(7) - 3;
        for (int i = 0; i < it.length; i++) it[i] = r.nextInt(7) - 3;
        Tensor queries = Tensor.of(q, n, d), items = Tensor.of(it, m, d);
        float[] s = new float[n * m];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < m; j++) {
                float dot = 0;
                for (int c = 0; c < d; c++) dot += q[i * d + c] * it[j * d + c];
                s[i * m + j] = dot;
            }
        }
        ItemSets exclude = randomSets(r, n, m, 40), relevant = randomSets(r, n, m, 20);
        long[] want = TopK.of(10).withBackend(backend).select(Tensor.of(s, n, m), exclude).toLongArray();
        for (int rows : new int[] {0, 1, 7, 53, 100}) {
            TopK top = TopK.of(10).withBackend(backend).withBlockRows(rows);
            assertArrayEquals(want, top.fromEmbeddings(queries, items, exclude).toLongArray(), backend + " block rows " + rows);
        }
        assertEquals(Ranking.atK(10).withBackend(backend).evaluate(Tensor.of(s, n, m), relevant, exclude),
                Ranking.atK(10).withBackend(backend).withBlockRows(9).evaluate(queries, items, relevant, exclude));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void badInputNamesTheArgument(Backend backend) {
        Tensor scores = Tensor.of(new float[12], 3, 4);
        TopK top = TopK.of(2).withBackend(backend);
        Ranking ranking = Ranking.atK(2).withBackend(backend);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> top.select(scores, ItemSets.of(new int[2][])));
        assertEquals("exclude: expected 3 rows, one per row of scores (3, 4), got 2", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> top.select(scores, ItemSets.of(new int[][] {{}, {4}, {}})));
        assertEquals("exclude: item 4 is outside [0, 4) of scores (3, 4)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> top.select(Tensor.of(new float[4]), null));
        assertEquals("scores: expected shape (N, M), got (4)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ranking.evaluate(scores, ItemSets.of(new int[4][]), null));
        assertEquals("relevant: expected 3 rows, one per row of topIndices (3, 2), got 4", e.getMessage());
        float[] nan = new float[12];
        nan[9] = Float.NaN;
        e = assertThrows(IllegalArgumentException.class, () -> top.select(Tensor.of(nan, 3, 4), null));
        assertTrue(e.getMessage().startsWith("scores: row 2 of scores (3, 4) holds NaN"), e.getMessage());
        assertArrayEquals(new long[] {0, 1, 0, 1, 0, 2}, top.select(Tensor.of(nan, 3, 4), ItemSets.of(new int[][] {{}, {}, {1}}))
                .toLongArray(), "an excluded NaN is never read");
        e = assertThrows(IllegalArgumentException.class, () -> top.fromEmbeddings(Tensor.of(new float[6], 3, 2), Tensor.of(new float[6], 2, 3), null));
        assertTrue(e.getMessage().startsWith("items: feature dimension D = 3 differs from queries's D = 2"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ranking.evaluate(Tensor.of(new long[3], 3, 1), ItemSets.of(new int[3][])));
        assertEquals("topIndices: expected shape (N, L) with L >= K = 2, got (3, 1)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ranking.evaluate(Tensor.of(new long[] {0, -2}, 1, 2), ItemSets.of(new int[1][])));
        assertTrue(e.getMessage().startsWith("topIndices: [0, 1] = -2"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ranking.evaluate(Tensor.of(new float[2], 1, 2), ItemSets.of(new int[1][])));
        assertTrue(e.getMessage().startsWith("topIndices: expected [int32, int64]"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ItemSets.of(new int[][] {{1}, {2, -3}}));
        assertEquals("rows: row 1 holds item -3; items must be >= 0", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ItemSets.csr(new long[] {0, 2}, new int[] {1}));
        assertTrue(e.getMessage().startsWith("offsets: expected (N+1) positions from 0 to items.length = 1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TopK.of(0));
        assertEquals("k: must be >= 1, got 0", e.getMessage());
        Tensor closed = Tensor.zerosUnscoped(DType.FLOAT32, 2, 2);
        closed.close();
        assertThrows(IllegalStateException.class, () -> top.select(closed, null));
    }

    /** The README's example, as written there, on a small problem whose answer is known. */
    @Test
    void readmeExample() {
        int[][] testItemsPerUser = {{1}, {2}}, trainItemsPerUser = {{0}, {}};
        Tensor users = Tensor.of(new float[] {1, 0, 0, 1}, 2, 2);
        Tensor items = Tensor.of(new float[] {1, 0, 0.9f, 0.1f, 0, 1}, 3, 2);
        Tensor scores = Tensor.of(new float[] {1, 0.9f, 0, 0, 0.1f, 1}, 2, 3);
        ItemSets heldOut = ItemSets.of(testItemsPerUser), seen = ItemSets.of(trainItemsPerUser);
        RankingMetrics m = Ranking.atK(1).evaluate(users, items, heldOut, seen);
        double recall = m.recall(), ndcg = m.ndcg();
        Tensor top = TopK.of(1).select(scores, seen);
        assertEquals(1.0, recall, 0); // user 0: item 0 seen, item 1 next; user 1: item 2
        assertEquals(1.0, ndcg, 0);
        assertArrayEquals(new long[] {1, 2}, top.toLongArray());
    }

    @Test
    void itemSetsFromCsrAreSortedSets() {
        ItemSets s = ItemSets.csr(new long[] {0, 3, 3, 5}, new int[] {9, 2, 9, 4, 1});
        assertEquals(3, s.rows());
        assertArrayEquals(new int[] {2, 9}, s.row(0));
        assertEquals(0, s.size(1));
        assertArrayEquals(new int[] {1, 4}, s.row(2));
        assertTrue(s.contains(2, 4));
        assertEquals(9, s.maxItem());
        assertEquals(4, s.total());
    }

    /** Row i's columns that exclude leaves, by decreasing score, ties to the lower index (float64 compare). */
    static long[] reference(float[] s, int i, int m, ItemSets exclude) {
        return IntStream.range(0, m).filter(j -> exclude == null || !exclude.contains(i, j)).boxed()
                .sorted(Comparator.<Integer>comparingDouble(j -> -(double) s[i * m + j]).thenComparingInt(j -> j))
                .mapToLong(j -> j).toArray();
    }

    static ItemSets randomSets(Random r, int n, int m, int most) {
        int[][] rows = new int[n][];
        for (int i = 0; i < n; i++) {
            rows[i] = new int[r.nextInt(Math.min(most, m) + 1)];
            for (int c = 0; c < rows[i].length; c++) rows[i][c] = r.nextInt(m);
        }
        return ItemSets.of(rows);
    }
}
