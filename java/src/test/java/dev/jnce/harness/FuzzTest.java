package dev.jnce.harness;

import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The property-based fuzzer over every public op and loss ({@link FuzzMain}), run in a child JVM
 * so that a crash (SIGSEGV, abort) fails this test with the child's output instead of killing
 * Surefire. CI mode (the default): {@value #CI_CASES} cases of the fixed seed. Longer runs:
 * {@code -Djnce.fuzz.cases=N -Djnce.fuzz.seed=S} (or {@code random}); one case:
 * {@code -Djnce.fuzz.seed=S -Djnce.fuzz.case=I} (or a range {@code A-B}, for failures that need the
 * cases before them); known-open classes: {@code -Djnce.fuzz.enforce=NAME,...} or {@code all}
 * ({@link KnownOpen}); one op's cases: {@code -Djnce.fuzz.ops=regex}.
 * The summary goes to stdout and to {@code target/fuzz-summary.txt}.
 */
class FuzzTest {
    static final long CI_CASES = 100_000;
    private static final Pattern SUMMARY = Pattern.compile(
            "FUZZ-SUMMARY seed=(-?\\d+) cases=(\\d+) matched=(\\d+) named-errors=(\\d+) failures=(\\d+) known-open=(\\d+) skipped=(\\d+)");
    private static final int TAIL_LINES = 120;

    @Test
    void everyPublicOpAndLossMatchesItsReferenceOrNamesTheOffendingArgument() throws Exception {
        long cases = Long.getLong("jnce.fuzz.cases", CI_CASES);
        long timeoutSeconds = Long.getLong("jnce.fuzz.timeout", Math.max(900, cases / 50));
        Path target = Path.of("target");
        Files.createDirectories(target);
        Path progress = target.resolve("fuzz-progress.bin");
        Files.deleteIfExists(progress);

        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(List.of("--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector", "-Xss4m",
                "-XX:ErrorFile=" + target.toAbsolutePath().resolve("fuzz-hs_err_%p.log")));
        for (String p : List.of("jnce.fuzz.seed", "jnce.fuzz.case", "jnce.fuzz.enforce", "jnce.fuzz.ops", "jnce.test.native")) {
            if (System.getProperty(p) != null) command.add("-D" + p + "=" + System.getProperty(p));
        }
        command.add("-Djnce.fuzz.cases=" + cases);
        command.add("-Djnce.fuzz.progress=" + progress.toAbsolutePath());
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), FuzzMain.class.getName()));

        long start = System.nanoTime();
        Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
        Deque<String> tail = new ArrayDeque<>();
        List<String> report = new ArrayList<>();
        Thread reader = new Thread(() -> read(child, tail, report), "fuzz-child-output");
        reader.start();
        boolean finished = child.waitFor(timeoutSeconds, TimeUnit.SECONDS);
        if (!finished) child.destroyForcibly().waitFor();
        reader.join(10_000);
        double wall = (System.nanoTime() - start) / 1e9;
        String tailText;
        synchronized (tail) {
            tailText = String.join("\n", tail);
        }
        String running = runningCase(progress);
        if (!finished) {
            fail("the fuzz child ran past " + timeoutSeconds + " s; it was running " + running + "\n" + tailText);
        }
        int exit = child.exitValue();
        Matcher m = null;
        synchronized (tail) {
            for (String line : report) {
                Matcher mm = SUMMARY.matcher(line);
                if (mm.find()) m = mm;
            }
        }
        if (m == null) {
            fail("the fuzz child died (exit " + exit + ") without a summary, in " + running
                    + "; replay it with -Djnce.fuzz.case=<case> and the same -Djnce.fuzz.seed\n" + tailText);
        }
        List<String> summary = new ArrayList<>(report);
        summary.add(String.format("FUZZ-WALL %.1f s (child JVM, start to exit)", wall));
        Files.write(target.resolve("fuzz-summary.txt"), summary, StandardCharsets.UTF_8);
        System.out.println(String.join("\n", summary));

        long run = Long.parseLong(m.group(2)), failures = Long.parseLong(m.group(5));
        assertEquals(0, failures, "fuzz failures (each FUZZ-FAIL line has its replay flags):\n" + String.join("\n", report));
        assertEquals(0, exit, "the fuzz child's exit status\n" + tailText);
        long expected = System.getProperty("jnce.fuzz.case") != null ? 1 : cases;
        assertTrue(run >= expected, "cases run: " + run + ", expected " + expected);
    }

    /** Keeps the last lines of the child's output and every FUZZ- report line. */
    private static void read(Process child, Deque<String> tail, List<String> report) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                synchronized (tail) {
                    tail.addLast(line);
                    if (tail.size() > TAIL_LINES) tail.removeFirst();
                    if (line.startsWith("FUZZ-") && !line.startsWith("FUZZ-CALL")) report.add(line);
                }
            }
        } catch (IOException e) {
            synchronized (tail) {
                tail.addLast("(reading the child's output failed: " + e + ")");
            }
        }
    }

    /** The case the child was running when it stopped, from the progress file it keeps. */
    private static String runningCase(Path progress) {
        try {
            byte[] b = Files.readAllBytes(progress);
            if (b.length < 8) return "no case yet";
            long i = ByteBuffer.wrap(b).getLong();
            return i < 0 ? "no case yet" : "case " + i;
        } catch (IOException e) {
            return "an unknown case (no progress file: " + e.getMessage() + ")";
        }
    }
}
