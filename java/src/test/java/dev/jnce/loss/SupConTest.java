package dev.jnce.loss;

import dev.jnce.Reduction;
import dev.jnce.testutil.Reductions;
import dev.jnce.Backend;
import dev.jnce.Tensor;
import dev.jnce.testutil.Approx;
import dev.jnce.testutil.ScopedTest;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.SplittableRandom;
import java.util.stream.Stream;

import static dev.jnce.loss.CrossEntropyArgumentsTest.assertMessage;
import static dev.jnce.testutil.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The one-tensor several-positives form, {@link InfoNce#forwardBackwardLabels(Tensor, Tensor)}
 * (SupCon's L_out), on every backend: against a float64 reference written from the definition,
 * its finite differences (embeddings and tau), NT-Xent when every label has exactly two rows,
 * and rows whose label no other row shares.
 */
class SupConTest extends ScopedTest {
    private static final int D = 5;

    static Stream<Arguments> cases() {
        return dev.jnce.testutil.TestBackends.all().stream().flatMap(b -> Stream.of(Reductions.all()).flatMap(r ->
                Stream.of(Arguments.of(b, r, true), Arguments.of(b, r, false))));
    }

    @ParameterizedTest(name = "{0} {1} normalize={2}")
    @MethodSource("cases")
    void matchesTheFloat64DefinitionAndItsFiniteDifferences(Backend backend, Reduction reduction, boolean normalize) {
        long[] labels = {0, 1, 0, 2, 1, 0, 2, 1};
        int n = labels.length;
        float tau = 0.4f;
        float[] f = gaussian(n * D, 9);
        InfoNce loss = InfoNce.create().withTemperature(tau).withNormalize(normalize).withReduction(reduction).withBackend(backend);
        try (EmbeddingResult r = loss.forwardBackwardLabels(Tensor.of(f, n, D), Tensor.of(labels))) {
            double[] fd = Approx.toDouble(f);
            assertClose(supCon(fd, labels, tau, normalize, reduction), r.loss().toFloatArray(), 1e-6, "loss");
            double[] grad = Approx.finiteDifferences(x -> sum(supCon(x, labels, tau, normalize, reduction)), fd, 1e-6);
            assertClose(grad, r.grad().toFloatArray(), 1e-5, "d loss / d embeddings");
            double h = 1e-6, dTau = (sum(supCon(fd, labels, tau + h, normalize, reduction))
                    - sum(supCon(fd, labels, tau - h, normalize, reduction))) / (2 * h);
            assertEquals(dTau, r.gradTemperature(), 1e-5 * Math.max(1, Math.abs(dTau)), "d loss / d tau");
        }
    }

    /** Two rows per label, one view of each sample in each half: exactly NT-Xent (symmetric kernel vs general path). */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void twoRowsPerLabelIsNtXent(Backend backend) {
        int n = 140; // 70 samples: crosses the symmetric kernel's 64-wide tiles
        long[] labels = new long[n];
        for (int i = 0; i < n; i++) labels[i] = i % (n / 2);
        Tensor f = Tensor.of(gaussian(n * D, 4), n, D);
        try (EmbeddingResult sup = InfoNce.create().withTemperature(0.2f).withBackend(backend).forwardBackwardLabels(f, Tensor.of(labels));
             EmbeddingResult nt = NtXent.create().withTemperature(0.2f).withBackend(backend).forwardBackward(f)) {
            assertClose(Approx.toDouble(nt.loss().toFloatArray()), sup.loss().toFloatArray(), 1e-6, "loss");
            assertClose(Approx.toDouble(nt.grad().toFloatArray()), sup.grad().toFloatArray(), 1e-6, "gradient");
            assertEquals(nt.gradTemperature(), sup.gradTemperature(), 1e-5 * Math.max(1, Math.abs(nt.gradTemperature())), "tau");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void aLabelNoOtherRowSharesIsAnErrorOrSkipped(Backend backend) {
        long[] labels = {4, 7, 4, 7, 9};
        Tensor f = Tensor.of(gaussian(5 * D, 2), 5, D);
        InfoNce loss = InfoNce.create().withBackend(backend);
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackwardLabels(f, Tensor.of(labels)),
                "labels: row 4 has no positive", "(itself excluded)");
        try (EmbeddingResult r = loss.withReduction(Reduction.NONE).withRowsWithoutPositive(InfoNce.RowsWithoutPositive.SKIP)
                .forwardBackwardLabels(f, Tensor.of(labels))) {
            assertEquals(0f, r.loss().toFloatArray()[4], "the skipped row");
        }
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackwardLabels(f, Tensor.of(new long[] {1, 1})),
                "labels", "(2)");
    }

    /** SupCon L_out per row (or reduced) in float64. */
    static double[] supCon(double[] f, long[] labels, double tau, boolean normalize, Reduction reduction) {
        int n = labels.length;
        double[] z = InfoNceReference.prep(f, D, normalize);
        double[] rows = new double[n];
        int counted = 0;
        for (int i = 0; i < n; i++) {
            double m = Double.NEGATIVE_INFINITY;
            double[] s = new double[n];
            for (int j = 0; j < n; j++) {
                double dot = 0;
                for (int k = 0; k < D; k++) dot += z[i * D + k] * z[j * D + k];
                s[j] = dot / tau;
                if (j != i) m = Math.max(m, s[j]);
            }
            double sum = 0;
            for (int j = 0; j < n; j++) if (j != i) sum += Math.exp(s[j] - m);
            double lse = m + Math.log(sum), total = 0;
            int positives = 0;
            for (int j = 0; j < n; j++) {
                if (j != i && labels[j] == labels[i]) {
                    total += lse - s[j];
                    positives++;
                }
            }
            rows[i] = total / positives;
            counted++;
        }
        if (reduction == Reduction.NONE) return rows;
        double t = 0;
        for (double v : rows) t += v;
        return new double[] {reduction == Reduction.MEAN ? t / counted : t};
    }

    private static double sum(double[] v) {
        double t = 0;
        for (double x : v) t += x;
        return t;
    }

    private static float[] gaussian(int size, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] out = new float[size];
        for (int i = 0; i < size; i++) out[i] = (float) random.nextGaussian();
        return out;
    }
}
