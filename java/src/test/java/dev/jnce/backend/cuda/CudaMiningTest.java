package dev.jnce.backend.cuda;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.PairKernels.MiningOutcome;
import dev.jnce.ops.HardNegatives;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Random;

import static dev.jnce.backend.cuda.CudaTestSupport.cuda;
import static dev.jnce.backend.cuda.CudaTestSupport.normal;
import static dev.jnce.backend.cuda.CudaTestSupport.onGpu;
import static dev.jnce.backend.cuda.CudaTestSupport.reference;
import static dev.jnce.testutil.Approx.assertClose;
import static dev.jnce.testutil.Approx.toDouble;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Hard-negative mining and the gather of mined rows on the GPU against the CPU kernels: the
 * diagonal, labels and a mask as positives, ties (values repeated), short rows reported, NaN
 * refused, indices out of range named; the gather's backward with repeated indices. Needs a GPU.
 */
@Tag("cuda")
class CudaMiningTest {
    @ParameterizedTest(name = "N={0} M={1} K={2} positives {3}")
    @CsvSource({"8,8,3,diagonal", "100,500,10,labels", "64,300,7,mask", "20,4000,32,labels"})
    void miningMatchesTheCpuKernel(long n, long m, long k, String positives) {
        CudaBackend gpu = cuda();
        Kernels ref = reference();
        try (TensorScope scope = TensorScope.open()) {
            Random r = new Random(n * m + k);
            float[] sv = normal(n + m, (int) (n * m), 1.0);
            for (int i = 0; i < sv.length; i += 5) sv[i] = Math.round(sv[i] * 4) / 4f; // ties
            Tensor sim = Tensor.of(sv, n, m);
            Tensor ql = null, kl = null, mask = null;
            if (positives.equals("labels")) {
                long[] q = new long[(int) n], key = new long[(int) m];
                for (int j = 0; j < m; j++) key[j] = r.nextInt(6);
                for (int i = 0; i < n; i++) q[i] = r.nextInt(6);
                ql = Tensor.of(q);
                kl = Tensor.of(key);
            } else if (positives.equals("mask")) {
                int[] mv = new int[(int) (n * m)];
                for (int x = 0; x < mv.length; x++) mv[x] = r.nextInt(3) == 0 ? 1 : 0;
                mask = Tensor.of(mv, n, m);
            }
            Tensor want = Tensor.zeros(DType.INT64, n, k), got = Tensor.zeros(CudaTestSupport.device(), DType.INT64, n, k);
            MiningOutcome w = ref.pair().hardNegatives(sim, ql, kl, mask, want);
            MiningOutcome g = gpu.pair().hardNegatives(onGpu(sim), onGpu(ql), onGpu(kl), onGpu(mask), got);
            assertEquals(w, g, "outcome");
            assertArrayEquals(want.toLongArray(), got.toLongArray(), "indices");
        }
    }

    @Test
    void shortRowsAreReportedAndNaNIsRefused() {
        CudaBackend gpu = cuda();
        Kernels ref = reference();
        try (TensorScope scope = TensorScope.open()) {
            Tensor sim = Tensor.of(normal(1, 20, 1.0), 4, 5);
            long[] q = {1, 2, 2, 3}, key = {2, 2, 2, 2, 1};
            Tensor want = Tensor.zeros(DType.INT64, 4, 2), got = Tensor.zeros(CudaTestSupport.device(), DType.INT64, 4, 2);
            MiningOutcome w = ref.pair().hardNegatives(sim, Tensor.of(q), Tensor.of(key), null, want);
            MiningOutcome g = gpu.pair().hardNegatives(onGpu(sim), onGpu(Tensor.of(q)), onGpu(Tensor.of(key)), null, got);
            assertEquals(w, g, "row 1 has one negative (key 4)");
            float[] nan = normal(2, 20, 1.0);
            nan[7] = Float.NaN;
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> gpu.pair().hardNegatives(
                    onGpu(Tensor.of(nan, 4, 5)), null, null, null, Tensor.zeros(CudaTestSupport.device(), DType.INT64, 4, 2)));
            assertTrue(e.getMessage().contains("sim row 1 holds NaN"), e.getMessage());
        }
    }

    @Test
    void gatherAndItsBackwardMatchTheCpuKernels() {
        CudaBackend gpu = cuda();
        Kernels ref = reference();
        try (TensorScope scope = TensorScope.open()) {
            int m = 50, d = 70, rows = 400;
            Tensor keys = Tensor.of(normal(3, m * d, 1.0), m, d);
            long[] idx = new long[rows];
            Random r = new Random(4);
            for (int i = 0; i < rows; i++) idx[i] = r.nextInt(m); // repeated indices
            Tensor indices = Tensor.of(idx), grad = Tensor.of(normal(5, rows * d, 1.0), rows, d);
            Tensor want = Tensor.zeros(DType.FLOAT32, rows, d), got = Tensor.zeros(CudaTestSupport.device(), DType.FLOAT32, rows, d);
            ref.pair().gatherRows(keys, indices, want);
            gpu.pair().gatherRows(onGpu(keys), onGpu(indices), got);
            assertClose(toDouble(want.toFloatArray()), got.toFloatArray(), 0, "gathered rows");
            Tensor dk = Tensor.zeros(DType.FLOAT32, m, d), gdk = Tensor.zeros(CudaTestSupport.device(), DType.FLOAT32, m, d);
            ref.pair().gatherRowsBackward(grad, indices, dk);
            gpu.pair().gatherRowsBackward(onGpu(grad), onGpu(indices), gdk);
            assertClose(toDouble(dk.toFloatArray()), gdk.toFloatArray(), 1e-5, "their gradient, added");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> gpu.pair().gatherRows(onGpu(keys), onGpu(Tensor.of(new long[] {3, 50})), Tensor.zeros(CudaTestSupport.device(),
                            DType.FLOAT32, 2, d)));
            assertTrue(e.getMessage().contains("indices[1] = 50 is outside [0, 50)"), e.getMessage());
            Tensor mined = HardNegatives.create(3).mine(onGpu(Tensor.of(normal(6, 36, 1.0), 6, 6)));
            assertEquals(dev.jnce.Device.cuda(0), mined.device());
        }
    }
}
