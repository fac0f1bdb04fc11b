package dev.jnce.ops;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.testutil.ScopedTest;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;


import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad input to the softmax family is caught in Java before any native call, with a message naming it. */
class SoftmaxArgumentsTest extends ScopedTest {
    private Tensor x;  // (4, 3)
    private Tensor dy; // (4, 3)

    @BeforeEach
    void setUp() {
        x = Tensor.of(new float[12], 4, 3);
        dy = Tensor.of(new float[12], 4, 3);
    }


    private static Softmax softmax(Backend b) {
        return Softmax.create().withBackend(b);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void inputsOfAnotherRankAreRejected(Backend b) {
        Tensor rank3 = Tensor.of(new float[24], 2, 4, 3);
        assertMessage(IllegalArgumentException.class, () -> softmax(b).forward(rank3), "input", "(N, C) or (C)", "(2, 4, 3)");
        assertMessage(IllegalArgumentException.class, () -> softmax(b).forward(Tensor.scalar(1f)), "input", "got ()");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void emptyInputsAreRejected(Backend b) {
        assertMessage(IllegalArgumentException.class, () -> softmax(b).forward(Tensor.zeros(DType.FLOAT32, 0, 3)),
                "input", "empty", "(0, 3)");
        assertMessage(IllegalArgumentException.class,
                () -> Softmax.logsumexp().withBackend(b).forward(Tensor.zeros(DType.FLOAT32, 3, 0)), "input", "(3, 0)");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void wrongElementTypesAreRejected(Backend b) {
        assertMessage(IllegalArgumentException.class, () -> softmax(b).forward(Tensor.of(new int[12], 4, 3)),
                "input", "expected float32", "int32(4, 3)");
        assertMessage(IllegalArgumentException.class, () -> softmax(b).forwardBackward(x, Tensor.of(new long[12], 4, 3)),
                "gradOutput", "float32", "int64");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void upstreamGradientsOfTheWrongShapeAreRejected(Backend b) {
        assertMessage(IllegalArgumentException.class, () -> softmax(b).forwardBackward(x, Tensor.of(new float[12], 3, 4)),
                "gradOutput", "softmax output", "(4, 3)", "got (3, 4)");
        assertMessage(IllegalArgumentException.class, () -> Softmax.logSoftmax().withBackend(b).backward(x, Tensor.of(new float[4])),
                "gradOutput", "log_softmax output", "(4, 3)", "got (4)");
        assertMessage(IllegalArgumentException.class, () -> Softmax.logsumexp().withBackend(b).forwardBackward(x, dy),
                "gradOutput", "logsumexp output", "= (4)", "got (4, 3)");
        assertMessage(IllegalArgumentException.class,
                () -> Softmax.logsumexp().withBackend(b).forwardBackward(Tensor.of(new float[3]), Tensor.of(new float[1])),
                "gradOutput", "= ()", "got (1)");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void closedTensorsAreRejected(Backend b) {
        Tensor closed = Tensor.of(new float[12], 4, 3);
        closed.close();
        assertMessage(IllegalStateException.class, () -> softmax(b).forward(closed), "input", "closed");
        assertMessage(IllegalStateException.class, () -> softmax(b).forwardBackward(x, closed), "gradOutput", "closed");
        assertMessage(IllegalStateException.class, () -> softmax(b).backward(closed, dy), "output", "closed");
        assertMessage(IllegalStateException.class, () -> Softmax.logsumexp().withBackend(b).backward(closed, Tensor.of(new float[4])),
                "input", "closed");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void nullsAreRejected(Backend b) {
        assertMessage(IllegalArgumentException.class, () -> softmax(b).forward(null), "input", "null");
        assertMessage(IllegalArgumentException.class, () -> softmax(b).forwardBackward(x, null), "gradOutput", "null");
        assertMessage(IllegalArgumentException.class, () -> softmax(b).backward(null, dy), "output", "null");
    }

    @Test
    void optionsRejectNull() {
        assertMessage(IllegalArgumentException.class, () -> Softmax.create().withFunction(null), "function");
        assertMessage(IllegalArgumentException.class, () -> Softmax.create().withBackend(null), "backend");
    }

    static void assertMessage(Class<? extends Exception> type, Executable call, String... fragments) {
        String message = assertThrows(type, call).getMessage();
        for (String f : fragments) assertTrue(message.contains(f), "'" + message + "' should contain '" + f + "'");
    }
}
