package dev.jnce;

import dev.jnce.loss.CrossEntropy;
import dev.jnce.loss.InfoNce;
import dev.jnce.loss.NllLoss;
import dev.jnce.loss.Perplexity;
import dev.jnce.ops.HardNegatives;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Run in a JVM with {@code -XX:NativeMemoryTracking=summary} by {@link RejectedCallsTest}: makes
 * each kind of rejected call many times and prints, per kind, how much the JVM's native memory
 * of category Other (where tensor memory is allocated) grew: {@code <kind>: <KB>}. Each call
 * allocates outputs of at least 16 KB before it is rejected, so a leak shows as hundreds of MB
 * (unless the collector frees the leaked tensors first: then, with -Djnce.debug.leaks=true, each
 * is reported as never closed, which the test looks for as well).
 */
public final class RejectedCallsMain {
    private static final int N = 64;

    private RejectedCallsMain() {
    }

    /**
     * Committed KB of NMT category Other, from the DiagnosticCommand MBean (reached by reflection:
     * the test sources compile in the library's module, which does not read java.management).
     */
    private static long otherKb() throws Exception {
        Class<?> objectName = Class.forName("javax.management.ObjectName");
        Object server = Class.forName("java.lang.management.ManagementFactory").getMethod("getPlatformMBeanServer").invoke(null);
        String summary = (String) Class.forName("javax.management.MBeanServerConnection")
                .getMethod("invoke", objectName, String.class, Object[].class, String[].class)
                .invoke(server, objectName.getConstructor(String.class).newInstance("com.sun.management:type=DiagnosticCommand"),
                        "vmNativeMemory", new Object[] {new String[] {"summary"}}, new String[] {String[].class.getName()});
        Matcher m = Pattern.compile("Other \\(reserved=\\d+KB, committed=(\\d+)KB\\)").matcher(summary);
        if (!m.find()) throw new IllegalStateException("no NMT category Other in: " + summary);
        return Long.parseLong(m.group(1));
    }

    private static float[] values(int count) {
        float[] v = new float[count];
        for (int i = 0; i < count; i++) v[i] = (float) Math.sin(i * 0.37) - 1.5f;
        return v;
    }

    public static void main(String[] args) throws Exception {
        int calls = Integer.parseInt(args[0]);
        Tensor logits = Tensor.of(values(N * N), N, N);
        long[] t = new long[N];
        for (int i = 0; i < N; i++) t[i] = i % N;
        Tensor targets = Tensor.of(t);
        t[N - 1] = 999;
        Tensor outOfRange = Tensor.of(t);
        Tensor shortTargets = Tensor.of(new long[N - 1]);
        float[] w = new float[N];
        java.util.Arrays.fill(w, 1f);
        w[N / 2] = Float.NaN;
        Tensor nanWeight = Tensor.of(w, N);
        int[] mask = new int[N * N];
        for (int i = 0; i < N - 1; i++) mask[i * N + i] = 1; // the last row has no positive
        Tensor positiveMask = Tensor.of(mask, N, N);
        Tensor emb = Tensor.of(values(N * 8), N, 8);
        Tensor sim = Tensor.of(values(N * 4), N, 4);
        Tensor queryLabels = Tensor.of(new long[N]), keyLabels = Tensor.of(new long[] {0, 1, 2, 3}); // 3 negatives per row

        Map<String, Runnable> kinds = new LinkedHashMap<>();
        kinds.put("Perplexity.forwardBackwardLogits, targets of another shape",
                () -> Perplexity.create().forwardBackwardLogits(logits, shortTargets));
        kinds.put("Perplexity.forwardBackwardLogits, a target out of range",
                () -> Perplexity.create().forwardBackwardLogits(logits, outOfRange));
        kinds.put("CrossEntropy.forwardBackward, a target out of range",
                () -> CrossEntropy.create().withReduction(Reduction.NONE).forwardBackward(logits, outOfRange));
        kinds.put("NllLoss.forwardBackward, a NaN class weight",
                () -> NllLoss.create().withWeight(nanWeight).forwardBackward(logits, targets));
        kinds.put("InfoNce.forwardBackwardMask, a row without positive",
                () -> InfoNce.create().withBlockRows(16).forwardBackwardMask(emb, emb, positiveMask));
        kinds.put("HardNegatives.mine, fewer negatives than k",
                () -> HardNegatives.create(4).mine(sim, queryLabels, keyLabels));

        for (Map.Entry<String, Runnable> kind : kinds.entrySet()) {
            // warm-up: lazily made state, and the scratch slabs (1 MiB each, reused once empty) in their steady state
            for (int i = 0; i < 2000; i++) rejected(kind.getValue());
            long before = otherKb();
            for (int i = 0; i < calls; i++) rejected(kind.getValue());
            System.out.println(kind.getKey() + ": " + (otherKb() - before));
        }
        for (Tensor input : new Tensor[] {logits, targets, outOfRange, shortTargets, nanWeight, positiveMask, emb, sim,
                queryLabels, keyLabels}) {
            input.close();
        }
        // a tensor leaked and become unreachable is reported by the Cleaner (with -Djnce.debug.leaks=true)
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(100);
        }
        System.out.println("done");
    }

    private static void rejected(Runnable call) {
        try {
            call.run();
        } catch (IllegalArgumentException expected) {
            return;
        }
        throw new AssertionError("the call was not rejected");
    }
}
