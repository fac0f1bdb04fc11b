package dev.jnce.internal;

/**
 * The thread count every backend uses: system property {@code jnce.threads}, else the
 * environment variable {@code JNCE_NUM_THREADS}, else all available processors.
 * Changed at run time through {@code Backends.setThreads}.
 */
public final class Threads {
    public static final String PROPERTY = "jnce.threads";
    public static final String ENV = "JNCE_NUM_THREADS";
    private static volatile int threads; // 0 until first read: then from the property / environment

    private Threads() {
    }

    public static int get() {
        int t = threads;
        if (t == 0) threads = t = initial(); // throws IllegalArgumentException for a bad setting
        return t;
    }

    /** Sets the count; values below 1 mean all available processors. */
    public static void set(int count) {
        threads = count < 1 ? Runtime.getRuntime().availableProcessors() : count;
    }

    private static int initial() {
        String value = System.getProperty(PROPERTY, System.getenv(ENV));
        if (value == null || value.isBlank()) return Runtime.getRuntime().availableProcessors();
        try {
            int n = Integer.parseInt(value.trim());
            return n < 1 ? Runtime.getRuntime().availableProcessors() : n;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(PROPERTY + "/" + ENV + ": '" + value + "' is not a whole number", e);
        }
    }
}
