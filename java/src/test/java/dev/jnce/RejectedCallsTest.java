package dev.jnce;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * 20,000 rejected calls of each kind that allocates before it is rejected (a check after the
 * outputs are made, a value the kernel refuses) leave the JVM's native memory where it was: run
 * by {@link RejectedCallsMain} in a JVM with native memory tracking, whose category Other holds
 * every tensor's memory. A leak of the outputs would be at least 20,000 x 16 KB; and none of the
 * tensors made is left for the collector's safety net to free (-Djnce.debug.leaks=true).
 */
@Tag("native")
class RejectedCallsTest {
    private static final int CALLS = 20_000;
    private static final long MAX_GROWTH_KB = 1024;

    @Test
    void rejectedCallsLeaveNativeMemoryWhereItWas() throws Exception {
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElseThrow(),
                "-XX:NativeMemoryTracking=summary", "--enable-native-access=ALL-UNNAMED", "-Djnce.backend=cpu",
                "-Djnce.debug.leaks=true",
                "-cp", System.getProperty("java.class.path"), RejectedCallsMain.class.getName(), String.valueOf(CALLS)));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "the child JVM should finish");
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("done"), out);
        assertTrue(!out.contains("never closed"), "a rejected call left a tensor for the collector to free: " + out);
        List<String> kinds = out.lines().filter(l -> l.matches(".*, .*: -?\\d+")).toList();
        assertEquals(6, kinds.size(), "one line per kind of rejected call: " + out);
        for (String line : kinds) {
            long kb = Long.parseLong(line.substring(line.lastIndexOf(' ') + 1));
            assertTrue(kb < MAX_GROWTH_KB, CALLS + " rejected calls grew native memory by " + kb + " KB: " + line);
        }
    }
}
