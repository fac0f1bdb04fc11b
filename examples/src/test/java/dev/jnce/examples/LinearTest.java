package dev.jnce.examples;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.SplittableRandom;
import java.util.stream.Stream;

import static dev.jnce.testutil.Approx.assertClose;
import static dev.jnce.testutil.Approx.finiteDifferences;
import static dev.jnce.testutil.Approx.toDouble;

/**
 * The demo's Linear layer: forward against a float64 reference, and the gradients of
 * L = sum(r * y) for a fixed random r (so dy = r) against finite differences of that reference.
 */
class LinearTest {
    private static final int N = 5, IN = 7, OUT = 4;

    static Stream<Backend> backends() {
        return TestBackends.backends();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void forwardAndGradientsMatchTheReference(Backend backend) {
        SplittableRandom random = new SplittableRandom(7);
        try (TensorScope scope = TensorScope.open(); Linear linear = new Linear(IN, OUT, random, backend)) {
            double[] x = gaussian(random, N * IN), r = gaussian(random, N * OUT);
            double[] w = toDouble(linear.parameters().get(0).toFloatArray()), b = toDouble(linear.parameters().get(1).toFloatArray());
            Tensor xt = Tensor.of(toFloat(x), N, IN), y = Tensor.zeros(DType.FLOAT32, N, OUT), dx = Tensor.zeros(DType.FLOAT32, N, IN);

            linear.forward(xt, y);
            assertClose(reference(x, w, b), y.toFloatArray(), 1e-5, "y");

            linear.backward(xt, Tensor.of(toFloat(r), N, OUT), dx);
            double h = 1e-3;
            assertClose(finiteDifferences(ww -> loss(x, ww, b, r), w.clone(), h), linear.gradients().get(0).toFloatArray(), 1e-5, "dW");
            assertClose(finiteDifferences(bb -> loss(x, w, bb, r), b.clone(), h), linear.gradients().get(1).toFloatArray(), 1e-5, "db");
            assertClose(finiteDifferences(xx -> loss(xx, w, b, r), x.clone(), h), dx.toFloatArray(), 1e-5, "dx");
        }
    }

    /** y = x W^T + b in double. */
    private static double[] reference(double[] x, double[] w, double[] b) {
        double[] y = new double[N * OUT];
        for (int i = 0; i < N; i++) {
            for (int o = 0; o < OUT; o++) {
                double s = b[o];
                for (int k = 0; k < IN; k++) s += x[i * IN + k] * w[o * IN + k];
                y[i * OUT + o] = s;
            }
        }
        return y;
    }

    private static double loss(double[] x, double[] w, double[] b, double[] r) {
        double[] y = reference(x, w, b);
        double s = 0;
        for (int j = 0; j < y.length; j++) s += r[j] * y[j];
        return s;
    }

    private static double[] gaussian(SplittableRandom random, int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = (float) random.nextGaussian();
        return v;
    }

    private static float[] toFloat(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) f[i] = (float) v[i];
        return f;
    }
}
