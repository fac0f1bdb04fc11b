package dev.jnce.loss;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.testutil.Golden;
import dev.jnce.testutil.ScopedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static dev.jnce.testutil.Approx.assertClose;
import static dev.jnce.testutil.Approx.toDouble;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * LinearCrossEntropy on every host backend: PyTorch's {@code F.cross_entropy(F.linear(h, W, b), y)}
 * (golden data in float32 and float64, every option and reduction), in one block and in several
 * (a partial last one included), against CrossEntropy on the materialised logits, against finite
 * differences of its own loss, and its argument errors.
 */
class LinearCrossEntropyTest extends ScopedTest {
    private static final Map<String, Golden.Case> GOLDEN = Golden.load("/golden/linear_cross_entropy.txt");

    static Stream<Arguments> golden() {
        return onEveryBackend(GOLDEN.values());
    }

    private static Reduction reduction(Golden.Case g) {
        return switch (g.text("reduction")) {
            case "none" -> Reduction.NONE;
            case "sum" -> Reduction.SUM;
            default -> Reduction.MEAN;
        };
    }

    private static LinearCrossEntropy loss(Golden.Case g, Backend backend) {
        LinearCrossEntropy l = LinearCrossEntropy.create().withBackend(backend).withReduction(reduction(g))
                .withIgnoreIndex(g.integer("ignore_index")).withLabelSmoothing(g.floats("label_smoothing")[0])
                .withZLoss(g.floats("z_loss")[0]).withSoftcap(g.floats("softcap")[0]).withLogSumExp(true);
        return g.fields().containsKey("weight") ? l.withWeight(Tensor.of(g.floats("weight"), g.integer("V"))) : l;
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("golden")
    void matchesPyTorchAndTheFloat64Reference(Backend backend, Golden.Case g) {
        int n = (int) g.integer("N"), d = (int) g.integer("D"), v = (int) g.integer("V");
        Tensor h = Tensor.of(g.floats("hidden"), n, d), w = Tensor.of(g.floats("classifier"), v, d);
        Tensor b = g.fields().containsKey("bias") ? Tensor.of(g.floats("bias"), v) : null;
        Tensor y = Tensor.of(g.longs("targets"), n);
        for (long rows : new long[] {0, 1, 4}) { // one block; blocks of one row; of four (a partial last one)
            LinearCrossEntropy l = loss(g, backend).withBlockRows(rows);
            String at = g.name() + " blockRows=" + rows;
            try (LinearCrossEntropy.Result r = l.forwardBackward(h, w, b, y)) {
                float[] lossV = r.loss().toFloatArray();
                assertClose(g.doubles("loss_f64"), lossV, 1e-5, at + " loss vs float64");
                assertClose(g.doubles("loss"), lossV, 1e-4, at + " loss vs torch float32");
                assertClose(g.doubles("grad_hidden_f64"), r.gradHidden().toFloatArray(), 1e-5, at + " gradHidden vs float64");
                assertClose(g.doubles("grad_classifier_f64"), r.gradClassifier().toFloatArray(), 1e-5,
                        at + " gradClassifier vs float64");
                assertClose(g.doubles("grad_hidden"), r.gradHidden().toFloatArray(), 1e-4, at + " gradHidden vs torch");
                if (b != null) assertClose(g.doubles("grad_bias_f64"), r.gradBias().toFloatArray(), 1e-5, at + " gradBias");
                else assertNull(r.gradBias());
                assertClose(g.doubles("lse_f64"), r.lse().toFloatArray(), 1e-5, at + " lse vs float64");
            }
            assertClose(g.doubles("loss_f64"), l.forward(h, w, b, y).toFloatArray(), 1e-5, at + " forward alone");
        }
    }

    /** The fused sweep equals Linear -> CrossEntropy on the (N, V) logits, the same backend's kernels. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void equalsCrossEntropyOnTheMaterialisedLogits(Backend backend) {
        int n = 37, d = 24, v = 301;
        Random rnd = new Random(7);
        float[] hv = gaussians(rnd, n * d, 1f), wv = gaussians(rnd, v * d, 0.3f), bv = gaussians(rnd, v, 1f);
        long[] yv = new long[n];
        for (int i = 0; i < n; i++) yv[i] = i % 5 == 3 ? -100 : rnd.nextInt(v);
        float[] cw = new float[v];
        for (int c = 0; c < v; c++) cw[c] = 0.5f + rnd.nextFloat();
        Tensor h = Tensor.of(hv, n, d), w = Tensor.of(wv, v, d), b = Tensor.of(bv, v), y = Tensor.of(yv, n), weight = Tensor.of(cw, v);
        // logits = h W^T + b in double, then CrossEntropy with the same options
        float[] logits = new float[n * v];
        for (int i = 0; i < n; i++) {
            for (int c = 0; c < v; c++) {
                double s = bv[c];
                for (int k = 0; k < d; k++) s += (double) hv[i * d + k] * wv[c * d + k];
                logits[i * v + c] = (float) s;
            }
        }
        CrossEntropy ce = CrossEntropy.create().withBackend(backend).withWeight(weight).withLabelSmoothing(0.05f)
                .withZLoss(1e-3f);
        CrossEntropy.Result want = ce.forwardBackward(Tensor.of(logits, n, v), y);
        double[] g = toDouble(want.grad().toFloatArray());
        double[] dh = new double[n * d], dw = new double[v * d], db = new double[v];
        for (int i = 0; i < n; i++) {
            for (int c = 0; c < v; c++) {
                double gc = g[i * v + c];
                db[c] += gc;
                for (int k = 0; k < d; k++) {
                    dh[i * d + k] += gc * wv[c * d + k];
                    dw[c * d + k] += gc * hv[i * d + k];
                }
            }
        }
        LinearCrossEntropy l = LinearCrossEntropy.create().withBackend(backend).withWeight(weight).withLabelSmoothing(0.05f)
                .withZLoss(1e-3f).withBlockRows(8);
        try (LinearCrossEntropy.Result r = l.forwardBackward(h, w, b, y)) {
            assertClose(toDouble(want.loss().toFloatArray()), r.loss().toFloatArray(), 2e-5, "loss");
            assertClose(dh, r.gradHidden().toFloatArray(), 2e-5, "gradHidden");
            assertClose(dw, r.gradClassifier().toFloatArray(), 2e-5, "gradClassifier");
            assertClose(db, r.gradBias().toFloatArray(), 2e-5, "gradBias");
        }
        // the into-buffer form writes the same numbers
        Tensor loss = Tensor.zeros(DType.FLOAT32), gh = Tensor.zeros(DType.FLOAT32, n, d), gw = Tensor.zeros(DType.FLOAT32, v, d),
                gb = Tensor.zeros(DType.FLOAT32, v);
        l.forwardBackward(h, w, b, y, loss, gh, gw, gb, null);
        try (LinearCrossEntropy.Result r = l.forwardBackward(h, w, b, y)) {
            assertArrayEquals(r.loss().toFloatArray(), loss.toFloatArray());
            assertArrayEquals(r.gradHidden().toFloatArray(), gh.toFloatArray());
            assertArrayEquals(r.gradClassifier().toFloatArray(), gw.toFloatArray());
            assertArrayEquals(r.gradBias().toFloatArray(), gb.toFloatArray());
        }
    }

    /** Central differences of the loss itself (float32, step 1e-2) agree with the gradients, softcap and z-loss on. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void gradientsMatchFiniteDifferencesOfTheLoss(Backend backend) {
        int n = 5, d = 3, v = 7;
        Random rnd = new Random(11);
        float[] hv = gaussians(rnd, n * d, 1f), wv = gaussians(rnd, v * d, 0.7f), bv = gaussians(rnd, v, 0.5f);
        Tensor y = Tensor.of(new long[] {0, 6, -100, 3, 3}, n);
        LinearCrossEntropy l = LinearCrossEntropy.create().withBackend(backend).withSoftcap(2f).withZLoss(0.05f)
                .withLabelSmoothing(0.1f).withBlockRows(2);
        float[][] grads;
        try (LinearCrossEntropy.Result r = l.forwardBackward(Tensor.of(hv, n, d), Tensor.of(wv, v, d), Tensor.of(bv, v), y)) {
            grads = new float[][] {r.gradHidden().toFloatArray(), r.gradClassifier().toFloatArray(), r.gradBias().toFloatArray()};
        }
        float[][] params = {hv, wv, bv};
        float step = 1e-2f;
        for (int p = 0; p < 3; p++) {
            for (int k = 0; k < params[p].length; k++) {
                float saved = params[p][k];
                params[p][k] = saved + step;
                double up = l.forward(Tensor.of(hv, n, d), Tensor.of(wv, v, d), Tensor.of(bv, v), y).item();
                params[p][k] = saved - step;
                double down = l.forward(Tensor.of(hv, n, d), Tensor.of(wv, v, d), Tensor.of(bv, v), y).item();
                params[p][k] = saved;
                double fd = (up - down) / (2 * step);
                assertEquals(fd, grads[p][k], 2e-3 + 1e-2 * Math.abs(fd), "parameter " + p + " index " + k);
            }
        }
    }

    /** MEAN over no counted row: NaN as PyTorch (or 0 when asked), with zero gradients. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void allIgnoredIsNanOrZeroWithZeroGradients(Backend backend) {
        Tensor h = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2), w = Tensor.of(new float[] {1, 0, 0, 1, 1, 1}, 3, 2);
        Tensor y = Tensor.of(new long[] {-100, -100});
        for (boolean zero : new boolean[] {false, true}) {
            try (LinearCrossEntropy.Result r = LinearCrossEntropy.create().withBackend(backend).withZeroWhenAllIgnored(zero)
                    .forwardBackward(h, w, Tensor.of(new float[] {1, 2, 3}), y)) {
                float value = r.loss().item();
                assertTrue(zero ? value == 0f : Float.isNaN(value), "loss " + value);
                assertArrayEquals(new float[4], r.gradHidden().toFloatArray());
                assertArrayEquals(new float[6], r.gradClassifier().toFloatArray());
                assertArrayEquals(new float[3], r.gradBias().toFloatArray());
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void badArgumentsAreNamedWithTheShapes(Backend backend) {
        LinearCrossEntropy l = LinearCrossEntropy.create().withBackend(backend);
        Tensor h = Tensor.zeros(DType.FLOAT32, 4, 3), w = Tensor.zeros(DType.FLOAT32, 5, 3), y = Tensor.of(new long[] {0, 1, 2, 3});
        assertMessage(() -> l.forward(h, Tensor.zeros(DType.FLOAT32, 5, 2), null, y), "classifier: feature dimension D = 2",
                "(4, 3)", "(5, 2)");
        assertMessage(() -> l.forward(h, Tensor.zeros(DType.FLOAT32, 1, 3), null, y), "classifier: shape (1, 3) has V = 1");
        assertMessage(() -> l.forward(Tensor.zeros(DType.FLOAT32, 0, 3), w, null, Tensor.of(new long[0])), "hidden: empty");
        assertMessage(() -> l.forward(h, w, Tensor.zeros(DType.FLOAT32, 4), y), "bias: expected shape (V) of classifier = (5)",
                "got (4)");
        assertMessage(() -> l.forward(h, w, null, Tensor.of(new long[] {0, 1, 2})), "targets: expected shape (N) of hidden = (4)");
        assertMessage(() -> l.forward(h, w, null, Tensor.of(new long[] {0, 1, 5, 3})), "targets[2] = 5 is outside [0, 5)");
        assertMessage(() -> l.forward(h, w, null, Tensor.of(new long[] {0, -1, 2, 3})), "targets[1] = -1 is outside [0, 5)");
        assertMessage(() -> l.forward(h, w, null, Tensor.of(new float[] {0, 1, 2, 3})), "targets: expected");
        assertMessage(() -> l.forward(null, w, null, y), "hidden: must not be null");
        assertMessage(() -> l.withWeight(Tensor.of(new float[] {1, 1, Float.NaN, 1, 1})).forward(h, w, null, y),
                "weight[2] = NaN is not finite");
        assertMessage(() -> l.withWeight(Tensor.of(new float[] {1, 1})).forward(h, w, null, y), "weight: expected shape (V)");
        assertMessage(() -> l.withSoftcap(-1f), "softcap: -1.0");
        assertMessage(() -> l.withSoftcap(Float.NaN), "softcap: NaN");
        assertMessage(() -> l.withBlockRows(-2), "blockRows: -2");
        Tensor loss = Tensor.zeros(DType.FLOAT32), gh = Tensor.zeros(DType.FLOAT32, 4, 3), gw = Tensor.zeros(DType.FLOAT32, 5, 3);
        assertMessage(() -> l.forwardBackward(h, w, null, y, loss, gh, null, null, null), "gradClassifier: null while");
        assertMessage(() -> l.forwardBackward(h, w, Tensor.zeros(DType.FLOAT32, 5), y, loss, gh, gw, null, null), "gradBias: null");
        assertMessage(() -> l.forwardBackward(h, w, null, y, loss, gh, Tensor.zeros(DType.FLOAT32, 3, 5), null, null),
                "gradClassifier: expected shape (V, D) of classifier = (5, 3)", "got (3, 5)");
        // an output over an input is refused by name, before anything runs
        assertMessage(() -> l.forwardBackward(h, w, null, y, loss, h, gw, null, null), "gradHidden", "hidden");
    }

    @Test
    void defaultBlocksHoldAbout64MiBOfLogitsInMultiplesOf64Rows() {
        LinearCrossEntropy l = LinearCrossEntropy.create();
        assertEquals(512, l.blockRows(4096, 32000));       // 524 fit in 64 MiB
        assertEquals(128, l.blockRows(16384, 128000));     // 131 fit
        assertEquals(300, l.blockRows(300, 32000));        // all of N
        assertEquals(16, l.blockRows(100, 1L << 20));      // 16 fit: fewer than 64 stay as they are
        assertEquals(1, l.blockRows(100, 1L << 25));       // a row of 128 MiB: one row at a time
        assertEquals(256, l.withSoftcap(30f).blockRows(4096, 32000)); // logits and their gradient: 262 fit
        assertEquals(100, l.withBlockRows(100).blockRows(4096, 32000));
        assertEquals(7, l.withBlockRows(100).blockRows(7, 32000));
        assertEquals(0, l.blockRows(0, 10));
        assertMessage(() -> l.blockRows(-1, 10), "N = -1");
        assertMessage(() -> l.blockRows(10, 0), "V = 0");
    }

    private static void assertMessage(org.junit.jupiter.api.function.Executable call, String... parts) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        for (String p : parts) assertTrue(e.getMessage().contains(p), "'" + p + "' not in: " + e.getMessage());
    }

    private static float[] gaussians(Random rnd, int count, float scale) {
        float[] x = new float[count];
        for (int i = 0; i < count; i++) x[i] = (float) (scale * rnd.nextGaussian());
        return x;
    }
}
