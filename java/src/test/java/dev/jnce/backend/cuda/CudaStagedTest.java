package dev.jnce.backend.cuda;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.backend.ContrastiveKernels.RetrievalTargets;
import dev.jnce.backend.Kernels;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static dev.jnce.backend.cuda.CudaTestSupport.cuda;
import static dev.jnce.backend.cuda.CudaTestSupport.normal;
import static dev.jnce.backend.cuda.CudaTestSupport.onGpu;
import static dev.jnce.backend.cuda.CudaTestSupport.reference;
import static dev.jnce.testutil.Approx.assertClose;
import static dev.jnce.testutil.Approx.toDouble;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The steps cuda stages through the host (InfoNCE's retrieval corrections, BPR, the top-k of the
 * ranking metrics) give the host kernels' results on device tensors. Needs a GPU.
 */
@Tag("cuda")
class CudaStagedTest {
    @Test
    void retrievalCorrectionsMatchTheHostKernels() {
        CudaBackend gpu = cuda();
        Kernels ref = reference();
        try (TensorScope scope = TensorScope.open()) {
            int r = 16, m = 40;
            Tensor s = Tensor.of(normal(1, r * m, 2.0), r, m);
            float[] q = new float[m];
            for (int j = 0; j < m; j++) q[j] = 0.01f + 0.02f * (j % 7);
            long[] ids = new long[m];
            for (int j = 0; j < m; j++) ids[j] = j % 30; // accidental hits
            Tensor logQ = Tensor.of(q, m), keyIds = Tensor.of(ids);
            RetrievalTargets host = new RetrievalTargets(3, -1, -1, logQ, true, keyIds, m, 0.2f, 0.1f);
            RetrievalTargets onDevice = new RetrievalTargets(3, -1, -1, onGpu(logQ), true, onGpu(keyIds), m, 0.2f, 0.1f);
            Tensor wantRows = Tensor.zeros(DType.FLOAT32, r), gotRows = Tensor.zeros(CudaTestSupport.device(), DType.FLOAT32, r);
            Tensor hs = s.to(dev.jnce.Device.HOST), gs = onGpu(s);
            double want = ref.contrastive().retrievalCrossEntropy(hs, null, host, wantRows, true);
            double got = gpu.contrastive().retrievalCrossEntropy(gs, null, onDevice, gotRows, true);
            assertEquals(want, got, 1e-9 * Math.max(1, Math.abs(want)), "sum at the targets");
            assertClose(toDouble(wantRows.toFloatArray()), gotRows.toFloatArray(), 0, "row losses");
            assertClose(toDouble(hs.toFloatArray()), gs.toFloatArray(), 0, "gradient over the logits");
        }
    }

    @Test
    void bprAndTopKMatchTheHostKernels() {
        CudaBackend gpu = cuda();
        Kernels ref = reference();
        try (TensorScope scope = TensorScope.open()) {
            int n = 20, c = 9;
            Tensor l = Tensor.of(normal(2, n * c, 2.0), n, c);
            Tensor wr = Tensor.zeros(DType.FLOAT32, n), wg = Tensor.zeros(DType.FLOAT32, n, c);
            ref.contrastive().bprPairs(l, wr, wg);
            Tensor gr = Tensor.zeros(CudaTestSupport.device(), DType.FLOAT32, n), gg = Tensor.zeros(CudaTestSupport.device(), DType.FLOAT32, n, c);
            gpu.contrastive().bprPairs(onGpu(l), gr, gg);
            assertClose(toDouble(wr.toFloatArray()), gr.toFloatArray(), 0, "BPR rows");
            assertClose(toDouble(wg.toFloatArray()), gg.toFloatArray(), 0, "BPR gradient");
            int rows = 6, m = 50, k = 5;
            Tensor scores = Tensor.of(normal(3, rows * m, 1.0), rows, m);
            Tensor offsets = Tensor.of(new long[] {0, 2, 2, 3, 3, 3, 4}), items = Tensor.of(new int[] {4, 7, 1, 0});
            Tensor wi = Tensor.zeros(DType.INT64, rows, k), wv = Tensor.zeros(DType.FLOAT32, rows, k);
            long wn = ref.pair().topK(scores, offsets, items, wi, wv);
            Tensor gi = Tensor.zeros(CudaTestSupport.device(), DType.INT64, rows, k), gv = Tensor.zeros(CudaTestSupport.device(), DType.FLOAT32, rows, k);
            long gn = gpu.pair().topK(onGpu(scores), onGpu(offsets), onGpu(items), gi, gv);
            assertEquals(wn, gn, "NaN row");
            assertArrayEquals(wi.toLongArray(), gi.toLongArray(), "top-k indices");
            assertClose(toDouble(wv.toFloatArray()), gv.toFloatArray(), 0, "top-k values");
        }
    }
}
