package dev.jnce.loss;

import dev.jnce.Reduction;
import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.testutil.ScopedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.function.BiFunction;

import static dev.jnce.loss.CrossEntropyArgumentsTest.assertMessage;

/**
 * Bad input to NtXent, ClipLoss and SigLipLoss is caught in Java, before any kernel runs, with
 * the argument and the shapes or values named.
 */
class PairLossesArgumentsTest extends ScopedTest {
    private static final String BACKENDS = "dev.jnce.testutil.TestBackends#backends";

    private static Tensor matrix(int rows, int d) {
        return Tensor.of(PairLossesSupport.gaussian(rows, rows, d), rows, d);
    }

    /** Both two-tower losses, as functions of (a, b), for the checks they share. */
    private static BiFunction<Tensor, Tensor, PairedResult> clip(Backend b) {
        return ClipLoss.create().withBackend(b)::forwardBackward;
    }

    private static BiFunction<Tensor, Tensor, PairedResult> sigLip(Backend b) {
        return SigLipLoss.create().withBackend(b)::forwardBackward;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void ntXentNeedsAnEvenNumberOfAtLeastFourViews(Backend b) {
        NtXent loss = NtXent.create().withBackend(b);
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackward(matrix(5, 3)),
                "views", "(5, 3)", "odd number of rows", "(2N, D)");
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackward(matrix(2, 3)),
                "views", "(2, 3)", "2 rows", "2N >= 4");
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackward(matrix(3, 3)),
                "views", "(3, 3)", "2N >= 4");
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackward(Tensor.zeros(DType.FLOAT32, 8)),
                "views", "(N, D)", "(8)");
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackward(Tensor.of(new int[12], 4, 3)),
                "views", "float32", "int32(4, 3)");
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackward(null), "views", "null");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void clipNeedsTwoPairs(Backend b) {
        assertMessage(IllegalArgumentException.class, () -> clip(b).apply(matrix(1, 3), matrix(1, 3)),
                "a", "(1, 3)", "1 rows", "N >= 2");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void mismatchedTowersAreRejected(Backend b) {
        for (BiFunction<Tensor, Tensor, PairedResult> loss : java.util.List.of(clip(b), sigLip(b))) {
            assertMessage(IllegalArgumentException.class, () -> loss.apply(matrix(4, 3), matrix(4, 2)),
                    "b", "(N, D) of a = (4, 3)", "got (4, 2)");
            assertMessage(IllegalArgumentException.class, () -> loss.apply(matrix(4, 3), matrix(5, 3)),
                    "b", "(N, D) of a = (4, 3)", "got (5, 3)");
            assertMessage(IllegalArgumentException.class, () -> loss.apply(Tensor.zeros(DType.FLOAT32, 4), matrix(4, 3)),
                    "a", "(N, D)", "(4)");
            assertMessage(IllegalArgumentException.class, () -> loss.apply(matrix(4, 3), Tensor.of(new long[12], 4, 3)),
                    "b", "float32", "int64(4, 3)");
            assertMessage(IllegalArgumentException.class, () -> loss.apply(matrix(4, 3), Tensor.zeros(DType.FLOAT32, 4, 0)),
                    "b", "D >= 1", "(4, 0)");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void nonFiniteEmbeddingsAreRejectedNamingTheRow(Backend b) {
        float[] x = PairLossesSupport.gaussian(1, 4, 3);
        x[2 * 3 + 1] = Float.NaN;
        Tensor nan = Tensor.of(x, 4, 3);
        float[] y = PairLossesSupport.gaussian(2, 4, 3);
        y[3 * 3] = Float.NEGATIVE_INFINITY;
        Tensor inf = Tensor.of(y, 4, 3);
        assertMessage(IllegalArgumentException.class, () -> NtXent.create().withBackend(b).forwardBackward(nan),
                "views", "row 2", "NaN", "finite");
        assertMessage(IllegalArgumentException.class, () -> clip(b).apply(matrix(4, 3), nan), "b", "row 2", "NaN");
        assertMessage(IllegalArgumentException.class, () -> clip(b).apply(inf, matrix(4, 3)), "a", "row 3", "-Infinity");
        assertMessage(IllegalArgumentException.class, () -> sigLip(b).apply(nan, matrix(4, 3)), "a", "row 2", "NaN");
        assertMessage(IllegalArgumentException.class, () -> sigLip(b).apply(matrix(4, 3), inf), "b", "row 3", "-Infinity");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void closedTensorsAreRejected(Backend b) {
        Tensor closed = matrix(4, 3);
        closed.close();
        assertMessage(IllegalStateException.class, () -> NtXent.create().withBackend(b).forwardBackward(closed), "views", "closed");
        assertMessage(IllegalStateException.class, () -> clip(b).apply(matrix(4, 3), closed), "b", "closed");
        assertMessage(IllegalStateException.class, () -> sigLip(b).apply(closed, matrix(4, 3)), "a", "closed");
    }

    @Test
    void scalesTemperaturesAndBiasesMustBeFinite() {
        for (float bad : new float[] {0f, -1f, Float.NaN, Float.POSITIVE_INFINITY}) {
            String value = Float.toString(bad);
            assertMessage(IllegalArgumentException.class, () -> NtXent.create().withTemperature(bad), "temperature", value, "> 0");
            assertMessage(IllegalArgumentException.class, () -> ClipLoss.create().withLogitScale(bad), "logitScale", value, "> 0");
            assertMessage(IllegalArgumentException.class, () -> SigLipLoss.create().withLogitScale(bad), "logitScale", value, "> 0");
        }
        for (float bad : new float[] {Float.NaN, Float.NEGATIVE_INFINITY}) {
            assertMessage(IllegalArgumentException.class, () -> ClipLoss.create().withBias(bad), "bias", Float.toString(bad), "finite");
            assertMessage(IllegalArgumentException.class, () -> SigLipLoss.create().withBias(bad), "bias", Float.toString(bad), "finite");
        }
    }

    @Test
    void reductionsAndBackendsAreChecked() {
        assertMessage(IllegalArgumentException.class, () -> SigLipLoss.create().withReduction(Reduction.NONE),
                "reduction", "NONE", "MEAN", "SUM");
        assertMessage(IllegalArgumentException.class, () -> SigLipLoss.create().withReduction(null), "reduction");
        assertMessage(IllegalArgumentException.class, () -> ClipLoss.create().withReduction(null), "reduction", "null");
        assertMessage(IllegalArgumentException.class, () -> NtXent.create().withReduction(null), "reduction", "null");
        assertMessage(IllegalArgumentException.class, () -> ClipLoss.create().withBackend(null), "backend", "null");
        assertMessage(IllegalArgumentException.class, () -> SigLipLoss.create().withBackend(null), "backend", "null");
        assertMessage(IllegalArgumentException.class, () -> NtXent.create().withBackend(null), "backend", "null");
        assertMessage(IllegalArgumentException.class, () -> SigLipLoss.create().withBlockRows(-1), "blockRows", ">= 0", "-1");
    }
}
