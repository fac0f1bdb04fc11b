package dev.jnce;

/**
 * A failure inside jnce's native code or a backend: the operation, the shapes involved and
 * the native message. A caller's mistake is an {@link IllegalArgumentException} instead, and
 * use of a closed tensor an {@link IllegalStateException}.
 */
public class JnceException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public JnceException(String message) {
        super(message);
    }

    public JnceException(String message, Throwable cause) {
        super(message, cause);
    }
}
