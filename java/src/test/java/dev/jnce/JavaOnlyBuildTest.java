package dev.jnce;

import dev.jnce.loss.CrossEntropy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The java-only build ({@code mvn -Djnce.javaOnly verify}, and by itself on any platform but
 * linux-x86_64): its jar has no native library, the host backend is the pure-Java one, and the
 * reason {@code cpu} is missing says so. Runs only in that build (jnce.test.native=false).
 */
@EnabledIfSystemProperty(named = "jnce.test.native", matches = "false")
class JavaOnlyBuildTest {
    @Test
    void theHostBackendIsJavaAndCpuSaysWhyItIsMissing() {
        assertEquals(List.of("java"), Backends.available());
        assertEquals("java", Backends.host().name());
        String why = Backends.unavailableReason("cpu");
        assertNotNull(why);
        assertTrue(why.contains("this jnce jar has no native library for "), why);
        assertTrue(why.contains("java-only"), why);
    }

    @Test
    void theLossesRunOnJava() {
        try (TensorScope scope = TensorScope.open()) {
            Tensor logits = Tensor.of(new float[][] {{2.0f, 1.0f, 0.1f}, {0.5f, 2.5f, 0.0f}});
            CrossEntropy.Result r = CrossEntropy.create().forwardBackward(logits, Tensor.of(new long[] {0, 1}));
            // float64: mean of -log softmax(row)[target]
            assertEquals(0.306882, r.loss().item(), 1e-5);
        }
    }
}
