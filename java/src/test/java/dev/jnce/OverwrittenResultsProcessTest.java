package dev.jnce;

import dev.jnce.internal.Outputs;
import org.junit.jupiter.api.Test;

import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Results a kernel overwrites whole ({@link Outputs#overwritten}): in normal use small ones are
 * not zeroed, so every kernel that fills one must write every element. The test suite runs
 * with {@code -Djnce.tensor.poison=true}, where they start as NaN whatever their size, so that
 * every test of an allocating form checks it; here, that this mode is on, what it fills, and
 * (in a child JVM in normal use, {@link OverwrittenResultsMain}) that results made in memory
 * freed dirty by earlier results equal those made in zeroed memory.
 */
class OverwrittenResultsProcessTest {

    @Test
    void theSuiteRunsWithPoisonedResults() {
        assertEquals("true", System.getProperty("jnce.tensor.poison"),
                "the build runs its tests with -Djnce.tensor.poison=true (the pom's jnce.test.poison)");
    }

    @Test
    void poisonedResultsStartAsNanWhateverTheirSizeOrScope() {
        List<Tensor> made = new ArrayList<>();
        made.add(Outputs.overwritten(Device.HOST, DType.FLOAT32, 32, 128)); // a small one: a slab's
        made.add(Outputs.overwritten(Device.HOST, DType.FLOAT32, 512, 1024)); // 2 MiB: its own memory
        made.add(Outputs.overwritten(Device.HOST, DType.FLOAT32)); // shape ()
        try {
            for (Tensor t : made) {
                float[] v = t.toFloatArray();
                for (int i = 0; i < v.length; i++) {
                    assertEquals(-1, Float.floatToRawIntBits(v[i]), t + " element " + i);
                }
            }
        } finally {
            made.forEach(Tensor::close);
        }
        Tensor scoped;
        try (TensorScope scope = TensorScope.open()) {
            scoped = Outputs.overwritten(Device.HOST, DType.INT64, 5);
            assertEquals(-1L, scoped.segment().get(ValueLayout.JAVA_LONG, 32));
        }
        assertTrue(scoped.isClosed(), "a result made in a scope closes with it");
    }

    @Test
    void resultsInDirtyFreedMemoryEqualResultsInZeroedMemory() throws Exception {
        List<String> command = List.of(ProcessHandle.current().info().command().orElseThrow(), "--enable-native-access=ALL-UNNAMED",
                "--add-modules", "jdk.incubator.vector", "-Djnce.tensor.poison=false",
                "-Djnce.test.native=" + System.getProperty("jnce.test.native", "true"),
                "-XX:ErrorFile=" + System.getProperty("java.io.tmpdir") + "/jnce-hs_err_pid%p.log",
                "-cp", System.getProperty("java.class.path"), OverwrittenResultsMain.class.getName());
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().remove(Backends.ENV);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "the child JVM should finish");
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("done"), out);
        assertTrue(out.contains("bpr on java(scalar): 200 calls equal"), out);
        assertFalse(out.contains("differs"), out);
    }
}
