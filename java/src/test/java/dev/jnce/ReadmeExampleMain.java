package dev.jnce;

import dev.jnce.loss.CrossEntropy;

/**
 * Run in a fresh JVM by {@link BackendProcessTest}: prints the backend chosen for host tensors
 * and why the others are unavailable, then runs the README's first example (cross-entropy of
 * two rows) and prints its loss. Exits 0, or with the exception a user would see.
 */
public final class ReadmeExampleMain {
    private ReadmeExampleMain() {
    }

    public static void main(String[] args) {
        Backend current = Backends.current();
        System.out.println("current: " + current.name() + " - " + current.description());
        for (String name : Backends.NAMES) {
            String why = Backends.unavailableReason(name);
            System.out.println(name + ": " + (why == null ? "available" : "unavailable (" + why + ")"));
        }
        if (args.length > 0 && args[0].equals("--info")) return;
        try (TensorScope scope = TensorScope.open()) {
            Tensor logits = Tensor.of(new float[][] {{2.0f, 1.0f, 0.1f}, {0.5f, 2.5f, 0.0f}});
            Tensor targets = Tensor.of(new long[] {0, 1});
            CrossEntropy.Result r = CrossEntropy.create().forwardBackward(logits, targets);
            System.out.printf("readme example: loss %.6f on %s%n", r.loss().item(), CrossEntropy.create().backend().name());
        }
    }
}
