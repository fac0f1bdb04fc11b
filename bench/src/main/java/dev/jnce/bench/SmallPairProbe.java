package dev.jnce.bench;

/**
 * The small calls of {@link SmallCallBench} (every loss family's forward+backward at 32 rows of
 * 128) on two backends in one JVM, timed in alternating windows as {@link BackendPairProbe}
 * times cross-entropy, for the ratio of their speeds (bench/scripts/small_backends.sh): two
 * separate JMH runs minutes apart compare two draws of this shared machine's speed.
 *
 * <pre>java -cp benchmarks.jar dev.jnce.bench.SmallPairProbe A B FORM LOSS [PAIRS] [WINDOW_MS] [WARMUP_S]</pre>
 * FORM {@code into} or {@code allocating}, LOSS one of SmallCallBench's; defaults 10 pairs of
 * 200 ms windows after 4 s of the same alternation untimed. Prints one line per pair and a
 * summary, {@code small LOSS FORM A B median_A_us median_B_us median_ratio min_ratio max_ratio}.
 */
public final class SmallPairProbe {
    private SmallPairProbe() {
    }

    public static void main(String[] args) throws Exception {
        String a = args[0], b = args[1], form = args[2], loss = args[3];
        int pairs = args.length > 4 ? Integer.parseInt(args[4]) : 10;
        long window = (args.length > 5 ? Long.parseLong(args[5]) : 200) * 1_000_000L;
        long warmup = (args.length > 6 ? Long.parseLong(args[6]) : 4) * 1_000_000_000L;
        if (!form.equals("into") && !form.equals("allocating")) {
            throw new IllegalArgumentException("FORM: into or allocating, not " + form);
        }
        SmallCallBench[] bench = new SmallCallBench[2];
        Runnable[] call = new Runnable[2];
        String[] names = {a, b};
        try {
            for (int s = 0; s < 2; s++) {
                SmallCallBench sb = new SmallCallBench();
                sb.backend = names[s];
                sb.loss = loss;
                sb.setup();
                bench[s] = sb;
                call[s] = form.equals("into") ? sb::into : () -> {
                    try {
                        sb.allocating();
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                };
                if (sb.into() == null) throw new IllegalArgumentException("backend " + names[s] + " does not load here");
            }
            BackendPairProbe.Pairs p = BackendPairProbe.alternate(call, pairs, window, warmup);
            System.out.printf("small %s %s %s %s %.3f %.3f %.3f %.3f %.3f%n", loss, form, a, b,
                    p.medianA(), p.medianB(), p.medianRatio(), p.minRatio(), p.maxRatio());
        } finally {
            for (SmallCallBench sb : bench) if (sb != null) sb.tearDown();
        }
    }
}
