package dev.jnce.loss;

import dev.jnce.Reduction;
import dev.jnce.Backend;
import dev.jnce.Tensor;
import dev.jnce.testutil.ScopedTest;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** InfoNce.forward (loss only, for evaluation) gives the loss of forwardBackward. */
class InfoNceForwardTest extends ScopedTest {

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void forwardEqualsTheLossOfForwardBackward(Backend backend) {
        Tensor q = Tensor.of(InfoNceTest.random(7 * 5, 1), 7, 5), k = Tensor.of(InfoNceTest.random(7 * 5, 2), 7, 5);
        for (boolean decoupled : new boolean[] {false, true}) {
            InfoNce loss = InfoNce.create().withTemperature(0.2f).withDecoupled(decoupled).withBackend(backend);
            assertEquals(loss.forwardBackward(q, k).loss().item(), loss.forward(q, k).item(), 0f, "two towers");
            assertEquals(loss.forwardBackward(q).loss().item(), loss.forward(q).item(), 0f, "one tensor");
        }
        InfoNce none = InfoNce.create().withReduction(Reduction.NONE).withBackend(backend);
        float[] rows = none.forward(q, k).toFloatArray();
        float[] expected = none.forwardBackward(q, k).loss().toFloatArray();
        for (int i = 0; i < rows.length; i++) assertEquals(expected[i], rows[i], 0f);
    }
}
