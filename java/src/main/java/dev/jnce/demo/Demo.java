package dev.jnce.demo;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.loss.CrossEntropy;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The README's first command: which backend jnce chose, the worked cross-entropy examples on
 * every backend, and a timing of the fused forward+backward on each.
 *
 * <p>Arguments: {@code [N C]} for the timed shape (default 8192 32000).
 */
public final class Demo {
    private Demo() {
    }

    public static void main(String[] args) {
        int n = args.length >= 2 ? Integer.parseInt(args[0]) : 8192;
        int c = args.length >= 2 ? Integer.parseInt(args[1]) : 32000;

        Backend chosen = Backends.current();
        System.out.println("jnce backend: " + chosen.name() + " - " + chosen.description());
        for (String name : Backends.NAMES) {
            String why = Backends.unavailableReason(name);
            System.out.println("  " + name + ": " + (why == null ? "available" : "unavailable (" + why + ")"));
        }

        System.out.println("\nWorked examples, F.cross_entropy(logits, targets), reduction mean:");
        float[][][] logits = {
            {{2.0f, 1.0f, 0.1f}, {0.5f, 2.5f, 0.0f}},
            {{2, 1}, {1, 3}},
            {{2.0f, 1.0f, 0.1f}, {1.2f, 2.5f, 0.3f}},
        };
        long[][] targets = {{0, 1}, {0, 1}, {0, 2}};
        StringBuilder header = new StringBuilder(String.format("  %-38s %-8s", "logits", "targets"));
        for (String name : Backends.available()) header.append(String.format(" %10s", name));
        System.out.println(header.append(String.format(" %10s", "float64")));
        for (int k = 0; k < logits.length; k++) {
            StringBuilder line = new StringBuilder(String.format("  %-38s %-8s",
                    Arrays.deepToString(logits[k]), Arrays.toString(targets[k])));
            for (String name : Backends.available()) {
                try (TensorScope scope = TensorScope.open()) {
                    CrossEntropy ce = CrossEntropy.create().withBackend(Backends.get(name));
                    line.append(String.format(" %10.6f", ce.forward(Tensor.of(logits[k]), Tensor.of(targets[k])).item()));
                }
            }
            System.out.println(line.append(String.format(" %10.6f", reference(logits[k], targets[k]))));
        }

        System.out.printf("%nCE forward+backward at (%d, %d), mean reduction, %d threads, gradient into a reused buffer:%n",
                n, c, Backends.threads());
        try (TensorScope scope = TensorScope.open()) {
            SplittableRandom random = new SplittableRandom(42);
            float[] values = new float[n * c];
            for (int i = 0; i < values.length; i++) values[i] = (float) (random.nextGaussian() * 2);
            long[] labels = random.longs(n, 0, c).toArray();
            Tensor x = Tensor.of(values, n, c);
            Tensor t = Tensor.of(labels);
            Tensor loss = Tensor.zeros(DType.FLOAT32);
            Tensor grad = Tensor.zeros(DType.FLOAT32, n, c);
            for (String name : Backends.available()) {
                CrossEntropy ce = CrossEntropy.create().withBackend(Backends.get(name));
                double best = Double.MAX_VALUE;
                for (int rep = 0; rep < 5; rep++) {
                    long start = System.nanoTime();
                    ce.forwardBackward(x, t, loss, grad);
                    best = Math.min(best, (System.nanoTime() - start) / 1e9);
                }
                System.out.printf("  %-5s %8.1f ms  %6.2f GB/s effective (12 bytes per logit)  loss %.6f%n",
                        name, best * 1e3, 12.0 * n * c / best / 1e9, loss.item());
            }
        }
    }

    /** Mean cross-entropy in double precision. */
    static double reference(float[][] logits, long[] targets) {
        double total = 0;
        for (int i = 0; i < logits.length; i++) {
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (float v : logits[i]) max = Math.max(max, v);
            for (float v : logits[i]) sum += Math.exp(v - max);
            total += max + Math.log(sum) - logits[i][(int) targets[i]];
        }
        return total / logits.length;
    }
}
