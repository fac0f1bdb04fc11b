package dev.jnce.backend.cuda;

import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.backend.ContrastiveKernels.PositiveTargets;
import dev.jnce.backend.ContrastiveKernels.PositivesOutcome;
import dev.jnce.backend.Kernels;
import dev.jnce.loss.EmbeddingResult;
import dev.jnce.loss.InfoNce;
import dev.jnce.testutil.Reductions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static dev.jnce.backend.cuda.CudaTestSupport.cuda;
import static dev.jnce.backend.cuda.CudaTestSupport.normal;
import static dev.jnce.backend.cuda.CudaTestSupport.onGpu;
import static dev.jnce.backend.cuda.CudaTestSupport.reference;
import static dev.jnce.testutil.Approx.assertClose;
import static dev.jnce.testutil.Approx.toDouble;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The several-positives cross-entropy on the GPU against the CPU kernel: labels (int32 and int64)
 * and masks, with and without a self column, rows without positive skipped or reported, every
 * reduction, the gradient over the logits; and SupCon-style InfoNCE by labels on device tensors.
 * Needs a GPU.
 */
@Tag("cuda")
class CudaPositivesTest {
    private static final double TOL = 1e-5;

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (long[] s : new long[][] {{6, 6}, {200, 200}, {64, 3000}})
            for (Reduction r : Reductions.all())
                for (boolean mask : new boolean[] {false, true})
                    for (boolean self : new boolean[] {false, true}) out.add(Arguments.of(s[0], s[1], r, mask, self));
        return out.stream();
    }

    @ParameterizedTest(name = "({0},{1}) {2} mask {3} self {4}")
    @MethodSource("cases")
    void matchesTheCpuKernel(long n, long m, Reduction reduction, boolean byMask, boolean self) {
        CudaBackend gpu = cuda();
        Kernels ref = reference();
        try (TensorScope scope = TensorScope.open()) {
            Random r = new Random(n * 7 + m);
            Tensor s = Tensor.of(normal(n + m, (int) (n * m), 3.0), n, m);
            long[] ql = new long[(int) n], kl = new long[(int) m];
            for (int j = 0; j < m; j++) kl[j] = r.nextInt(5);
            for (int i = 0; i < n; i++) ql[i] = i < m ? kl[i] : r.nextInt(5);
            if (n > 3) ql[3] = 99; // a row without positive
            int[] mv = new int[(int) (n * m)];
            for (int k = 0; k < mv.length; k++) mv[k] = r.nextInt(4) == 0 ? 1 : 0;
            if (n > 3) for (int j = 0; j < m; j++) mv[(int) (3 * m + j)] = 0;
            long selfOffset = self && !byMask ? 0 : -1;
            for (boolean skip : new boolean[] {true, false}) {
                Tensor[] want = new Tensor[2], got = new Tensor[2];
                PositivesOutcome w = run(ref, s, ql, kl, mv, byMask, selfOffset, skip, reduction, false, want);
                PositivesOutcome g = run(gpu, onGpu(s), ql, kl, mv, byMask, selfOffset, skip, reduction, true, got);
                assertEquals(w, g, "outcome, skipEmpty " + skip);
                if (w.rowWithoutPositive() >= 0) continue; // nothing written
                assertClose(toDouble(want[0].toFloatArray()), got[0].toFloatArray(), TOL, "loss");
                assertClose(toDouble(want[1].toFloatArray()), got[1].toFloatArray(), TOL, "grad over the logits");
            }
        }
    }

    @Test
    void infoNceByLabelsRunsOnDeviceTensors() {
        cuda();
        try (TensorScope scope = TensorScope.open()) {
            int n = 48, d = 16;
            Tensor x = Tensor.of(normal(9, n * d, 1.0), n, d);
            long[] labels = new long[n];
            for (int i = 0; i < n; i++) labels[i] = i % 6;
            InfoNce loss = InfoNce.create().withTemperature(0.1f);
            try (EmbeddingResult want = loss.forwardBackwardLabels(x, Tensor.of(labels));
                 EmbeddingResult got = loss.forwardBackwardLabels(onGpu(x), onGpu(Tensor.of(labels)))) {
                assertClose(toDouble(want.loss().toFloatArray()), got.loss().toFloatArray(), TOL, "loss");
                assertClose(toDouble(want.grad().toFloatArray()), got.grad().toFloatArray(), 1e-4, "grad");
            }
        }
    }

    private static PositivesOutcome run(Kernels k, Tensor s, long[] ql, long[] kl, int[] mv, boolean byMask, long selfOffset,
                                        boolean skip, Reduction reduction, boolean gpu, Tensor[] out) {
        var dev = s.device();
        long n = s.size(0), m = s.size(1);
        Tensor grad = s.to(dev); // a copy, written over
        Tensor loss = reduction == Reduction.NONE ? Tensor.zeros(dev, DType.FLOAT32, n) : Tensor.zeros(dev, DType.FLOAT32);
        Tensor q = Tensor.of(ql), kk = Tensor.of(kl), mask = Tensor.of(mv, n, m);
        if (gpu) {
            q = onGpu(q);
            kk = onGpu(kk);
            mask = onGpu(mask);
        }
        PositiveTargets t = byMask ? PositiveTargets.mask(mask, skip, reduction)
                : PositiveTargets.labels(q, kk, selfOffset, skip, reduction);
        PositivesOutcome o = k.contrastive().positivesCrossEntropy(grad, t, loss, grad);
        out[0] = loss;
        out[1] = grad;
        return o;
    }
}
