package dev.jnce.backend.cuda;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.SoftmaxKernels.Function;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static dev.jnce.backend.cuda.CudaTestSupport.cuda;
import static dev.jnce.backend.cuda.CudaTestSupport.normal;
import static dev.jnce.backend.cuda.CudaTestSupport.onGpu;
import static dev.jnce.backend.cuda.CudaTestSupport.reference;
import static dev.jnce.testutil.Approx.assertClose;
import static dev.jnce.testutil.Approx.toDouble;

/**
 * Softmax, log_softmax and logsumexp on the GPU against the CPU kernels, forward and backward, with
 * non-finite rows (a NaN, a +Inf, only -Inf, some -Inf entries) and outputs written over their
 * inputs. Needs a GPU.
 */
@Tag("cuda")
class CudaSoftmaxTest {
    private static final double TOL = 1e-5;

    static Stream<Arguments> cases() {
        long[][] shapes = {{7, 5}, {33, 1000}, {4, 20000}, {3000, 64}};
        List<Arguments> out = new ArrayList<>();
        for (Function f : Function.values())
            for (long[] s : shapes) out.add(Arguments.of(f, s[0], s[1]));
        return out.stream();
    }

    @ParameterizedTest(name = "{0} ({1},{2})")
    @MethodSource("cases")
    void matchesTheCpuKernels(Function f, long n, long c) {
        CudaBackend gpu = cuda();
        Kernels ref = reference();
        try (TensorScope scope = TensorScope.open()) {
            float[] xv = normal(n * 7 + c, (int) (n * c), 4.0);
            if (n >= 4) { // row 0 holds a NaN, row 1 a +Inf, row 2 only -Inf, row 3 some -Inf
                xv[(int) (c / 2)] = Float.NaN;
                xv[(int) (c + c / 3)] = Float.POSITIVE_INFINITY;
                for (int j = 0; j < c; j++) xv[(int) (2 * c + j)] = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < c; j += 3) xv[(int) (3 * c + j)] = Float.NEGATIVE_INFINITY;
            }
            Tensor x = Tensor.of(xv, n, c);
            long[] outShape = f == Function.LOGSUMEXP ? new long[] {n} : new long[] {n, c};
            Tensor want = Tensor.zeros(DType.FLOAT32, outShape);
            ref.softmax().forward(f, x, n, c, want);
            Tensor got = Tensor.zeros(CudaTestSupport.device(), DType.FLOAT32, outShape);
            gpu.softmax().forward(f, onGpu(x), n, c, got);
            assertClose(toDouble(want.toFloatArray()), got.toFloatArray(), TOL, f + " forward");
            if (f != Function.LOGSUMEXP) { // in place
                Tensor inPlace = onGpu(x);
                gpu.softmax().forward(f, inPlace, n, c, inPlace);
                assertClose(toDouble(want.toFloatArray()), inPlace.toFloatArray(), TOL, f + " forward over its input");
            }
            Tensor saved = f == Function.LOGSUMEXP ? x : want;
            Tensor dy = Tensor.of(normal(n + c, (int) (f == Function.LOGSUMEXP ? n : n * c), 1.0), outShape);
            Tensor gradWant = Tensor.zeros(DType.FLOAT32, n, c);
            ref.softmax().backward(f, saved, dy, n, c, gradWant);
            Tensor gradGot = Tensor.zeros(CudaTestSupport.device(), DType.FLOAT32, n, c);
            gpu.softmax().backward(f, onGpu(saved), onGpu(dy), n, c, gradGot);
            assertClose(toDouble(gradWant.toFloatArray()), gradGot.toFloatArray(), TOL, f + " backward");
            Tensor over = onGpu(saved); // the gradient written over the saved tensor
            gpu.softmax().backward(f, over, onGpu(dy), n, c, over);
            assertClose(toDouble(gradWant.toFloatArray()), over.toFloatArray(), TOL, f + " backward over its saved tensor");
        }
    }
}
