package dev.jnce.bench;

import dev.jnce.Backends;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The benchmark suite bench/run.sh runs: every op family per backend that loads here, the
 * scaling curves and the machine's limits, one JMH run per group, each writing
 * {@code <out>/<group>.json} and {@code <out>/<group>.log}.
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector \
 *      -cp bench/target/benchmarks.jar dev.jnce.bench.Suite --quick|--full OUT_DIR
 * </pre>
 *
 * The quick suite is sized to finish in about ten minutes on two cores (short iterations, the
 * default options of CrossEntropyBench only, log-softmax only); the full one measures longer
 * and goes further along the curves.
 */
public final class Suite {
    static final String[] FORK_FLAGS = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"};

    /** One JMH run: the benchmarks matching {@code include}, with these parameters. */
    record Group(String name, String include, Map<String, String> params, int warmups, int iterations, double seconds) {
    }

    /**
     * Seconds of each warm-up iteration at least: each case runs in a fresh fork, and the `java`
     * backend's Vector API kernels need a few seconds of it before C2 has compiled them (InfoNCE
     * at N = 512 read 0.60× PyTorch after two warm-ups of 0.5 s, where `java` / `cpu` in turns
     * after 4 s is 1.25).
     */
    static final double MIN_WARMUP_SECONDS = 1.5;

    private Suite() {
    }

    static List<Group> groups(boolean full, String backends) {
        int w = full ? 3 : 2, i = full ? 5 : 3;
        double s = full ? 1.0 : 0.5;
        List<Group> g = new ArrayList<>();
        Group limits = new Group("limits", "LimitsBench", Map.of("size", full ? "4096" : Shapes.PEAK_GEMM), 1, i, 1.0);
        g.add(limits);
        g.add(new Group("cross_entropy", "CrossEntropyBench", params(backends,
                "shape", Shapes.CE_LARGE + "," + Shapes.CE_TINY, "options", full ? "plain,weighted_smoothed" : "plain"), w, i, s));
        g.add(new Group("cross_entropy_scaling", "CrossEntropyBench.forwardBackward$", params(backends,
                "shape", full ? Shapes.CE_SCALING_FULL : Shapes.CE_SCALING, "options", "plain"), w, i, s));
        g.add(new Group("softmax", "SoftmaxBench", params(backends, "function", full ? "softmax,log_softmax" : "log_softmax"), w, i, s));
        g.add(new Group("nll", "NllBench", params(backends), w, i, s));
        g.add(new Group("bce_with_logits", "BinaryCrossEntropyWithLogitsBench", params(backends), w, i, s));
        g.add(new Group("similarity", "SimilarityBench", params(backends), w, i, s));
        g.add(new Group("normalize", "NormalizeBench", params(backends), w, i, s));
        g.add(new Group("infonce", "InfoNceBench", params(backends), w, i, s));
        g.add(new Group("infonce_scaling", "InfoNceBench.forwardBackward$", params(backends,
                "n", full ? Shapes.INFONCE_SCALING_N_FULL : Shapes.INFONCE_SCALING_N, "d", Shapes.INFONCE_SCALING_D), w, i, s));
        // Once more at the end: on a shared machine the report takes the better of the two.
        g.add(new Group("limits_end", limits.include(), limits.params(), limits.warmups(), limits.iterations(), limits.seconds()));
        return g;
    }

    private static Map<String, String> params(String backends, String... keyValues) {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("backend", backends);
        for (int k = 0; k < keyValues.length; k += 2) p.put(keyValues[k], keyValues[k + 1]);
        return p;
    }

    public static void main(String[] args) throws RunnerException, java.io.IOException {
        if (args.length != 2 || !(args[0].equals("--quick") || args[0].equals("--full"))) {
            System.err.println("usage: Suite --quick|--full OUT_DIR");
            System.exit(2);
        }
        Path out = Files.createDirectories(Path.of(args[1]));
        List<String> available = new ArrayList<>();
        for (String name : Backends.NAMES) {
            String why = Backends.unavailableReason(name);
            if (why == null) available.add(name);
            else System.out.println("skipped: backend '" + name + "' does not load here: " + why);
        }
        String backends = String.join(",", available);
        System.out.println("backends: " + backends + ", threads: " + Backends.threads());
        for (Group group : groups(args[0].equals("--full"), backends)) {
            long start = System.nanoTime();
            ChainedOptionsBuilder o = new OptionsBuilder()
                    .include("dev\\.jnce\\.bench\\." + group.include())
                    .forks(1)
                    .jvmArgs(FORK_FLAGS)
                    .warmupIterations(group.warmups())
                    .warmupTime(TimeValue.milliseconds((long) (Math.max(group.seconds(), MIN_WARMUP_SECONDS) * 1000)))
                    .measurementIterations(group.iterations())
                    .measurementTime(TimeValue.milliseconds((long) (group.seconds() * 1000)))
                    .shouldFailOnError(true)
                    .resultFormat(ResultFormatType.JSON)
                    .result(out.resolve(group.name() + ".json").toString())
                    .output(out.resolve(group.name() + ".log").toString());
            group.params().forEach((k, v) -> o.param(k, v.split(",")));
            int results = new Runner(o.build()).run().size();
            System.out.printf("%-22s %3d cases %6.0f s%n", group.name(), results, (System.nanoTime() - start) / 1e9);
        }
    }
}
