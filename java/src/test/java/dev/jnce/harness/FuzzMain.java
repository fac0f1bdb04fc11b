package dev.jnce.harness;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.TensorScope;
import dev.jnce.loss.CrossEntropyFuzz;
import dev.jnce.loss.LinearFuzz;
import dev.jnce.loss.NllFuzz;
import dev.jnce.loss.PairLossesFuzz;
import dev.jnce.loss.RetrievalFuzz;
import dev.jnce.loss.TripletFuzz;
import dev.jnce.loss.ContrastiveFuzz;
import dev.jnce.loss.DivergenceFuzz;
import dev.jnce.loss.BinaryFuzz;
import dev.jnce.ops.SoftmaxFuzz;
import dev.jnce.ops.HardNegativesFuzz;
import dev.jnce.ops.SimilarityFuzz;
import dev.jnce.testutil.TestBackends;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The fuzzer's child process: runs cases {@code [from, from + count)} of one seed over every
 * public op and loss and prints one summary line, {@code FUZZ-SUMMARY ...}, with per-op lines,
 * the failures (each with its replay flags) and the known-open classes. Exit status 0 when no
 * case failed, 1 otherwise.
 *
 * <p>Properties: {@code jnce.fuzz.seed} (default {@link #DEFAULT_SEED}; {@code random} draws
 * one), {@code jnce.fuzz.cases} (default 100000), {@code jnce.fuzz.case} (replay one case, or a
 * range {@code a-b}, printing each case's description and verdict), {@code jnce.fuzz.ops} (a regular
 * expression: only cases of matching ops run, the others are skipped), {@code jnce.fuzz.enforce}
 * ({@link KnownOpen}), {@code jnce.fuzz.progress} (a file where the index of the running case is
 * kept, so that a crash names its case).
 */
public final class FuzzMain {
    public static final long DEFAULT_SEED = 0x6A6E6365L;
    private static final int PRINTED_FAILURES = 40;
    /** jnce's java.util.logging logger, held so that the level set on it stays (reflection: the test module does not read java.logging). */
    private static Object jnceLog;

    private record Entry(Family family, int weight) {
    }

    private record Slow(long nanos, String what) {
    }

    private static final List<Entry> FAMILIES = new ArrayList<>();

    private static void register(Family f) {
        FAMILIES.add(new Entry(f, f.weight()));
    }

    static {
        register(new CrossEntropyFuzz());
        register(new NllFuzz());
        register(new LinearFuzz());
        register(new SoftmaxFuzz());
        register(new BinaryFuzz());
        register(new DivergenceFuzz());
        register(new SimilarityFuzz());
        register(new ContrastiveFuzz());
        register(new PairLossesFuzz());
        register(new TripletFuzz());
        register(new RetrievalFuzz());
        register(new HardNegativesFuzz());
        register(new TensorFuzz());
    }

    /** Counts per op. */
    static final class Counts {
        long run, match, error, fail, known, skipped;
    }

    private FuzzMain() {
    }

    public static void main(String[] argv) throws IOException {
        quietLogs();
        String seedText = System.getProperty("jnce.fuzz.seed", Long.toString(DEFAULT_SEED));
        long seed = seedText.equals("random") ? System.nanoTime() : Long.decode(seedText);
        long cases = Long.parseLong(System.getProperty("jnce.fuzz.cases", "100000"));
        String only = System.getProperty("jnce.fuzz.case");
        long from = 0, to = cases;
        boolean verbose = only != null;
        Case.announce = verbose;
        String ops = System.getProperty("jnce.fuzz.ops");
        Case.only = ops == null ? null : java.util.regex.Pattern.compile(ops);
        if (only != null) {
            String[] ab = only.split("-");
            from = Long.parseLong(ab[0]);
            to = (ab.length > 1 ? Long.parseLong(ab[1]) : from) + 1;
        }
        var enforced = KnownOpen.enforced(System.getProperty("jnce.fuzz.enforce"));
        Case.enforced = enforced;
        MappedByteBuffer progress = progressFile(System.getProperty("jnce.fuzz.progress"));
        PrintStream out = System.out;
        List<Backend> backends = TestBackends.all();
        int totalWeight = FAMILIES.stream().mapToInt(Entry::weight).sum();
        int cores = Runtime.getRuntime().availableProcessors();
        ThreadPlan threads = new ThreadPlan(cores);

        Map<String, Counts> perOp = new TreeMap<>();
        Map<KnownOpen, long[]> known = new EnumMap<>(KnownOpen.class);   // failed, passed
        Map<KnownOpen, String> firstKnown = new EnumMap<>(KnownOpen.class);
        List<String> failures = new ArrayList<>();
        java.util.PriorityQueue<Slow> slowest = new java.util.PriorityQueue<>(java.util.Comparator.comparingLong(Slow::nanos));
        long failCount = 0, matched = 0, errors = 0, knownFails = 0, skipped = 0;
        long start = System.nanoTime();
        out.println("FUZZ-START seed=" + seed + " cases=[" + from + ", " + to + ") backends=" + backends
                + " cores=" + cores + " enforce=" + enforced);

        for (long i = from; i < to; i++) {
            if (progress != null) progress.putLong(0, i);
            long caseStart = System.nanoTime();
            Case c = new Case(seed, i, backends);
            String threadNote = threads.apply(c);
            int pick = c.g.nextInt(totalWeight);
            Family family = null;
            for (Entry e : FAMILIES) {
                if ((pick -= e.weight()) < 0) {
                    family = e.family();
                    break;
                }
            }
            if (!c.pinned) Backends.use(c.backend.name());
            try (TensorScope scope = TensorScope.open()) {
                family.run(c);
            } catch (Throwable t) {
                c.verdict = "fuzz harness or unguarded call threw " + t;
                c.judged = true;
                if (verbose) t.printStackTrace(out);
            } finally {
                if (!c.pinned) Backends.use(null);
            }
            c.cleanup();
            if (threadNote != null) c.note(threadNote);
            if (!c.judged) c.verdict = "fuzz harness: the case made no call";
            long nanos = System.nanoTime() - caseStart;
            slowest.add(new Slow(nanos, "seed=" + seed + " case=" + i + " :: " + c.description()));
            if (slowest.size() > 5) slowest.poll();
            Counts n = perOp.computeIfAbsent(c.op, k -> new Counts());
            n.run++;
            String replay = "seed=" + seed + " case=" + i + " :: " + c.description() + " :: " + c.verdict;
            if (verbose) out.println("FUZZ-CASE " + replay);
            if (c.verdict.equals("skipped")) {
                n.skipped++;
                skipped++;
                continue;
            }
            boolean passed = c.verdict.equals("match") || c.verdict.equals("error");
            if (c.open != null) {
                long[] k = known.computeIfAbsent(c.open, x -> new long[2]);
                k[passed ? 1 : 0]++;
            }
            if (passed) {
                if (c.verdict.equals("match")) {
                    n.match++;
                    matched++;
                } else {
                    n.error++;
                    errors++;
                }
            } else if (c.open != null && !enforced.contains(c.open)) {
                n.known++;
                knownFails++;
                firstKnown.putIfAbsent(c.open, replay);
            } else {
                n.fail++;
                failCount++;
                if (failures.size() < PRINTED_FAILURES) failures.add(replay);
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        for (Map.Entry<String, Counts> e : perOp.entrySet()) {
            Counts n = e.getValue();
            out.printf("FUZZ-OP %s run=%d match=%d named-error=%d fail=%d known-open=%d skipped=%d%n", e.getKey(), n.run,
                    n.match, n.error, n.fail, n.known, n.skipped);
        }
        for (Map.Entry<KnownOpen, long[]> e : known.entrySet()) {
            out.printf("FUZZ-KNOWN %s failed=%d passed=%d%s%n", e.getKey(), e.getValue()[0], e.getValue()[1],
                    firstKnown.containsKey(e.getKey()) ? " first: " + firstKnown.get(e.getKey()) : "");
        }
        for (KnownOpen k : KnownOpen.values()) {
            if (k.crashes && !enforced.contains(k)) out.println("FUZZ-KNOWN " + k + " not run (can crash the JVM; enforce it to run its cases)");
        }
        for (String f : failures) out.println("FUZZ-FAIL " + f);
        slowest.stream().sorted(java.util.Comparator.comparingLong(Slow::nanos).reversed())
                .forEach(sl -> out.printf("FUZZ-SLOW %.1f ms %s%n", sl.nanos() / 1e6, sl.what()));
        out.printf("FUZZ-SUMMARY seed=%d cases=%d matched=%d named-errors=%d failures=%d known-open=%d skipped=%d seconds=%.1f%n",
                seed, to - from, matched, errors, failCount, knownFails, skipped, seconds);
        out.flush();
        System.exit(failCount == 0 ? 0 : 1);
    }

    /** Backends.use logs each choice at INFO: a hundred thousand lines; keep WARNING and above. */
    private static void quietLogs() {
        try {
            Class<?> logger = Class.forName("java.util.logging.Logger"), level = Class.forName("java.util.logging.Level");
            jnceLog = logger.getMethod("getLogger", String.class).invoke(null, "dev.jnce");
            logger.getMethod("setLevel", level).invoke(jnceLog, level.getField("WARNING").get(null));
        } catch (ReflectiveOperationException e) {
            System.out.println("FUZZ-NOTE jnce's INFO log stays on: " + e);
        }
    }

    private static MappedByteBuffer progressFile(String path) throws IOException {
        if (path == null) return null;
        try (FileChannel ch = FileChannel.open(Path.of(path), StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            MappedByteBuffer b = ch.map(FileChannel.MapMode.READ_WRITE, 0, 8);
            b.putLong(0, -1);
            return b;
        }
    }
}
