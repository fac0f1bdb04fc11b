package dev.jnce.backend.cuda;

import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.loss.LinearCrossEntropy;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Random;

import static dev.jnce.backend.cuda.CudaTestSupport.cuda;
import static dev.jnce.backend.cuda.CudaTestSupport.normal;
import static dev.jnce.backend.cuda.CudaTestSupport.onGpu;
import static dev.jnce.testutil.Approx.assertClose;
import static dev.jnce.testutil.Approx.toDouble;

/**
 * The linear cross-entropy (classifier GEMM and fused cross-entropy in blocks) on device tensors
 * against the same class on host tensors: with a soft cap, class weights, smoothing and z-loss, in
 * one block and in several. Needs a GPU.
 */
@Tag("cuda")
class CudaLinearCrossEntropyTest {
    @ParameterizedTest(name = "N={0} D={1} V={2} softcap {3} blockRows {4}")
    @CsvSource({"32,16,50,0,0", "64,32,1000,30,16", "100,24,3000,15,0"})
    void deviceTensorsGiveTheHostResults(int n, int d, int v, float softcap, long blockRows) {
        cuda();
        try (TensorScope scope = TensorScope.open()) {
            Random r = new Random(n + v);
            Tensor h = Tensor.of(normal(1, n * d, 1.0), n, d), w = Tensor.of(normal(2, v * d, 0.5), v, d);
            Tensor b = Tensor.of(normal(3, v, 0.1), v);
            long[] t = new long[n];
            for (int i = 0; i < n; i++) t[i] = i % 9 == 4 ? -100 : r.nextInt(v);
            float[] cw = new float[v];
            for (int j = 0; j < v; j++) cw[j] = 0.5f + r.nextFloat();
            Tensor targets = Tensor.of(t), weight = Tensor.of(cw, v);
            LinearCrossEntropy host = LinearCrossEntropy.create().withWeight(weight).withLabelSmoothing(0.1f).withZLoss(1e-4f);
            LinearCrossEntropy gpu = LinearCrossEntropy.create().withWeight(onGpu(weight)).withLabelSmoothing(0.1f).withZLoss(1e-4f);
            if (softcap > 0) {
                host = host.withSoftcap(softcap);
                gpu = gpu.withSoftcap(softcap);
            }
            if (blockRows > 0) {
                host = host.withBlockRows(blockRows);
                gpu = gpu.withBlockRows(blockRows);
            }
            try (LinearCrossEntropy.Result want = host.forwardBackward(h, w, b, targets);
                 LinearCrossEntropy.Result got = gpu.forwardBackward(onGpu(h), onGpu(w), onGpu(b), onGpu(targets))) {
                assertClose(toDouble(want.loss().toFloatArray()), got.loss().toFloatArray(), 1e-5, "loss");
                assertClose(toDouble(want.gradHidden().toFloatArray()), got.gradHidden().toFloatArray(), 1e-4, "d hidden");
                assertClose(toDouble(want.gradClassifier().toFloatArray()), got.gradClassifier().toFloatArray(), 1e-4, "d classifier");
                assertClose(toDouble(want.gradBias().toFloatArray()), got.gradBias().toFloatArray(), 1e-4, "d bias");
            }
        }
    }
}
