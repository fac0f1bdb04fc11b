package dev.jnce.ops;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.testutil.Golden;
import dev.jnce.testutil.ScopedTest;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Scaled dot-product attention on every host backend against float64 golden data from PyTorch's
 * autograd (golden_attention.py: the definition written out, since PyTorch 1.13 has no
 * F.scaled_dot_product_attention), finite differences of jnce's own forward, rows without keys in
 * both modes, the rank-3 form, and bad input.
 */
class ScaledDotProductAttentionTest extends ScopedTest {
    private static final Map<String, Golden.Case> GOLDEN = Golden.load("/golden/attention.txt");

    static Stream<Arguments> goldenCases() {
        return TestBackends.all().stream().flatMap(b -> GOLDEN.values().stream().map(c -> Arguments.of(b, c)));
    }

    private static void assertClose(double[] expected, float[] actual, double tol, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i];
            if (Double.isInfinite(e) || Double.isNaN(e)) {
                assertEquals(e, actual[i], what + "[" + i + "]");
                continue;
            }
            assertEquals(e, actual[i], tol * (1 + Math.abs(e)), what + "[" + i + "]");
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("goldenCases")
    void matchesPyTorchsFloat64Autograd(Backend backend, Golden.Case g) {
        long[] n = g.longs("dims"); // B H L S d dv
        Tensor q = Tensor.of(g.floats("q"), n[0], n[1], n[2], n[4]), k = Tensor.of(g.floats("k"), n[0], n[1], n[3], n[4]);
        Tensor v = Tensor.of(g.floats("v"), n[0], n[1], n[3], n[5]), up = Tensor.of(g.floats("grad_output"), n[0], n[1], n[2], n[5]);
        Tensor mask = g.text("key_mask").equals("none") ? null : Tensor.of(toInts(g.longs("key_mask")), n[0], n[3]);
        Tensor bias = g.text("attn_mask").equals("none") ? null : Tensor.of(g.floats("attn_mask"), n[2], n[3]);
        ScaledDotProductAttention op = ScaledDotProductAttention.create().withCausal(g.integer("causal") == 1).withBackend(backend);
        if (!g.text("scale").equals("default")) op = op.withScale(g.floats("scale")[0]);
        try (ScaledDotProductAttention.Result r = op.forward(q, k, v, mask, bias);
             ScaledDotProductAttention.Gradients d = op.backward(q, k, v, mask, bias, r, up)) {
            assertClose(g.doubles("output"), r.output().toFloatArray(), 2e-5, "output");
            assertClose(g.doubles("lse"), r.logSumExp().toFloatArray(), 2e-5, "log-sum-exp");
            assertClose(g.doubles("grad_q"), d.gradQuery().toFloatArray(), 5e-5, "d query");
            assertClose(g.doubles("grad_k"), d.gradKey().toFloatArray(), 5e-5, "d key");
            assertClose(g.doubles("grad_v"), d.gradValue().toFloatArray(), 5e-5, "d value");
        }
    }

    private static Tensor ints(int[] values, long... shape) {
        return Tensor.of(values, shape);
    }

    private static int[] toInts(long[] v) {
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) out[i] = (int) v[i];
        return out;
    }

    private static float[] gaussian(long seed, int n) {
        Random r = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    /** loss = sum(up ∘ out): its central differences in q, k and v against the backward. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void gradientsMatchFiniteDifferences(Backend backend) {
        finiteDifferences(backend, 3, 2, null);
    }

    /** The same with a float attention mask (values and one -Infinity), and d = dv = 16 (the AVX-512 tiles on cpu). */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void gradientsMatchFiniteDifferencesWithAFloatMask(Backend backend) {
        float[] bias = gaussian(12, 3 * 4);
        bias[5] = Float.NEGATIVE_INFINITY;
        finiteDifferences(backend, 16, 16, Tensor.of(bias, 3, 4));
    }

    private static void finiteDifferences(Backend backend, int d, int e, Tensor bias) {
        int b = 1, h = 2, l = 3, s = 4;
        float[][] in = {gaussian(1, b * h * l * d), gaussian(2, b * h * s * d), gaussian(3, b * h * s * e)};
        long[][] shapes = {{b, h, l, d}, {b, h, s, d}, {b, h, s, e}};
        float[] up = gaussian(4, b * h * l * e);
        Tensor mask = ints(new int[] {1, 0, 1, 1}, b, s);
        ScaledDotProductAttention op = ScaledDotProductAttention.create().withCausal(true).withBackend(backend);
        float[][] grads;
        try (ScaledDotProductAttention.Result r = op.forward(Tensor.of(in[0], shapes[0]), Tensor.of(in[1], shapes[1]),
                Tensor.of(in[2], shapes[2]), mask, bias);
             ScaledDotProductAttention.Gradients g = op.backward(Tensor.of(in[0], shapes[0]), Tensor.of(in[1], shapes[1]),
                     Tensor.of(in[2], shapes[2]), mask, bias, r, Tensor.of(up, b, h, l, e))) {
            grads = new float[][] {g.gradQuery().toFloatArray(), g.gradKey().toFloatArray(), g.gradValue().toFloatArray()};
        }
        double step = 1e-2;
        for (int t = 0; t < 3; t++) {
            for (int i = 0; i < in[t].length; i++) {
                float keep = in[t][i];
                in[t][i] = (float) (keep + step);
                double plus = weighted(op, in, shapes, mask, bias, up);
                in[t][i] = (float) (keep - step);
                double minus = weighted(op, in, shapes, mask, bias, up);
                in[t][i] = keep;
                assertEquals((plus - minus) / (2 * step), grads[t][i], 2e-3, "tensor " + t + " element " + i);
            }
        }
    }

    private static double weighted(ScaledDotProductAttention op, float[][] in, long[][] shapes, Tensor mask, Tensor bias,
                                   float[] up) {
        try (ScaledDotProductAttention.Result r = op.forward(Tensor.of(in[0], shapes[0]), Tensor.of(in[1], shapes[1]),
                Tensor.of(in[2], shapes[2]), mask, bias)) {
            float[] out = r.output().toFloatArray();
            double sum = 0;
            for (int i = 0; i < out.length; i++) sum += (double) up[i] * out[i];
            return sum;
        }
    }

    /** Batch 0's keys are all masked: NaN as PyTorch by default, 0 and no gradient when asked. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void rowsWithoutKeysAreNaNAsPyTorchOrZeroWhenAsked(Backend backend) {
        int b = 2, h = 1, l = 2, s = 3, d = 2;
        Tensor q = Tensor.of(gaussian(5, b * l * d), b, h, l, d), k = Tensor.of(gaussian(6, b * s * d), b, h, s, d);
        Tensor v = Tensor.of(gaussian(7, b * s * d), b, h, s, d), up = Tensor.of(gaussian(8, b * l * d), b, h, l, d);
        Tensor mask = ints(new int[] {0, 0, 0, 1, 1, 1}, b, s);
        ScaledDotProductAttention nan = ScaledDotProductAttention.create().withBackend(backend);
        try (ScaledDotProductAttention.Result r = nan.forward(q, k, v, mask); ScaledDotProductAttention.Gradients g = nan.backward(q, k, v, mask, r, up)) {
            float[] out = r.output().toFloatArray(), dk = g.gradKey().toFloatArray();
            for (int i = 0; i < l * d; i++) assertTrue(Float.isNaN(out[i]), "batch 0 output NaN");
            for (int i = l * d; i < 2 * l * d; i++) assertTrue(Float.isFinite(out[i]), "batch 1 untouched");
            for (int i = 0; i < s * d; i++) assertTrue(Float.isNaN(dk[i]), "batch 0's key gradient NaN, as autograd gives");
            assertEquals(Float.NEGATIVE_INFINITY, r.logSumExp().toFloatArray()[0]);
        }
        ScaledDotProductAttention zero = nan.withZeroForMaskedRows(true);
        try (ScaledDotProductAttention.Result r = zero.forward(q, k, v, mask); ScaledDotProductAttention.Gradients g = zero.backward(q, k, v, mask, r, up);
             ScaledDotProductAttention.Result r1 = nan.forward(q, k, v, mask)) {
            float[] out = r.output().toFloatArray(), dq = g.gradQuery().toFloatArray(), dk = g.gradKey().toFloatArray();
            float[] dv = g.gradValue().toFloatArray(), ref = r1.output().toFloatArray();
            for (int i = 0; i < l * d; i++) assertEquals(0f, out[i]);
            for (int i = 0; i < l * d; i++) assertEquals(0f, dq[i]);
            for (int i = 0; i < s * d; i++) assertEquals(0f, dk[i]);
            for (int i = 0; i < s * d; i++) assertEquals(0f, dv[i]);
            for (int i = l * d; i < 2 * l * d; i++) assertEquals(ref[i], out[i], "the other batch is unchanged");
        }
    }

    /** A float-mask row of -Infinity has no key (NaN, or 0 when asked); a finite value shifts its score. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void aFloatMaskAddsToTheScoresAndMinusInfinityHidesAKey(Backend backend) {
        int l = 2, s = 3, d = 2;
        float[] qv = gaussian(13, l * d), kv = gaussian(14, s * d), vv = gaussian(15, s * d);
        float none = Float.NEGATIVE_INFINITY;
        Tensor q = Tensor.of(qv, 1, 1, l, d), k = Tensor.of(kv, 1, 1, s, d), v = Tensor.of(vv, 1, 1, s, d);
        Tensor bias = Tensor.of(new float[] {none, none, none, 0.5f, -1f, none}, l, s);
        ScaledDotProductAttention op = ScaledDotProductAttention.create().withBackend(backend);
        double scale = 1 / Math.sqrt(d), s0 = scale * (qv[2] * kv[0] + qv[3] * kv[1]) + 0.5, s1 = scale * (qv[2] * kv[2] + qv[3] * kv[3]) - 1;
        double p0 = 1 / (1 + Math.exp(s1 - s0)), p1 = 1 - p0;
        try (ScaledDotProductAttention.Result r = op.forward(q, k, v, null, bias);
             ScaledDotProductAttention.Result z = op.withZeroForMaskedRows(true).forward(q, k, v, null, bias)) {
            float[] out = r.output().toFloatArray(), zero = z.output().toFloatArray();
            for (int c = 0; c < d; c++) {
                assertTrue(Float.isNaN(out[c]), "row 0 has no key: NaN as PyTorch");
                assertEquals(0f, zero[c], "row 0 has no key: 0 when asked");
                assertEquals(p0 * vv[c] + p1 * vv[d + c], out[d + c], 1e-5, "row 1: softmax of the shifted scores");
                assertEquals(out[d + c], zero[d + c], "row 1 is the same either way");
            }
            assertEquals(Float.NEGATIVE_INFINITY, r.logSumExp().toFloatArray()[0]);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void aRank3TensorIsOneHead(Backend backend) {
        int b = 2, l = 5, s = 6, d = 4;
        float[] q = gaussian(9, b * l * d), k = gaussian(10, b * s * d), v = gaussian(11, b * s * d);
        ScaledDotProductAttention op = ScaledDotProductAttention.create().withCausal(true).withBackend(backend);
        try (ScaledDotProductAttention.Result three = op.forward(Tensor.of(q, b, l, d), Tensor.of(k, b, s, d), Tensor.of(v, b, s, d));
             ScaledDotProductAttention.Result four = op.forward(Tensor.of(q, b, 1, l, d), Tensor.of(k, b, 1, s, d), Tensor.of(v, b, 1, s, d))) {
            assertEquals(3, three.output().rank());
            assertEquals(java.util.Arrays.toString(four.output().toFloatArray()), java.util.Arrays.toString(three.output().toFloatArray()));
        }
    }

    @Test
    void badInputIsNamedWithTheShapes() {
        ScaledDotProductAttention op = ScaledDotProductAttention.create();
        Tensor q = Tensor.zeros(DType.FLOAT32, 2, 3, 4, 8), k = Tensor.zeros(DType.FLOAT32, 2, 3, 5, 8), v = Tensor.zeros(DType.FLOAT32, 2, 3, 5, 6);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> op.forward(q, Tensor.zeros(DType.FLOAT32, 2, 3, 5, 7), v));
        assertEquals("key: expected shape (B, H, S, d) = (2, 3, S, 8) to match query (2, 3, 4, 8), got (2, 3, 5, 7)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> op.forward(q, k, Tensor.zeros(DType.FLOAT32, 2, 3, 4, 6)));
        assertEquals("value: expected shape (B, H, S, dv) = (2, 3, 5, dv) to match key (2, 3, 5, 8), got (2, 3, 4, 6)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> op.forward(Tensor.zeros(DType.FLOAT32, 2, 3, 0, 8), k, v));
        assertTrue(e.getMessage().startsWith("query, key, value: every size must be >= 1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> op.forward(q, k, v, Tensor.zeros(DType.INT32, 2, 4)));
        assertEquals("keyMask: expected shape (B, S) of key = (2, 5), got (2, 4)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> op.forward(q, k, v, Tensor.zeros(DType.FLOAT32, 2, 5)));
        assertTrue(e.getMessage().startsWith("keyMask: expected int32"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> op.forward(q, k, v, null, Tensor.zeros(DType.FLOAT32, 5, 4)));
        assertEquals("attnMask: expected shape (L, S) of query and key = (4, 5), got (5, 4)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> op.forward(q, k, v, null, Tensor.zeros(DType.INT32, 4, 5)));
        assertTrue(e.getMessage().startsWith("attnMask: expected float32"), e.getMessage());
        for (float wrong : new float[] {Float.NaN, Float.POSITIVE_INFINITY}) {
            float[] values = new float[20];
            values[3] = Float.NEGATIVE_INFINITY; // allowed: hides a key
            values[7] = wrong;
            e = assertThrows(IllegalArgumentException.class, () -> op.forward(q, k, v, null, Tensor.of(values, 4, 5)));
            assertEquals("attnMask[7] = " + wrong + " must be finite or -Infinity (flat index into (4, 5))", e.getMessage());
        }
        e = assertThrows(IllegalArgumentException.class, () -> op.forward(Tensor.zeros(DType.FLOAT32, 4, 8), k, v));
        assertEquals("query: expected shape (B, H, L, d) or (B, L, d), got (4, 8)", e.getMessage());
        Tensor bad = Tensor.of(new float[] {1, Float.NaN, 0, 0, 0, 0, 0, 0}, 1, 1, 1, 8);
        e = assertThrows(IllegalArgumentException.class,
                () -> op.forward(bad, Tensor.zeros(DType.FLOAT32, 1, 1, 2, 8), Tensor.zeros(DType.FLOAT32, 1, 1, 2, 3)));
        assertTrue(e.getMessage().startsWith("query[1] = NaN is not finite"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> op.withScale(0f));
        assertEquals("scale: 0.0 must be finite and > 0", e.getMessage());
        try (ScaledDotProductAttention.Result r = op.forward(q, k, v)) {
            e = assertThrows(IllegalArgumentException.class, () -> op.backward(q, k, v, null, r, Tensor.zeros(DType.FLOAT32, 2, 3, 4, 5)));
            assertEquals("gradOutput: expected shape (B, H, L, dv) of the output = (2, 3, 4, 6), got (2, 3, 4, 5)", e.getMessage());
        }
    }
}
