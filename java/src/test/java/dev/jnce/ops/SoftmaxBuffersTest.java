package dev.jnce.ops;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.testutil.ScopedTest;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Softmax into the caller's buffers (forward, backward, both at once) gives what the allocating forms give, in place too. */
class SoftmaxBuffersTest extends ScopedTest {

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void intoBuffersEqualsTheAllocatingForms(Backend backend) {
        int n = 5, c = 37;
        float[] x = new float[n * c], dy = new float[n * c];
        SplittableRandom random = new SplittableRandom(3);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (random.nextGaussian() * 3);
            dy[i] = (float) random.nextGaussian();
        }
        for (Softmax.Function f : new Softmax.Function[] {Softmax.Function.SOFTMAX, Softmax.Function.LOG_SOFTMAX}) {
            Softmax op = Softmax.create().withFunction(f).withBackend(backend);
            Tensor input = Tensor.of(x, n, c), gradOutput = Tensor.of(dy, n, c);
            Tensor expectedOut = op.forward(input);
            Tensor expectedGrad = op.backward(expectedOut, gradOutput);

            Tensor out = Tensor.zeros(DType.FLOAT32, n, c), grad = Tensor.zeros(DType.FLOAT32, n, c);
            op.forward(input, out);
            op.backward(out, gradOutput, grad);
            assertArrayEquals(expectedOut.toFloatArray(), out.toFloatArray(), 0f, f + " forward");
            assertArrayEquals(expectedGrad.toFloatArray(), grad.toFloatArray(), 0f, f + " backward");

            Tensor inPlace = Tensor.of(x, n, c), g = Tensor.of(dy, n, c);
            op.forward(inPlace, inPlace);
            op.backward(inPlace, g, g);
            assertArrayEquals(expectedOut.toFloatArray(), inPlace.toFloatArray(), 0f, f + " forward in place");
            assertArrayEquals(expectedGrad.toFloatArray(), g.toFloatArray(), 0f, f + " backward in place");
        }
        Softmax lse = Softmax.logsumexp().withBackend(backend);
        Tensor rows = Tensor.zeros(DType.FLOAT32, n);
        lse.forward(Tensor.of(x, n, c), rows);
        assertArrayEquals(lse.forward(Tensor.of(x, n, c)).toFloatArray(), rows.toFloatArray(), 0f, "logsumexp");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void forwardBackwardIntoBuffersEqualsTheAllocatingForm(Backend backend) {
        int n = 4, c = 19;
        float[] x = new float[n * c], dy = new float[n * c];
        SplittableRandom random = new SplittableRandom(5);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (random.nextGaussian() * 3);
            dy[i] = (float) random.nextGaussian();
        }
        for (Softmax.Function f : Softmax.Function.values()) {
            Softmax op = Softmax.create().withFunction(f).withBackend(backend);
            boolean lse = f == Softmax.Function.LOGSUMEXP;
            Tensor input = Tensor.of(x, n, c), gradOutput = lse ? Tensor.of(java.util.Arrays.copyOf(dy, n), n) : Tensor.of(dy, n, c);
            Softmax.Result want = op.forwardBackward(input, gradOutput);
            Tensor out = lse ? Tensor.zeros(DType.FLOAT32, n) : Tensor.zeros(DType.FLOAT32, n, c);
            Tensor grad = Tensor.zeros(DType.FLOAT32, n, c);
            op.forwardBackward(input, gradOutput, out, grad);
            assertArrayEquals(want.output().toFloatArray(), out.toFloatArray(), 0f, f + " output");
            assertArrayEquals(want.grad().toFloatArray(), grad.toFloatArray(), 0f, f + " gradient");
            if (lse) continue;
            Tensor inPlace = Tensor.of(x, n, c), g = Tensor.of(dy, n, c);
            op.forwardBackward(inPlace, g, inPlace, g);
            assertArrayEquals(want.output().toFloatArray(), inPlace.toFloatArray(), 0f, f + " output over the input");
            assertArrayEquals(want.grad().toFloatArray(), g.toFloatArray(), 0f, f + " gradient over the upstream gradient");
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Softmax.create().withBackend(backend)
                .forwardBackward(Tensor.of(x, n, c), Tensor.of(dy, n, c), Tensor.zeros(DType.FLOAT32, n, c),
                        Tensor.zeros(DType.FLOAT32, c, n)));
        assertTrue(e.getMessage().contains("gradInput") && e.getMessage().contains("(19, 4)"), e.getMessage());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void buffersOfTheWrongShapeAreRejected(Backend backend) {
        Tensor input = Tensor.of(new float[6], 2, 3);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Softmax.create().withBackend(backend).forward(input, Tensor.zeros(DType.FLOAT32, 3, 2)));
        assertTrue(e.getMessage().contains("out") && e.getMessage().contains("(2, 3)") && e.getMessage().contains("(3, 2)"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Softmax.create().withBackend(backend)
                .backward(input, Tensor.of(new float[6], 2, 3), Tensor.zeros(DType.FLOAT32, 6)));
        assertTrue(e.getMessage().contains("gradInput") && e.getMessage().contains("(6)"), e.getMessage());
    }
}
