package dev.jnce;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Thread counts as a user sets them, in fresh JVMs (a native crash fails the test, not the
 * runner): a pool that grew and then shrank, and counts above the processors for OpenBLAS.
 */
@Tag("native")
class ThreadsProcessTest {

    record Run(int exit, String output) {
        /** The floats of the line that starts with prefix. */
        float[] values(String prefix) {
            String line = output.lines().filter(l -> l.startsWith(prefix)).findFirst()
                    .orElseThrow(() -> new AssertionError("no line '" + prefix + "' in: " + output));
            String[] parts = line.substring(prefix.length()).split(",");
            float[] v = new float[parts.length];
            for (int i = 0; i < v.length; i++) v[i] = Float.parseFloat(parts[i]);
            return v;
        }
    }

    static Run run(List<String> jvmArgs, String mode) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElseThrow());
        command.add("--enable-native-access=ALL-UNNAMED");
        // a crash report goes to the temporary folder, not into the working tree
        command.add("-XX:ErrorFile=" + System.getProperty("java.io.tmpdir") + "/jnce-hs_err_pid%p.log");
        command.addAll(jvmArgs);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), ThreadsMain.class.getName(), mode));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().remove(Backends.ENV);
        pb.environment().remove(Backends.THREADS_ENV);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the child JVM should finish");
        return new Run(p.exitValue(), out);
    }

    @Test
    void kernelsWithPerSliceBuffersSurviveAPoolThatGrewThenShrank() throws Exception {
        Run r = run(List.of(), "resize");
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("done"), r.output());
    }

    /**
     * More threads than this machine's processors (4 and 64 on a 2-core machine crashed OpenBLAS
     * 0.3.28's GEMM copy routines) give the numbers of one thread. Not bit for bit: OpenBLAS's
     * one-thread GEMM sums in another order than its threaded one (differences of a few ulps of
     * the largest value).
     */
    @Test
    void moreThreadsThanProcessorsGiveTheNumbersOfOneThread() throws Exception {
        Run one = run(List.of("-Djnce.threads=1"), "infonce");
        assertEquals(0, one.exit(), one.output());
        for (String threads : List.of("4", "64")) {
            Run many = run(List.of("-Djnce.threads=" + threads), "infonce");
            assertEquals(0, many.exit(), "jnce.threads=" + threads + ": " + many.output());
            for (String what : List.of("loss ", "gradQueries ", "gradKeys ")) {
                float[] want = one.values(what), got = many.values(what);
                assertEquals(want.length, got.length, what);
                float scale = 0f;
                for (float w : want) scale = Math.max(scale, Math.abs(w));
                for (int i = 0; i < want.length; i++) {
                    assertEquals(want[i], got[i], 1e-5f * scale, what + "[" + i + "] with jnce.threads=" + threads + " vs 1");
                }
            }
        }
    }

    @Test
    void setThreadsRejectsNegativeAndAbsurdCountsAndKeepsTheCountInForce() {
        int before = Backends.threads();
        try {
            for (int bad : new int[] {-1, Integer.MIN_VALUE, Backends.MAX_THREADS + 1, Integer.MAX_VALUE}) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Backends.setThreads(bad));
                assertEquals("count: " + bad + " threads; expected 0 (all available processors) or 1 to " + Backends.MAX_THREADS,
                        e.getMessage());
                assertEquals(before, Backends.threads(), "a rejected count changes nothing");
            }
            Backends.setThreads(Backends.MAX_THREADS);
            assertEquals(Backends.MAX_THREADS, Backends.threads());
            assertTrue(Backends.get("cpu").description().contains("threads: 64;"), "native kernels capped at 64: "
                    + Backends.get("cpu").description());
        } finally {
            Backends.setThreads(before);
        }
    }

    @Test
    void aNegativeThreadCountIsNamed() throws Exception {
        Run r = run(List.of("-Djnce.threads=-2"), "infonce");
        assertNotEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("IllegalArgumentException: jnce.threads/JNCE_NUM_THREADS: -2 threads"), r.output());
    }
}
