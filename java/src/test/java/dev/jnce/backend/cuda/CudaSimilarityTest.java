package dev.jnce.backend.cuda;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.backend.Kernels;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static dev.jnce.backend.cuda.CudaTestSupport.cuda;
import static dev.jnce.backend.cuda.CudaTestSupport.device;
import static dev.jnce.backend.cuda.CudaTestSupport.normal;
import static dev.jnce.backend.cuda.CudaTestSupport.onGpu;
import static dev.jnce.backend.cuda.CudaTestSupport.reference;
import static dev.jnce.testutil.Approx.assertClose;
import static dev.jnce.testutil.Approx.toDouble;

/** cuBLAS GEMM (three modes), L2 normalisation and the InfoNCE masking step against the CPU. Needs a GPU. */
@Tag("cuda")
class CudaSimilarityTest {

    @ParameterizedTest(name = "transA={0} transB={1} ({2},{3},{4}) {5}")
    @CsvSource({
            "false, false, 7, 5, 3, FP32, 1e-5", "true, false, 7, 5, 3, FP32, 1e-5",
            "false, true, 64, 48, 130, FP32, 1e-5", "true, true, 65, 33, 17, FP32, 1e-5",
            "false, true, 256, 256, 512, TF32, 5e-3", "false, true, 256, 256, 512, BF16, 3e-2"})
    void gemmMatchesTheCpu(boolean transA, boolean transB, int m, int n, int k, GemmMode mode, double tol) {
        CudaBackend gpu = cuda();
        CudaBackend modal = mode == GemmMode.FP32 ? gpu : new CudaBackend(0, mode);
        Kernels ref = reference();
        try (TensorScope scope = TensorScope.open()) {
            // unit-norm rows keep |C| <= 1, so the tolerance is an absolute error per entry
            Tensor a = Tensor.of(unitRows(normal(m + k, m * k, 1.0), transA ? m : k), transA ? k : m, transA ? m : k);
            Tensor b = Tensor.of(unitRows(normal(n + 3L * k, n * k, 1.0), transB ? k : n), transB ? n : k, transB ? k : n);
            Tensor c0 = Tensor.of(normal(5, m * n, 1.0), m, n);
            Tensor want = c0.to(dev.jnce.Device.HOST);
            ref.similarity().gemm(transA, transB, 0.5f, a, b, 0.25f, want);
            Tensor got = onGpu(c0);
            modal.similarity().gemm(transA, transB, 0.5f, onGpu(a), onGpu(b), 0.25f, got);
            assertClose(toDouble(want.toFloatArray()), got.toFloatArray(), tol, "c " + mode);
        }
    }

    @ParameterizedTest(name = "({0},{1}) eps={2}")
    @CsvSource({"5, 3, 1e-12", "17, 512, 1e-12", "4, 5000, 1e-12", "6, 4, 10"})
    void normalizeAndItsGradientMatchTheCpu(int n, int d, float eps) {
        CudaBackend gpu = cuda();
        Kernels ref = reference();
        try (TensorScope scope = TensorScope.open()) {
            float[] xv = normal(n * 7L + d, n * d, 1.0);
            for (int j = 0; j < d; j++) xv[j] = 0; // a zero row: the clamped branch
            Tensor x = Tensor.of(xv, n, d), dy = Tensor.of(normal(d, n * d, 1.0), n, d);
            Tensor y = Tensor.zeros(DType.FLOAT32, n, d), dx = Tensor.zeros(DType.FLOAT32, n, d);
            ref.similarity().normalize(x, eps, y);
            ref.similarity().normalizeBackward(x, dy, eps, dx);
            Tensor gy = Tensor.zeros(device(), DType.FLOAT32, n, d), gdx = onGpu(dy);
            gpu.similarity().normalize(onGpu(x), eps, gy);
            gpu.similarity().normalizeBackward(onGpu(x), gdx, eps, gdx); // dx over dy
            assertClose(toDouble(y.toFloatArray()), gy.toFloatArray(), 1e-5, "y");
            assertClose(toDouble(dx.toFloatArray()), gdx.toFloatArray(), 1e-4, "dx");
        }
    }

    @Test
    void scaleFillDiagonalMasksOneDiagonal() {
        CudaBackend gpu = cuda();
        int n = 5, m = 9;
        long offset = 2;
        try (TensorScope scope = TensorScope.open()) {
            float[] s = normal(11, n * m, 1.0);
            Tensor gs = onGpu(Tensor.of(s, n, m));
            gpu.scaleFillDiagonal(gs, 1 / 0.07f, offset, Float.NEGATIVE_INFINITY);
            double[] want = new double[n * m];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < m; j++)
                    want[i * m + j] = j == i + offset ? Double.NEGATIVE_INFINITY : s[i * m + j] * (1 / 0.07f);
            assertClose(want, gs.toFloatArray(), 1e-6, "s");
        }
    }

    private static float[] unitRows(float[] v, int cols) {
        for (int i = 0; i < v.length; i += cols) {
            double ss = 0;
            for (int j = 0; j < cols; j++) ss += (double) v[i + j] * v[i + j];
            float inv = (float) (1 / Math.sqrt(ss));
            for (int j = 0; j < cols; j++) v[i + j] *= inv;
        }
        return v;
    }
}
