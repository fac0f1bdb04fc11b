package dev.jnce;

import dev.jnce.backend.cpu.CpuBackend;
import dev.jnce.backend.cuda.CudaBackend;
import dev.jnce.backend.java.JavaBackend;
import dev.jnce.internal.Threads;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Chooses and hands out backends.
 *
 * <p>{@link #current()} is decided once, at first use: the backend named by the system
 * property {@code jnce.backend} or the environment variable {@code JNCE_BACKEND} if set (and
 * then it must load, or {@link BackendUnavailableException} is thrown with the reason),
 * otherwise the first of {@code cuda > cpu > java} that loads, falling back quietly. The choice
 * is logged once through {@link System.Logger} ({@code dev.jnce}, level INFO).
 *
 * <p>Thread count: system property {@code jnce.threads}, environment variable
 * {@code JNCE_NUM_THREADS}, or {@link #setThreads(int)}; it applies to jnce's kernels and to
 * OpenBLAS. Default: all available processors.
 */
public final class Backends {
    public static final String PROPERTY = "jnce.backend";
    public static final String ENV = "JNCE_BACKEND";
    /** Backend names in order of preference for the automatic choice. */
    public static final List<String> NAMES = List.of("cuda", "cpu", "java");

    private static final System.Logger LOG = System.getLogger("dev.jnce");
    private static final Map<String, Backend> LOADED = new LinkedHashMap<>();
    private static final Map<String, Throwable> FAILED = new LinkedHashMap<>();
    private static volatile Backend current;

    private Backends() {
    }

    /** The backend losses use when none is given; chosen once (see the class comment). */
    public static Backend current() {
        Backend b = current;
        if (b != null) return b;
        synchronized (Backends.class) {
            if (current == null) {
                String forced = System.getProperty(PROPERTY, System.getenv(ENV));
                boolean isForced = forced != null && !forced.isBlank();
                current = isForced ? get(forced) : fastest();
                LOG.log(System.Logger.Level.INFO, "jnce backend: {0} ({1}{2})", current.name(),
                        isForced ? "forced by " + PROPERTY + "/" + ENV : "automatic", "; " + current.description());
            }
            return current;
        }
    }

    /** Makes {@code name} the current backend; it must load. */
    public static synchronized Backend use(String name) {
        Backend b = get(name);
        current = b;
        LOG.log(System.Logger.Level.INFO, "jnce backend: {0} (set by Backends.use; {1})", b.name(), b.description());
        return b;
    }

    /**
     * The backend called {@code name} ({@code java}, {@code cpu} or {@code cuda}).
     *
     * @throws BackendUnavailableException if it cannot load here, with the reason as cause
     * @throws IllegalArgumentException if no backend has that name
     */
    public static synchronized Backend get(String name) {
        String key = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        if (!NAMES.contains(key)) {
            throw new IllegalArgumentException("backend: unknown name '" + name + "'; expected one of " + NAMES);
        }
        Backend b = LOADED.get(key);
        if (b != null) return b;
        Throwable earlier = FAILED.get(key);
        if (earlier == null) {
            try {
                b = factory(key).get();
                LOADED.put(key, b);
                return b;
            } catch (RuntimeException | LinkageError e) {
                FAILED.put(key, e);
                earlier = e;
            }
        }
        throw new BackendUnavailableException("backend '" + key + "' is not available: " + earlier.getMessage(), earlier);
    }

    /** The first backend of {@code cuda > cpu > java} that loads. */
    public static Backend fastest() {
        for (String name : NAMES) {
            if (isAvailable(name)) return get(name);
        }
        throw new IllegalStateException("no backend loads; the pure-Java backend always should");
    }

    /** Whether {@code name} loads here; loads it if it has not been tried. */
    public static boolean isAvailable(String name) {
        try {
            get(name);
            return true;
        } catch (BackendUnavailableException e) {
            return false;
        }
    }

    /** Names of the backends that load here, fastest first. */
    public static List<String> available() {
        List<String> names = new ArrayList<>();
        for (String name : NAMES) {
            if (isAvailable(name)) names.add(name);
        }
        return names;
    }

    /** Why {@code name} cannot load, or null if it can. */
    public static String unavailableReason(String name) {
        try {
            get(name);
            return null;
        } catch (BackendUnavailableException e) {
            return e.getCause() != null ? e.getCause().getMessage() : e.getMessage();
        }
    }

    /** Sets the threads of every backend (values below 1: all available processors). */
    public static synchronized void setThreads(int threads) {
        Threads.set(threads);
        for (Backend b : LOADED.values()) {
            if (b instanceof CpuBackend cpu) cpu.applyThreads();
        }
    }

    /** The thread count in force. */
    public static int threads() {
        return Threads.get();
    }

    private static Supplier<Backend> factory(String name) {
        return switch (name) {
            case "java" -> JavaBackend::new;
            case "cpu" -> CpuBackend::new;
            case "cuda" -> CudaBackend::new;
            default -> throw new IllegalArgumentException(name);
        };
    }
}
