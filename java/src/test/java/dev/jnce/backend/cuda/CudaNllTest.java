package dev.jnce.backend.cuda;

import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.backend.Kernels;
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

/**
 * F.nll_loss on the GPU against the CPU kernel: int32 and int64 targets, class weights, ignored
 * rows, log-probabilities and probabilities (with exact 0 at a target: the clamped branch), each
 * reduction, the gradient apart, over the input, or not asked for, all rows ignored with and
 * without zeroWhenNoWeight; and the value checks in the CPU kernel's words. Needs a GPU.
 */
@Tag("cuda")
class CudaNllTest {
    private static final double TOL = 1e-6;

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        long[][] shapes = {{9, 5}, {300, 1000}, {4, 70000}};
        for (long[] s : shapes)
            for (Reduction r : Reductions.all())
                for (boolean int32 : new boolean[] {false, true})
                    for (boolean weighted : new boolean[] {false, true})
                        for (boolean probs : new boolean[] {false, true}) out.add(Arguments.of(s[0], s[1], r, int32, weighted, probs));
        return out.stream();
    }

    @ParameterizedTest(name = "({0},{1}) {2} int32 {3} weight {4} probabilities {5}")
    @MethodSource("cases")
    void matchesTheCpuKernel(long n, long c, Reduction reduction, boolean int32, boolean weighted, boolean probs) {
        CudaBackend gpu = cuda();
        Kernels ref = reference();
        try (TensorScope scope = TensorScope.open()) {
            Random r = new Random(n * 31 + c);
            float[] x = new float[(int) (n * c)];
            if (probs) for (int i = 0; i < x.length; i++) x[i] = r.nextFloat();
            else x = normal(n + c, (int) (n * c), 2.0);
            long[] y = new long[(int) n];
            for (int i = 0; i < n; i++) y[i] = i % 4 == 3 ? -100 : r.nextInt((int) c);
            if (probs && n > 1) x[(int) (c + y[1])] = 0f; // log 0 -> clamped at -100, gradient 0
            Tensor input = Tensor.of(x, n, c);
            Tensor targets = int32 ? Tensor.of(toInt(y)) : Tensor.of(y);
            float[] wv = new float[(int) c];
            for (int j = 0; j < c; j++) wv[j] = 0.1f + 2 * r.nextFloat();
            Tensor weight = weighted ? Tensor.of(wv) : null;
            for (int mode = 0; mode < 3; mode++) { // gradient apart, over the input, none
                Tensor[] want = run(ref, input, targets, weight, reduction, probs, false, mode == 2 ? -1 : 0);
                Tensor[] got = run(gpu, onGpu(input), onGpu(targets), onGpu(weight), reduction, probs, false, mode == 2 ? -1 : mode);
                assertClose(toDouble(want[0].toFloatArray()), got[0].toFloatArray(), TOL, "loss, mode " + mode);
                if (mode < 2) assertClose(toDouble(want[1].toFloatArray()), got[1].toFloatArray(), TOL, "grad, mode " + mode);
            }
        }
    }

    @Test
    void allRowsIgnoredGiveNaNOrZeroAsAsked() {
        CudaBackend gpu = cuda();
        Kernels ref = reference();
        try (TensorScope scope = TensorScope.open()) {
            Tensor input = Tensor.of(normal(1, 12, 1.0), 3, 4), targets = Tensor.of(new long[] {-100, -100, -100});
            for (boolean zero : new boolean[] {false, true}) {
                Tensor[] want = run(ref, input, targets, null, Reduction.MEAN, false, zero, 0);
                Tensor[] got = run(gpu, onGpu(input), onGpu(targets), null, Reduction.MEAN, false, zero, 0);
                assertClose(toDouble(want[0].toFloatArray()), got[0].toFloatArray(), 0, "loss, zeroWhenNoWeight " + zero);
                assertClose(toDouble(want[1].toFloatArray()), got[1].toFloatArray(), 0, "grad, zeroWhenNoWeight " + zero);
            }
        }
    }

    @Test
    void badValuesThrowInTheCpuKernelsWords() {
        CudaBackend gpu = cuda();
        try (TensorScope scope = TensorScope.open()) {
            Tensor input = onGpu(Tensor.of(new float[] {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 1.5f, 0.5f, 0.5f}, 2, 4));
            Tensor loss = Tensor.zeros(CudaTestSupport.device(), DType.FLOAT32);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> gpu.nll().nll(input,
                    onGpu(Tensor.of(new long[] {1, 9})), null, -100, Reduction.MEAN, false, false, loss, null));
            assertTrue(e.getMessage().startsWith("targets[1] = 9 is outside [0, 4) for input of shape (2, 4) and is not "
                    + "the ignore index -100"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> gpu.nll().nll(input, onGpu(Tensor.of(new long[] {0, 1})),
                    null, -100, Reduction.MEAN, true, false, loss, null));
            assertTrue(e.getMessage().startsWith("input[1, 1] = 1.5 is not a probability in [0, 1]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> gpu.nll().nll(input, onGpu(Tensor.of(new long[] {0, 2})),
                    onGpu(Tensor.of(new float[] {1, Float.POSITIVE_INFINITY, 1, 1})), -100, Reduction.MEAN, false, false, loss,
                    null));
            assertTrue(e.getMessage().startsWith("weight[1] = Infinity is not finite"), e.getMessage());
        }
    }

    /** mode 0: gradient in its own tensor, 1: over the input, -1: none. */
    private static Tensor[] run(Kernels k, Tensor input, Tensor targets, Tensor weight, Reduction reduction, boolean probs,
                                boolean zero, int mode) {
        var device = input.device();
        long n = input.size(0);
        Tensor loss = reduction == Reduction.NONE ? Tensor.zeros(device, DType.FLOAT32, n) : Tensor.zeros(device, DType.FLOAT32);
        Tensor grad = mode < 0 ? null : mode == 1 ? input.to(device) : Tensor.zeros(device, DType.FLOAT32, input.shape());
        Tensor in = mode == 1 ? grad : input;
        k.nll().nll(in, targets, weight, -100, reduction, probs, zero, loss, grad);
        return new Tensor[] {loss, grad};
    }

    private static int[] toInt(long[] v) {
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) out[i] = (int) v[i];
        return out;
    }
}
