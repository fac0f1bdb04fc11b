package dev.jnce;

/** A backend asked for by name could not be loaded; the cause says why. */
public class BackendUnavailableException extends JnceException {
    private static final long serialVersionUID = 1L;

    /**
     * A backend that cannot be used here.
     *
     * @param message why it cannot load: what was tried and what failed
     * @param cause   the failure underneath, or null
     */
    public BackendUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
