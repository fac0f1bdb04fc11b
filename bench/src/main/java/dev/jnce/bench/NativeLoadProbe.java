package dev.jnce.bench;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.loss.CrossEntropy;

/**
 * How long the {@code cpu} backend takes to become ready in a fresh JVM, for
 * bench/scripts/native_load.sh: {@code Backends.get("cpu")} (unpack or reuse the native files,
 * load libjnce.so and OpenBLAS, check the bindings), then the first call (the README's
 * cross-entropy of two rows).
 *
 * <pre>java -cp benchmarks.jar dev.jnce.bench.NativeLoadProbe</pre>
 * Prints {@code ready_ms first_call_ms loss description}.
 */
public final class NativeLoadProbe {
    private NativeLoadProbe() {
    }

    public static void main(String[] args) {
        long start = System.nanoTime();
        Backend cpu = Backends.get("cpu");
        long ready = System.nanoTime();
        float loss;
        try (TensorScope scope = TensorScope.open()) {
            Tensor logits = Tensor.of(new float[][] {{2.0f, 1.0f, 0.1f}, {0.5f, 2.5f, 0.0f}});
            Tensor targets = Tensor.of(new long[] {0, 1});
            loss = CrossEntropy.create().withBackend(cpu).forwardBackward(logits, targets).loss().item();
        }
        long called = System.nanoTime();
        System.out.printf("%.1f %.1f %.6f %s%n", (ready - start) / 1e6, (called - ready) / 1e6, loss, cpu.description());
    }
}
