package dev.jnce.loss;

import dev.jnce.Reduction;
import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.testutil.ScopedTest;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;


import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every mistake a caller makes (targets shaped (N, 1), one logit per row, class indices out of
 * range, wrong types, closed tensors, wrong buffers) is caught with a message naming the argument
 * and the shapes or values seen and expected: shapes and types in Java, values by the kernel,
 * on every backend in the same words.
 */
class CrossEntropyArgumentsTest extends ScopedTest {
    private Tensor logits;  // (4, 3)
    private Tensor targets; // (4)

    @BeforeEach
    void setUp() {
        logits = Tensor.of(new float[12], 4, 3);
        targets = Tensor.of(new long[] {0, 1, 2, 0});
    }

    private static CrossEntropy ce(Backend b) {
        return CrossEntropy.create().withBackend(b);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void targetsShapedNBy1AreRejected(Backend b) {
        Tensor column = Tensor.of(new long[] {0, 1, 2, 0}, 4, 1);
        assertMessage(IllegalArgumentException.class, () -> ce(b).forward(logits, column),
                "targets", "(4, 1)", "expected (N) = (4)");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void logitsShapedNBy1AreRejected(Backend b) {
        Tensor oneClass = Tensor.of(new float[4], 4, 1);
        assertMessage(IllegalArgumentException.class, () -> ce(b).forward(oneClass, targets),
                "logits", "(4, 1)", "C >= 2");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void mismatchedBatchSizesAreRejected(Backend b) {
        Tensor five = Tensor.of(new long[] {0, 1, 2, 0, 1});
        assertMessage(IllegalArgumentException.class, () -> ce(b).forward(logits, five),
                "targets", "(5)", "(4, 3)", "expected (N) = (4)");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void targetsOutsideTheClassRangeAreRejected(Backend b) {
        assertMessage(IllegalArgumentException.class, () -> ce(b).forward(logits, Tensor.of(new long[] {0, 1, 3, 0})),
                "targets[2] = 3", "[0, 3)", "(4, 3)");
        assertMessage(IllegalArgumentException.class, () -> ce(b).forward(logits, Tensor.of(new int[] {0, -1, 2, 0})),
                "targets[1] = -1", "[0, 3)");
        assertMessage(IllegalArgumentException.class, () -> ce(b).forward(logits, Tensor.of(new long[] {-7, 0, 0, 0})),
                "targets[0] = -7", "not the ignore index -100");
        assertMessage(IllegalArgumentException.class,
                () -> ce(b).withIgnoreIndex(1).forward(logits, Tensor.of(new long[] {0, -100, 0, 0})),
                "targets[1] = -100", "not the ignore index 1");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void wrongElementTypesAreRejected(Backend b) {
        Tensor intLogits = Tensor.of(new int[12], 4, 3);
        assertMessage(IllegalArgumentException.class, () -> ce(b).forward(intLogits, targets),
                "logits", "expected float32", "int32(4, 3)");
        Tensor floatTargets = Tensor.of(new float[] {0, 1, 2, 0});
        assertMessage(IllegalArgumentException.class, () -> ce(b).forward(logits, floatTargets),
                "targets", "int32 or int64", "float32(4)");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void closedTensorsAreRejected(Backend b) {
        Tensor closedLogits = Tensor.of(new float[12], 4, 3);
        closedLogits.close();
        assertMessage(IllegalStateException.class, () -> ce(b).forward(closedLogits, targets), "logits", "closed");
        Tensor closedTargets = Tensor.of(new long[] {0, 1, 2, 0});
        closedTargets.close();
        assertMessage(IllegalStateException.class, () -> ce(b).forward(logits, closedTargets), "targets", "closed");
        Tensor loss = Tensor.zeros(DType.FLOAT32), grad = Tensor.zeros(DType.FLOAT32, 4, 3);
        grad.close();
        assertMessage(IllegalStateException.class, () -> ce(b).forwardBackward(logits, targets, loss, grad), "grad", "closed");
        loss.close();
        Tensor grad2 = Tensor.zeros(DType.FLOAT32, 4, 3);
        assertMessage(IllegalStateException.class, () -> ce(b).forwardBackward(logits, targets, loss, grad2), "loss", "closed");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void emptyBatchesAreRejected(Backend b) {
        Tensor empty = Tensor.zeros(DType.FLOAT32, 0, 3);
        Tensor none = Tensor.zeros(DType.INT64, 0);
        assertMessage(IllegalArgumentException.class, () -> ce(b).forward(empty, none), "logits", "empty batch", "(0, 3)");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void logitsOfAnotherRankAreRejected(Backend b) {
        Tensor rank3 = Tensor.of(new float[24], 2, 4, 3);
        assertMessage(IllegalArgumentException.class, () -> ce(b).forward(rank3, targets), "logits", "(N, C)", "(2, 4, 3)");
        Tensor rank1 = Tensor.of(new float[3]);
        assertMessage(IllegalArgumentException.class, () -> ce(b).forward(rank1, targets), "logits", "(N, C)", "(3)");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void outputBuffersOfTheWrongShapeOrTypeAreRejected(Backend b) {
        Tensor loss = Tensor.zeros(DType.FLOAT32);
        assertMessage(IllegalArgumentException.class,
                () -> ce(b).forwardBackward(logits, targets, loss, Tensor.zeros(DType.FLOAT32, 3, 4)),
                "grad", "(N, C) of logits = (4, 3)", "got (3, 4)");
        assertMessage(IllegalArgumentException.class,
                () -> ce(b).forwardBackward(logits, targets, Tensor.zeros(DType.FLOAT32, 4), Tensor.zeros(DType.FLOAT32, 4, 3)),
                "loss", "()", "(4)");
        assertMessage(IllegalArgumentException.class,
                () -> ce(b).withReduction(Reduction.NONE).forwardBackward(logits, targets, loss, Tensor.zeros(DType.FLOAT32, 4, 3)),
                "loss", "(N) = (4)", "got ()");
        assertMessage(IllegalArgumentException.class,
                () -> ce(b).forwardBackward(logits, targets, Tensor.zeros(DType.INT32), Tensor.zeros(DType.FLOAT32, 4, 3)),
                "loss", "float32", "int32");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void nullsAreRejected(Backend b) {
        assertMessage(IllegalArgumentException.class, () -> ce(b).forward(null, targets), "logits", "null");
        assertMessage(IllegalArgumentException.class, () -> ce(b).forward(logits, null), "targets", "null");
        assertThrows(IllegalArgumentException.class, () -> CrossEntropy.create().withReduction(null));
    }

    static void assertMessage(Class<? extends Exception> type, Executable call, String... fragments) {
        Exception e = assertThrows(type, call);
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "message '" + e.getMessage() + "' should contain '" + f + "'");
        }
    }
}
