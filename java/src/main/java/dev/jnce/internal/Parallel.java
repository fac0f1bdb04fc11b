package dev.jnce.internal;

import dev.jnce.Backends;

import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * Row-parallel loops for the pure-Java backend, on a pool of daemon threads sized by
 * {@link Backends#threads()}. The caller runs a call's first slice, and it and the workers claim
 * the others from one counter, so the caller runs every slice no worker has started.
 *
 * <p>The pool is created once and never shut down, so a caller may always submit to it while
 * another thread changes the thread count: a larger count only raises its size (at most
 * {@link Backends#MAX_THREADS} - 1 workers); workers idle for a while end, and start again
 * when needed. A call made from inside a slice runs serially in that slice's thread, so that
 * slices never wait for workers that wait for them.
 *
 * <p>After a task, a worker polls for the next one for up to {@code JNCE_SPIN_US} microseconds
 * (default 100, as jnce's native threads; 0 to sleep at once) before it sleeps, and a caller
 * with no slice left to claim polls for the running ones for as long before it blocks: waking a sleeping
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
        // a call on memory confined to this thread runs here alone: no other thread may touch it
        if (slices == 1 || IN_SLICE.get() || dev.jnce.spi.CallArguments.confined()) {
            task.run(0, n);
            return;
        }
        grow(slices - 1);
        Job job = new Job(task, n, slices);
        for (int s = 1; s < slices; s++) POOL.execute(job);
        job.callerClaim();
        // every slice has finished before the call returns or throws: none writes to the caller's tensors later
        if (!spinUntil(job::finished)) {
            boolean interrupted = false;
            while (!job.finished()) {
                LockSupport.park(job);
                if (Thread.interrupted()) interrupted = true;
            }
            if (interrupted) Thread.currentThread().interrupt();
        }
        Throwable failure = job.failure.get();
        if (failure instanceof RuntimeException r) throw r;
        if (failure instanceof Error e) throw e;
        if (failure != null) throw new IllegalStateException(failure);
    }

    /** When the last {@link #forRangeSmall} call ended (System.nanoTime). */
    private static volatile long lastSmallEnd = System.nanoTime() - 1_000_000_000L;

    /**
     * {@link #forRange} for calls whose work is a few microseconds: slices of at least
     * {@code minPerSpinningSlice} rows when such calls come back to back (the last ended less
     * than 1 ms ago, so the workers still spin, or are woken once for the calls that follow),
     * else of at least {@code minPerSlice}: a lone small call does not wake a sleeping worker for
     * a slice shorter than the wake-up. As the native pool's {@code jnce_parallel_for_small}.
     */
    public static void forRangeSmall(long n, long minPerSlice, long minPerSpinningSlice, RangeTask task) {
        boolean backToBack = System.nanoTime() - lastSmallEnd < 1_000_000L;
        try {
            forRange(n, backToBack ? minPerSpinningSlice : minPerSlice, task);
        } finally {
            lastSmallEnd = System.nanoTime();
        }
    }

    /**
     * One call's slices: the first is the caller's, the others are claimed in turn by the caller
     * and by the workers it woke, as the native pool's are: the caller runs every slice no worker
     * has started, so a call never waits for a worker to wake or for a queue another call filled,
     * only for slices already running.
     */
    private static final class Job implements Runnable {
        final RangeTask task;
        final long n;
        final int slices;
        final Thread caller = Thread.currentThread();
        /** The next slice to claim; slice 0 is the caller's (see callerClaim). */
        final AtomicInteger next = new AtomicInteger(1);
        final AtomicInteger unfinished;
        /** The first slice's failure. */
        final AtomicReference<Throwable> failure = new AtomicReference<>();

        Job(RangeTask task, long n, int slices) {
            this.task = task;
            this.n = n;
            this.slices = slices;
            unfinished = new AtomicInteger(slices);
        }

        @Override
        public void run() {
            claim();
        }

        /**
         * The caller's part: slice 0 always, then any slice no worker has started. Slice 0 is never
         * a worker's, so from one call to the next the same rows run on the same thread and stay in
         * its core's caches. When any thread could take slice 0, a worker spinning for the next job
         * could reach it first (a third of back-to-back calls of 20 µs slices on two threads), the
         * halves of such a call swapped cores, and its rows were written from the other core than
         * in the call before.
         */
        void callerClaim() {
            runOne(0);
            claim();
        }

        void claim() {
            for (int s; (s = next.getAndIncrement()) < slices; ) runOne(s);
        }

        private void runOne(int s) {
            try {
                runSlice(task, n * s / slices, n * (s + 1) / slices);
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            } finally {
                if (unfinished.decrementAndGet() == 0) LockSupport.unpark(caller);
            }
        }

        boolean finished() {
            return unfinished.get() == 0;
        }
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

    /** The most workers the pool may run now (for tests). */
    static int workers() {
        return POOL.getMaximumPoolSize();
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
