package dev.jnce.bench;

import dev.jnce.Backends;
import dev.jnce.Tensor;
import dev.jnce.loss.CrossEntropy;

import java.util.Arrays;

/**
 * Softmax cross-entropy on two backends in one JVM, timed in alternating windows, for the ratio
 * of their speeds (bench/scripts/ce_backends.sh). The cases and inputs are those of
 * {@link CrossEntropyBench}: N(0,1) logits, int64 class targets, mean reduction, plain or with
 * class weights in [0.5, 1.5) and label smoothing 0.1; {@code forward} returns a new loss
 * tensor (closed at once), {@code forwardBackward} writes into buffers reused across calls.
 *
 * <p>Why alternate in one process: on a shared virtual machine a thread's speed depends on
 * which virtual CPU it runs on and on what else the host runs there, and that changes from one
 * minute, and one JVM, to the next (the same call, pinned with {@code taskset} to one virtual
 * CPU or the other, differed by 1.3-1.4x in one minute). Two JMH runs of separate JVMs,
 * minutes apart, compare two draws of that; windows of a few hundred milliseconds taken in
 * turn, A B then B A, see the same state, and their ratio does not move with it.
 *
 * <pre>java -cp benchmarks.jar dev.jnce.bench.BackendPairProbe A B MODE N C OPTIONS [PAIRS] [WINDOW_MS] [WARMUP_S]</pre>
 * MODE {@code forward} or {@code forwardBackward}; OPTIONS {@code plain} or
 * {@code weighted_smoothed}; defaults 20 pairs of 200 ms windows after 4 s of the same
 * alternation untimed. Prints one line per pair ({@code pair k A_us B_us A/B}) and a summary,
 * {@code ce MODE N C OPTIONS A B median_A_us median_B_us median_ratio min_ratio max_ratio}.
 */
public final class BackendPairProbe {
    private BackendPairProbe() {
    }

    public static void main(String[] args) {
        String a = args[0], b = args[1], mode = args[2], options = args[5];
        int n = Integer.parseInt(args[3]), c = Integer.parseInt(args[4]);
        int pairs = args.length > 6 ? Integer.parseInt(args[6]) : 20;
        long window = (args.length > 7 ? Long.parseLong(args[7]) : 200) * 1_000_000L;
        long warmup = (args.length > 8 ? Long.parseLong(args[8]) : 4) * 1_000_000_000L;
        if (!mode.equals("forward") && !mode.equals("forwardBackward")) {
            throw new IllegalArgumentException("MODE: forward or forwardBackward, not " + mode);
        }
        if (!options.equals("plain") && !options.equals("weighted_smoothed")) {
            throw new IllegalArgumentException("OPTIONS: plain or weighted_smoothed, not " + options);
        }
        try (Fixture fixture = new Fixture()) {
            Tensor logits = fixture.gaussian(1f, n, c), targets = fixture.classIndices(n, c);
            Tensor loss = fixture.zeros(), grad = fixture.zeros(n, c);
            Tensor weight = options.equals("plain") ? null : fixture.uniform(0.5f, 1.5f, c);
            Runnable[] call = new Runnable[2];
            String[] names = {a, b};
            for (int s = 0; s < 2; s++) {
                CrossEntropy ce = CrossEntropy.create().withBackend(Backends.get(names[s]));
                if (weight != null) ce = ce.withWeight(weight).withLabelSmoothing(0.1f);
                CrossEntropy f = ce;
                call[s] = mode.equals("forward")
                        ? () -> {
                            try (Tensor l = f.forward(logits, targets)) {
                                if (l.numel() != 1) throw new AssertionError();
                            }
                        }
                        : () -> f.forwardBackward(logits, targets, loss, grad);
            }
            Pairs p = alternate(call, pairs, window, warmup);
            System.out.printf("ce %s %d %d %s %s %s %.3f %.3f %.3f %.3f %.3f%n", mode, n, c, options, a, b,
                    p.medianA(), p.medianB(), p.medianRatio(), p.minRatio(), p.maxRatio());
        }
    }

    /** Medians of the two calls' µs, and the median, least and largest of their ratio over the pairs. */
    record Pairs(double medianA, double medianB, double medianRatio, double minRatio, double maxRatio) {
    }

    /**
     * The two calls in alternating windows: warm-up seconds of quarter windows untimed, then
     * pairs of windows, A B then B A; prints a line per pair ({@code pair k A_us B_us A/B}).
     */
    static Pairs alternate(Runnable[] call, int pairs, long windowNs, long warmupNs) {
        for (long end = System.nanoTime() + warmupNs; System.nanoTime() < end; ) {
            time(call[0], windowNs / 4);
            time(call[1], windowNs / 4);
        }
        double[] ta = new double[pairs], tb = new double[pairs], ratio = new double[pairs];
        for (int k = 0; k < pairs; k++) {
            if (k % 2 == 0) {
                ta[k] = time(call[0], windowNs);
                tb[k] = time(call[1], windowNs);
            } else {
                tb[k] = time(call[1], windowNs);
                ta[k] = time(call[0], windowNs);
            }
            ratio[k] = ta[k] / tb[k];
            System.out.printf("pair %d %.3f %.3f %.3f%n", k, ta[k] * 1e6, tb[k] * 1e6, ratio[k]);
        }
        double[] sorted = ratio.clone();
        Arrays.sort(sorted);
        return new Pairs(median(ta) * 1e6, median(tb) * 1e6, median(ratio), sorted[0], sorted[pairs - 1]);
    }

    /** Seconds a call over one window: calls in batches until the window has passed. */
    private static double time(Runnable call, long windowNs) {
        long start = System.nanoTime(), now;
        long calls = 0;
        int batch = 1;
        do {
            for (int i = 0; i < batch; i++) call.run();
            calls += batch;
            now = System.nanoTime();
            if (now - start < windowNs / 64) batch *= 2;
        } while (now - start < windowNs);
        return (now - start) / 1e9 / calls;
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int m = s.length / 2;
        return s.length % 2 == 1 ? s[m] : (s[m - 1] + s[m]) / 2;
    }
}
