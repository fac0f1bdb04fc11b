package dev.jnce.internal;

import dev.jnce.Backends;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Row-parallel loops for the pure-Java backend, on a pool of daemon threads sized by
 * {@link Threads}. The caller runs the first slice itself.
 */
public final class Parallel {
    /** Work on rows {@code [begin, end)}. */
    @FunctionalInterface
    public interface RangeTask {
        void run(long begin, long end);
    }

    private static ExecutorService pool;
    private static int poolThreads;

    private Parallel() {
    }

    /** Runs task over [0,n) in up to {@link Threads#get()} slices of at least minPerSlice rows. */
    public static void forRange(long n, long minPerSlice, RangeTask task) {
        if (n <= 0) return;
        long bySize = minPerSlice > 0 ? n / minPerSlice : n;
        int slices = (int) Math.max(1, Math.min(Backends.threads(), bySize));
        if (slices == 1) {
            task.run(0, n);
            return;
        }
        ExecutorService executor = executor(slices - 1);
        List<Future<?>> futures = new ArrayList<>(slices - 1);
        for (int s = 1; s < slices; s++) {
            long begin = n * s / slices, end = n * (s + 1) / slices;
            futures.add(executor.submit(() -> task.run(begin, end)));
        }
        task.run(0, n / slices);
        for (Future<?> f : futures) {
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for worker threads", e);
            } catch (ExecutionException e) {
                if (e.getCause() instanceof RuntimeException r) throw r;
                throw new IllegalStateException(e.getCause());
            }
        }
    }

    private static synchronized ExecutorService executor(int workers) {
        if (pool == null || poolThreads < workers) {
            if (pool != null) pool.shutdown();
            poolThreads = workers;
            pool = Executors.newFixedThreadPool(workers, r -> {
                Thread t = new Thread(r, "jnce-worker");
                t.setDaemon(true);
                return t;
            });
        }
        return pool;
    }
}
