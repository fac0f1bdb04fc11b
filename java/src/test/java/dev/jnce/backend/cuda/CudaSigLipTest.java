package dev.jnce.backend.cuda;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.backend.ContrastiveKernels.PairSums;
import dev.jnce.backend.Kernels;
import dev.jnce.loss.PairedResult;
import dev.jnce.loss.SigLipLoss;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static dev.jnce.backend.cuda.CudaTestSupport.cuda;
import static dev.jnce.backend.cuda.CudaTestSupport.normal;
import static dev.jnce.backend.cuda.CudaTestSupport.onGpu;
import static dev.jnce.backend.cuda.CudaTestSupport.reference;
import static dev.jnce.testutil.Approx.assertClose;
import static dev.jnce.testutil.Approx.toDouble;

/** SigLIP's pairwise sigmoid loss on the GPU against the CPU kernel, and SigLipLoss on device tensors. Needs a GPU. */
@Tag("cuda")
class CudaSigLipTest {
    private static final double TOL = 1e-5;

    @ParameterizedTest(name = "({0},{1}) offset {2} bias {3}")
    @CsvSource({"7,7,0,-10", "300,300,0,-10", "64,1000,200,0.5", "2000,2000,0,-3"})
    void matchesTheCpuKernel(long n, long m, long offset, float bias) {
        CudaBackend gpu = cuda();
        Kernels ref = reference();
        try (TensorScope scope = TensorScope.open()) {
            Tensor s = Tensor.of(normal(n + m, (int) (n * m), 4.0), n, m);
            Tensor want = Tensor.zeros(DType.FLOAT32, n, m);
            PairSums w = ref.contrastive().sigLipPairs(s, offset, bias, want);
            Tensor got = Tensor.zeros(CudaTestSupport.device(), DType.FLOAT32, n, m);
            PairSums g = gpu.contrastive().sigLipPairs(onGpu(s), offset, bias, got);
            assertClose(new double[] {w.loss(), w.grad()}, new float[] {(float) g.loss(), (float) g.grad()}, TOL, "sums");
            assertClose(toDouble(want.toFloatArray()), got.toFloatArray(), TOL, "grad");
            Tensor over = onGpu(s);
            PairSums o = gpu.contrastive().sigLipPairs(over, offset, bias, over);
            assertClose(new double[] {w.loss(), w.grad()}, new float[] {(float) o.loss(), (float) o.grad()}, TOL, "sums, grad over s");
            assertClose(toDouble(want.toFloatArray()), over.toFloatArray(), TOL, "grad over s");
        }
    }

    @Test
    void sigLipLossRunsOnDeviceTensors() {
        cuda();
        try (TensorScope scope = TensorScope.open()) {
            int n = 64, d = 32;
            Tensor a = Tensor.of(normal(1, n * d, 1.0), n, d), b = Tensor.of(normal(2, n * d, 1.0), n, d);
            SigLipLoss loss = SigLipLoss.create();
            PairedResult want = loss.forwardBackward(a, b), got = loss.forwardBackward(onGpu(a), onGpu(b));
            assertClose(toDouble(want.loss().toFloatArray()), got.loss().toFloatArray(), TOL, "loss");
            assertClose(toDouble(want.gradA().toFloatArray()), got.gradA().toFloatArray(), 1e-4, "d a");
            assertClose(toDouble(want.gradB().toFloatArray()), got.gradB().toFloatArray(), 1e-4, "d b");
            assertClose(new double[] {want.gradLogitScale(), want.gradBias()},
                    new float[] {got.gradLogitScale(), got.gradBias()}, 1e-4, "d scale, d bias");
        }
    }
}
