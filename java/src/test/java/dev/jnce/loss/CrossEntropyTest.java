package dev.jnce.loss;

import dev.jnce.Reduction;
import dev.jnce.testutil.Reductions;
import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.testutil.Golden;
import dev.jnce.testutil.ScopedTest;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static dev.jnce.testutil.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Softmax cross-entropy on every backend against PyTorch's golden data, a float64 reference,
 * finite differences and the other backends. Bad input is in CrossEntropyArgumentsTest.
 */
class CrossEntropyTest extends ScopedTest {
    private static final Map<String, Golden.Case> GOLDEN = Golden.load("/golden/cross_entropy.txt");
    static Stream<Arguments> goldenCases() {
        return TestBackends.all().stream().flatMap(b -> GOLDEN.values().stream().map(c -> Arguments.of(b, c)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void workedExamplesGiveTheTrueValues(Backend backend) {
        CrossEntropy ce = CrossEntropy.create().withBackend(backend);
        assertEquals(0.306882, ce.forward(Tensor.of(new float[][] {{2.0f, 1.0f, 0.1f}, {0.5f, 2.5f, 0.0f}}),
                Tensor.of(new long[] {0, 1})).item(), 1e-6);
        assertEquals(0.220095, ce.forward(Tensor.of(new float[][] {{2, 1}, {1, 3}}),
                Tensor.of(new long[] {0, 1})).item(), 1e-6);
        assertEquals(1.470764, ce.forward(Tensor.of(new float[][] {{2.0f, 1.0f, 0.1f}, {1.2f, 2.5f, 0.3f}}),
                Tensor.of(new long[] {0, 2})).item(), 1e-6);
    }

    /** Forward only reads a row as the fused call's first passes do: the same loss, bit for bit, with and without weights and smoothing. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void forwardOnlyGivesTheFusedCallsLossBitForBit(Backend backend) {
        SplittableRandom rnd = new SplittableRandom(3);
        for (int c : new int[] {7, 128, 1000, 1023, 1040, 16384}) {
            int n = 33;
            float[] x = randomLogits(n, c, 3.0, 5 + c);
            long[] t = new long[n];
            for (int i = 0; i < n; i++) t[i] = rnd.nextInt(c);
            float[] w = new float[c];
            for (int j = 0; j < c; j++) w[j] = 0.5f + (float) rnd.nextDouble();
            for (boolean weighted : new boolean[] {false, true}) {
                CrossEntropy ce = CrossEntropy.create().withReduction(Reduction.NONE).withBackend(backend);
                if (weighted) ce = ce.withWeight(Tensor.of(w, c)).withLabelSmoothing(0.1f);
                Tensor logits = Tensor.of(x, n, c), targets = Tensor.of(t);
                float[] fused = ce.forwardBackward(logits, targets).loss().toFloatArray();
                float[] forward = ce.forward(logits, targets).toFloatArray();
                for (int i = 0; i < n; i++) {
                    assertEquals(Float.floatToIntBits(fused[i]), Float.floatToIntBits(forward[i]),
                            "row " + i + " of (" + n + ", " + c + "), weighted and smoothed " + weighted + ": " + fused[i] + " fused, " + forward[i] + " forward");
                }
            }
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("goldenCases")
    void matchesPyTorchAndTheFloat64Reference(Backend backend, Golden.Case g) {
        int n = (int) g.integer("N"), c = (int) g.integer("C");
        Reduction reduction = Reduction.valueOf(g.text("reduction").toUpperCase());
        CrossEntropy.Result r = CrossEntropy.create().withReduction(reduction).withBackend(backend)
                .forwardBackward(Tensor.of(g.floats("logits"), n, c), Tensor.of(g.longs("targets")));

        float[] loss = r.loss().toFloatArray();
        assertClose(g.doubles("loss_f64"), loss, 1e-6, "loss vs float64");
        assertClose(g.doubles("loss"), loss, 2e-5, "loss vs torch float32");
        float[] grad = r.grad().toFloatArray();
        assertClose(g.doubles("grad_f64"), grad, 1e-6, "grad vs float64");
        assertClose(g.doubles("grad"), grad, 2e-6, "grad vs torch float32");
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("reductions")
    void gradientMatchesFiniteDifferencesInDouble(Backend backend, Reduction reduction) {
        int n = 4, c = 7;
        float[] x = randomLogits(n, c, 3.0, 11);
        long[] t = {0, 6, 3, 3};
        float[] grad = CrossEntropy.create().withReduction(reduction).withBackend(backend)
                .forwardBackward(Tensor.of(x, n, c), Tensor.of(t)).grad().toFloatArray();

        double[] xd = CrossEntropyReference.toDouble(x);
        double h = 1e-6;
        for (int k = 0; k < xd.length; k++) {
            double saved = xd[k];
            xd[k] = saved + h;
            double up = CrossEntropyReference.scalar(xd, t, n, c, reduction);
            xd[k] = saved - h;
            double down = CrossEntropyReference.scalar(xd, t, n, c, reduction);
            xd[k] = saved;
            double numeric = (up - down) / (2 * h);
            assertEquals(numeric, grad[k], 1e-6, "d loss / d logits[" + k + "] with " + reduction);
        }
    }

    static Stream<Arguments> reductions() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(Reductions.all()).map(r -> Arguments.of(b, r)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void agreesWithTheOtherBackendsOnRowsOfManyLengths(Backend backend) {
        for (int c : new int[] {2, 3, 31, 32, 33, 64, 65, 1000, 4099}) {
            int n = 9;
            float[] x = randomLogits(n, c, 8.0, c);
            long[] t = new SplittableRandom(c).longs(n, 0, c).toArray();
            Tensor logits = Tensor.of(x, n, c), targets = Tensor.of(t);
            CrossEntropy.Result mine = CrossEntropy.create().withBackend(backend).forwardBackward(logits, targets);
            for (Backend other : TestBackends.all()) {
                CrossEntropy.Result theirs = CrossEntropy.create().withBackend(other).forwardBackward(logits, targets);
                String what = backend.name() + " vs " + other.name() + " at C=" + c;
                assertEquals(theirs.loss().item(), mine.loss().item(), 2e-6 * Math.max(1, Math.abs(mine.loss().item())), what);
                assertClose(CrossEntropyReference.toDouble(theirs.grad().toFloatArray()), mine.grad().toFloatArray(), 1e-7, what);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void reductionsAreConsistentAndForwardEqualsForwardBackward(Backend backend) {
        int n = 6, c = 40;
        Tensor logits = Tensor.of(randomLogits(n, c, 5.0, 3), n, c);
        Tensor targets = Tensor.of(new int[] {1, 0, 39, 7, 7, 20}); // int32 targets
        CrossEntropy ce = CrossEntropy.create().withBackend(backend);
        float[] rows = ce.withReduction(Reduction.NONE).forward(logits, targets).toFloatArray();
        double sum = 0;
        for (float r : rows) sum += r;
        assertEquals(sum, ce.withReduction(Reduction.SUM).forward(logits, targets).item(), 1e-5);
        assertEquals(sum / n, ce.forward(logits, targets).item(), 1e-6);
        assertEquals(ce.forward(logits, targets).item(), ce.forwardBackward(logits, targets).loss().item());

        float[] sumGrad = ce.withReduction(Reduction.SUM).forwardBackward(logits, targets).grad().toFloatArray();
        float[] noneGrad = ce.withReduction(Reduction.NONE).forwardBackward(logits, targets).grad().toFloatArray();
        float[] meanGrad = ce.forwardBackward(logits, targets).grad().toFloatArray();
        for (int k = 0; k < sumGrad.length; k++) {
            assertEquals(sumGrad[k], noneGrad[k], 0f);
            assertEquals(sumGrad[k] / n, meanGrad[k], 1e-7);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void int32AndInt64TargetsGiveTheSameResult(Backend backend) {
        int n = 5, c = 70;
        Tensor logits = Tensor.of(randomLogits(n, c, 2.0, 5), n, c);
        CrossEntropy ce = CrossEntropy.create().withBackend(backend);
        float wide = ce.forward(logits, Tensor.of(new long[] {0, 69, 2, 3, 4})).item();
        float narrow = ce.forward(logits, Tensor.of(new int[] {0, 69, 2, 3, 4})).item();
        assertEquals(wide, narrow, 0f);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void gradientCanReplaceTheLogitsInPlace(Backend backend) {
        int n = 3, c = 100;
        float[] x = randomLogits(n, c, 4.0, 9);
        Tensor targets = Tensor.of(new long[] {5, 50, 99});
        CrossEntropy ce = CrossEntropy.create().withBackend(backend);
        CrossEntropy.Result fresh = ce.forwardBackward(Tensor.of(x, n, c), targets);

        Tensor logits = Tensor.of(x, n, c);
        Tensor loss = Tensor.zeros(DType.FLOAT32);
        ce.forwardBackward(logits, targets, loss, logits);
        assertEquals(fresh.loss().item(), loss.item(), 0f);
        assertClose(CrossEntropyReference.toDouble(fresh.grad().toFloatArray()), logits.toFloatArray(), 0, "in place");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void nonFiniteLogitsFollowTheDocumentedRules(Backend backend) {
        for (int c : new int[] {4, 200}) { // short rows and rows that take the SIMD path
            int n = 5;
            float[] x = randomLogits(n, c, 1.0, 1);
            x[c + 3] = Float.NaN;                       // row 1: NaN
            x[2 * c + 1] = Float.POSITIVE_INFINITY;     // row 2: +Inf
            x[3 * c + 1] = Float.NEGATIVE_INFINITY;     // row 3: a non-target -Inf
            x[4 * c] = Float.NEGATIVE_INFINITY;         // row 4: the target is -Inf
            long[] t = {0, 0, 0, 0, 0};
            CrossEntropy.Result r = CrossEntropy.create().withReduction(Reduction.NONE).withBackend(backend)
                    .forwardBackward(Tensor.of(x, n, c), Tensor.of(t));
            float[] loss = r.loss().toFloatArray(), grad = r.grad().toFloatArray();

            double[] finiteRows = CrossEntropyReference.rowLosses(CrossEntropyReference.toDouble(x), t, n, c);
            assertEquals(finiteRows[0], loss[0], 1e-6, "finite row");
            assertTrue(Float.isNaN(loss[1]) && Float.isNaN(grad[c]) && Float.isNaN(grad[2 * c - 1]), "NaN row is NaN");
            assertTrue(Float.isNaN(loss[2]) && Float.isNaN(grad[2 * c]), "+Inf row is NaN");
            assertEquals(finiteRows[3], loss[3], 1e-6, "-Inf entry has probability 0");
            assertEquals(0f, grad[3 * c + 1], "-Inf entry has gradient 0");
            assertEquals(Float.POSITIVE_INFINITY, loss[4], "-Inf target logit gives +Inf loss");
            assertTrue(Float.isFinite(grad[4 * c + 1]), "and a finite gradient");
        }
        float[] allNegInf = {Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY};
        float mean = CrossEntropy.create().withBackend(backend)
                .forward(Tensor.of(allNegInf, 1, 3), Tensor.of(new long[] {1})).item();
        assertTrue(Float.isNaN(mean), "a row of -Inf is NaN, as in PyTorch");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void largeBatchesRunOnSeveralThreadsWithTheSameResult(Backend backend) {
        int n = 512, c = 3000;
        float[] x = randomLogits(n, c, 6.0, 21);
        long[] t = new SplittableRandom(4).longs(n, 0, c).toArray();
        float loss = CrossEntropy.create().withBackend(backend).forward(Tensor.of(x, n, c), Tensor.of(t)).item();
        double ref = CrossEntropyReference.loss(CrossEntropyReference.toDouble(x), t, n, c, Reduction.MEAN)[0];
        assertEquals(ref, loss, 1e-6 * Math.abs(ref));
    }

    static float[] randomLogits(int n, int c, double spread, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] x = new float[n * c];
        for (int i = 0; i < x.length; i++) x[i] = (float) (random.nextGaussian() * spread);
        return x;
    }
}
