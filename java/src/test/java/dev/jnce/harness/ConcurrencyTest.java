package dev.jnce.harness;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.loss.BinaryCrossEntropyWithLogits;
import dev.jnce.loss.ClipLoss;
import dev.jnce.loss.CrossEntropy;
import dev.jnce.loss.InfoNce;
import dev.jnce.loss.InputTargetResult;
import dev.jnce.loss.LinearCrossEntropy;
import dev.jnce.loss.NllLoss;
import dev.jnce.loss.NtXent;
import dev.jnce.loss.PairedResult;
import dev.jnce.ops.Normalize;
import dev.jnce.ops.Similarity;
import dev.jnce.ops.Softmax;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sixteen threads share one instance of every loss and op and call them at once, on {@code cpu}
 * and {@code java}, with distinct inputs, while another thread keeps changing the thread count
 * (1 to 4: the native pool and the java pool grow and shrink under running calls). Every result
 * must equal the one computed single-threaded before: bit for bit where no GEMM is involved
 * (cross-entropy, NLL, softmax, normalise, BCE: each row's values and the reductions are summed in
 * an order that does not depend on the thread count), and within 2e-5 of the output's largest
 * magnitude where a GEMM is (InfoNCE, NT-Xent, CLIP, similarity, linear cross-entropy: OpenBLAS
 * splits its sums by thread count), and within two ulps of that magnitude for the java backend's
 * log-softmax, whose Vector API exp may run as Java code or as C2's intrinsic (see {@link Task}).
 */
class ConcurrencyTest {
    private static final int THREADS = 16, ROUNDS = 6;
    private final int savedThreads = Backends.threads();

    @AfterEach
    void restoreThreads() {
        Backends.setThreads(savedThreads);
    }

    /**
     * One call: its outputs flattened, whether a GEMM ran, and whether the Vector API's own exp
     * ran (the java backend's softmax statistics): its last bit differs between the JDK's Java code
     * and C2's intrinsic, and a call can run either after a deoptimisation, so such a result may
     * move by the last bit of its log-sum-exp (as the README says).
     */
    record Task(String name, boolean gemm, boolean vectorExp, java.util.function.Supplier<float[]> call) {
        Task(String name, boolean gemm, java.util.function.Supplier<float[]> call) {
            this(name, gemm, false, call);
        }
    }

    private final CrossEntropy ce = CrossEntropy.create().withLabelSmoothing(0.1f).withZLoss(1e-3f);
    private final NllLoss nll = NllLoss.create();
    private final Softmax logSoftmax = Softmax.logSoftmax();
    private final Normalize normalize = Normalize.create();
    private final BinaryCrossEntropyWithLogits bce = BinaryCrossEntropyWithLogits.create();
    private final InfoNce infoNce = InfoNce.create().withTemperature(0.07f);
    private final NtXent ntXent = NtXent.create();
    private final ClipLoss clip = ClipLoss.create();
    private final Similarity similarity = Similarity.cosine();
    private final LinearCrossEntropy linear = LinearCrossEntropy.create().withBlockRows(16);

    private List<Task> tasks() {
        List<Task> tasks = new ArrayList<>();
        Random rnd = new Random(2026);
        for (String name : Backends.available()) {
            if (name.equals("cuda")) continue;
            Backend b = Backends.get(name);
            for (int v = 0; v < 2; v++) {
                int n = 2 * (20 + rnd.nextInt(150)), c = 30 + rnd.nextInt(500), d = 16 + rnd.nextInt(100);
                float[] x = gaussians(rnd, n * c), q = gaussians(rnd, n * d), k = gaussians(rnd, n * d), w = gaussians(rnd, c * d);
                long[] y = new long[n];
                for (int i = 0; i < n; i++) y[i] = i % 7 == 0 ? -100 : rnd.nextInt(c);
                float[] t01 = new float[n * c];
                for (int i = 0; i < t01.length; i++) t01[i] = rnd.nextFloat();
                String at = name + "#" + v;
                tasks.add(new Task("CrossEntropy " + at, false, () -> {
                    try (CrossEntropy.Result r = ce.withBackend(b).forwardBackward(Tensor.of(x, n, c), Tensor.of(y))) {
                        return concat(r.loss().toFloatArray(), r.grad().toFloatArray());
                    }
                }));
                tasks.add(new Task("LogSoftmax+NLL " + at, false, name.equals("java"), () -> {
                    Tensor logp = logSoftmax.withBackend(b).forward(Tensor.of(x, n, c));
                    return concat(logp.toFloatArray(), nll.withBackend(b).forward(logp, Tensor.of(y)).toFloatArray());
                }));
                tasks.add(new Task("Normalize " + at, false, () -> normalize.withBackend(b).forward(Tensor.of(q, n, d)).toFloatArray()));
                tasks.add(new Task("BCEWithLogits " + at, false, () -> {
                    try (InputTargetResult r = bce.withBackend(b).forwardBackward(Tensor.of(x, n, c), Tensor.of(t01, n, c))) {
                        return concat(r.loss().toFloatArray(), r.gradInput().toFloatArray());
                    }
                }));
                tasks.add(new Task("InfoNce " + at, true, () -> {
                    try (InfoNce.Result r = infoNce.withBackend(b).forwardBackward(Tensor.of(q, n, d), Tensor.of(k, n, d))) {
                        return concat(r.loss().toFloatArray(), r.gradQueries().toFloatArray(), r.gradKeys().toFloatArray());
                    }
                }));
                tasks.add(new Task("NtXent " + at, true, () -> ntXent.withBackend(b).forwardBackward(Tensor.of(q, n, d))
                        .grad().toFloatArray()));
                tasks.add(new Task("ClipLoss " + at, true, () -> {
                    try (PairedResult r = clip.withBackend(b).forwardBackward(Tensor.of(q, n, d), Tensor.of(k, n, d))) {
                        return concat(r.loss().toFloatArray(), r.gradA().toFloatArray(), r.gradB().toFloatArray());
                    }
                }));
                tasks.add(new Task("Similarity " + at, true, () -> similarity.withBackend(b).forward(Tensor.of(q, n, d),
                        Tensor.of(k, n, d)).toFloatArray()));
                tasks.add(new Task("LinearCrossEntropy " + at, true, () -> {
                    try (LinearCrossEntropy.Result r = linear.withBackend(b).forwardBackward(Tensor.of(q, n, d), Tensor.of(w, c, d),
                            null, Tensor.of(y))) {
                        return concat(r.loss().toFloatArray(), r.gradHidden().toFloatArray(), r.gradClassifier().toFloatArray());
                    }
                }));
            }
        }
        return tasks;
    }

    @Test
    void sixteenThreadsOnSharedLossesGiveTheSingleThreadedResults() throws Exception {
        List<Task> tasks = tasks();
        Backends.setThreads(1);
        // warm the JIT first: the java backend's Vector API exp is the JDK's Java code until C2
        // intrinsifies it, and the two differ in the last bit of some values
        for (int warm = 0; warm < 40; warm++) {
            for (Task t : tasks) {
                try (TensorScope scope = TensorScope.open()) {
                    t.call().get();
                }
            }
        }
        List<float[]> expected = new ArrayList<>();
        for (Task t : tasks) {
            try (TensorScope scope = TensorScope.open()) {
                expected.add(t.call().get());
            }
        }
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong calls = new AtomicLong(), changes = new AtomicLong();
        ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
        Thread mutator = Thread.ofPlatform().name("thread-count").start(() -> {
            Random rnd = new Random(5);
            while (!stop.get()) {
                Backends.setThreads(1 + rnd.nextInt(4));
                changes.incrementAndGet();
                try {
                    Thread.sleep(2);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> workers = new ArrayList<>();
        for (int w = 0; w < THREADS; w++) {
            int seed = w;
            Runnable body = () -> {
                List<Integer> order = new ArrayList<>();
                for (int i = 0; i < tasks.size(); i++) order.add(i);
                try {
                    start.await();
                    for (int round = 0; round < ROUNDS && failures.size() < 10; round++) {
                        Collections.shuffle(order, new Random(seed * 31L + round));
                        for (int i : order) {
                            float[] got;
                            try (TensorScope scope = TensorScope.open()) {
                                got = tasks.get(i).call().get();
                            }
                            calls.incrementAndGet();
                            String diff = compare(expected.get(i), got, tasks.get(i));
                            if (diff != null) failures.add(tasks.get(i).name() + ": " + diff);
                        }
                    }
                } catch (Throwable e) {
                    failures.add(Thread.currentThread() + " threw " + e);
                }
            };
            // half platform threads, half virtual ones
            workers.add(w % 2 == 0 ? Thread.ofPlatform().start(body) : Thread.ofVirtual().start(body));
        }
        start.countDown();
        for (Thread t : workers) t.join();
        stop.set(true);
        mutator.join();
        System.out.printf("concurrency: %d calls on %d threads, %d thread-count changes, %d failures%n", calls.get(), THREADS,
                changes.get(), failures.size());
        assertTrue(failures.isEmpty(), String.join("\n", failures));
        assertEquals((long) THREADS * ROUNDS * tasks.size(), calls.get());
        assertTrue(changes.get() > 10, "the thread count changed only " + changes.get() + " times");
    }

    /**
     * null when equal (bit for bit; within 2e-5 of the largest magnitude after a GEMM; within two
     * ulps of the largest magnitude where the Vector API's exp ran), else what differs.
     */
    private static String compare(float[] want, float[] got, Task task) {
        boolean gemm = task.gemm();
        if (want.length != got.length) return got.length + " values, expected " + want.length;
        float scale = 0f;
        for (float v : want) scale = Math.max(scale, Math.abs(v));
        for (int i = 0; i < want.length; i++) {
            boolean same = Float.compare(want[i], got[i]) == 0;
            float tolerance = gemm ? 2e-5f * scale : task.vectorExp() ? 2 * Math.ulp(scale) : 0f;
            if (!same && !(tolerance > 0 && Math.abs(want[i] - got[i]) <= tolerance)) {
                return "[" + i + "] = " + got[i] + ", single-threaded " + want[i]
                        + (tolerance > 0 ? " (tolerance " + tolerance + ")" : " (bit for bit)");
            }
        }
        return null;
    }

    private static float[] concat(float[]... parts) {
        int len = 0;
        for (float[] p : parts) len += p.length;
        float[] out = new float[len];
        int at = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    private static float[] gaussians(Random rnd, int count) {
        float[] x = new float[count];
        for (int i = 0; i < count; i++) x[i] = (float) rnd.nextGaussian();
        return x;
    }
}
