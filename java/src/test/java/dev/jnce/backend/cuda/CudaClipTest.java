package dev.jnce.backend.cuda;

import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.backend.Kernels;
import dev.jnce.loss.ClipLoss;
import dev.jnce.loss.PairedResult;
import dev.jnce.testutil.Reductions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
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
 * CLIP's symmetric cross-entropy on the GPU against the CPU kernel (every reduction, a NaN row and
 * a +Inf column, the gradient over the logits), and the public ClipLoss on device tensors against
 * host tensors. Needs a GPU.
 */
@Tag("cuda")
class CudaClipTest {
    private static final double TOL = 1e-5;

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (long n : new long[] {7, 300, 1500})
            for (Reduction r : Reductions.all())
                for (boolean nonFinite : new boolean[] {false, true}) out.add(Arguments.of(n, r, nonFinite));
        return out.stream();
    }

    @ParameterizedTest(name = "N={0} {1} nonFinite {2}")
    @MethodSource("cases")
    void matchesTheCpuKernel(long n, Reduction reduction, boolean nonFinite) {
        CudaBackend gpu = cuda();
        Kernels ref = reference();
        try (TensorScope scope = TensorScope.open()) {
            float[] sv = normal(n * 5, (int) (n * n), 3.0);
            if (nonFinite) {
                sv[(int) (2 * n + 1)] = Float.NaN;            // row 2
                sv[(int) (4 * n + 3)] = Float.POSITIVE_INFINITY; // row 4 and column 3
            }
            Tensor s = Tensor.of(sv, n, n);
            var dev = CudaTestSupport.device();
            Tensor wantLoss = reduction == Reduction.NONE ? Tensor.zeros(DType.FLOAT32, n) : Tensor.zeros(DType.FLOAT32);
            Tensor wantGrad = Tensor.zeros(DType.FLOAT32, n, n);
            ref.contrastive().clipCrossEntropy(s, reduction, wantLoss, wantGrad);
            Tensor loss = reduction == Reduction.NONE ? Tensor.zeros(dev, DType.FLOAT32, n) : Tensor.zeros(dev, DType.FLOAT32);
            Tensor grad = Tensor.zeros(dev, DType.FLOAT32, n, n);
            gpu.contrastive().clipCrossEntropy(onGpu(s), reduction, loss, grad);
            assertClose(toDouble(wantLoss.toFloatArray()), loss.toFloatArray(), TOL, "loss");
            assertClose(toDouble(wantGrad.toFloatArray()), grad.toFloatArray(), TOL, "grad");
            Tensor over = onGpu(s);
            gpu.contrastive().clipCrossEntropy(over, reduction, loss, over);
            assertClose(toDouble(wantGrad.toFloatArray()), over.toFloatArray(), TOL, "grad over the logits");
            gpu.contrastive().clipCrossEntropy(onGpu(s), reduction, loss, null);
            assertClose(toDouble(wantLoss.toFloatArray()), loss.toFloatArray(), TOL, "loss without the gradient");
        }
    }

    @Test
    void clipLossRunsOnDeviceTensors() {
        cuda();
        try (TensorScope scope = TensorScope.open()) {
            int n = 64, d = 32;
            Tensor a = Tensor.of(normal(1, n * d, 1.0), n, d), b = Tensor.of(normal(2, n * d, 1.0), n, d);
            ClipLoss clip = ClipLoss.create();
            PairedResult want = clip.forwardBackward(a, b), got = clip.forwardBackward(onGpu(a), onGpu(b));
            assertClose(toDouble(want.loss().toFloatArray()), got.loss().toFloatArray(), TOL, "loss");
            assertClose(toDouble(want.gradA().toFloatArray()), got.gradA().toFloatArray(), 1e-4, "d a");
            assertClose(toDouble(want.gradB().toFloatArray()), got.gradB().toFloatArray(), 1e-4, "d b");
        }
    }
}
