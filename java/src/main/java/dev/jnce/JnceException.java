package dev.jnce;

/**
 * A failure inside jnce's native code or a backend: the operation, the shapes involved and
 * the native message. A caller's mistake is an {@link IllegalArgumentException} instead, and
 * use of a closed tensor an {@link IllegalStateException}.
 */
public class JnceException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * A native failure.
     *
     * @param message what failed: the op, the shapes and the native message
     */
    public JnceException(String message) {
        super(message);
    }

    /**
     * A native failure with its cause.
     *
     * @param message what failed: the op, the shapes and the native message
     * @param cause   the failure underneath
     */
    public JnceException(String message, Throwable cause) {
        super(message, cause);
    }
}
