package dev.jnce.distributed;

import dev.jnce.Backend;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.loss.EmbeddingResult;
import dev.jnce.loss.InfoNce;
import dev.jnce.loss.NtXent;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.BiFunction;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ShardedNtXent over P in-process ranks against the single-process {@link NtXent} and SupCon
 * ({@link InfoNce#forwardBackwardLabels}) on the concatenated batch: P = 1..4, uneven shards and
 * an empty one, one block and several blocks of rows, on every host backend; and arguments refused
 * on one rank end every rank's call at once.
 */
class ShardedNtXentTest {
    private static final int D = 6;

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (long[] shards : new long[][] {{7}, {3, 5}, {3, 5, 2}, {3, 5, 2, 6}, {4, 0, 3}}) {
            for (Backend backend : TestBackends.all()) {
                for (long blockRows : new long[] {0, 2}) out.add(Arguments.of(shards, backend, blockRows));
            }
        }
        return out.stream();
    }

    record Local(float loss, float[] grad, float gradTau) {
    }

    /** Runs step on P threads, rank r given its rank index; returns each rank's outcome. */
    static <T> List<T> onRanks(int p, BiFunction<Collective, Integer, T> step) throws Exception {
        return collect(p, Duration.ofSeconds(30), step, Future::get);
    }

    /** Reads one rank's outcome from its future. */
    private interface Outcome<T, R> {
        R read(Future<T> f) throws Exception;
    }

    private static <T, R> List<R> collect(int p, Duration timeout, BiFunction<Collective, Integer, T> step,
                                          Outcome<T, R> read) throws Exception {
        List<Collective> ranks = InProcessCollective.create(p, timeout);
        ExecutorService pool = Executors.newFixedThreadPool(p);
        try {
            List<Future<T>> futures = new ArrayList<>();
            for (int r = 0; r < p; r++) {
                Collective c = ranks.get(r);
                int rank = r;
                futures.add(pool.submit(() -> {
                    try (TensorScope scope = TensorScope.open()) {
                        return step.apply(c, rank);
                    }
                }));
            }
            List<R> out = new ArrayList<>();
            for (Future<T> f : futures) out.add(read.read(f));
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    private static Local local(ShardedNtXent.Result r) {
        try (r) {
            return new Local(r.loss(), r.grad().toFloatArray(), r.gradTemperature());
        }
    }

    private static long[] offsets(long[] shards) {
        long[] off = new long[shards.length + 1];
        for (int r = 0; r < shards.length; r++) off[r + 1] = off[r] + shards[r];
        return off;
    }

    private static void assertClose(float expected, float actual, double relative, String what) {
        assertEquals(expected, actual, relative * Math.max(1, Math.abs(expected)), what);
    }

    @ParameterizedTest(name = "shards {0} on {1}, block rows {2}")
    @MethodSource("cases")
    void ntXentEqualsTheSingleProcessLoss(long[] shards, Backend backend, long blockRows) throws Exception {
        long n = Arrays.stream(shards).sum();
        long[] off = offsets(shards);
        float[] v1 = ShardedLossesTest.gaussian(11, (int) n * D), v2 = ShardedLossesTest.gaussian(12, (int) n * D);
        for (boolean normalize : new boolean[] {true, false}) {
            float[] whole = new float[(int) (2 * n * D)];
            System.arraycopy(v1, 0, whole, 0, v1.length);
            System.arraycopy(v2, 0, whole, v1.length, v2.length);
            float loss, dTau;
            float[] grad;
            try (TensorScope scope = TensorScope.open()) {
                EmbeddingResult one = NtXent.create().withTemperature(0.3f).withNormalize(normalize).withBackend(backend)
                        .forwardBackward(Tensor.of(whole, 2 * n, D));
                loss = one.loss().item();
                grad = one.grad().toFloatArray();
                dTau = one.gradTemperature();
            }
            List<Local> ranks = onRanks(shards.length, (c, r) -> {
                int from = (int) (off[r] * D), to = (int) (off[r + 1] * D);
                float[] mine = new float[2 * (to - from)];
                System.arraycopy(v1, from, mine, 0, to - from);
                System.arraycopy(v2, from, mine, to - from, to - from);
                return local(ShardedNtXent.create(c).withTemperature(0.3f).withNormalize(normalize).withBackend(backend)
                        .withBlockRows(blockRows).forwardBackward(Tensor.of(mine, 2 * shards[r], D)));
            });
            String what = "NT-Xent" + (normalize ? "" : " (dot product)");
            for (int r = 0; r < shards.length; r++) {
                Local l = ranks.get(r);
                assertClose(loss, l.loss, 2e-6, what + ": loss on rank " + r);
                assertClose(dTau, l.gradTau, 2e-5, what + ": d tau on rank " + r);
                int rows = (int) (shards[r] * D);
                for (int i = 0; i < rows; i++) {
                    assertEquals(grad[(int) (off[r] * D) + i], l.grad[i], 2e-6, what + ": view 1, rank " + r + " element " + i);
                    assertEquals(grad[(int) ((n + off[r]) * D) + i], l.grad[rows + i], 2e-6, what + ": view 2, rank " + r + " element " + i);
                }
            }
        }
    }

    @ParameterizedTest(name = "shards {0} on {1}, block rows {2}")
    @MethodSource("cases")
    void supConEqualsTheSingleProcessLoss(long[] shards, Backend backend, long blockRows) throws Exception {
        long n = Arrays.stream(shards).sum();
        long[] off = offsets(shards);
        float[] f = ShardedLossesTest.gaussian(13, (int) n * D);
        long[] labels = new long[(int) n];
        for (int i = 0; i < n; i++) labels[i] = (i * 5L) % 3 - 1L + (i == 0 ? 1L << 40 : 0); // row 0's label is its own
        for (InfoNce.RowsWithoutPositive rule : InfoNce.RowsWithoutPositive.values()) {
            long[] used = labels.clone();
            if (rule == InfoNce.RowsWithoutPositive.THROW) used[0] = used[1]; // every row has a positive
            float loss, dTau;
            float[] grad;
            try (TensorScope scope = TensorScope.open()) {
                EmbeddingResult one = InfoNce.create().withTemperature(0.2f).withRowsWithoutPositive(rule).withBackend(backend)
                        .forwardBackwardLabels(Tensor.of(f, n, D), Tensor.of(used, n));
                loss = one.loss().item();
                grad = one.grad().toFloatArray();
                dTau = one.gradTemperature();
            }
            List<Local> ranks = onRanks(shards.length, (c, r) -> {
                int from = (int) off[r], to = (int) off[r + 1];
                long[] mine = Arrays.copyOfRange(used, from, to);
                Tensor myLabels = r % 2 == 0 ? Tensor.of(mine, mine.length) // int64 on even ranks, int32 on odd ones (row 0 is rank 0's)
                        : Tensor.of(Arrays.stream(mine).mapToInt(Math::toIntExact).toArray(), mine.length);
                return local(ShardedNtXent.create(c).withTemperature(0.2f).withRowsWithoutPositive(rule).withBackend(backend)
                        .withBlockRows(blockRows)
                        .forwardBackwardLabels(Tensor.of(Arrays.copyOfRange(f, from * D, to * D), to - from, D), myLabels));
            });
            String what = "SupCon, " + rule;
            for (int r = 0; r < shards.length; r++) {
                Local l = ranks.get(r);
                assertClose(loss, l.loss, 2e-6, what + ": loss on rank " + r);
                assertClose(dTau, l.gradTau, 2e-5, what + ": d tau on rank " + r);
                for (int i = 0; i < l.grad.length; i++) {
                    assertEquals(grad[(int) (off[r] * D) + i], l.grad[i], 2e-6, what + ": rank " + r + " element " + i);
                }
            }
        }
    }

    private static List<Throwable> failures(int p, BiFunction<Collective, Integer, Object> step) throws Exception {
        return collect(p, Duration.ofSeconds(60), step, f -> assertThrows(ExecutionException.class, f::get).getCause());
    }

    @Test
    void aBadShapeOnOneRankEndsEveryRankAtOnce() throws Exception {
        long start = System.nanoTime();
        List<Throwable> t = failures(3, (c, r) -> ShardedNtXent.create(c).forwardBackward(
                Tensor.of(ShardedLossesTest.gaussian(r, (r == 1 ? 5 : 4) * D), r == 1 ? 5 : 4, D)));
        assertTrue(System.nanoTime() - start < 20_000_000_000L, "well within the 60 s timeout");
        assertInstanceOf(IllegalArgumentException.class, t.get(1));
        assertEquals("views: shape (5, 6) has an odd number of rows; expected (2 n, D) = both views of this rank's n samples stacked",
                t.get(1).getMessage());
        for (int r : new int[] {0, 2}) {
            assertInstanceOf(IllegalArgumentException.class, t.get(r));
            assertEquals("views: rank 1 refused its arguments (its exception says why); every rank's call ends", t.get(r).getMessage());
        }
    }

    @Test
    void ranksThatDisagreeOnDAreRefusedOnEveryRank() throws Exception {
        List<Throwable> t = failures(2, (c, r) -> ShardedNtXent.create(c).forwardBackwardLabels(
                Tensor.of(ShardedLossesTest.gaussian(r, 2 * (4 + r)), 2, 4 + r), Tensor.of(new long[] {1, 1}, 2)));
        for (Throwable x : t) {
            assertInstanceOf(IllegalArgumentException.class, x);
            assertEquals("embeddings: the ranks' D differ: rank 0: (2, 4), rank 1: (2, 5)", x.getMessage());
        }
    }

    @Test
    void aLabelOnNoOtherRowOfTheGlobalBatchIsRefusedOnEveryRank() throws Exception {
        // rank 0 holds labels {7, 8}, rank 1 {8, 9}: 8 is shared across ranks, 7 (global row 0) and 9 are alone
        List<Throwable> t = failures(2, (c, r) -> ShardedNtXent.create(c).forwardBackwardLabels(
                Tensor.of(ShardedLossesTest.gaussian(r, 2 * D), 2, D), Tensor.of(new long[] {7 + r, 8 + r}, 2)));
        for (Throwable x : t) {
            assertInstanceOf(IllegalArgumentException.class, x);
            assertEquals("labels: row 0 of the global batch has no positive among the 4 rows (itself excluded); give it one, "
                    + "or use withRowsWithoutPositive(SKIP)", x.getMessage());
        }
    }

    @Test
    void aGlobalBatchTooSmallIsRefusedOnEveryRank() throws Exception {
        List<Throwable> t = failures(2, (c, r) -> ShardedNtXent.create(c).forwardBackward(
                Tensor.of(ShardedLossesTest.gaussian(r, (r == 0 ? 2 : 0) * D), r == 0 ? 2 : 0, D)));
        for (Throwable x : t) {
            assertInstanceOf(IllegalArgumentException.class, x);
            assertEquals("views: the global batch has 1 samples; NT-Xent needs >= 2 so that every row has a negative", x.getMessage());
        }
    }

    @Test
    void longLabelsCrossRanksExactly() throws Exception {
        long[][] mine = {{Long.MIN_VALUE, -1, 0}, {}, {Long.MAX_VALUE, (1L << 53) + 1, 1L << 32}};
        List<long[]> got = onRanks(3, (c, r) -> c.allGatherLongs(mine[r]));
        long[] expected = {Long.MIN_VALUE, -1, 0, Long.MAX_VALUE, (1L << 53) + 1, 1L << 32};
        for (long[] g : got) assertEquals(Arrays.toString(expected), Arrays.toString(g));
    }
}
