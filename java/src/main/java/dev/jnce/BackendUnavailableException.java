package dev.jnce;

/** A backend asked for by name could not be loaded; the cause says why. */
public class BackendUnavailableException extends JnceException {
    private static final long serialVersionUID = 1L;

    public BackendUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
