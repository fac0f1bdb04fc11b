package dev.jnce.testutil;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.backend.java.JavaBackend;

import java.util.List;
import java.util.stream.Stream;

/**
 * The backends every op test runs on: native cpu, pure Java with the Vector API, and pure
 * Java scalar. The cpu backend must load here: a test that needs it fails, never skips.
 * Their toString() ({@code cpu}, {@code java(vector)}, {@code java(scalar)}) names them in reports.
 */
public final class TestBackends {
    private TestBackends() {
    }

    public static List<Backend> all() {
        return List.of(Backends.get("cpu"), new JavaBackend(true), new JavaBackend(false));
    }

    /** For @MethodSource: one argument per backend. */
    public static Stream<Backend> backends() {
        return all().stream();
    }
}
