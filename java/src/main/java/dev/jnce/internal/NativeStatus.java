package dev.jnce.internal;

import dev.jnce.JnceException;
import dev.jnce.Tensor;
import dev.jnce.bindings.JnceNative;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.function.ToIntBiFunction;

/** Status codes of jnce.h, turned into exceptions carrying the op, the shapes and the native message. */
public enum NativeStatus {
    OK, INVALID_ARG, OUT_OF_MEMORY, UNSUPPORTED, INTERNAL, UNKNOWN;

    private static final int MESSAGE_BYTES = 1024;

    public static NativeStatus of(int code) {
        return code >= 0 && code < UNKNOWN.ordinal() ? values()[code] : UNKNOWN;
    }

    /**
     * Throws unless {@code code} is OK: {@link IllegalArgumentException} for INVALID_ARG (a
     * caller's mistake only the kernel can see, such as a probability row that is not a
     * distribution), {@link JnceException} otherwise.
     *
     * @param namesAndTensors pairs of argument name and tensor, described in the message
     */
    public static void check(int code, String op, Object... namesAndTensors) {
        if (code == JnceNative.JNCE_OK()) return;
        StringBuilder b = new StringBuilder("jnce_").append(op).append(" failed (").append(of(code)).append(", status ")
                .append(code).append(')');
        for (int i = 0; i + 1 < namesAndTensors.length; i += 2) {
            b.append(i == 0 ? " for " : ", ").append(namesAndTensors[i]).append(' ')
                    .append(((Tensor) namesAndTensors[i + 1]).describe());
        }
        String message = b.append(": ").append(string(JnceNative::jnce_last_error)).toString();
        if (of(code) == INVALID_ARG) throw new IllegalArgumentException(message);
        throw new JnceException(message);
    }

    /**
     * As {@link #check}, for kernels that check the values of their call themselves (class
     * indices, weights, probabilities): their INVALID_ARG becomes an
     * {@link IllegalArgumentException} carrying the kernel's message alone, which is worded as
     * Java's own argument checks are.
     */
    public static void checkValues(int code, String op, Object... namesAndTensors) {
        if (code == JnceNative.JNCE_ERR_INVALID_ARG()) throw new IllegalArgumentException(string(JnceNative::jnce_last_error));
        check(code, op, namesAndTensors);
    }

    /** Calls a native function that fills a (buffer, capacity) pair with a string. */
    public static String string(ToIntBiFunction<MemorySegment, Long> fill) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(MESSAGE_BYTES);
            int code = fill.applyAsInt(buf, (long) MESSAGE_BYTES);
            return code == 0 ? buf.getString(0) : "(no message: status " + code + ")";
        }
    }
}
