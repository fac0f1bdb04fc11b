package dev.jnce.testutil;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.backend.java.JavaBackend;

import java.util.List;
import java.util.stream.Stream;

/**
 * The backends every op test runs on: native cpu, pure Java with the Vector API, and pure
 * Java scalar. The cpu backend must load here: a test that needs it fails, never skips.
 * The java-only build ({@code -Djnce.javaOnly}, which sets {@code jnce.test.native=false}) has
 * no native library: there the two Java backends are all. Their toString() ({@code cpu}, {@code java(vector)}, {@code java(scalar)}) names them in reports.
 */
public final class TestBackends {
    private TestBackends() {
    }

    public static List<Backend> all() {
        if (!nativeExpected()) return List.of(new JavaBackend(true), new JavaBackend(false));
        return List.of(Backends.get("cpu"), new JavaBackend(true), new JavaBackend(false));
    }

    /** Whether this build has the native library (false only in the java-only build). */
    public static boolean nativeExpected() {
        return !"false".equals(System.getProperty("jnce.test.native"));
    }

    /** For @MethodSource: one argument per backend. */
    public static Stream<Backend> backends() {
        return all().stream();
    }
}
