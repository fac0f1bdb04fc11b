package dev.jnce.internal;

import dev.jnce.Backends;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * Row-parallel loops for the pure-Java backend, on a pool of daemon threads sized by
 * {@link Backends#threads()}. The caller runs the first slice itself.
 *
 * <p>The pool is created once and never shut down, so a caller may always submit to it while
 * another thread changes the thread count: a larger count only raises its size (at most
 * {@link Backends#MAX_THREADS} - 1 workers); workers idle for a while end, and start again
 * when needed. A call made from inside a slice runs serially in that slice's thread, so that
 * slices never wait for workers that wait for them.
 *
 * <p>After a task, a worker polls for the next one for up to {@code JNCE_SPIN_US} microseconds
 * (default 100, as jnce's native threads; 0 to sleep at once) before it sleeps, and a caller
 * that finished its own slice polls the others' for as long before it blocks: waking a sleeping
 * thread costs 20-50 µs on a VM, as much as a whole call of a few hundred microseconds saves by
 * splitting. No spin when more threads are asked for than there are processors.
 */
public final class Parallel {
    /** Work on rows {@code [begin, end)}. */
    @FunctionalInterface
    public interface RangeTask {
        void run(long begin, long end);
    }

    /** How long a waiting thread polls before it sleeps, in ns (JNCE_SPIN_US, default 100 µs). */
    private static final long SPIN_NS = spinNanos(System.getenv("JNCE_SPIN_US"));

    private static final ThreadPoolExecutor POOL = new ThreadPoolExecutor(1, 1, 30, TimeUnit.SECONDS,
            new SpinningQueue(), r -> {
                Thread t = new Thread(r, "jnce-worker");
                t.setDaemon(true);
                return t;
            });
    /** Whether this thread is running a slice. */
    private static final ThreadLocal<Boolean> IN_SLICE = ThreadLocal.withInitial(() -> false);

    static {
        POOL.allowCoreThreadTimeOut(true);
    }

    private Parallel() {
    }

    /** Runs task over [0,n) in up to {@link Backends#threads()} slices of at least minPerSlice rows. */
    public static void forRange(long n, long minPerSlice, RangeTask task) {
        if (n <= 0) return;
        long bySize = minPerSlice > 0 ? n / minPerSlice : n;
        int slices = (int) Math.max(1, Math.min(Backends.threads(), bySize));
        if (slices == 1 || IN_SLICE.get()) {
            task.run(0, n);
            return;
        }
        grow(slices - 1);
        List<Future<?>> futures = new ArrayList<>(slices - 1);
        Throwable failure = null;
        try {
            for (int s = 1; s < slices; s++) {
                long begin = n * s / slices, end = n * (s + 1) / slices;
                futures.add(POOL.submit(() -> runSlice(task, begin, end)));
            }
            runSlice(task, 0, n / slices);
        } catch (RuntimeException | Error e) {
            failure = e;
        }
        // every slice has finished before the call returns or throws: none writes to the caller's tensors later
        boolean interrupted = false;
        for (Future<?> f : futures) {
            spinUntil(f::isDone);
            for (;;) {
                try {
                    f.get();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                } catch (ExecutionException e) {
                    if (failure == null) failure = e.getCause();
                    break;
                }
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
        if (failure instanceof RuntimeException r) throw r;
        if (failure instanceof Error e) throw e;
        if (failure != null) throw new IllegalStateException(failure);
    }

    private static void runSlice(RangeTask task, long begin, long end) {
        IN_SLICE.set(true);
        try {
            task.run(begin, end);
        } finally {
            IN_SLICE.set(false);
        }
    }

    /** JNCE_SPIN_US in ns: a whole number of microseconds in [0, 10^6], else the default 100. */
    static long spinNanos(String env) {
        long us = 100;
        if (env != null && !env.isEmpty()) {
            try {
                long v = Long.parseLong(env);
                if (v >= 0 && v <= 1_000_000) us = v;
            } catch (NumberFormatException ignored) {
                // the default, as the native pool does
            }
        }
        return us * 1000;
    }

    /** Polls done for up to SPIN_NS (none with more threads than processors); true once it holds. */
    private static boolean spinUntil(BooleanSupplier done) {
        if (SPIN_NS == 0 || Backends.threads() > Runtime.getRuntime().availableProcessors()) return done.getAsBoolean();
        long start = System.nanoTime();
        do {
            if (done.getAsBoolean()) return true;
            Thread.onSpinWait();
        } while (System.nanoTime() - start < SPIN_NS);
        return done.getAsBoolean();
    }

    /**
     * The pool's queue: a worker waiting for a task polls it for up to SPIN_NS before it blocks,
     * so that back-to-back calls find it awake.
     */
    private static final class SpinningQueue extends LinkedBlockingQueue<Runnable> {
        @Override
        public Runnable poll(long timeout, TimeUnit unit) throws InterruptedException {
            Runnable[] got = new Runnable[1];
            long start = System.nanoTime();
            if (spinUntil(() -> (got[0] = poll()) != null)) return got[0];
            return super.poll(Math.max(0, unit.toNanos(timeout) - (System.nanoTime() - start)), TimeUnit.NANOSECONDS);
        }

        @Override
        public Runnable take() throws InterruptedException {
            Runnable[] got = new Runnable[1];
            if (spinUntil(() -> (got[0] = poll()) != null)) return got[0];
            return super.take();
        }
    }

    /** Raises the pool to {@code workers} threads (bounded); never lowers it, never replaces it. */
    private static synchronized void grow(int workers) {
        int size = Math.min(workers, Backends.MAX_THREADS - 1);
        if (size > POOL.getMaximumPoolSize()) {
            POOL.setMaximumPoolSize(size);
            POOL.setCorePoolSize(size);
        }
    }
}
