package dev.jnce.harness;

import dev.jnce.Backends;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The soak ({@link SoakMain}) in a JVM of its own: mixed calls on every host backend, from platform
 * and virtual threads, refused calls included, with resident memory and NMT's committed memory flat
 * (within 5% + 16 MiB of the first sample after warm-up). CI size: {@value #CI_CALLS} calls;
 * {@code -Djnce.soak.calls=1000000} runs the full soak (bench/scripts/soak.sh prints its curve).
 */
class SoakTest {
    static final long CI_CALLS = 40_000;

    @Test
    void memoryStaysFlatOverMixedCallsAndRefusals() throws Exception {
        String out = soak(Long.getLong("jnce.soak.calls", CI_CALLS), 0);
        assertTrue(out.contains("SOAK-RESULT calls=") && out.contains(" flat") && out.endsWith("exit 0"), out);
        assertTrue(out.lines().filter(l -> l.startsWith("SOAK-SAMPLE")).count() >= 10, "samples: " + out);
    }

    /** The verdict sees a leak: 8 KiB of tensors kept per call fail it (the same run, shorter). */
    @Test
    void aLeakOfEightKibPerCallFailsTheVerdict() throws Exception {
        String out = soak(10_000, 8192);
        assertTrue(out.contains("SOAK-RESULT calls=10000") && out.contains("GROWTH [RSS") && out.endsWith("exit 1"), out);
    }

    /** Runs the soak in a JVM of its own; returns its SOAK- lines and "exit N". */
    private static String soak(long calls, long leakBytes) throws Exception {
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElseThrow(),
                "--enable-native-access=ALL-UNNAMED", "-XX:NativeMemoryTracking=summary", "-Xms192m", "-Xmx192m",
                "-XX:+AlwaysPreTouch", "-XX:ErrorFile=" + System.getProperty("java.io.tmpdir") + "/jnce-hs_err_pid%p.log",
                "-Djnce.soak.leakBytes=" + leakBytes,
                "-cp", System.getProperty("java.class.path"), SoakMain.class.getName(), Long.toString(calls)));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().remove(Backends.ENV);
        pb.environment().remove(Backends.THREADS_ENV);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(20, TimeUnit.MINUTES), "the soak should finish");
        String lines = out.lines().filter(l -> l.startsWith("SOAK-")).reduce("", (a, b) -> a + b + "\n");
        System.out.print(lines);
        if (lines.isEmpty()) throw new AssertionError("no SOAK- line; the child printed: " + out);
        return lines + "exit " + p.exitValue();
    }
}
