package dev.jnce;

import dev.jnce.spi.DeviceMemory;
import dev.jnce.spi.ThreadsListener;

import java.lang.reflect.InvocationTargetException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Chooses and hands out backends. A call runs where its tensors live, as in PyTorch:
 *
 * <ul>
 * <li>host tensors run on the best host backend, {@code cpu} (native) when it loads, else
 *     {@code java} ({@link #host()}); when {@code cpu} cannot load, a WARNING says why, once;</li>
 * <li>tensors on {@code cuda:N} run on the {@code cuda} backend of GPU N ({@link #forDevice});</li>
 * <li>tensors of one call on different devices are an {@link IllegalArgumentException} naming
 *     each argument's device.</li>
 * </ul>
 *
 * <p>A backend can be forced for every call: the system property {@code jnce.backend}, the
 * environment variable {@code JNCE_BACKEND}, or {@link #use(String)}. A forced backend must load
 * (else {@link BackendUnavailableException} with the reason), and every call's tensors must then
 * be on its device. A loss or op can also be pinned to one backend with its {@code withBackend}.
 * Each choice is logged once through {@link System.Logger} ({@code dev.jnce}, level INFO).
 *
 * <p>Backends are found by class name, never imported: this class knows their names only.
 *
 * <p>Thread count: system property {@code jnce.threads}, environment variable
 * {@code JNCE_NUM_THREADS}, or {@link #setThreads(int)}: 0 means all available processors
 * (the default), otherwise 1 to {@link #MAX_THREADS}. The pure-Java backend uses that many
 * threads; jnce's native kernels at most 64; OpenBLAS at most the processors the process may run
 * on (more threads than cores only wait for each other).
 */
public final class Backends {
    /**
     * System property that forces a backend for every call: {@code -Djnce.backend=cpu}.
     */
    public static final String PROPERTY = "jnce.backend";
    /**
     * Environment variable that forces a backend when the property is not set: {@code JNCE_BACKEND=cpu}.
     */
    public static final String ENV = "JNCE_BACKEND";
    /**
     * System property that sets the thread count: {@code -Djnce.threads=4} (0: all processors).
     */
    public static final String THREADS_PROPERTY = "jnce.threads";
    /**
     * Environment variable that sets the thread count when the property is not set: {@code
     * JNCE_NUM_THREADS=4}.
     */
    public static final String THREADS_ENV = "JNCE_NUM_THREADS";
    /** The largest thread count {@link #setThreads(int)}, {@code jnce.threads} and {@code JNCE_NUM_THREADS} accept. */
    public static final int MAX_THREADS = 1024;
    /** Backend names, fastest first. */
    public static final List<String> NAMES = List.of("cuda", "cpu", "java");
    /** Host backends in order of preference. */
    private static final List<String> HOST_NAMES = List.of("cpu", "java");
    /** name -> implementation class, loaded by name so that this class depends on none of them. */
    private static final Map<String, String> IMPLEMENTATIONS = Map.of(
            "java", "dev.jnce.backend.java.JavaBackend",
            "cpu", "dev.jnce.backend.cpu.CpuBackend",
            "cuda", "dev.jnce.backend.cuda.CudaBackend");

    private static final Map<String, Backend> LOADED = new LinkedHashMap<>();
    private static final Map<String, Throwable> FAILED = new LinkedHashMap<>();
    private static final Map<Integer, Backend> CUDA_BY_INDEX = new HashMap<>();
    private static volatile Backend forced;   // set by use() or, at first use, the property / environment
    private static volatile boolean forcedRead;
    private static volatile Backend host;
    private static volatile int threads;      // 0 until first read

    private Backends() {
    }

    /**
     * The backend for calls whose tensors are on the host (and the backend a forced choice
     * names): the forced one if any, else {@link #host()}.
     *
     * @return the forced backend, else the host backend; never null
     */
    public static Backend current() {
        Backend f = forced();
        return f != null ? f : host();
    }

    /**
     * {@code pinned} when not null, else {@link #current()}: what a loss or op's {@code backend()}
     * reports (the backend it is pinned to, or the one its host calls run on).
     *
     * @param pinned the backend a loss or op is pinned to, or null
     * @return {@code pinned}, or {@link #current()} when it is null
     */
    public static Backend orCurrent(Backend pinned) {
        return pinned != null ? pinned : current();
    }

    /**
     * The backend a call on tensors of {@code device} runs on: the forced one if any, else
     * {@link #host()} for the host and the {@code cuda} backend of that GPU for {@code cuda:N}.
     *
     * @param device the device the call's tensors are on; not null
     * @return the backend calls on that device run on
     * @throws BackendUnavailableException if that backend cannot load, with the reason
     */
    public static Backend forDevice(Device device) {
        if (device == null) throw new IllegalArgumentException("device: must not be null");
        Backend f = forced();
        if (f != null) return f;
        if (device.kind() == Device.Kind.HOST) return host();
        return cuda(device.index());
    }

    /**
     * Whether a backend is forced (property, environment or {@link #use}): calls then ignore where tensors live.
     *
     * @return true when a backend is forced
     */
    public static boolean isForced() {
        return forced() != null;
    }

    /**
     * The best host backend: {@code cpu} when it loads, else {@code java}. Chosen once.
     *
     * @return the host backend, {@code cpu} or {@code java}
     */
    public static Backend host() {
        Backend h = host;
        if (h != null) return h;
        synchronized (Backends.class) {
            if (host == null) {
                for (String name : HOST_NAMES) {
                    if (!isAvailable(name)) {
                        log().log(System.Logger.Level.WARNING, "jnce: backend ''{0}'' cannot load, falling back: {1}",
                                name, unavailableReason(name));
                        continue;
                    }
                    host = get(name);
                    log().log(System.Logger.Level.INFO, "jnce backend: {0} (automatic, for host tensors; {1})",
                            host.name(), host.description());
                    break;
                }
                if (host == null) throw new IllegalStateException("no host backend loads; the pure-Java backend always should");
            }
            return host;
        }
    }

    /**
     * Makes {@code name} the backend of every call (it must load); {@code null} goes back to following the tensors.
     *
     * @param name a backend name: {@code java}, {@code cpu} or {@code cuda}
     * @return the backend now in force, or null when calls follow their tensors again
     * @throws BackendUnavailableException if that backend cannot load, with the reason
     * @throws IllegalArgumentException if no backend has that name
     */
    public static synchronized Backend use(String name) {
        forcedRead = true;
        if (name == null) {
            forced = null;
            log().log(System.Logger.Level.INFO, "jnce backend: follows the tensors (set by Backends.use)");
            return host();
        }
        Backend b = get(name);
        forced = b;
        log().log(System.Logger.Level.INFO, "jnce backend: {0} for every call (set by Backends.use; {1})", b.name(), b.description());
        return b;
    }

    private static Backend forced() {
        if (forcedRead) return forced;
        synchronized (Backends.class) {
            if (!forcedRead) {
                String name = System.getProperty(PROPERTY, System.getenv(ENV));
                if (name != null && !name.isBlank()) {
                    Backend b = get(name); // throws with the reason: a forced backend must load
                    forced = b;
                    log().log(System.Logger.Level.INFO, "jnce backend: {0} for every call (forced by {1}/{2}; {3})",
                            b.name(), PROPERTY, ENV, b.description());
                }
                forcedRead = true;
            }
            return forced;
        }
    }

    /**
     * The backend called {@code name} ({@code java}, {@code cpu} or {@code cuda}; cuda is GPU 0).
     *
     * @param name a backend name: {@code java}, {@code cpu} or {@code cuda}
     * @return the loaded backend of that name
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
                b = create(key, null);
                LOADED.put(key, b);
                return b;
            } catch (RuntimeException | LinkageError e) {
                FAILED.put(key, e);
                earlier = e;
            }
        }
        throw new BackendUnavailableException("backend '" + key + "' is not available: " + reason(earlier), earlier);
    }

    /**
     * The first backend of {@code cuda > cpu > java} that loads.
     *
     * @return the fastest backend that loads here (the {@code java} backend always does)
     */
    public static Backend fastest() {
        for (String name : NAMES) {
            if (isAvailable(name)) return get(name);
        }
        throw new IllegalStateException("no backend loads; the pure-Java backend always should");
    }

    /**
     * Whether {@code name} loads here; loads it if it has not been tried.
     *
     * @param name a backend name: {@code java}, {@code cpu} or {@code cuda}
     * @return true when the backend loads here
     */
    public static boolean isAvailable(String name) {
        try {
            get(name);
            return true;
        } catch (BackendUnavailableException e) {
            return false;
        }
    }

    /**
     * Names of the backends that load here, fastest first.
     *
     * @return the names of the backends that load here, fastest first; an unmodifiable list
     */
    public static List<String> available() {
        List<String> names = new ArrayList<>();
        for (String name : NAMES) {
            if (isAvailable(name)) names.add(name);
        }
        return names;
    }

    /**
     * Why {@code name} cannot load (a sentence naming what was tried and what failed), or null if it loads.
     *
     * @param name a backend name: {@code java}, {@code cpu} or {@code cuda}
     * @return why it cannot load, or null when it loads
     */
    public static String unavailableReason(String name) {
        try {
            get(name);
            return null;
        } catch (BackendUnavailableException e) {
            return e.getCause() != null ? reason(e.getCause()) : e.getMessage();
        }
    }

    /**
     * Sets the threads of every backend: 0 for all available processors, else 1 to
     * {@link #MAX_THREADS}. The native kernels use at most 64 of them and OpenBLAS at most the
     * processors the process may run on; the pure-Java backend uses them all.
     *
     * @param count the thread count: 0 for all available processors, else 1 to {@link #MAX_THREADS}
     * @throws IllegalArgumentException if count is negative or above {@link #MAX_THREADS}
     */
    public static synchronized void setThreads(int count) {
        threads = checkedThreads("count", count);
        for (Backend b : LOADED.values()) {
            if (b instanceof ThreadsListener l) l.threadsChanged(threads);
        }
        for (Backend b : CUDA_BY_INDEX.values()) {
            if (b instanceof ThreadsListener l) l.threadsChanged(threads);
        }
    }

    /**
     * The thread count in force (what {@link #setThreads(int)} or the setting asked for, 0 made the
     * available processors).
     *
     * @return the thread count in force, at least 1
     * @throws IllegalArgumentException if {@code jnce.threads} or {@code JNCE_NUM_THREADS} is not 0 to {@link #MAX_THREADS}
     */
    public static int threads() {
        int t = threads;
        if (t == 0) threads = t = initialThreads(); // throws IllegalArgumentException for a bad setting
        return t;
    }

    /** The memory of a device other than the host, from the backend that owns it. */
    static DeviceMemory memory(Device device) {
        Backend b = device.index() == 0 ? get("cuda") : cuda(device.index());
        if (b instanceof DeviceMemory.Source s) return s.memory();
        throw new IllegalArgumentException("device: " + device + " has no memory jnce can allocate");
    }

    private static synchronized Backend cuda(int index) {
        if (index == 0) return get("cuda");
        Backend b = CUDA_BY_INDEX.get(index);
        if (b != null) return b;
        try {
            b = create("cuda", index);
        } catch (RuntimeException | LinkageError e) {
            throw new BackendUnavailableException("backend 'cuda' is not available for cuda:" + index + ": " + reason(e), e);
        }
        CUDA_BY_INDEX.put(index, b);
        return b;
    }

    /** Instantiates a backend by class name: its no-argument constructor, or {@code forDevice(int)}. */
    private static Backend create(String name, Integer deviceIndex) {
        try {
            Class<?> type = Class.forName(IMPLEMENTATIONS.get(name), true, Backends.class.getClassLoader());
            Object b = deviceIndex == null ? type.getConstructor().newInstance()
                    : type.getMethod("forDevice", int.class).invoke(null, deviceIndex);
            return (Backend) b;
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException r) throw r;
            if (cause instanceof LinkageError l) throw l;
            throw new IllegalStateException(cause);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("backend '" + name + "' is missing from this jar (" + e + ")", e);
        }
    }

    /**
     * A failure as a reason a user can act on, never null: its message, or for a wrapper without
     * one of its own (an ExceptionInInitializerError, say) its type and the reason of its cause.
     */
    private static String reason(Throwable t) {
        String m = t.getMessage();
        if (m != null && !m.isBlank()) return m;
        Throwable cause = t.getCause();
        return cause != null && cause != t ? t.getClass().getName() + " caused by " + cause.getClass().getName() + ": "
                + reason(cause) : t.getClass().getName();
    }

    private static int initialThreads() {
        String value = System.getProperty(THREADS_PROPERTY, System.getenv(THREADS_ENV));
        if (value == null || value.isBlank()) return checkedThreads(THREADS_PROPERTY, 0);
        long n;
        try {
            n = Long.parseLong(value.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(THREADS_PROPERTY + "/" + THREADS_ENV + ": '" + value + "' is not a whole number", e);
        }
        return checkedThreads(THREADS_PROPERTY + "/" + THREADS_ENV, n);
    }

    /** count, or the available processors for 0 (at most {@link #MAX_THREADS}); named for a count out of range. */
    private static int checkedThreads(String name, long count) {
        if (count < 0 || count > MAX_THREADS) {
            throw new IllegalArgumentException(name + ": " + count + " threads; expected 0 (all available processors) or 1 to "
                    + MAX_THREADS);
        }
        return count == 0 ? Math.min(Runtime.getRuntime().availableProcessors(), MAX_THREADS) : (int) count;
    }

    /** The logger, started only when there is something to say: starting it takes 15-30 ms. */
    private static System.Logger log() {
        return LogHolder.LOG;
    }

    private static final class LogHolder {
        static final System.Logger LOG = System.getLogger("dev.jnce");
    }
}
