package dev.jnce.distributed;

import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.loss.ClipLoss;
import dev.jnce.loss.InfoNce;
import dev.jnce.loss.PairedResult;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
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
 * Sharded losses over P in-process ranks (threads) against the single-process loss on the
 * concatenated batch: P = 1..4, uneven shards and an empty one; every rank gets the global loss
 * and temperature (scale) gradient and its own rows' gradients. And the failure rules: a rank that
 * fails, one that never arrives, ranks that disagree on D.
 */
class ShardedLossesTest {
    private static final int D = 6;

    static Stream<Arguments> shardings() {
        return Stream.of(new long[] {7}, new long[] {3, 5}, new long[] {3, 5, 2}, new long[] {3, 5, 2, 6}, new long[] {4, 0, 3})
                .map(Arguments::of);
    }

    static float[] gaussian(long seed, int n) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian();
        return v;
    }

    record Local(float loss, float[] gradA, float[] gradB, float scalar) {
    }

    /** Runs step on P threads, rank r given its rows of a and b; returns each rank's outcome. */
    static List<Local> onRanks(long[] shards, float[] a, float[] b, BiFunction<Collective, Tensor[], Local> step) throws Exception {
        List<Collective> ranks = InProcessCollective.create(shards.length, Duration.ofSeconds(30));
        ExecutorService pool = Executors.newFixedThreadPool(shards.length);
        try {
            List<Future<Local>> futures = new ArrayList<>();
            long offset = 0;
            for (int r = 0; r < shards.length; r++) {
                int from = Math.toIntExact(offset * D), to = Math.toIntExact((offset + shards[r]) * D);
                long n = shards[r];
                Collective c = ranks.get(r);
                futures.add(pool.submit(() -> {
                    try (TensorScope scope = TensorScope.open()) {
                        return step.apply(c, new Tensor[] {Tensor.of(Arrays.copyOfRange(a, from, to), n, D),
                                Tensor.of(Arrays.copyOfRange(b, from, to), n, D)});
                    }
                }));
                offset += shards[r];
            }
            List<Local> out = new ArrayList<>();
            for (Future<Local> f : futures) out.add(f.get());
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    static void assertMatches(long[] shards, List<Local> ranks, float loss, float[] gradA, float[] gradB, float scalar, String what) {
        long offset = 0;
        for (int r = 0; r < shards.length; r++) {
            Local l = ranks.get(r);
            assertEquals(loss, l.loss, 2e-6 * Math.max(1, Math.abs(loss)), what + ": loss on rank " + r);
            assertEquals(scalar, l.scalar, 2e-5 * Math.max(1, Math.abs(scalar)), what + ": scalar gradient on rank " + r);
            for (int i = 0; i < l.gradA.length; i++) {
                assertEquals(gradA[(int) (offset * D) + i], l.gradA[i], 2e-6, what + ": d a, rank " + r + " element " + i);
                assertEquals(gradB[(int) (offset * D) + i], l.gradB[i], 2e-6, what + ": d b, rank " + r + " element " + i);
            }
            offset += shards[r];
        }
    }

    @ParameterizedTest(name = "shards {0}")
    @MethodSource("shardings")
    void infoNceBothDirectionsAndClipEqualTheSingleProcessLoss(long[] shards) throws Exception {
        long n = Arrays.stream(shards).sum();
        float[] q = gaussian(1, (int) n * D), k = gaussian(2, (int) n * D);
        try (TensorScope scope = TensorScope.open()) {
            Tensor tq = Tensor.of(q, n, D), tk = Tensor.of(k, n, D);
            for (boolean symmetric : new boolean[] {false, true}) {
                InfoNce single = InfoNce.create().withTemperature(0.2f)
                        .withDirection(symmetric ? InfoNce.Direction.SYMMETRIC : InfoNce.Direction.QUERY_TO_KEY);
                InfoNce.Result one = single.forwardBackward(tq, tk);
                List<Local> ranks = onRanks(shards, q, k, (c, t) -> {
                    try (ShardedInfoNce.Result r = ShardedInfoNce.create(c).withTemperature(0.2f).withSymmetric(symmetric)
                            .forwardBackward(t[0], t[1])) {
                        return new Local(r.loss(), r.gradQueries().toFloatArray(), r.gradKeys().toFloatArray(), r.gradTemperature());
                    }
                });
                assertMatches(shards, ranks, one.loss().item(), one.gradQueries().toFloatArray(), one.gradKeys().toFloatArray(),
                        one.gradTemperature(), symmetric ? "symmetric InfoNCE" : "InfoNCE");
            }
            PairedResult clip = ClipLoss.create().withLogitScale(5f).forwardBackward(tq, tk);
            List<Local> ranks = onRanks(shards, q, k, (c, t) -> {
                try (ShardedClip.Result r = ShardedClip.create(c).withLogitScale(5f).forwardBackward(t[0], t[1])) {
                    return new Local(r.loss(), r.gradA().toFloatArray(), r.gradB().toFloatArray(), r.gradLogitScale());
                }
            });
            assertMatches(shards, ranks, clip.loss().item(), clip.gradA().toFloatArray(), clip.gradB().toFloatArray(),
                    clip.gradLogitScale(), "CLIP");
            PairedResult sig = dev.jnce.loss.SigLipLoss.create().withLogitScale(3f).withBias(-2f).forwardBackward(tq, tk);
            List<Local> sigRanks = onRanks(shards, q, k, (c, t) -> {
                try (ShardedSigLip.Result r = ShardedSigLip.create(c).withLogitScale(3f).withBias(-2f).forwardBackward(t[0], t[1])) {
                    assertEquals(sig.gradBias(), r.gradBias(), 2e-6 * Math.max(1, Math.abs(sig.gradBias())), "SigLIP d bias");
                    return new Local(r.loss(), r.gradA().toFloatArray(), r.gradB().toFloatArray(), r.gradLogitScale());
                }
            });
            assertMatches(shards, sigRanks, sig.loss().item(), sig.gradA().toFloatArray(), sig.gradB().toFloatArray(),
                    sig.gradLogitScale(), "SigLIP");
        }
    }

    private static Throwable failureOf(Future<?> f) throws InterruptedException {
        ExecutionException e = assertThrows(ExecutionException.class, f::get);
        return e.getCause();
    }

    @Test
    void aRankThatFailsEndsEveryRanksCall() throws Exception {
        List<Collective> ranks = InProcessCollective.create(3, Duration.ofSeconds(20));
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            long start = System.nanoTime();
            List<Future<?>> f = new ArrayList<>();
            for (int r = 0; r < 3; r++) {
                Collective c = ranks.get(r);
                f.add(pool.submit(() -> {
                    if (c.rank() == 1) {
                        ((InProcessCollective) c).abort("out of memory in its encoder");
                        throw new IllegalStateException("rank 1's own error");
                    }
                    return c.allReduceSum(1.0);
                }));
            }
            for (int r : new int[] {0, 2}) {
                Throwable t = failureOf(f.get(r));
                assertInstanceOf(IllegalStateException.class, t);
                assertTrue(t.getMessage().contains("rank 1 failed: out of memory in its encoder"), t.getMessage());
            }
            assertTrue(System.nanoTime() - start < 10_000_000_000L, "ended well within the timeout");
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aRankThatNeverArrivesEndsEveryRankAtTheTimeout() throws Exception {
        List<Collective> ranks = InProcessCollective.create(2, Duration.ofMillis(500));
        ExecutorService pool = Executors.newFixedThreadPool(1);
        try {
            Future<?> f = pool.submit(() -> ranks.get(0).allReduceSum(1.0)); // rank 1 never calls
            Throwable t = failureOf(f);
            assertTrue(t.getMessage().contains("did not reach allReduceSum within PT0.5S"), t.getMessage());
            IllegalStateException late = assertThrows(IllegalStateException.class, () -> ranks.get(1).allReduceSum(1.0));
            assertTrue(late.getMessage().contains("did not reach"), "the late rank learns it too: " + late.getMessage());
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aBadShapeOnOneRankIsRefusedOnEveryRankAtOnce() throws Exception {
        List<Collective> ranks = InProcessCollective.create(3, Duration.ofSeconds(60));
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            long start = System.nanoTime();
            List<Future<?>> f = new ArrayList<>();
            for (int r = 0; r < 3; r++) {
                Collective c = ranks.get(r);
                long bRows = c.rank() == 1 ? 3 : 2;
                f.add(pool.submit(() -> {
                    try (TensorScope scope = TensorScope.open()) {
                        return ShardedSigLip.create(c).forwardBackward(Tensor.of(gaussian(3, 2 * D), 2, D),
                                Tensor.of(gaussian(4, (int) bRows * D), bRows, D));
                    }
                }));
            }
            Throwable own = failureOf(f.get(1));
            assertInstanceOf(IllegalArgumentException.class, own);
            assertEquals("b: expected float32 of shape (n, D) of a = (2, 6), got float32(3, 6)", own.getMessage());
            for (int r : new int[] {0, 2}) {
                Throwable t = failureOf(f.get(r));
                assertInstanceOf(IllegalArgumentException.class, t);
                assertEquals("a: rank 1 refused its arguments (its exception says why); every rank's call ends", t.getMessage());
            }
            assertTrue(System.nanoTime() - start < 20_000_000_000L, "well within the 60 s timeout");
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void ranksThatDisagreeOnDAreRefusedOnEveryRank() throws Exception {
        List<Collective> ranks = InProcessCollective.create(2, Duration.ofSeconds(20));
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<Future<?>> f = new ArrayList<>();
            for (int r = 0; r < 2; r++) {
                Collective c = ranks.get(r);
                int d = r == 0 ? 4 : 5;
                f.add(pool.submit(() -> {
                    try (TensorScope scope = TensorScope.open()) {
                        return ShardedInfoNce.create(c).forwardBackward(Tensor.of(gaussian(3, 2 * d), 2, d), Tensor.of(gaussian(4, 2 * d), 2, d));
                    }
                }));
            }
            for (Future<?> x : f) {
                Throwable t = failureOf(x);
                assertInstanceOf(IllegalArgumentException.class, t);
                assertEquals("queries: the ranks' D differ: rank 0: (2, 4), rank 1: (2, 5)", t.getMessage());
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
