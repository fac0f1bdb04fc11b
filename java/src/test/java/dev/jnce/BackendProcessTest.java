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
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Backend choice as a user meets it, in fresh JVMs: forcing by system property and environment
 * variable, a forced backend that cannot load, and the pure-Java fallback without any JVM flag.
 */
@Tag("native")
class BackendProcessTest {

    record Run(int exit, String output) {
    }

    /** Runs {@link ReadmeExampleMain} --info (the backends only) in a new JVM with the test class path. */
    static Run info(List<String> jvmArgs, String envName, String envValue) throws IOException, InterruptedException {
        return run(jvmArgs, envName, envValue, "--info");
    }

    /** Runs {@link ReadmeExampleMain} (the backends, then the README's first example) in a new JVM. */
    static Run run(List<String> jvmArgs, String envName, String envValue, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElseThrow());
        command.addAll(jvmArgs);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), ReadmeExampleMain.class.getName()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().remove(Backends.ENV);
        if (envName != null) pb.environment().put(envName, envValue);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the child JVM should finish");
        return new Run(p.exitValue(), out);
    }

    @Test
    void automaticChoiceIsCpuAndIsLogged() throws Exception {
        Run r = info(List.of("--enable-native-access=ALL-UNNAMED"), null, null);
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("current: cpu"), r.output());
        assertTrue(r.output().contains("jnce backend: cpu (automatic"), "the choice is logged: " + r.output());
    }

    @Test
    void systemPropertyForcesTheJavaBackend() throws Exception {
        Run r = info(List.of("-Djnce.backend=java", "--add-modules", "jdk.incubator.vector"), null, null);
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("current: java - pure Java, Vector API"), r.output());
        assertTrue(r.output().contains("forced by jnce.backend"), r.output());
    }

    @Test
    void environmentVariableForcesABackend() throws Exception {
        Run r = info(List.of("--enable-native-access=ALL-UNNAMED"), "JNCE_BACKEND", "java");
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("current: java"), r.output());
    }

    @Test
    void withoutTheVectorModuleTheJavaBackendRunsScalarWithNoFlag() throws Exception {
        Run r = info(List.of("-Djnce.backend=java"), null, null);
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("current: java - pure Java, scalar"), r.output());
    }

    @Test
    void aForcedBackendThatCannotLoadFailsWithTheReason() throws Exception {
        Run r = info(List.of("-Djnce.backend=cpu", "-Djnce.library.path=/nonexistent/libjnce.so"), null, null);
        assertNotEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("BackendUnavailableException"), r.output());
        assertTrue(r.output().contains("backend 'cpu' is not available"), r.output());
        assertTrue(r.output().contains("/nonexistent/libjnce.so"), "names the path it tried: " + r.output());
    }

    @Test
    void anAutomaticChoiceFallsBackWithOneWarningSayingWhyWhenTheNativeLibraryCannotLoad() throws Exception {
        Run r = run(List.of("-Djnce.library.path=/nonexistent/libjnce.so"), null, null);
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("current: java"), r.output());
        assertTrue(r.output().contains("cpu: unavailable"), r.output());
        assertTrue(r.output().contains("WARNING: jnce: backend 'cpu' cannot load, falling back"), r.output());
        assertTrue(r.output().contains("/nonexistent/libjnce.so"), "the warning says why: " + r.output());
        assertEquals(1, r.output().split("WARNING: jnce", -1).length - 1, "one warning: " + r.output());
        assertTrue(r.output().contains("readme example: loss 0.306882 on java"), r.output());
    }

    @Test
    void theReadmeExampleRunsOnCpuWithoutAFlag() throws Exception {
        Run r = run(List.of("--enable-native-access=ALL-UNNAMED"), null, null);
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("readme example: loss 0.306882 on cpu"), r.output());
        assertTrue(!r.output().contains("WARNING"), "no warning when cpu loads: " + r.output());
    }

    @Test
    void theReadmeExampleWithCudaForcedOnAMachineWithoutAGpuFailsWithTheReason() throws Exception {
        Run r = run(List.of("-Djnce.backend=cuda", "--enable-native-access=ALL-UNNAMED"), null, null);
        assertNotEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("BackendUnavailableException"), r.output());
        assertTrue(r.output().contains("backend 'cuda' is not available"), r.output());
        assertTrue(!r.output().contains("readme example: loss"), r.output());
    }

    @Test
    void nativeAccessDeniedIsNamedAsTheReason() throws Exception {
        Run r = run(List.of("--illegal-native-access=deny"), null, null);
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("native access is denied to jnce"), r.output());
        assertTrue(r.output().contains("readme example: loss 0.306882 on java"), r.output());
    }

    @Test
    void forcingCudaFailsBecauseItIsNotBuilt() throws Exception {
        Run r = info(List.of("-Djnce.backend=cuda"), null, null);
        assertNotEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("backend 'cuda' is not available"), r.output());
    }
}
