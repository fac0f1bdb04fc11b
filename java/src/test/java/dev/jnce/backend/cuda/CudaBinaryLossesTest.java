package dev.jnce.backend.cuda;

import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.backend.Kernels;
import dev.jnce.loss.BinaryCrossEntropy;
import dev.jnce.loss.BinaryCrossEntropyWithLogits;
import dev.jnce.loss.InputTargetResult;
import dev.jnce.loss.SigmoidFocalLoss;
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

/**
 * The element-wise binary losses on the GPU (BCE, BCE with logits, sigmoid focal) against the CPU
 * kernels, option by option: weights per element and per class, pos_weight, each reduction, with
 * and without each gradient, gradients written over their inputs. Needs a GPU.
 */
@Tag("cuda")
class CudaBinaryLossesTest {
    private static final double TOL = 1e-5;

    enum Op { BCE, LOGITS, FOCAL }

    enum Weight { NONE, PER_CLASS, PER_ELEMENT }

    static Stream<Arguments> cases() {
        long[][] shapes = {{37, 129}, {512, 2000}};
        List<Arguments> out = new ArrayList<>();
        for (long[] s : shapes)
            for (Reduction r : Reductions.all()) {
                for (Weight w : Weight.values()) {
                    out.add(Arguments.of(Op.BCE, s[0], s[1], r, w, false, 0f, 0f));
                    out.add(Arguments.of(Op.LOGITS, s[0], s[1], r, w, false, 0f, 0f));
                    out.add(Arguments.of(Op.LOGITS, s[0], s[1], r, w, true, 0f, 0f));
                }
                for (float[] ag : new float[][] {{0.25f, 2f}, {-1f, 0f}, {0.75f, 1f}, {0.25f, 1.5f}})
                    out.add(Arguments.of(Op.FOCAL, s[0], s[1], r, Weight.NONE, false, ag[0], ag[1]));
            }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} ({1},{2}) {3} weight {4} posWeight {5} alpha {6} gamma {7}")
    @MethodSource("cases")
    void matchesTheCpuKernels(Op op, long n, long c, Reduction reduction, Weight weighting, boolean posWeighted,
                              float alpha, float gamma) {
        CudaBackend gpu = cuda();
        Kernels ref = reference();
        try (TensorScope scope = TensorScope.open()) {
            int numel = (int) (n * c);
            Random r = new Random(numel + op.ordinal());
            float[] x = op == Op.BCE ? probabilities(r, numel) : normal(numel + 1, numel, 3.0);
            float[] y = new float[numel];
            for (int i = 0; i < numel; i++) y[i] = i % 5 == 0 ? r.nextFloat() : r.nextInt(2); // soft and hard targets
            Tensor input = Tensor.of(x, n, c), target = Tensor.of(y, n, c);
            Tensor weight = switch (weighting) {
                case NONE -> null;
                case PER_CLASS -> Tensor.of(positive(r, (int) c), c);
                case PER_ELEMENT -> Tensor.of(positive(r, numel), n, c);
            };
            Tensor posWeight = posWeighted ? Tensor.of(positive(r, (int) c), c) : null;
            for (int grads = 0; grads < 3; grads++) { // both gradients, the input's only, none
                Tensor[] want = run(ref, op, input, target, weight, posWeight, reduction, alpha, gamma, grads, false);
                Tensor[] got = run(gpu, op, onGpu(input), onGpu(target), onGpu(weight), onGpu(posWeight), reduction, alpha,
                        gamma, grads, false);
                String what = op + " grads " + grads;
                assertClose(toDouble(want[0].toFloatArray()), got[0].toFloatArray(), TOL, what + ": loss");
                if (grads < 2) assertClose(toDouble(want[1].toFloatArray()), got[1].toFloatArray(), TOL, what + ": d input");
                if (grads < 1) assertClose(toDouble(want[2].toFloatArray()), got[2].toFloatArray(), TOL, what + ": d target");
            }
            // gradients written over the input and the target
            Tensor[] want = run(ref, op, input, target, weight, posWeight, reduction, alpha, gamma, 0, false);
            Tensor[] got = run(gpu, op, onGpu(input), onGpu(target), onGpu(weight), onGpu(posWeight), reduction, alpha, gamma,
                    0, true);
            assertClose(toDouble(want[1].toFloatArray()), got[1].toFloatArray(), TOL, op + ": d input over the input");
            assertClose(toDouble(want[2].toFloatArray()), got[2].toFloatArray(), TOL, op + ": d target over the target");
        }
    }

    static Stream<Arguments> softmaxFocalCases() {
        List<Arguments> out = new ArrayList<>();
        for (long[] s : new long[][] {{37, 10}, {300, 1000}, {4, 40000}})
            for (Reduction r : Reductions.all())
                for (float gamma : new float[] {0f, 1f, 2f, 1.5f})
                    for (boolean alpha : new boolean[] {false, true}) out.add(Arguments.of(s[0], s[1], r, gamma, alpha));
        return out.stream();
    }

    @ParameterizedTest(name = "softmax focal ({0},{1}) {2} gamma {3} alpha {4}")
    @MethodSource("softmaxFocalCases")
    void softmaxFocalMatchesTheCpuKernel(long n, long c, Reduction reduction, float gamma, boolean withAlpha) {
        CudaBackend gpu = cuda();
        Kernels ref = reference();
        try (TensorScope scope = TensorScope.open()) {
            Random r = new Random(n * c);
            float[] xv = normal(n + c, (int) (n * c), 4.0);
            if (n > 3) xv[(int) (2 * c + 1)] = Float.NaN; // row 2 is NaN
            Tensor x = Tensor.of(xv, n, c);
            long[] t = new long[(int) n];
            for (int i = 0; i < n; i++) t[i] = r.nextInt((int) c);
            Tensor targets = Tensor.of(t), alpha = withAlpha ? Tensor.of(positive(r, (int) c), c) : null;
            var dev = CudaTestSupport.device();
            Tensor wantLoss = reduction == Reduction.NONE ? Tensor.zeros(DType.FLOAT32, n) : Tensor.zeros(DType.FLOAT32);
            Tensor wantGrad = Tensor.zeros(DType.FLOAT32, n, c);
            ref.focal().softmaxFocal(x, targets, alpha, gamma, reduction, wantLoss, wantGrad);
            Tensor loss = reduction == Reduction.NONE ? Tensor.zeros(dev, DType.FLOAT32, n) : Tensor.zeros(dev, DType.FLOAT32);
            Tensor over = onGpu(x); // the gradient over the logits
            gpu.focal().softmaxFocal(over, onGpu(targets), onGpu(alpha), gamma, reduction, loss, over);
            assertClose(toDouble(wantLoss.toFloatArray()), loss.toFloatArray(), TOL, "loss");
            assertClose(toDouble(wantGrad.toFloatArray()), over.toFloatArray(), TOL, "grad over the logits");
        }
    }

    @Test
    void softmaxFocalNamesATargetOutOfRange() {
        CudaBackend gpu = cuda();
        try (TensorScope scope = TensorScope.open()) {
            var dev = CudaTestSupport.device();
            Tensor x = onGpu(Tensor.of(normal(1, 12, 1.0), 3, 4));
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> gpu.focal().softmaxFocal(x, onGpu(Tensor.of(new long[] {0, 7, 1})), null, 2f, Reduction.MEAN,
                            Tensor.zeros(dev, DType.FLOAT32), null));
            org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("targets[1]=7 is outside [0,4)"), e.getMessage());
        }
    }

    /** The public loss classes on device tensors, against the same classes on host tensors. */
    @Test
    void publicClassesRunOnDeviceTensors() {
        cuda();
        try (TensorScope scope = TensorScope.open()) {
            Random r = new Random(7);
            int n = 64, c = 33;
            Tensor p = Tensor.of(probabilities(r, n * c), n, c), x = Tensor.of(normal(8, n * c, 2.0), n, c);
            float[] yv = new float[n * c];
            for (int i = 0; i < yv.length; i++) yv[i] = r.nextInt(2);
            Tensor y = Tensor.of(yv, n, c), pw = Tensor.of(positive(r, c), c);
            compare(BinaryCrossEntropy.create().forwardBackward(p, y), BinaryCrossEntropy.create().forwardBackward(onGpu(p), onGpu(y)),
                    "BinaryCrossEntropy");
            BinaryCrossEntropyWithLogits logits = BinaryCrossEntropyWithLogits.create().withPosWeight(pw);
            BinaryCrossEntropyWithLogits logitsGpu = BinaryCrossEntropyWithLogits.create().withPosWeight(onGpu(pw));
            compare(logits.forwardBackward(x, y), logitsGpu.forwardBackward(onGpu(x), onGpu(y)), "BinaryCrossEntropyWithLogits");
            compare(SigmoidFocalLoss.create().forwardBackward(x, y), SigmoidFocalLoss.create().forwardBackward(onGpu(x), onGpu(y)),
                    "SigmoidFocalLoss");
        }
    }

    private static void compare(InputTargetResult want, InputTargetResult got, String what) {
        assertClose(toDouble(want.loss().toFloatArray()), got.loss().toFloatArray(), TOL, what + ": loss");
        assertClose(toDouble(want.gradInput().toFloatArray()), got.gradInput().toFloatArray(), TOL, what + ": d input");
        if (want.gradTarget() != null)
            assertClose(toDouble(want.gradTarget().toFloatArray()), got.gradTarget().toFloatArray(), TOL, what + ": d target");
    }

    private static Tensor[] run(Kernels k, Op op, Tensor input, Tensor target, Tensor weight, Tensor posWeight,
                                Reduction reduction, float alpha, float gamma, int grads, boolean inPlace) {
        var device = input.device();
        if (inPlace) { // copies, so that the caller's tensors stay as they were
            input = input.to(device);
            target = target.to(device);
        }
        Tensor loss = reduction == Reduction.NONE ? Tensor.zeros(device, DType.FLOAT32, input.shape())
                : Tensor.zeros(device, DType.FLOAT32);
        Tensor gx = grads < 2 ? (inPlace ? input : Tensor.zeros(device, DType.FLOAT32, input.shape())) : null;
        Tensor gy = grads < 1 ? (inPlace ? target : Tensor.zeros(device, DType.FLOAT32, input.shape())) : null;
        switch (op) {
            case BCE -> k.binaryCrossEntropy().binaryCrossEntropy(input, target, weight, reduction, loss, gx, gy);
            case LOGITS -> k.binaryCrossEntropy().binaryCrossEntropyWithLogits(input, target, weight, posWeight, reduction,
                    loss, gx, gy);
            case FOCAL -> k.focal().sigmoidFocal(input, target, alpha, gamma, reduction, loss, gx, gy);
        }
        return new Tensor[] {loss, gx, gy};
    }

    /** Probabilities in (0,1), with exact 0 and 1 among them (the clamped logarithms). */
    private static float[] probabilities(Random r, int n) {
        float[] p = new float[n];
        for (int i = 0; i < n; i++) p[i] = i % 97 == 3 ? 0f : i % 89 == 5 ? 1f : r.nextFloat();
        return p;
    }

    private static float[] positive(Random r, int n) {
        float[] w = new float[n];
        for (int i = 0; i < n; i++) w[i] = 0.1f + 2 * r.nextFloat();
        return w;
    }
}
