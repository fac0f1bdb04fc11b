package dev.jnce.examples;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.loss.CrossEntropy;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The README's first command: the backend jnce chose, the worked cross-entropy examples on
 * every backend, then what the library is for: a two-tower recommender trained with in-batch
 * InfoNCE on a synthetic data set with planted tastes, Recall@10 rising epoch by epoch.
 *
 * <p>Arguments (all optional): {@code --epochs N} (default 8), {@code --seed S} (default 42),
 * {@code --backend cpu|java} (default: the fastest, {@link Backends#current()}),
 * {@code --threads N} for the training (default 1 unless {@code jnce.threads} or
 * {@code JNCE_NUM_THREADS} is set: its batches are too small to share). The fused cross-entropy
 * forward+backward is timed on each backend at (2048, 32000) by default; {@code --ce-timing [N C]}
 * times (N, C) instead (8192 32000 without numbers), {@code --no-ce-timing} skips it.
 */
public final class Demo {
    /** jnce's logger, held so that its level stays set. */
    private static final java.util.logging.Logger JNCE_LOG = java.util.logging.Logger.getLogger("dev.jnce");

    private static final int BAR_WIDTH = 30;

    private Demo() {
    }

    public static void main(String[] args) {
        Recommender.Options options = Recommender.Options.defaults();
        String backendName = null;
        Integer threads = null;
        int[] ceShape = {2048, 32000}; // a short timing by default; --ce-timing N C for another shape
        try {
            for (int a = 0; a < args.length; a++) {
                switch (args[a]) {
                    case "--epochs" -> options = options.withEpochs(Integer.parseInt(value(args, ++a)));
                    case "--seed" -> options = options.withSeed(Long.parseLong(value(args, ++a)));
                    case "--backend" -> backendName = value(args, ++a);
                    case "--threads" -> threads = Integer.parseInt(value(args, ++a));
                    case "--no-ce-timing" -> ceShape = null;
                    case "--ce-timing" -> {
                        ceShape = new int[] {8192, 32000};
                        if (a + 2 < args.length && args[a + 1].matches("\\d+") && args[a + 2].matches("\\d+")) {
                            ceShape = new int[] {Integer.parseInt(args[++a]), Integer.parseInt(args[++a])};
                        }
                    }
                    default -> throw new IllegalArgumentException("unknown argument '" + args[a] + "'");
                }
            }
        } catch (IllegalArgumentException e) {
            System.err.println("Demo: " + e.getMessage()
                    + "\nusage: Demo [--epochs N] [--seed S] [--backend cpu|java] [--threads N] [--ce-timing [N C] | --no-ce-timing]");
            System.exit(2);
        }
        // the backend line below says what jnce's INFO log would: keep the log to warnings
        JNCE_LOG.setLevel(java.util.logging.Level.WARNING);
        Backend backend = backendName == null ? Backends.current() : Backends.get(backendName);

        System.out.println("jnce backend: " + backend.name() + " - " + backend.description()
                + (backendName == null ? "" : " (--backend)"));
        for (String name : Backends.NAMES) {
            String why = Backends.unavailableReason(name);
            // the first clause of the reason (Backends.unavailableReason(name) has the whole of it)
            System.out.println("  " + name + ": " + (why == null ? "available" : "unavailable: " + why.split(": ", 2)[0]));
        }
        workedExamples();
        if (ceShape != null) ceTiming(ceShape[0], ceShape[1]);
        if (threads != null) {
            Backends.setThreads(threads);
        } else if (System.getProperty("jnce.threads") == null && System.getenv("JNCE_NUM_THREADS") == null) {
            // GEMMs of a 256-row batch are too small to share; on a busy machine, waiting for a
            // second thread costs more than the work (--threads N to choose)
            Backends.setThreads(1);
        }
        train(options, backend);
    }

    private static void train(Recommender.Options o, Backend backend) {
        System.out.printf("%nTwo-tower recommender, in-batch InfoNCE, on backend %s (%d thread%s), seed %d:%n",
                backend.name(), Backends.threads(), Backends.threads() == 1 ? "" : "s", o.seed());
        ProgressBar bar = new ProgressBar(System.out, ProgressBar.stdoutIsTerminal(), BAR_WIDTH);
        String epochLabel = "  epoch %" + Integer.toString(o.epochs()).length() + "d/%d";
        long start = System.nanoTime();
        Recommender.Run run = Recommender.train(o, backend, new Recommender.Listener() {
            private double chance;
            private int steps;

            @Override
            public void started(SyntheticData data, int steps, Recommender.Run baseline) {
                this.chance = baseline.chance();
                this.steps = steps;
                System.out.printf("  data   %d users, %d items, %d-d features from %d planted taste clusters; "
                                + "%d interactions per user sampled from the latent affinity, %d held out%n",
                        data.users, data.items, SyntheticData.FEATURES, SyntheticData.CLUSTERS, o.perUser(), o.heldOut());
                System.out.printf("  model  user and item towers Linear %d -> %d, L2-normalised; logits cos/%.2f over %d x %d "
                                + "in-batch pairs, positives on the diagonal; Adam lr %.0e; %d steps per epoch%n",
                        SyntheticData.FEATURES, o.dim(), o.temperature(), o.batch(), o.batch(), o.lr(), steps);
                System.out.printf("  Recall@%d of the held-out interactions (dev.jnce.metrics.Ranking: all items ranked, training items excluded): "
                                + "chance %.4f, untrained %.4f, ranking by the planted affinity %.4f%n",
                        o.k(), chance, baseline.recallBefore(), baseline.ceiling());
                bar.start(String.format(epochLabel, 1, o.epochs()));
            }

            @Override
            public void step(int epoch, int step, int steps, double meanLoss) {
                bar.update(step, steps, String.format("loss %.4f", meanLoss));
            }

            @Override
            public void epoch(Recommender.Epoch e) {
                bar.finish(steps, String.format("loss %.4f  recall@%d %.4f (%4.1fx chance)  ndcg@%d %.4f  %.1f s",
                        e.loss(), o.k(), e.recall(), e.recall() / chance, o.k(), e.ndcg(), e.seconds()));
                if (e.epoch() < o.epochs()) bar.start(String.format(epochLabel, e.epoch() + 1, o.epochs()));
            }
        });
        System.out.printf("Recall@%d %.4f -> %.4f, %.1fx chance, NDCG@%d %.4f, after %d epoch%s, %.1f s (same seed, same numbers: --seed %d)%n",
                o.k(), run.recallBefore(), run.last().recall(), run.last().recall() / run.chance(), o.k(), run.last().ndcg(),
                o.epochs(), o.epochs() == 1 ? "" : "s",
                (System.nanoTime() - start) / 1e9, o.seed());
    }

    private static void workedExamples() {
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
    }

    private static void ceTiming(int n, int c) {
        System.out.printf("%nCE forward+backward at (%d, %d), mean reduction, %d threads, gradient into a reused buffer:%n",
                n, c, Backends.threads());
        try (TensorScope scope = TensorScope.open()) {
            SplittableRandom random = new SplittableRandom(42);
            float[] values = new float[n * c];
            for (int i = 0; i < values.length; i++) values[i] = (float) (random.nextGaussian() * 2);
            Tensor x = Tensor.of(values, n, c);
            Tensor t = Tensor.of(random.longs(n, 0, c).toArray());
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

    private static String value(String[] args, int a) {
        if (a >= args.length) throw new IllegalArgumentException(args[a - 1] + " needs a value");
        return args[a];
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
