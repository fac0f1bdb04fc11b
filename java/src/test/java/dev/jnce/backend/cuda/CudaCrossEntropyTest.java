package dev.jnce.backend.cuda;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.backend.CrossEntropyCall;
import dev.jnce.backend.Kernels;
import dev.jnce.Reduction;
import dev.jnce.testutil.Reductions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static dev.jnce.backend.cuda.CudaTestSupport.cuda;
import static dev.jnce.backend.cuda.CudaTestSupport.normal;
import static dev.jnce.backend.cuda.CudaTestSupport.onGpu;
import static dev.jnce.backend.cuda.CudaTestSupport.reference;
import static dev.jnce.testutil.Approx.assertClose;
import static dev.jnce.testutil.Approx.toDouble;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The fused CUDA softmax cross-entropy against the CPU kernel, option by option. Needs a GPU. */
@Tag("cuda")
class CudaCrossEntropyTest {
    private static final double TOL = 2e-5;

    enum Target { INT64, INT32, PROBS }

    record Options(boolean weight, boolean ignore, float smoothing, boolean mask, float zLoss, boolean lse,
                   boolean nanRow) {
        @Override
        public String toString() {
            return (weight ? "weight " : "") + (ignore ? "ignore " : "") + (smoothing > 0 ? "smooth " : "")
                    + (mask ? "mask " : "") + (zLoss > 0 ? "zloss " : "") + (lse ? "lse " : "") + (nanRow ? "nan" : "");
        }
    }

    static Stream<Arguments> cases() {
        List<Options> options = List.of(
                new Options(false, false, 0, false, 0, false, false),
                new Options(true, false, 0, false, 0, true, false),
                new Options(false, true, 0, false, 0, false, false),
                new Options(true, true, 0.1f, false, 0, false, false),
                new Options(false, false, 0.2f, true, 0, true, false),
                new Options(true, false, 0, false, 1e-3f, true, false),
                new Options(false, true, 0.1f, true, 1e-4f, true, true));
        // the last three take the one-read cluster kernel on sm_90 (C % 4 == 0, C >= 8192): one block a row and
        // several rows a cluster, four blocks of uneven slices, eight blocks
        long[][] shapes = {{7, 5}, {33, 1000}, {4, 32003}, {600, 8192}, {20, 50004}, {3, 131072}};
        List<Arguments> out = new ArrayList<>();
        for (long[] s : shapes)
            for (Target t : Target.values())
                for (Reduction r : Reductions.all())
                    for (Options o : options) out.add(Arguments.of(s[0], s[1], t, r, o));
        return out.stream();
    }

    @ParameterizedTest(name = "({0},{1}) {2} {3} {4}")
    @MethodSource("cases")
    void matchesTheCpuKernel(long n, long c, Target target, Reduction reduction, Options o) {
        CudaBackend gpu = cuda();
        Kernels ref = reference();
        try (TensorScope scope = TensorScope.open()) {
            float[] x = normal(n * 31 + c, (int) (n * c), 3.0);
            if (o.nanRow()) x[(int) c] = Float.NaN; // row 1
            Tensor logits = Tensor.of(x, n, c);
            Tensor targets = null, probs = null;
            Random r = new Random(n + c);
            if (target == Target.PROBS) {
                probs = Tensor.of(softmax(normal(n + 7 * c, (int) (n * c), 1.0), (int) c), n, c);
            } else {
                long[] y = new long[(int) n];
                for (int i = 0; i < n; i++) y[i] = o.ignore() && i % 3 == 2 ? -100 : r.nextInt((int) c);
                targets = target == Target.INT64 ? Tensor.of(y) : Tensor.of(toInt(y));
            }
            Tensor weight = o.weight() ? Tensor.of(positive(normal(c, (int) c, 1.0))) : null;
            Tensor mask = null;
            if (o.mask()) {
                int[] m = new int[(int) n];
                for (int i = 0; i < n; i++) m[i] = i % 4 == 1 ? 0 : 1;
                mask = Tensor.of(m);
            }
            Tensor[] want = run(ref, logits, targets, probs, mask, weight, reduction, o, false);
            Tensor[] got = run(gpu, onGpu(logits), onGpu(targets), onGpu(probs), onGpu(mask), onGpu(weight), reduction, o,
                    false);
            compare(want, got);
            // grad written over the logits (aliasing) gives the same gradient
            Tensor inPlace = onGpu(logits);
            Tensor[] aliased = run(gpu, inPlace, onGpu(targets), onGpu(probs), onGpu(mask), onGpu(weight), reduction, o,
                    true);
            assertClose(toDouble(want[1].toFloatArray()), aliased[1].toFloatArray(), TOL, "grad over logits");
        }
    }

    @Test
    void allRowsIgnoredGiveZeroWhenAsked() {
        CudaBackend gpu = cuda();
        try (TensorScope scope = TensorScope.open()) {
            Tensor logits = onGpu(Tensor.of(normal(1, 12, 1.0), 3, 4));
            Tensor targets = onGpu(Tensor.of(new long[] {-100, -100, -100}));
            Tensor loss = Tensor.zeros(CudaTestSupport.device(), DType.FLOAT32);
            Tensor grad = Tensor.zeros(CudaTestSupport.device(), DType.FLOAT32, 3, 4);
            gpu.crossEntropy().crossEntropy(new CrossEntropyCall(logits, targets, null, null, null, -100, 0, 0,
                    Reduction.MEAN, true, loss, grad, null));
            assertClose(new double[] {0}, loss.toFloatArray(), 0, "loss");
            assertClose(new double[12], grad.toFloatArray(), 0, "grad");
        }
    }

    @Test
    void aClassIndexOutOfRangeThrowsAtTheCallInTheCpuKernelsWords() {
        CudaBackend gpu = cuda();
        try (TensorScope scope = TensorScope.open()) {
            Tensor logits = onGpu(Tensor.of(normal(2, 8, 1.0), 2, 4));
            Tensor targets = onGpu(Tensor.of(new long[] {1, 9}));
            Tensor loss = Tensor.zeros(CudaTestSupport.device(), DType.FLOAT32);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> gpu.crossEntropy().crossEntropy(new CrossEntropyCall(logits, targets, null, null, null, -100, 0,
                            0, Reduction.MEAN, false, loss, null, null)));
            assertTrue(e.getMessage().startsWith("targets[1] = 9 is outside [0, 4) for logits of shape (2, 4) and is not "
                    + "the ignore index -100"), e.getMessage());
            Tensor weight = onGpu(Tensor.of(new float[] {1, 1, Float.NaN, 1}));
            Tensor good = onGpu(Tensor.of(new long[] {1, 2}));
            e = assertThrows(IllegalArgumentException.class,
                    () -> gpu.crossEntropy().crossEntropy(new CrossEntropyCall(logits, good, null, null, weight, -100, 0,
                            0, Reduction.MEAN, false, loss, null, null)));
            assertTrue(e.getMessage().startsWith("weight[2] = NaN is not finite"), e.getMessage());
        }
    }

    @Test
    void aProbabilityRowThatIsNotADistributionThrows() {
        CudaBackend gpu = cuda();
        try (TensorScope scope = TensorScope.open()) {
            Tensor logits = onGpu(Tensor.of(normal(3, 8, 1.0), 2, 4));
            Tensor probs = onGpu(Tensor.of(new float[] {0.25f, 0.25f, 0.25f, 0.25f, 0.5f, 0.5f, 0.5f, 0f}, 2, 4));
            Tensor loss = Tensor.zeros(CudaTestSupport.device(), DType.FLOAT32);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> gpu.crossEntropy().crossEntropy(new CrossEntropyCall(logits, null, probs, null, null, -100, 0,
                            0, Reduction.MEAN, false, loss, null, null)));
            assertTrue(e.getMessage().startsWith("targets: row 1 is not a probability distribution"), e.getMessage());
        }
    }

    @Test
    void perplexityOfAMeanMatchesTheCpuKernel() {
        CudaBackend gpu = cuda();
        try (TensorScope scope = TensorScope.open()) {
            float[] g = normal(4, 3000, 1.0);
            Tensor mean = Tensor.of(new float[] {1.75f}), ppl = Tensor.zeros(DType.FLOAT32), grad = Tensor.of(g, 3000);
            reference().crossEntropy().perplexity(mean, ppl, grad);
            Tensor gpuMean = onGpu(Tensor.of(new float[] {1.75f})), gpuGrad = onGpu(Tensor.of(g, 3000));
            gpu.crossEntropy().perplexity(gpuMean, gpuMean, gpuGrad);
            assertClose(toDouble(ppl.toFloatArray()), gpuMean.toFloatArray(), 1e-5, "exp(1.75), over the mean");
            assertClose(toDouble(grad.toFloatArray()), gpuGrad.toFloatArray(), 1e-5, "gradient scaled by it");
        }
    }

    private static Tensor[] run(Kernels k, Tensor logits, Tensor targets, Tensor probs, Tensor mask, Tensor weight,
                                Reduction reduction, Options o, boolean gradOverLogits) {
        long n = logits.size(0);
        var device = logits.device();
        Tensor loss = reduction == Reduction.NONE ? Tensor.zeros(device, DType.FLOAT32, n) : Tensor.zeros(device, DType.FLOAT32);
        Tensor grad = gradOverLogits ? logits : Tensor.zeros(device, DType.FLOAT32, logits.shape());
        Tensor lse = o.lse() ? Tensor.zeros(device, DType.FLOAT32, n) : null;
        k.crossEntropy().crossEntropy(new CrossEntropyCall(logits, targets, probs, mask, weight, -100, o.smoothing(),
                o.zLoss(), reduction, false, loss, grad, lse));
        return new Tensor[] {loss, grad, lse};
    }

    private static void compare(Tensor[] want, Tensor[] got) {
        assertClose(toDouble(want[0].toFloatArray()), got[0].toFloatArray(), TOL, "loss");
        assertClose(toDouble(want[1].toFloatArray()), got[1].toFloatArray(), TOL, "grad");
        if (want[2] != null) assertClose(toDouble(want[2].toFloatArray()), got[2].toFloatArray(), TOL, "lse");
    }

    static float[] softmax(float[] v, int c) {
        float[] p = new float[v.length];
        for (int i = 0; i < v.length; i += c) {
            double m = Double.NEGATIVE_INFINITY, s = 0;
            for (int j = 0; j < c; j++) m = Math.max(m, v[i + j]);
            for (int j = 0; j < c; j++) s += Math.exp(v[i + j] - m);
            for (int j = 0; j < c; j++) p[i + j] = (float) (Math.exp(v[i + j] - m) / s);
        }
        return p;
    }

    private static float[] positive(float[] v) {
        for (int i = 0; i < v.length; i++) v[i] = Math.abs(v[i]) + 0.1f;
        return v;
    }

    private static int[] toInt(long[] v) {
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) out[i] = (int) v[i];
        return out;
    }
}
