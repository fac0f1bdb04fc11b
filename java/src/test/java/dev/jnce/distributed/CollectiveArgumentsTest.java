package dev.jnce.distributed;

import dev.jnce.DType;
import dev.jnce.Tensor;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * One rank's bad argument to a collective ends every rank's call at once with an
 * IllegalArgumentException (the bad rank's names its argument; the others' name that rank), long
 * before the group's timeout; and after such a refusal the group still works.
 */
class CollectiveArgumentsTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    /** Runs body on P threads, one a rank; returns each rank's result or exception. */
    private static List<Object> onRanks(int p, BiFunction<Collective, Integer, Object> body) throws Exception {
        List<Collective> ranks = InProcessCollective.create(p, TIMEOUT);
        ExecutorService pool = Executors.newFixedThreadPool(p);
        try {
            List<Future<Object>> futures = new ArrayList<>();
            for (int r = 0; r < p; r++) {
                int rank = r;
                futures.add(pool.submit(() -> body.apply(ranks.get(rank), rank)));
            }
            List<Object> out = new ArrayList<>();
            for (Future<Object> f : futures) {
                try {
                    out.add(f.get(10, TimeUnit.SECONDS)); // well inside the 30 s timeout
                } catch (ExecutionException e) {
                    out.add(e.getCause());
                }
            }
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    private static void assertEveryRankRefused(List<Object> results, int badRank, String badMessage) {
        for (int r = 0; r < results.size(); r++) {
            Object o = results.get(r);
            IllegalArgumentException e = assertInstanceOf(IllegalArgumentException.class, o, "rank " + r + ": " + o);
            String expected = r == badRank ? badMessage : "rank " + badRank + " refused its arguments";
            assertTrue(e.getMessage().contains(expected), "rank " + r + ": " + e.getMessage());
        }
    }

    @Test
    void aNullTensorOnOneRankIsRefusedOnEveryRank() throws Exception {
        List<Object> results = onRanks(3, (c, r) -> c.allGatherRows(r == 2 ? null : Tensor.of(new float[] {1, 2}, 1, 2)));
        assertEveryRankRefused(results, 2, "local: must not be null");
    }

    @Test
    void aClosedOrWrongTypeTensorOnOneRankIsRefusedOnEveryRank() throws Exception {
        List<Object> closed = onRanks(2, (c, r) -> {
            Tensor t = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2);
            if (r == 0) t.close();
            return c.reduceScatterRows(t, new long[] {1, 1});
        });
        assertEveryRankRefused(closed, 0, "full: is closed");
        List<Object> wrong = onRanks(2, (c, r) -> c.allGatherRows(r == 1 ? Tensor.zeros(DType.FLOAT32, 4) : Tensor.zeros(DType.FLOAT32, 2, 2)));
        assertEveryRankRefused(wrong, 1, "local: expected a (rows, D) float32 tensor on the host");
    }

    @Test
    void rowCountsThatDoNotSumToTheRowsAreRefusedOnEveryRank() throws Exception {
        List<Object> results = onRanks(3, (c, r) -> c.reduceScatterRows(Tensor.zeros(DType.FLOAT32, 6, 2),
                r == 1 ? new long[] {2, 2, 3} : new long[] {2, 2, 2}));
        assertEveryRankRefused(results, 1, "rowCounts: [2, 2, 3] sums to 7, not full's 6 rows");
        List<Object> short_ = onRanks(2, (c, r) -> c.reduceScatterRows(Tensor.zeros(DType.FLOAT32, 4, 2),
                r == 0 ? new long[] {4} : new long[] {2, 2}));
        assertEveryRankRefused(short_, 0, "rowCounts: 1 counts for 2 ranks");
    }

    @Test
    void rowCountsThatDifferBetweenRanksAreRefusedOnEveryRank() throws Exception {
        // each rank's counts are self-consistent, but they split the rows differently
        List<Object> results = onRanks(2, (c, r) -> c.reduceScatterRows(Tensor.zeros(DType.FLOAT32, 4, 2),
                r == 0 ? new long[] {1, 3} : new long[] {2, 2}));
        for (Object o : results) {
            IllegalArgumentException e = assertInstanceOf(IllegalArgumentException.class, o, String.valueOf(o));
            assertTrue(e.getMessage().contains("rowCounts: the ranks pass different counts: rank 0: [1, 3], rank 1: [2, 2]"), e.getMessage());
        }
    }

    @Test
    void theGroupWorksAfterARefusal() throws Exception {
        List<Object> results = onRanks(2, (c, r) -> {
            try {
                c.allGatherRows(r == 0 ? null : Tensor.zeros(DType.FLOAT32, 1, 2));
                fail("rank " + r + ": the null tensor was not refused");
            } catch (IllegalArgumentException expected) {
                // every rank refused; the next collective goes on
            }
            float[] mine = r == 0 ? new float[] {1, 2} : new float[] {3, 4, 5, 6};
            Tensor all = c.allGatherRows(Tensor.of(mine, mine.length / 2, 2));
            Tensor back = c.reduceScatterRows(all, new long[] {1, 2});
            return back.toFloatArray();
        });
        assertArrayEquals(new float[] {2, 4}, (float[]) results.get(0));
        assertArrayEquals(new float[] {6, 8, 10, 12}, (float[]) results.get(1));
    }

    @Test
    void nullValuesToAllReduceAreRefusedOnEveryRank() throws Exception {
        List<Object> results = onRanks(2, (c, r) -> c.allReduceSum(r == 1 ? null : new double[] {1}));
        IllegalArgumentException bad = assertInstanceOf(IllegalArgumentException.class, results.get(1));
        assertTrue(bad.getMessage().contains("values: must not be null"), bad.getMessage());
        IllegalArgumentException other = assertInstanceOf(IllegalArgumentException.class, results.get(0));
        assertTrue(other.getMessage().contains("rank 1 passed null"), other.getMessage());
    }
}
