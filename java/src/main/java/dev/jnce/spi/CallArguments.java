package dev.jnce.spi;

import java.lang.ref.WeakReference;

/**
 * The argument names of the call the current thread is making, as the dispatcher checked them,
 * so that a tensor freed by another thread after those checks (between the check and the
 * kernel) is still named by its argument when the kernel asks for its memory. Held weakly: it
 * never keeps a call's tensors alive.
 */
public final class CallArguments {
    private static final ThreadLocal<WeakReference<Object[]>> CURRENT = new ThreadLocal<>();

    private CallArguments() {
    }

    /** Records the call's {@code name, tensor, ...} pairs (other entries are skipped). */
    public static void begin(Object[] namesAndTensors) {
        CURRENT.set(new WeakReference<>(namesAndTensors));
    }

    /** Whether the current thread's last call has a tensor in memory confined to one thread. */
    private static final ThreadLocal<Boolean> CONFINED = ThreadLocal.withInitial(() -> false);

    /**
     * Records whether the call beginning on this thread has a tensor in memory confined to one
     * thread (a wrapped segment of a confined arena), which its Java kernels must keep on this
     * thread; held strongly (a flag, no tensor), until this thread's next call.
     */
    public static void confined(boolean confined) {
        CONFINED.set(confined);
    }

    /** A thread never started: a segment it cannot access is confined to one thread. */
    private static final Thread PROBE = new Thread(() -> { });

    /** Whether the segment's memory is confined to one thread (of a confined arena). */
    public static boolean confinedMemory(java.lang.foreign.MemorySegment segment) {
        return !segment.isAccessibleBy(PROBE);
    }

    /** Whether this thread's current (last) call has memory confined to one thread. */
    public static boolean confined() {
        return CONFINED.get();
    }

    /** The name {@code tensor} has in the current thread's last call, or null. */
    public static String nameOf(Object tensor) {
        WeakReference<Object[]> ref = CURRENT.get();
        Object[] call = ref == null ? null : ref.get();
        if (call == null) return null;
        for (int i = 0; i + 1 < call.length; i++) {
            if (call[i] instanceof String name && call[i + 1] == tensor) return name;
        }
        return null;
    }
}
