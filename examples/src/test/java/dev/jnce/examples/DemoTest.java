package dev.jnce.examples;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.HashSet;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The demo's two-tower training, shrunk (600 users, 300 items, 3 epochs): it must learn the
 * planted tastes on every backend, and the same seed must give the same numbers. One thread, as
 * the demo trains: its small GEMMs gain nothing from more, and a busy machine makes them slow.
 */
class DemoTest {
    private static final Recommender.Options SMALL = Recommender.Options.defaults().withSize(600, 300, 128).withEpochs(3);
    private static int threads;

    @BeforeAll
    static void oneThread() {
        threads = Backends.threads();
        Backends.setThreads(1);
    }

    @AfterAll
    static void restoreThreads() {
        Backends.setThreads(threads);
    }

    static Stream<Backend> backends() {
        return TestBackends.backends();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void recallRisesFarAboveChance(Backend backend) {
        Recommender.Run run = Recommender.train(SMALL, backend, new Recommender.Listener() { });
        assertEquals(3, run.epochs().size());
        assertTrue(run.recallBefore() < 2 * run.chance(), "untrained " + run.recallBefore() + ", chance " + run.chance());
        assertTrue(run.last().recall() > 3 * run.chance(), "recall " + run.last().recall() + ", chance " + run.chance());
        assertTrue(run.last().recall() <= run.ceiling() + 0.05, "recall " + run.last().recall() + ", ceiling " + run.ceiling());
        assertTrue(run.last().loss() < run.epochs().getFirst().loss(), "loss " + run.epochs());
        assertTrue(run.last().ndcg() > run.epochs().getFirst().ndcg() && run.last().ndcg() <= 1, "ndcg " + run.epochs());
    }

    /**
     * Bit for bit on cpu and java(scalar). java(vector) only to rounding: the Vector API's
     * lanewise EXP and reduceLanes(ADD) give different last bits before and after the JIT
     * compiles them, so its first run may differ from its second.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void theSameSeedGivesTheSameNumbers(Backend backend) {
        Recommender.Options o = SMALL.withEpochs(1).withSeed(7);
        double[] first = losses(Recommender.train(o, backend, new Recommender.Listener() { }));
        double[] second = losses(Recommender.train(o, backend, new Recommender.Listener() { }));
        if (backend.toString().equals("java(vector)")) {
            assertArrayEquals(first, second, 1e-5);
        } else {
            assertArrayEquals(first, second);
        }
        assertNotEquals(first[0], losses(Recommender.train(o.withSeed(8), backend, new Recommender.Listener() { }))[0]);
    }

    @Test
    void backendsAgreeToRounding() {
        Recommender.Options o = SMALL.withEpochs(1);
        double cpu = Recommender.train(o, Backends.get("cpu"), new Recommender.Listener() { }).last().loss();
        double java = Recommender.train(o, Backends.get("java"), new Recommender.Listener() { }).last().loss();
        assertEquals(cpu, java, 1e-3 * cpu);
    }

    @Test
    void eachUserHoldsOutDistinctItemsItDidNotTrainOn() {
        SyntheticData data = SyntheticData.generate(1, 50, 40, 10, 3);
        for (int u = 0; u < data.users; u++) {
            Set<Integer> items = new HashSet<>();
            for (int i : data.train[u]) items.add(i);
            for (int i : data.heldOut[u]) items.add(i);
            assertEquals(7, data.train[u].length);
            assertEquals(10, items.size(), "user " + u);
        }
        assertEquals(50 * 7, data.pairUsers.length);
        assertEquals(10.0 / 33, Recall.chance(data, 10), 1e-12);
    }

    private static double[] losses(Recommender.Run run) {
        return run.epochs().stream().mapToDouble(Recommender.Epoch::loss).toArray();
    }
}
