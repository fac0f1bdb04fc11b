package dev.jnce.loss;

import dev.jnce.Reduction;
import dev.jnce.Backend;
import dev.jnce.Tensor;
import dev.jnce.testutil.Approx;
import dev.jnce.testutil.Golden;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.params.provider.Arguments;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.stream.Stream;

import static dev.jnce.testutil.Approx.assertClose;
import static dev.jnce.testutil.Approx.toDouble;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * What the tests of NtXent, ClipLoss and SigLipLoss share: their results as plain arrays, the
 * golden data of pairs.txt, comparisons with it, finite differences of the float64 reference,
 * and agreement between backends.
 */
final class PairLossesSupport {
    static final Map<String, Golden.Case> GOLDEN = Golden.load("/golden/pairs.txt");

    private PairLossesSupport() {
    }

    /** A loss's outputs copied out of its Result: loss values, tensor gradients, scalar gradients. */
    record Outcome(float[] loss, float[][] grads, double[] scalarGrads) {
        static Outcome of(EmbeddingResult r) {
            try (r) {
                return new Outcome(r.loss().toFloatArray(), new float[][] {r.grad().toFloatArray()},
                        new double[] {r.gradTemperature()});
            }
        }

        static Outcome of(PairedResult r) {
            try (r) {
                return new Outcome(r.loss().toFloatArray(), new float[][] {r.gradA().toFloatArray(), r.gradB().toFloatArray()},
                        new double[] {r.gradLogitScale(), r.gradBias()});
            }
        }
    }

    /** The float64 reference as a function of the tensor inputs and the scalar parameters: the loss (summed for NONE). */
    interface Reference {
        double loss(double[][] inputs, double[] scalars);
    }

    /** clip or sigLip of {@link PairLossesReference}. */
    interface TwoTowerReference {
        double[] loss(double[] a, double[] b, int n, int d, double scale, double bias, boolean normalize, Reduction reduction);
    }

    /**
     * Runs loss(a, b) on a two-tower golden case, checks it against pairs.txt and the float64
     * reference against torch's float64 loss; returns the outcome.
     */
    static Outcome assertTwoTowerGolden(Golden.Case g, BiFunction<Tensor, Tensor, PairedResult> loss, TwoTowerReference reference) {
        int n = (int) g.integer("N"), d = (int) g.integer("D");
        float scale = g.floats("scale")[0];
        Outcome o = Outcome.of(loss.apply(Tensor.of(g.floats("a"), n, d), Tensor.of(g.floats("b"), n, d)));
        assertMatchesGolden(g, o, new String[] {"a", "b"}, new String[] {"scale", "bias"}, scale, 5e-7, 1e-6);
        double[] expected = reference.loss(g.doubles("a"), g.doubles("b"), n, d, scale, g.floats("bias")[0], flag(g, "normalize"), reduction(g));
        assertArrayEquals(g.doubles("loss_f64"), expected, 1e-12, "the float64 reference is torch's float64");
        return o;
    }

    /** For @MethodSource: (backend, case) for every backend and every golden case of this kind. */
    static Stream<Arguments> goldenCases(String kind) {
        List<Golden.Case> cases = GOLDEN.values().stream().filter(c -> c.text("kind").equals(kind)).toList();
        return TestBackends.all().stream().flatMap(b -> cases.stream().map(c -> Arguments.of(b, c)));
    }

    static Reduction reduction(Golden.Case g) {
        return Reduction.valueOf(g.text("reduction").toUpperCase());
    }

    static boolean flag(Golden.Case g, String key) {
        return Boolean.parseBoolean(g.text(key));
    }

    /**
     * The outcome against torch's float64 values (tol64) and float32 values (tol32), relative to
     * max(1, |expected|) * magnitude, where magnitude is the largest logit multiplier (1/tau or the scale).
     * A zero row's gradient is 1/eps (1e12) times a sum that cancels, so those cases get 50 times the tolerance
     * (torch's own float32 error there is larger still).
     */
    static void assertMatchesGolden(Golden.Case g, Outcome o, String[] inputs, String[] scalars, double magnitude,
                                    double tol64, double tol32) {
        double m = Math.max(1, magnitude) * (g.name().contains("zero_row") ? 50 : 1);
        assertClose(g.doubles("loss_f64"), o.loss(), tol64 * m, "loss vs float64");
        assertClose(g.doubles("loss"), o.loss(), tol32 * m, "loss vs torch float32");
        for (int k = 0; k < inputs.length; k++) {
            String key = "grad_" + inputs[k];
            assertClose(g.doubles(key + "_f64"), o.grads()[k], tol64 * m, key + " vs float64");
            assertClose(g.doubles(key), o.grads()[k], tol32 * m, key + " vs torch float32");
        }
        for (int k = 0; k < scalars.length; k++) {
            String key = "grad_" + scalars[k];
            float actual = (float) o.scalarGrads()[k];
            assertClose(g.doubles(key + "_f64"), new float[] {actual}, tol64 * m, key + " vs float64");
            assertClose(g.doubles(key), new float[] {actual}, tol32 * m, key + " vs torch float32");
        }
    }

    /** Central differences in double of the reference, for every tensor input and every scalar parameter. */
    static void assertGradientsMatchFiniteDifferences(Outcome o, double[][] inputs, double[] scalars, Reference f,
                                                      double tol, String what) {
        for (int k = 0; k < inputs.length; k++) {
            final int at = k;
            double[] numeric = Approx.finiteDifferences(v -> {
                double[][] in = inputs.clone();
                in[at] = v;
                return f.loss(in, scalars);
            }, inputs[k].clone(), 1e-6);
            assertClose(numeric, o.grads()[k], tol, what + ": d loss / d input " + k);
        }
        double[] numeric = Approx.finiteDifferences(s -> f.loss(inputs, s), scalars.clone(), 1e-6);
        float[] actual = new float[scalars.length];
        for (int k = 0; k < scalars.length; k++) actual[k] = (float) o.scalarGrads()[k];
        assertClose(numeric, actual, tol, what + ": d loss / d scalar parameters");
    }

    /**
     * For sizes where a full finite-difference gradient costs too much: the derivative of the
     * reference along a random direction of all tensor inputs equals the gradient's projection on it.
     */
    static void assertDirectionalDerivative(Outcome o, double[][] inputs, double[] scalars, Reference f, double tol) {
        SplittableRandom random = new SplittableRandom(17);
        double[][] dir = new double[inputs.length][];
        double projected = 0;
        for (int k = 0; k < inputs.length; k++) {
            dir[k] = random.doubles(inputs[k].length, -1, 1).toArray();
            for (int i = 0; i < dir[k].length; i++) projected += dir[k][i] * o.grads()[k][i];
        }
        double h = 1e-6;
        double numeric = (f.loss(shifted(inputs, dir, h), scalars) - f.loss(shifted(inputs, dir, -h), scalars)) / (2 * h);
        assertEquals(numeric, projected, tol * Math.max(1, Math.abs(numeric)), "directional derivative");
    }

    private static double[][] shifted(double[][] x, double[][] dir, double h) {
        double[][] out = new double[x.length][];
        for (int k = 0; k < x.length; k++) {
            out[k] = x[k].clone();
            for (int i = 0; i < out[k].length; i++) out[k][i] += h * dir[k][i];
        }
        return out;
    }

    /** Every backend gives the first backend's outcome within tol (relative to max(1, |value|)); returns that outcome. */
    static Outcome assertBackendsAgree(Function<Backend, Outcome> run, double tol) {
        List<Backend> backends = TestBackends.all();
        Outcome first = run.apply(backends.get(0));
        for (Backend b : backends.subList(1, backends.size())) {
            Outcome o = run.apply(b);
            String who = b + " vs " + backends.get(0);
            assertClose(toDouble(first.loss()), o.loss(), tol, who + ": loss");
            for (int k = 0; k < first.grads().length; k++) {
                assertClose(toDouble(first.grads()[k]), o.grads()[k], tol, who + ": gradient of input " + k);
            }
            for (int k = 0; k < first.scalarGrads().length; k++) {
                assertEquals(first.scalarGrads()[k], o.scalarGrads()[k], tol * Math.max(1, Math.abs(first.scalarGrads()[k])),
                        who + ": gradient of scalar " + k);
            }
        }
        return first;
    }

    /** rows x d standard-normal float32 values. */
    static float[] gaussian(long seed, int rows, int d) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] x = new float[rows * d];
        for (int i = 0; i < x.length; i++) x[i] = (float) random.nextGaussian();
        return x;
    }
}
