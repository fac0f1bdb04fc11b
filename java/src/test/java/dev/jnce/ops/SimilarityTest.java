package dev.jnce.ops;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.testutil.Approx;
import dev.jnce.testutil.Golden;
import dev.jnce.testutil.ScopedTest;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Map;
import java.util.stream.Stream;

import static dev.jnce.testutil.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Normalize, Similarity (dot and cosine matrices) and CosineSimilarity on every backend
 * against PyTorch's golden data, a float64 reference, finite differences of that reference in
 * double, and the other backends. Mining is in HardNegativesTest, bad input in
 * SimilarityArgumentsTest.
 */
class SimilarityTest extends ScopedTest {
    private static final Map<String, Golden.Case> GOLDEN = Golden.load("/golden/similarity.txt");
    static Stream<Arguments> golden(String... ops) {
        return TestBackends.all().stream().flatMap(b -> GOLDEN.values().stream()
                .filter(c -> java.util.Arrays.asList(ops).contains(c.text("op"))).map(c -> Arguments.of(b, c)));
    }

    static Stream<Arguments> normalizeCases() {
        return golden("normalize");
    }

    static Stream<Arguments> matrixCases() {
        return golden("dot", "cosine");
    }

    static Stream<Arguments> rowCosineCases() {
        return golden("cosine_similarity");
    }

    /** Compares against torch float64 (tight, relative) and torch float32 (looser). */
    private static void assertGolden(Golden.Case g, String key, float[] got, double tol) {
        assertClose(g.doubles(key + "_f64"), got, tol, g.name() + " " + key + " vs float64");
        assertClose(g.doubles(key), got, 4 * tol, g.name() + " " + key + " vs torch float32");
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("normalizeCases")
    void normalizeMatchesPyTorch(Backend backend, Golden.Case g) {
        int n = (int) g.integer("N"), d = (int) g.integer("D");
        Normalize op = Normalize.create().withEps(Double.parseDouble(g.text("eps"))).withBackend(backend);
        Tensor x = Tensor.of(g.floats("x"), n, d);
        assertGolden(g, "y", op.forward(x).toFloatArray(), 1e-6);
        assertGolden(g, "dx", op.backward(x, Tensor.of(g.floats("dy"), n, d)).toFloatArray(), 1e-6);
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("matrixCases")
    void similarityMatricesMatchPyTorch(Backend backend, Golden.Case g) {
        int n = (int) g.integer("N"), m = (int) g.integer("M"), d = (int) g.integer("D");
        float scale = Float.parseFloat(g.text("scale"));
        Similarity sim = (g.text("op").equals("cosine") ? Similarity.cosine() : Similarity.dot())
                .withScale(scale).withBackend(backend);
        Tensor a = Tensor.of(g.floats("a"), n, d), b = Tensor.of(g.floats("b"), m, d);
        double tol = 2e-6 * Math.max(1, scale); // float32 rounding grows with the scale
        assertGolden(g, "S", sim.forward(a, b).toFloatArray(), tol);
        Gradients grads = sim.backward(a, b, Tensor.of(g.floats("dS"), n, m));
        assertGolden(g, "dA", grads.dA().toFloatArray(), tol);
        assertGolden(g, "dB", grads.dB().toFloatArray(), tol);
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("rowCosineCases")
    void rowCosineSimilarityMatchesPyTorch(Backend backend, Golden.Case g) {
        int n = (int) g.integer("N"), d = (int) g.integer("D");
        CosineSimilarity op = CosineSimilarity.create().withEps(Double.parseDouble(g.text("eps"))).withBackend(backend);
        Tensor x1 = Tensor.of(g.floats("x1"), n, d), x2 = Tensor.of(g.floats("x2"), n, d);
        assertGolden(g, "out", op.forward(x1, x2).toFloatArray(), 1e-6);
        // gradients of rows with a clamped norm are ~1e8: compare relative to their size
        Gradients grads = op.backward(x1, x2, Tensor.of(g.floats("dOut")));
        assertGolden(g, "dx1", grads.dA().toFloatArray(), 2e-6);
        assertGolden(g, "dx2", grads.dB().toFloatArray(), 2e-6);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void normalizeGradientMatchesFiniteDifferences(Backend backend) {
        int n = 4, d = 6;
        float[] x = SimilarityReference.random(n * d, 1), dy = SimilarityReference.random(n * d, 2);
        x[6] = 1e-3f; // a short row, still above eps
        float[] got = Normalize.create().withBackend(backend).backward(Tensor.of(x, n, d), Tensor.of(dy, n, d))
                .toFloatArray();
        double[] numeric = Approx.finiteDifferences(v -> SimilarityReference.weighted(
                SimilarityReference.normalize(v, n, d, 1e-12), dy), SimilarityReference.toDouble(x), 1e-7);
        assertClose(numeric, got, 1e-5, "d(dy . normalize(x))/dx");
    }

    static Stream<Arguments> kinds() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(true, false).map(c -> Arguments.of(b, c)));
    }

    @ParameterizedTest(name = "{0} cosine={1}")
    @MethodSource("kinds")
    void similarityGradientsMatchFiniteDifferences(Backend backend, boolean cosine) {
        int n = 3, m = 5, d = 4;
        float scale = 2.5f;
        float[] a = SimilarityReference.random(n * d, 3), b = SimilarityReference.random(m * d, 4);
        float[] ds = SimilarityReference.random(n * m, 5);
        Similarity sim = (cosine ? Similarity.cosine() : Similarity.dot()).withScale(scale).withBackend(backend);
        Gradients g = sim.backward(Tensor.of(a, n, d), Tensor.of(b, m, d), Tensor.of(ds, n, m));
        double[] bd = SimilarityReference.toDouble(b), ad = SimilarityReference.toDouble(a);
        double[] numA = Approx.finiteDifferences(v -> SimilarityReference.weighted(
                SimilarityReference.matrix(v, bd, n, m, d, scale, cosine, 1e-12), ds), ad.clone(), 1e-7);
        double[] numB = Approx.finiteDifferences(v -> SimilarityReference.weighted(
                SimilarityReference.matrix(ad, v, n, m, d, scale, cosine, 1e-12), ds), bd.clone(), 1e-7);
        assertClose(numA, g.dA().toFloatArray(), 1e-5, "dA");
        assertClose(numB, g.dB().toFloatArray(), 1e-5, "dB");
        double[] s = SimilarityReference.matrix(ad, bd, n, m, d, scale, cosine, 1e-12);
        assertClose(s, sim.forward(Tensor.of(a, n, d), Tensor.of(b, m, d)).toFloatArray(), 2e-6, "S vs float64");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void rowCosineGradientsMatchFiniteDifferences(Backend backend) {
        int n = 5, d = 7;
        float[] x1 = SimilarityReference.random(n * d, 6), x2 = SimilarityReference.random(n * d, 7);
        float[] up = SimilarityReference.random(n, 8);
        Gradients g = CosineSimilarity.create().withBackend(backend)
                .backward(Tensor.of(x1, n, d), Tensor.of(x2, n, d), Tensor.of(up));
        double[] d1 = SimilarityReference.toDouble(x1), d2 = SimilarityReference.toDouble(x2);
        assertClose(Approx.finiteDifferences(v -> SimilarityReference.weighted(
                SimilarityReference.rowCosine(v, d2, n, d, 1e-8), up), d1.clone(), 1e-7), g.dA().toFloatArray(), 1e-5, "dx1");
        assertClose(Approx.finiteDifferences(v -> SimilarityReference.weighted(
                SimilarityReference.rowCosine(d1, v, n, d, 1e-8), up), d2.clone(), 1e-7), g.dB().toFloatArray(), 1e-5, "dx2");
        assertClose(SimilarityReference.rowCosine(d1, d2, n, d, 1e-8),
                Similarity.cosineSimilarity(Tensor.of(x1, n, d), Tensor.of(x2, n, d)).toFloatArray(), 1e-6, "shortcut");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void agreesWithTheOtherBackendsOnLargerShapes(Backend backend) {
        int n = 130, m = 300, d = 96;
        Tensor a = Tensor.of(SimilarityReference.random(n * d, 9), n, d);
        Tensor b = Tensor.of(SimilarityReference.random(m * d, 10), m, d);
        Tensor ds = Tensor.of(SimilarityReference.random(n * m, 11), n, m);
        Similarity mine = Similarity.cosine().withScale(10f).withBackend(backend);
        Gradients g = mine.backward(a, b, ds);
        for (Backend other : TestBackends.all()) {
            Similarity theirs = Similarity.cosine().withScale(10f).withBackend(other);
            String what = backend + " vs " + other;
            assertClose(SimilarityReference.toDouble(theirs.forward(a, b).toFloatArray()), mine.forward(a, b).toFloatArray(),
                    1e-5, what + " S");
            Gradients t = theirs.backward(a, b, ds);
            assertClose(SimilarityReference.toDouble(t.dA().toFloatArray()), g.dA().toFloatArray(), 1e-5, what + " dA");
            assertClose(SimilarityReference.toDouble(t.dB().toFloatArray()), g.dB().toFloatArray(), 1e-5, what + " dB");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void callerBuffersInPlaceAndSkippedGradients(Backend backend) {
        int n = 4, m = 3, d = 5;
        float[] a = SimilarityReference.random(n * d, 12), b = SimilarityReference.random(m * d, 13);
        Tensor ta = Tensor.of(a, n, d), tb = Tensor.of(b, m, d), ds = Tensor.of(SimilarityReference.random(n * m, 14), n, m);
        Similarity sim = Similarity.cosine().withBackend(backend);
        Tensor s = Tensor.zeros(DType.FLOAT32, n, m);
        sim.forward(ta, tb, s);
        assertClose(SimilarityReference.toDouble(sim.forward(ta, tb).toFloatArray()), s.toFloatArray(), 0, "into s");
        Tensor dA = Tensor.zeros(DType.FLOAT32, n, d);
        sim.backward(ta, tb, ds, dA, null); // key gradient skipped
        assertClose(SimilarityReference.toDouble(sim.backward(ta, tb, ds).dA().toFloatArray()), dA.toFloatArray(), 0, "dA");

        Normalize norm = Normalize.create().withBackend(backend);
        Tensor y = norm.forward(ta);
        norm.forward(ta, ta); // in place
        assertClose(SimilarityReference.toDouble(y.toFloatArray()), ta.toFloatArray(), 0, "normalize in place");
        double[] rows = new double[n];
        float[] yv = y.toFloatArray();
        for (int i = 0; i < n; i++) for (int j = 0; j < d; j++) rows[i] += yv[i * d + j] * yv[i * d + j];
        for (double r : rows) assertEquals(1.0, r, 1e-6);
        Tensor x3 = Tensor.of(SimilarityReference.random(24, 15), 2, 3, 4); // rank 3: over the last dim
        assertClose(SimilarityReference.normalize(SimilarityReference.toDouble(x3.toFloatArray()), 6, 4, 1e-12),
                norm.forward(x3).toFloatArray(), 1e-6, "rank 3");
    }

    /** CosineSimilarity's forward and backward into the caller's tensors equal the allocating forms; a skipped gradient is skipped. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void rowCosineIntoTheCallersTensors(Backend backend) {
        int n = 9, d = 6;
        Tensor x1 = Tensor.of(SimilarityReference.random(n * d, 16), n, d), x2 = Tensor.of(SimilarityReference.random(n * d, 17), n, d);
        Tensor up = Tensor.of(SimilarityReference.random(n, 18));
        CosineSimilarity op = CosineSimilarity.create().withBackend(backend);
        Tensor out = Tensor.zeros(DType.FLOAT32, n);
        op.forward(x1, x2, out);
        assertClose(SimilarityReference.toDouble(op.forward(x1, x2).toFloatArray()), out.toFloatArray(), 0, "out");
        assertClose(SimilarityReference.rowCosine(SimilarityReference.toDouble(x1.toFloatArray()),
                SimilarityReference.toDouble(x2.toFloatArray()), n, d, 1e-8), out.toFloatArray(), 1e-6, "out vs float64");
        Gradients g = op.backward(x1, x2, up);
        Tensor dx1 = Tensor.of(new float[n * d], n, d), dx2 = Tensor.of(new float[n * d], n, d);
        op.backward(x1, x2, up, dx1, dx2);
        assertClose(SimilarityReference.toDouble(g.dA().toFloatArray()), dx1.toFloatArray(), 0, "dx1");
        assertClose(SimilarityReference.toDouble(g.dB().toFloatArray()), dx2.toFloatArray(), 0, "dx2");
        Tensor only2 = Tensor.of(new float[n * d], n, d);
        op.backward(x1, x2, up, null, only2);
        assertClose(SimilarityReference.toDouble(g.dB().toFloatArray()), only2.toFloatArray(), 0, "dx2 alone");
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> op.backward(x1, x2, up, dx1, dx1));
        assertTrue(e.getMessage().contains("dx2: shares memory with dx1"), e.getMessage());
        e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> op.forward(x1, x2, Tensor.zeros(DType.FLOAT32, n + 1)));
        assertTrue(e.getMessage().contains("out: expected shape (N) = (9)"), e.getMessage());
    }
}
