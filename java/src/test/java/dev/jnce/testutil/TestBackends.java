package dev.jnce.testutil;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.backend.java.JavaBackend;

import java.util.List;
import java.util.stream.Stream;

/**
 * The backends every op test runs on: native cpu, pure Java with the Vector API, and pure
 * Java scalar. The cpu backend must load here: a test that needs it fails, never skips.
 */
public final class TestBackends {
    private TestBackends() {
    }

    public static List<Backend> all() {
        return List.of(Backends.get("cpu"), new JavaBackend(true), new Named(new JavaBackend(false), "java-scalar"));
    }

    /** For @MethodSource: one argument per backend; the display name is the backend's name. */
    public static Stream<Backend> backends() {
        return all().stream();
    }

    /** A backend shown under another name in test reports. */
    record Named(JavaBackend inner, String label) implements dev.jnce.backend.Kernels {
        @Override
        public String name() {
            return label;
        }

        @Override
        public String description() {
            return inner.description();
        }

        @Override
        public void softmaxCrossEntropy(dev.jnce.Tensor logits, dev.jnce.Tensor targets,
                                        dev.jnce.loss.Reduction reduction, dev.jnce.Tensor loss, dev.jnce.Tensor grad) {
            inner.softmaxCrossEntropy(logits, targets, reduction, loss, grad);
        }

        @Override
        public String toString() {
            return label;
        }
    }
}
