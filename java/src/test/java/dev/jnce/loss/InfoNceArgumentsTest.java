package dev.jnce.loss;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.testutil.ScopedTest;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import static dev.jnce.loss.CrossEntropyArgumentsTest.assertMessage;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Every bad input to InfoNce is caught in Java before any native call, with a message naming
 * the argument and the shapes or values seen and expected.
 */
class InfoNceArgumentsTest extends ScopedTest {
    private Tensor queries; // (4, 3)
    private Tensor keys;    // (4, 3)

    @BeforeEach
    void setUp() {
        queries = Tensor.of(InfoNceTest.random(12, 1), 4, 3);
        keys = Tensor.of(InfoNceTest.random(12, 2), 4, 3);
    }

    private static InfoNce loss(Backend b) {
        return InfoNce.create().withBackend(b);
    }

    private static Tensor floats(long seed, long... shape) {
        int n = 1;
        for (long s : shape) n *= (int) s;
        return Tensor.of(InfoNceTest.random(n, seed), shape);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void mismatchedWidthsAreRejected(Backend b) {
        Tensor wide = floats(3, 4, 5);
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackward(queries, wide),
                "keys", "expected shape (N, D) of queries = (4, 3)", "got (4, 5)");
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackward(queries, keys, floats(4, 6, 5)),
                "sharedNegatives", "(6, 5)", "D = 5", "queries has D = 3");
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackwardNegatives(queries, keys, floats(5, 4, 2, 5)),
                "negatives", "expected shape (N, K, D) = (4, K, 3)", "got (4, 2, 5)");
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackwardNegatives(queries, wide, floats(5, 4, 2, 3)),
                "positives", "(N, D) of queries = (4, 3)", "got (4, 5)");
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackwardLabels(queries, floats(6, 5, 2),
                Tensor.of(new long[4]), Tensor.of(new long[5])), "keys", "(5, 2)", "D = 2", "queries has D = 3");
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackwardMask(queries, floats(6, 5, 2),
                Tensor.of(new int[20], 4, 5)), "keys", "D = 2", "queries has D = 3");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void mismatchedRowCountsAreRejected(Backend b) {
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackward(queries, floats(3, 5, 3)),
                "keys", "(N, D) of queries = (4, 3)", "got (5, 3)");
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackward(queries, floats(3, 5, 3), floats(4, 2, 3)),
                "keys", "= (4, 3)", "got (5, 3)");
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackwardNegatives(queries, keys, floats(5, 3, 2, 3)),
                "negatives", "(N, K, D) = (4, K, 3)", "got (3, 2, 3)");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void wrongRanksAreRejected(Backend b) {
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackward(floats(3, 12), keys),
                "queries", "expected shape (N, D) with D >= 1", "got (12)");
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackward(queries, floats(3, 4, 3, 1)),
                "keys", "expected shape (N, D)", "got (4, 3, 1)");
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackward(floats(3, 2, 2, 3)),
                "embeddings", "got (2, 2, 3)");
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackward(queries, keys, floats(3, 4, 2, 3)),
                "sharedNegatives", "expected shape (N, D)", "got (4, 2, 3)");
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackwardNegatives(queries, keys, floats(3, 4, 3)),
                "negatives", "(N, K, D) = (4, K, 3)", "got (4, 3)");
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackward(Tensor.zeros(DType.FLOAT32, 4, 0), keys),
                "queries", "D >= 1", "got (4, 0)");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void tooFewRowsForInBatchNegativesAreRejected(Backend b) {
        Tensor one = floats(3, 1, 3), otherOne = floats(4, 1, 3);
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackward(one, otherOne),
                "queries", "(1, 3)", "N = 1", "N >= 2");
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackward(one),
                "embeddings", "(1, 3)", "1 rows", "N >= 2");
        Tensor none = Tensor.zeros(DType.FLOAT32, 0, 3);
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackward(none, none), "queries", "0 rows");
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackward(queries, keys, none),
                "sharedNegatives", "(0, 3)", "M >= 1");
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackwardLabels(queries, floats(4, 1, 3),
                Tensor.of(new long[4]), Tensor.of(new long[1])), "keys", "(1, 3)", "M >= 2");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void zeroExplicitNegativesAreRejected(Backend b) {
        assertMessage(IllegalArgumentException.class,
                () -> loss(b).forwardBackwardNegatives(queries, keys, Tensor.zeros(DType.FLOAT32, 4, 0, 3)),
                "negatives", "(4, 0, 3)", "K = 0", "K >= 1");
    }

    @Test
    void badTemperaturesAreRejected() {
        for (float tau : new float[] {0f, -0f, -0.1f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
            assertMessage(IllegalArgumentException.class, () -> InfoNce.create().withTemperature(tau),
                    "temperature", String.valueOf(tau), "finite and > 0");
        }
    }

    @Test
    void aNegativeBlockSizeIsRejected() {
        assertMessage(IllegalArgumentException.class, () -> InfoNce.create().withBlockRows(-1), "blockRows", ">= 0", "-1");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void nonFiniteEmbeddingsAreRejectedNamingTheRow(Backend b) {
        float[] q = queries.toFloatArray();
        q[2 * 3 + 1] = Float.NaN;
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackward(Tensor.of(q, 4, 3), keys),
                "queries", "row 2", "NaN", "finite");
        float[] k = keys.toFloatArray();
        k[3] = Float.POSITIVE_INFINITY;
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackward(queries, Tensor.of(k, 4, 3)),
                "keys", "row 1", "Infinity");
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackward(Tensor.of(q, 4, 3)),
                "embeddings", "row 2", "NaN");
        float[] shared = InfoNceTest.random(6, 9);
        shared[5] = Float.NEGATIVE_INFINITY;
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackward(queries, keys, Tensor.of(shared, 2, 3)),
                "sharedNegatives", "row 1", "-Infinity");
        float[] neg = InfoNceTest.random(4 * 2 * 3, 10);
        neg[(2 * 2 + 1) * 3] = Float.NaN; // query 2, negative 1
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackwardNegatives(queries, keys, Tensor.of(neg, 4, 2, 3)),
                "negatives[2, 1]", "NaN", "(4, 2, 3)");
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackwardLabels(queries, Tensor.of(k, 4, 3),
                Tensor.of(new long[4]), Tensor.of(new long[4])), "keys", "row 1", "Infinity");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void closedTensorsAreRejected(Backend b) {
        Tensor closed = floats(3, 4, 3);
        closed.close();
        assertMessage(IllegalStateException.class, () -> loss(b).forwardBackward(closed, keys), "queries", "closed");
        assertMessage(IllegalStateException.class, () -> loss(b).forwardBackward(queries, closed), "keys", "closed");
        assertMessage(IllegalStateException.class, () -> loss(b).forwardBackward(closed), "embeddings", "closed");
        assertMessage(IllegalStateException.class, () -> loss(b).forwardBackward(queries, keys, closed), "sharedNegatives", "closed");
        Tensor closedNeg = floats(4, 4, 2, 3);
        closedNeg.close();
        assertMessage(IllegalStateException.class, () -> loss(b).forwardBackwardNegatives(queries, keys, closedNeg), "negatives", "closed");
        Tensor labels = Tensor.of(new long[4]);
        labels.close();
        assertMessage(IllegalStateException.class, () -> loss(b).forwardBackwardLabels(queries, keys, labels, Tensor.of(new long[4])),
                "queryLabels", "closed");
        Tensor mask = Tensor.of(new int[16], 4, 4);
        mask.close();
        assertMessage(IllegalStateException.class, () -> loss(b).forwardBackwardMask(queries, keys, mask), "positiveMask", "closed");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void badLabelsAreRejected(Backend b) {
        Tensor four = Tensor.of(new long[] {0, 1, 2, 3});
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackwardLabels(queries, keys, Tensor.of(new long[3]), four),
                "queryLabels", "expected shape (N) = (4)", "got (3)");
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackwardLabels(queries, keys, four, Tensor.of(new long[5])),
                "keyLabels", "(N) = (4)", "got (5)");
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackwardLabels(queries, keys, Tensor.of(new float[4]), four),
                "queryLabels", "int32", "int64", "got float32(4)");
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackwardLabels(queries, keys, four, Tensor.of(new long[4], 4, 1)),
                "keyLabels", "got (4, 1)");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void badMasksAreRejected(Backend b) {
        Tensor k5 = floats(6, 5, 3);
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackwardMask(queries, k5, Tensor.of(new int[20], 5, 4)),
                "positiveMask", "expected shape (N, M) = (4, 5)", "got (5, 4)");
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackwardMask(queries, k5, Tensor.of(new long[20], 4, 5)),
                "positiveMask", "int32", "int64(4, 5)");
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackwardMask(queries, k5, Tensor.of(new int[20])),
                "positiveMask", "got (20)");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void aRowWithoutPositiveIsAnErrorNamingItUnderThrow(Backend b) {
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackwardLabels(queries, keys,
                Tensor.of(new long[] {0, 1, 7, 1}), Tensor.of(new long[] {0, 1, 1, 0})),
                "row 2", "no positive", "4 keys", "withRowsWithoutPositive(SKIP)");
        int[] mask = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0};
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackwardMask(queries, keys, Tensor.of(mask, 4, 4)),
                "row 3", "no positive");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void decoupledNeedsOnePositivePerRow(Backend b) {
        InfoNce decoupled = loss(b).withDecoupled(true);
        Tensor labels = Tensor.of(new long[] {0, 1, 0, 1});
        assertMessage(IllegalArgumentException.class, () -> decoupled.forwardBackwardLabels(queries, keys, labels, labels),
                "decoupled", "one positive per row", "labels");
        assertMessage(IllegalArgumentException.class, () -> decoupled.forwardBackwardMask(queries, keys, Tensor.of(new int[16], 4, 4)),
                "decoupled", "mask");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void wrongDtypesAndNullsAreRejected(Backend b) {
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackward(Tensor.of(new int[12], 4, 3), keys),
                "queries", "float32", "int32(4, 3)");
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackwardNegatives(queries, keys, Tensor.of(new long[24], 4, 2, 3)),
                "negatives", "float32", "int64(4, 2, 3)");
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackward(null, keys), "queries", "null");
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackward(queries, (Tensor) null), "keys", "null");
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackwardNegatives(queries, keys, null), "negatives", "null");
        assertMessage(IllegalArgumentException.class, () -> loss(b).forwardBackwardMask(queries, keys, null), "positiveMask", "null");
        assertMessage(IllegalArgumentException.class, () -> InfoNce.create().withReduction(null), "reduction", "null");
        assertMessage(IllegalArgumentException.class, () -> InfoNce.create().withBackend(null), "backend", "null");
        assertThrows(IllegalArgumentException.class, () -> InfoNce.create().withRowsWithoutPositive(null));
    }
}
