package dev.jnce.backend.cuda;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.backend.Kernels;
import dev.jnce.loss.InfoNce;
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

/** Explicit negatives' logits and their gradients on the GPU against the CPU kernels, and InfoNCE with them on device tensors. Needs a GPU. */
@Tag("cuda")
class CudaNegativesTest {
    private static final double TOL = 1e-5;

    @ParameterizedTest(name = "N={0} K={1} D={2}")
    @CsvSource({"3,1,5", "64,7,128", "200,31,300", "17,100,64"})
    void matchesTheCpuKernels(long n, long k, long d) {
        CudaBackend gpu = cuda();
        Kernels ref = reference();
        try (TensorScope scope = TensorScope.open()) {
            Tensor q = Tensor.of(normal(1, (int) (n * d), 1.0), n, d), p = Tensor.of(normal(2, (int) (n * d), 1.0), n, d);
            Tensor nk = Tensor.of(normal(3, (int) (n * k * d), 1.0), n, k, d);
            Tensor g = Tensor.of(normal(4, (int) (n * (k + 1)), 1.0), n, k + 1);
            Tensor want = Tensor.zeros(DType.FLOAT32, n, k + 1);
            ref.contrastive().negativeLogits(q, p, nk, 1.7f, want);
            var dev = CudaTestSupport.device();
            Tensor got = Tensor.zeros(dev, DType.FLOAT32, n, k + 1);
            gpu.contrastive().negativeLogits(onGpu(q), onGpu(p), onGpu(nk), 1.7f, got);
            assertClose(toDouble(want.toFloatArray()), got.toFloatArray(), TOL, "logits");
            Tensor dq = Tensor.zeros(DType.FLOAT32, n, d), dp = Tensor.zeros(DType.FLOAT32, n, d), dn = Tensor.zeros(DType.FLOAT32, n, k, d);
            ref.contrastive().negativeLogitsBackward(g, q, p, nk, 1.7f, dq, dp, dn);
            Tensor gq = Tensor.zeros(dev, DType.FLOAT32, n, d), gp = Tensor.zeros(dev, DType.FLOAT32, n, d);
            Tensor gn = Tensor.zeros(dev, DType.FLOAT32, n, k, d);
            gpu.contrastive().negativeLogitsBackward(onGpu(g), onGpu(q), onGpu(p), onGpu(nk), 1.7f, gq, gp, gn);
            assertClose(toDouble(dq.toFloatArray()), gq.toFloatArray(), TOL, "dq");
            assertClose(toDouble(dp.toFloatArray()), gp.toFloatArray(), TOL, "dp");
            assertClose(toDouble(dn.toFloatArray()), gn.toFloatArray(), TOL, "dn");
        }
    }

    @Test
    void infoNceWithExplicitNegativesRunsOnDeviceTensors() {
        cuda();
        try (TensorScope scope = TensorScope.open()) {
            int n = 32, k = 5, d = 24;
            Tensor q = Tensor.of(normal(5, n * d, 1.0), n, d), p = Tensor.of(normal(6, n * d, 1.0), n, d);
            Tensor nk = Tensor.of(normal(7, n * k * d, 1.0), n, k, d);
            InfoNce loss = InfoNce.create().withTemperature(0.1f);
            try (InfoNce.Result want = loss.forwardBackwardNegatives(q, p, nk);
                 InfoNce.Result got = loss.forwardBackwardNegatives(onGpu(q), onGpu(p), onGpu(nk))) {
                assertClose(toDouble(want.loss().toFloatArray()), got.loss().toFloatArray(), TOL, "loss");
                assertClose(toDouble(want.gradQueries().toFloatArray()), got.gradQueries().toFloatArray(), 1e-4, "d queries");
                assertClose(toDouble(want.gradKeys().toFloatArray()), got.gradKeys().toFloatArray(), 1e-4, "d positives");
                assertClose(toDouble(want.gradNegatives().toFloatArray()), got.gradNegatives().toFloatArray(), 1e-4, "d negatives");
            }
        }
    }
}
