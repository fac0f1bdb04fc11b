package dev.jnce;

import dev.jnce.backend.java.JavaBackend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Tag("native")
class BackendsTest {
    private int originalThreads;

    @BeforeEach
    void rememberThreads() {
        originalThreads = Backends.threads();
    }

    @AfterEach
    void restoreThreads() {
        Backends.setThreads(originalThreads);
    }

    @Test
    void javaBackendIsAlwaysThere() {
        Backend java = Backends.get("java");
        assertEquals("java", java.name());
        assertFalse(java.description().isBlank());
        assertEquals(Device.HOST, java.device());
    }

    @Test
    void cpuBackendLoadsAndUsesOpenBlas() {
        // No assumption here on purpose: on linux-x86_64 the native backend must load, or CI fails.
        Backend cpu = Backends.get("cpu");
        assertEquals("cpu", cpu.name());
        assertTrue(cpu.description().contains("OpenBLAS"), cpu.description());
    }

    @Test
    void getReturnsTheSameInstanceEachTime() {
        assertSame(Backends.get("cpu"), Backends.get("cpu"));
        assertSame(Backends.get("java"), Backends.get("java"));
    }

    @Test
    void cudaIsUnavailableWithAReason() {
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class, () -> Backends.get("cuda"));
        assertTrue(e.getMessage().contains("'cuda'"), e.getMessage());
        assertNotNull(e.getCause());
    }

    @Test
    void unknownNameListsTheValidNames() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Backends.get("nope"));
        assertTrue(e.getMessage().contains("nope"), e.getMessage());
        for (String name : List.of("cuda", "cpu", "java")) {
            assertTrue(e.getMessage().contains(name), e.getMessage());
        }
    }

    @Test
    void nullNameIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> Backends.get(null));
    }

    @Test
    void nameIsTrimmedAndCaseInsensitive() {
        assertSame(Backends.get("cpu"), Backends.get(" CPU "));
        assertSame(Backends.get("java"), Backends.get("Java"));
    }

    @Test
    void availableIsCpuThenJava() {
        assertEquals(List.of("cpu", "java"), Backends.available());
        assertTrue(Backends.isAvailable("cpu"));
        assertFalse(Backends.isAvailable("cuda"));
    }

    @Test
    void fastestIsCpu() {
        assertEquals("cpu", Backends.fastest().name());
    }

    @Test
    void currentIsOneOfTheAvailable() {
        Backend current = Backends.current();
        assertNotNull(current);
        assertTrue(Backends.available().contains(current.name()), current.name());
        assertSame(current, Backends.current());
    }

    @Test
    void unavailableReasonOnlyForUnavailableBackends() {
        assertNotNull(Backends.unavailableReason("cuda"));
        assertNull(Backends.unavailableReason("java"));
        assertNull(Backends.unavailableReason("cpu"));
    }

    @Test
    void setThreadsChangesTheCount() {
        Backends.setThreads(1);
        assertEquals(1, Backends.threads());
    }

    @Test
    void setThreadsZeroMeansAllProcessors() {
        Backends.setThreads(1);
        Backends.setThreads(0);
        assertEquals(Runtime.getRuntime().availableProcessors(), Backends.threads());
    }

    @Test
    void setThreadsReachesTheNativeBackend() {
        Backend cpu = Backends.get("cpu");
        Backends.setThreads(1);
        assertTrue(cpu.description().contains("threads: 1;"), cpu.description());
        Backends.setThreads(2);
        assertTrue(cpu.description().contains("threads: 2;"), cpu.description());
    }

    @Test
    void scalarJavaBackend() {
        JavaBackend scalar = new JavaBackend(false);
        assertFalse(scalar.usesVectorApi());
        assertTrue(scalar.description().contains("scalar"), scalar.description());
    }

    @Test
    void vectorJavaBackend() {
        // The tests run with --add-modules jdk.incubator.vector, so the Vector API must be used.
        JavaBackend vector = new JavaBackend(true);
        assertTrue(vector.usesVectorApi(), vector.description());
        assertTrue(vector.description().contains("Vector API"), vector.description());
    }
}
