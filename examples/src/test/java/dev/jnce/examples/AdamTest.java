package dev.jnce.examples;

import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

import static dev.jnce.testutil.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Adam against steps computed by hand (and by torch.optim.Adam 1.13, which agrees). */
class AdamTest {
    @Test
    void twoStepsMatchTheHandComputedValues() {
        try (TensorScope scope = TensorScope.open()) {
            Tensor p = Tensor.of(new float[] {1.0f, -2.0f, 0.5f});
            Tensor g = Tensor.of(new float[] {0.5f, -0.1f, 0.0f});
            Adam adam = new Adam(List.of(p), List.of(g), 0.1);

            // step 1: m/(1-b1) = g and v/(1-b2) = g^2, so p moves by lr * g/(|g| + eps): lr against
            // the gradient's sign, nothing where g = 0
            adam.step();
            assertClose(new double[] {0.9, -1.9, 0.5}, p.toFloatArray(), 1e-7, "after step 1");

            // step 2, first entry: m = 0.9*0.05 + 0.1*0.2 = 0.065, v = 0.999*0.00025 + 0.001*0.04
            // = 0.00028975; update = 0.1 * (0.065/0.19) / sqrt(0.00028975/0.001999) = 0.0898575...
            set(g, 0.2f, 0.3f, -4.0f);
            adam.step();
            assertClose(new double[] {0.810142484, -1.949418991, 0.574413682}, p.toFloatArray(), 1e-6, "after step 2");
            assertEquals(2, adam.steps());
        }
    }

    @Test
    void gradientsMustMatchTheirParameters() {
        try (TensorScope scope = TensorScope.open()) {
            Tensor p = Tensor.of(new float[3]), g = Tensor.of(new float[4]);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new Adam(List.of(p), List.of(g), 0.1));
            assertEquals("grads: tensor 0 is float32(4), its parameter float32(3)", e.getMessage());
        }
    }

    private static void set(Tensor t, float... values) {
        MemorySegment.copy(values, 0, t.segment(), ValueLayout.JAVA_FLOAT, 0, values.length);
    }
}
