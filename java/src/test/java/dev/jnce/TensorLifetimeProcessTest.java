package dev.jnce;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import org.junit.jupiter.api.Tag;

/**
 * Memory closed under a running call, in fresh JVMs ({@link LifetimeMain}): a close while a call
 * holds the memory is an IllegalStateException, a call after it names its input, and a call that
 * returns has the right loss. Cross-entropy once took its tensors' addresses from a struct, so a
 * close from another thread freed the memory under the kernel (SIGSEGV or a corrupted C heap);
 * each of its tensors is now an argument of the downcall, which holds it.
 */
@Tag("native")
class TensorLifetimeProcessTest {

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"tensor", "scope", "arena"})
    void closingUnderARunningCallIsRefusedOrNamedNeverACrash(String mode) throws Exception {
        List<String> command = List.of(ProcessHandle.current().info().command().orElseThrow(), "--enable-native-access=ALL-UNNAMED",
                "-XX:ErrorFile=" + System.getProperty("java.io.tmpdir") + "/jnce-hs_err_pid%p.log",
                "-cp", System.getProperty("java.class.path"), LifetimeMain.class.getName(), mode);
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().remove(Backends.ENV);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "the child JVM should finish");
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("done"), out);
        out.lines().filter(l -> l.startsWith("calls=")).forEach(l -> System.out.println(mode + ": " + l));
    }
}
