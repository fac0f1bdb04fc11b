package dev.jnce.ops;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.testutil.Golden;
import dev.jnce.testutil.ScopedTest;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Map;
import java.util.stream.Stream;

import static dev.jnce.testutil.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Hard-negative mining on every backend against torch.topk, a full-sort reference and gather;
 * the forms that write into the caller's tensors against the allocating forms.
 */
class HardNegativesTest extends ScopedTest {
    private static final Map<String, Golden.Case> GOLDEN = Golden.load("/golden/similarity.txt");
    static Stream<Arguments> goldenCases() {
        return TestBackends.all().stream().flatMap(b -> GOLDEN.values().stream()
                .filter(c -> c.text("op").equals("hard_negatives")).map(c -> Arguments.of(b, c)));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("goldenCases")
    void matchesTorchTopk(Backend backend, Golden.Case g) {
        int n = (int) g.integer("N"), m = (int) g.integer("M");
        HardNegatives miner = HardNegatives.create(g.integer("K")).withBackend(backend);
        Tensor sim = Tensor.of(g.floats("sim"), n, m);
        Tensor idx = switch (g.text("positives")) {
            case "labels" -> miner.mine(sim, Tensor.of(g.longs("query_labels")), Tensor.of(g.longs("key_labels")));
            case "mask" -> miner.mineMasked(sim, Tensor.of(g.longs("mask"), n, m));
            default -> miner.mine(sim);
        };
        assertArrayEquals(g.longs("indices"), idx.toLongArray(), g.name());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void tiesGoToTheLowerIndexAndBackendsAgree(Backend backend) {
        int n = 40, m = 300, k = 25;
        float[] sim = SimilarityReference.random(n * m, 21);
        for (int i = 0; i < sim.length; i++) sim[i] = Math.round(sim[i] * 3) / 3f; // many ties
        int[] ql = new int[n], kl = new int[m];
        boolean[] positive = new boolean[n * m];
        for (int i = 0; i < n; i++) ql[i] = i % 6;
        for (int j = 0; j < m; j++) kl[j] = j % 7;
        for (int i = 0; i < n; i++) for (int j = 0; j < m; j++) positive[i * m + j] = ql[i] == kl[j];
        long[] got = HardNegatives.create(k).withBackend(backend).mine(Tensor.of(sim, n, m), Tensor.of(ql), Tensor.of(kl))
                .toLongArray();
        assertArrayEquals(SimilarityReference.mine(sim, n, m, k, positive), got);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void kZeroGivesAnEmptyResultAndGatherPicksRows(Backend backend) {
        Tensor sim = Tensor.of(new float[][] {{0.9f, 0.1f, 0.5f}, {0.2f, 0.8f, 0.7f}});
        Tensor none = HardNegatives.create(0).withBackend(backend).mine(sim);
        assertArrayEquals(new long[] {2, 0}, none.shape());
        Tensor idx = HardNegatives.create(2).withBackend(backend).mine(sim);
        assertArrayEquals(new long[] {2, 1, 2, 0}, idx.toLongArray());
        Tensor keys = Tensor.of(new float[][] {{1, 2}, {3, 4}, {5, 6}});
        Tensor negatives = HardNegatives.gather(keys, idx);
        assertArrayEquals(new long[] {2, 2, 2}, negatives.shape());
        assertClose(new double[] {5, 6, 3, 4, 5, 6, 1, 2}, negatives.toFloatArray(), 0, "gathered rows");
        assertArrayEquals(new long[] {2, 0, 2}, HardNegatives.gather(keys, none).shape());
    }

    /** Scatter-add: repeated indices accumulate; it adds to what gradKeys holds; bad shapes name the argument. */
    @Test
    void gatherBackwardAddsEveryPickedRowBack() {
        Tensor idx = Tensor.of(new long[] {2, 0, 2, 2}, 2, 2);
        Tensor grad = Tensor.of(new float[] {1, 10, 2, 20, 3, 30, 4, 40}, 2, 2, 2);
        Tensor gradKeys = Tensor.of(new float[][] {{0.5f, 0.5f}, {0, 0}, {0, 0}});
        HardNegatives.gatherBackward(grad, idx, gradKeys);
        assertClose(new double[] {2.5, 20.5, 0, 0, 8, 80}, gradKeys.toFloatArray(), 0, "scatter-add");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> HardNegatives.gatherBackward(Tensor.of(new float[6], 2, 1, 3), idx, gradKeys));
        assertTrue(e.getMessage().startsWith("grad: expected shape"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> HardNegatives.gatherBackward(grad, Tensor.of(new long[] {2, 0, 3, 2}, 2, 2), gradKeys));
        assertTrue(e.getMessage().startsWith("indices"), e.getMessage());
    }

    /** mine, mine with labels and mineMasked into the caller's (N,k) indices write what the allocating forms return. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void intoTheCallersIndicesEqualsTheAllocatingForms(Backend backend) {
        int n = 30, m = 70, k = 9;
        float[] s = SimilarityReference.random(n * m, 41);
        Tensor sim = Tensor.of(s, n, m);
        long[] ql = new long[n], kl = new long[m];
        int[] mask = new int[n * m];
        boolean[] byLabel = new boolean[n * m], byMask = new boolean[n * m];
        for (int i = 0; i < n; i++) ql[i] = i % 5;
        for (int j = 0; j < m; j++) kl[j] = j % 3;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < m; j++) {
                byLabel[i * m + j] = ql[i] == kl[j];
                byMask[i * m + j] = (i * 7 + j) % 4 == 0;
                mask[i * m + j] = byMask[i * m + j] ? 1 : 0;
            }
        }
        HardNegatives miner = HardNegatives.create(k).withBackend(backend);
        Tensor into = Tensor.zeros(DType.INT64, n, k);
        miner.mine(sim, into);
        assertArrayEquals(miner.mine(sim).toLongArray(), into.toLongArray(), "diagonal");
        Tensor labelled = Tensor.zeros(DType.INT64, n, k);
        miner.mine(sim, Tensor.of(ql), Tensor.of(kl), labelled);
        assertArrayEquals(miner.mine(sim, Tensor.of(ql), Tensor.of(kl)).toLongArray(), labelled.toLongArray(), "labels");
        assertArrayEquals(SimilarityReference.mine(s, n, m, k, byLabel), labelled.toLongArray(), "labels vs reference");
        Tensor masked = Tensor.zeros(DType.INT64, n, k);
        miner.mineMasked(sim, Tensor.of(mask, n, m), masked);
        assertArrayEquals(miner.mineMasked(sim, Tensor.of(mask, n, m)).toLongArray(), masked.toLongArray(), "mask");
        assertArrayEquals(SimilarityReference.mine(s, n, m, k, byMask), masked.toLongArray(), "mask vs reference");

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> miner.mine(sim, Tensor.zeros(DType.INT32, n, k)));
        assertTrue(e.getMessage().startsWith("indices: expected int64"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> miner.mine(sim, Tensor.zeros(DType.INT64, n, k + 1)));
        assertTrue(e.getMessage().contains("indices: expected shape (N, k)") && e.getMessage().contains("got (30, 10)"),
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> HardNegatives.create(m + 1).withBackend(backend).mine(sim));
        assertTrue(e.getMessage().contains("row 0") && e.getMessage().contains("only " + (m - 1)), e.getMessage());
    }

    /** gather into the caller's (N,K,D) equals the allocating gather, for int32 and int64 indices; bad outputs name the argument. */
    @Test
    void gatherIntoTheCallersTensor() {
        Tensor keys = Tensor.of(SimilarityReference.random(7 * 5, 42), 7, 5);
        long[] picks = {6, 0, 3, 3, 1, 6};
        int[] narrow = {6, 0, 3, 3, 1, 6};
        for (Tensor idx : new Tensor[] {Tensor.of(picks, 3, 2), Tensor.of(narrow, 3, 2)}) {
            Tensor out = Tensor.of(new float[30], 3, 2, 5);
            HardNegatives.gather(keys, idx, out);
            assertClose(SimilarityReference.toDouble(HardNegatives.gather(keys, idx).toFloatArray()), out.toFloatArray(), 0,
                    idx.dtype() + " indices");
            float[] k = keys.toFloatArray(), o = out.toFloatArray();
            for (int r = 0; r < picks.length; r++) {
                for (int j = 0; j < 5; j++) assertEquals(k[(int) picks[r] * 5 + j], o[r * 5 + j], 0f, "row " + r);
            }
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> HardNegatives.gather(keys, Tensor.of(picks, 3, 2), Tensor.zeros(DType.FLOAT32, 3, 2, 4)));
        assertTrue(e.getMessage().startsWith("out: expected shape"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> HardNegatives.gather(keys, Tensor.of(picks, 3, 2), keys.reshape(7, 5).rows(1, 6).reshape(3, 2, 5)));
        assertTrue(e.getMessage().contains("out: shares memory with keys"), e.getMessage());
    }
}
