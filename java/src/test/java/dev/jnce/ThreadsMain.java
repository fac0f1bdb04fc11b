package dev.jnce;

import dev.jnce.loss.ClipLoss;
import dev.jnce.loss.EmbeddingResult;
import dev.jnce.loss.InfoNce;
import dev.jnce.loss.PairedResult;
import dev.jnce.ops.HardNegatives;
import dev.jnce.ops.Similarity;

import java.util.Random;

/**
 * Run in a fresh JVM by {@link ThreadsProcessTest}, so that a native crash fails that test
 * instead of killing the test runner. Modes:
 *
 * <ul>
 * <li>{@code resize}: {@code setThreads(3)}, one one-tensor InfoNCE (the native pool grows to
 *     three slices), {@code setThreads(2)}, then InfoNCE, SupCon, CLIP and hard-negative mining
 *     again on one thread: the kernels that size per-slice buffers by the thread count;</li>
 * <li>{@code infonce}: InfoNCE of (700,64) queries and keys on the cpu backend at the thread
 *     count the JVM was started with, printing the loss and both gradients.</li>
 * </ul>
 * Prints {@code done} last and exits 0, or dies with what a user would see.
 */
public final class ThreadsMain {
    private ThreadsMain() {
    }

    public static void main(String[] args) {
        switch (args[0]) {
            case "resize" -> resize();
            case "infonce" -> infonce();
            default -> throw new IllegalArgumentException("mode: " + args[0]);
        }
        System.out.println("done");
    }

    private static void resize() {
        Backend cpu = Backends.use("cpu");
        System.out.println("backend: " + cpu.description());
        int n = 512, d = 32;
        try (TensorScope scope = TensorScope.open()) {
            Tensor f = Tensor.of(gaussian(n * d, 1), n, d), g = Tensor.of(gaussian(n * d, 2), n, d);
            long[] labels = new long[n];
            for (int i = 0; i < n; i++) labels[i] = i % 37;
            Tensor lab = Tensor.of(labels, n);
            Backends.setThreads(3);
            float first = oneTensor(f);
            Backends.setThreads(2);
            for (int round = 0; round < 20; round++) {
                float again = oneTensor(f);
                if (again != first) throw new AssertionError("InfoNCE changed with the thread count: " + first + " then " + again);
                try (EmbeddingResult r = InfoNce.create().forwardBackwardLabels(f, lab)) {
                    check("SupCon", r.loss().item());
                }
                try (PairedResult r = ClipLoss.create().forwardBackward(f, g)) {
                    check("CLIP", r.loss().item());
                }
                try (Tensor sim = Similarity.dot().forward(f, g); Tensor idx = HardNegatives.create(8).mine(sim)) {
                    if (idx.size(0) != n) throw new AssertionError("hard negatives: " + idx.size(0) + " rows");
                }
            }
            System.out.println("resize: InfoNCE " + first);
        }
    }

    private static float oneTensor(Tensor f) {
        try (EmbeddingResult r = InfoNce.create().forwardBackward(f)) {
            return check("InfoNCE", r.loss().item());
        }
    }

    private static float check(String what, float loss) {
        if (!Float.isFinite(loss)) throw new AssertionError(what + ": loss " + loss);
        return loss;
    }

    private static void infonce() {
        Backend cpu = Backends.use("cpu");
        System.out.println("backend: " + cpu.description());
        int n = 700, d = 64;
        try (TensorScope scope = TensorScope.open();
             InfoNce.Result r = InfoNce.create().forwardBackward(Tensor.of(gaussian(n * d, 3), n, d),
                     Tensor.of(gaussian(n * d, 4), n, d))) {
            System.out.println("loss " + values(r.loss().toFloatArray()));
            System.out.println("gradQueries " + values(r.gradQueries().toFloatArray()));
            System.out.println("gradKeys " + values(r.gradKeys().toFloatArray()));
        }
    }

    /** Comma-separated, each as Float.toString writes it (which reads back exactly). */
    private static String values(float[] v) {
        StringBuilder s = new StringBuilder();
        for (float x : v) s.append(s.isEmpty() ? "" : ",").append(x);
        return s.toString();
    }

    private static float[] gaussian(int n, long seed) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian();
        return v;
    }
}
