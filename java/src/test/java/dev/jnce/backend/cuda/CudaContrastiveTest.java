package dev.jnce.backend.cuda;

import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.backend.ContrastiveKernels;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.SimilarityKernels;
import dev.jnce.loss.EmbeddingResult;
import dev.jnce.loss.InfoNce;
import dev.jnce.loss.NtXent;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import static dev.jnce.backend.cuda.CudaTestSupport.cuda;
import static dev.jnce.backend.cuda.CudaTestSupport.device;
import static dev.jnce.backend.cuda.CudaTestSupport.normal;
import static dev.jnce.backend.cuda.CudaTestSupport.onGpu;
import static dev.jnce.backend.cuda.CudaTestSupport.reference;
import static dev.jnce.testutil.Approx.assertClose;
import static dev.jnce.testutil.Approx.toDouble;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The level-1 operations (blas1.cu), the InfoNCE sweep's steps (infonce.cu) and the InfoNCE
 * forms they carry (two towers, shared negatives, NT-Xent in row blocks) on the GPU against the
 * CPU. Needs a GPU.
 */
@Tag("cuda")
class CudaContrastiveTest {

    @Test
    void levelOneMatchesTheCpu() {
        CudaBackend gpu = cuda();
        SimilarityKernels ref = reference().similarity(), sim = gpu.similarity();
        int n = 300_007;
        try (TensorScope scope = TensorScope.open()) {
            Tensor x = Tensor.of(normal(1, n, 1.0)), y = Tensor.of(normal(2, n, 1.0));
            Tensor gx = onGpu(x), gy = onGpu(y);
            assertEquals(ref.dot(x, y), sim.dot(gx, gy), 1e-9 * n, "dot");
            ref.axpy(0.5f, x, y);
            sim.axpy(0.5f, gx, gy);
            assertClose(toDouble(y.toFloatArray()), gy.toFloatArray(), 1e-6, "axpy");
            ref.scale(-3f, x);
            sim.scale(-3f, gx);
            assertArrayEquals(x.toFloatArray(), gx.toFloatArray(), "scale");
            Tensor gz = Tensor.zeros(device(), DType.FLOAT32, n);
            sim.copy(gy, gz);
            assertArrayEquals(y.toFloatArray(), gz.toFloatArray(), "copy");
            sim.fill(2.5f, gz);
            assertEquals(2.5f, gz.toFloatArray()[n - 1], "fill");
        }
    }

    @Test
    void sweepStepsMatchTheCpu() {
        CudaBackend gpu = cuda();
        ContrastiveKernels ref = reference().contrastive(), con = gpu.contrastive();
        int rows = 40, m = 50;
        try (TensorScope scope = TensorScope.open()) {
            Tensor t = Tensor.zeros(DType.INT64, rows), gt = Tensor.zeros(device(), DType.INT64, rows);
            ref.diagonalTargets(17, m, t);
            con.diagonalTargets(17, m, gt);
            assertArrayEquals(t.toLongArray(), gt.toLongArray(), "diagonal targets");

            Tensor s = Tensor.of(normal(3, rows * m, 1.0), rows, m), gs = onGpu(s);
            Tensor p = Tensor.zeros(DType.FLOAT32, rows), gp = Tensor.zeros(device(), DType.FLOAT32, rows);
            ref.excludeLogits(s, 20, 35, 1, p);
            con.excludeLogits(gs, 20, 35, 1, gp);
            assertArrayEquals(s.toFloatArray(), gs.toFloatArray(), "excluded logits");
            assertArrayEquals(p.toFloatArray(), gp.toFloatArray(), "the positives' logits");

            for (Reduction r : new Reduction[] {Reduction.NONE, Reduction.SUM, Reduction.MEAN}) {
                Tensor l = r == Reduction.NONE ? Tensor.zeros(DType.FLOAT32, rows) : Tensor.zeros(DType.FLOAT32);
                Tensor gl = r == Reduction.NONE ? Tensor.zeros(device(), DType.FLOAT32, rows) : Tensor.zeros(device(), DType.FLOAT32);
                Tensor rowLoss = Tensor.of(normal(4, rows, 3.0));
                ref.reduceRows(rowLoss, p, r, 33, l);
                con.reduceRows(onGpu(rowLoss), gp, r, 33, gl);
                assertClose(toDouble(l.toFloatArray()), gl.toFloatArray(), 1e-7, "reduced rows " + r);
            }
            Tensor labels = Tensor.of(new long[] {3, 1, 3, 2, 1});
            assertEquals(ref.firstUnsharedLabel(labels), con.firstUnsharedLabel(onGpu(labels)), "first unshared label");
        }
    }

    enum Form { TWO_TOWERS, SHARED, TWO_TOWERS_DECOUPLED, NT_XENT_BLOCKS, NT_XENT_DEFAULT }

    @ParameterizedTest
    @EnumSource(Form.class)
    void infoNceFormsMatchTheCpu(Form form) {
        CudaBackend gpu = cuda();
        Kernels ref = reference();
        int n = 300, d = 64;
        try (TensorScope scope = TensorScope.open()) {
            Tensor q = Tensor.of(normal(5, n * d, 1.0), n, d), k = Tensor.of(normal(6, n * d, 1.0), n, d);
            Tensor neg = Tensor.of(normal(7, 40 * d, 1.0), 40, d);
            InfoNce loss = InfoNce.create().withTemperature(0.07f).withBlockRows(128).withDecoupled(form == Form.TWO_TOWERS_DECOUPLED);
            if (form == Form.NT_XENT_BLOCKS || form == Form.NT_XENT_DEFAULT) {
                // by default a one-tensor form sweeps row blocks on the GPU (there is no symmetric kernel there)
                NtXent nt = form == Form.NT_XENT_DEFAULT ? NtXent.create().withTemperature(0.2f)
                        : NtXent.create().withTemperature(0.2f).withBlockRows(100);
                try (EmbeddingResult want = nt.withBackend(ref).forwardBackward(q); EmbeddingResult got = nt.forwardBackward(onGpu(q))) {
                    assertClose(toDouble(want.loss().toFloatArray()), got.loss().toFloatArray(), 1e-5, "loss");
                    assertClose(toDouble(want.grad().toFloatArray()), got.grad().toFloatArray(), 1e-5, "grad");
                    assertEquals(want.gradTemperature(), got.gradTemperature(), 1e-4 * Math.max(1, Math.abs(want.gradTemperature())));
                }
                return;
            }
            boolean shared = form == Form.SHARED;
            try (InfoNce.Result want = shared ? loss.withBackend(ref).forwardBackward(q, k, neg) : loss.withBackend(ref).forwardBackward(q, k);
                 InfoNce.Result got = shared ? loss.forwardBackward(onGpu(q), onGpu(k), onGpu(neg)) : loss.forwardBackward(onGpu(q), onGpu(k))) {
                assertEquals(device(), got.gradQueries().device(), "outputs on the call's device");
                assertClose(toDouble(want.loss().toFloatArray()), got.loss().toFloatArray(), 1e-5, "loss");
                assertClose(toDouble(want.gradQueries().toFloatArray()), got.gradQueries().toFloatArray(), 1e-5, "gradQueries");
                assertClose(toDouble(want.gradKeys().toFloatArray()), got.gradKeys().toFloatArray(), 1e-5, "gradKeys");
                if (shared) {
                    assertClose(toDouble(want.gradNegatives().toFloatArray()), got.gradNegatives().toFloatArray(), 1e-5, "gradNegatives");
                }
                assertEquals(want.gradTemperature(), got.gradTemperature(), 1e-4 * Math.max(1, Math.abs(want.gradTemperature())));
            }
        }
    }
}
