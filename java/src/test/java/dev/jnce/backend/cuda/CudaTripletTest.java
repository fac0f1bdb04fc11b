package dev.jnce.backend.cuda;

import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.PairKernels.Triplet;
import dev.jnce.testutil.Reductions;
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
 * The triplet margin loss on the GPU against the CPU kernel: pairwise distances with p = 2, 1 and
 * 3, the cosine distance, swap, every reduction, a row with NaN and a row whose hinge is 0. Needs a GPU.
 */
@Tag("cuda")
class CudaTripletTest {
    private static final double TOL = 1e-5;

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (long[] s : new long[][] {{9, 5}, {300, 128}, {20, 3000}})
            for (Reduction r : Reductions.all())
                for (boolean cosine : new boolean[] {false, true})
                    for (float p : cosine ? new float[] {2f} : new float[] {2f, 1f, 3f})
                        for (boolean swap : new boolean[] {false, true}) out.add(Arguments.of(s[0], s[1], r, cosine, p, swap));
        return out.stream();
    }

    @ParameterizedTest(name = "({0},{1}) {2} cosine {3} p {4} swap {5}")
    @MethodSource("cases")
    void matchesTheCpuKernel(long n, long d, Reduction reduction, boolean cosine, float p, boolean swap) {
        CudaBackend gpu = cuda();
        Kernels ref = reference();
        try (TensorScope scope = TensorScope.open()) {
            float[] av = normal(n + d, (int) (n * d), 1.0), pv = normal(n + d + 1, (int) (n * d), 1.0);
            float[] nv = normal(n + d + 2, (int) (n * d), 1.0);
            if (n > 3) {
                av[(int) (2 * d)] = Float.NaN; // row 2
                for (int j = 0; j < d; j++) nv[(int) (3 * d + j)] = pv[(int) (3 * d + j)] + 50f; // row 3: far negative, hinge 0
            }
            Tensor a = Tensor.of(av, n, d), pp = Tensor.of(pv, n, d), ng = Tensor.of(nv, n, d);
            Triplet o = new Triplet(cosine, 1.0f, p, 1e-6f, swap, reduction);
            Tensor[] want = run(ref, a, pp, ng, o), got = run(gpu, onGpu(a), onGpu(pp), onGpu(ng), o);
            String[] what = {"loss", "d anchor", "d positive", "d negative"};
            for (int k = 0; k < 4; k++) assertClose(toDouble(want[k].toFloatArray()), got[k].toFloatArray(), TOL, what[k]);
        }
    }

    private static Tensor[] run(Kernels k, Tensor a, Tensor p, Tensor n, Triplet o) {
        var dev = a.device();
        long rows = a.size(0), d = a.size(1);
        Tensor loss = o.reduction() == Reduction.NONE ? Tensor.zeros(dev, DType.FLOAT32, rows) : Tensor.zeros(dev, DType.FLOAT32);
        Tensor ga = Tensor.zeros(dev, DType.FLOAT32, rows, d), gp = Tensor.zeros(dev, DType.FLOAT32, rows, d);
        Tensor gn = Tensor.zeros(dev, DType.FLOAT32, rows, d);
        k.pair().tripletMargin(a, p, n, o, loss, ga, gp, gn);
        return new Tensor[] {loss, ga, gp, gn};
    }
}
