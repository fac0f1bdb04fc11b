package dev.jnce.internal;

import dev.jnce.Backends;
import dev.jnce.Tensor;
import dev.jnce.backend.java.JavaBackend;
import dev.jnce.ops.Normalize;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The pure-Java backend's worker pool while other threads change the thread count: every call
 * runs each row once and nothing escapes (the pool others submit to is never shut down).
 */
class ParallelTest {
    private int originalThreads;

    @BeforeEach
    void rememberThreads() {
        originalThreads = Backends.threads();
        // these tests call Parallel directly, outside any loss or op: a flag left by this thread's
        // last call (a test on confined memory) would keep their slices on this thread
        dev.jnce.spi.CallArguments.confined(false);
    }

    @AfterEach
    void restoreThreads() {
        Backends.setThreads(originalThreads);
    }

    /** Runs body on three threads for about a second while another keeps raising and lowering the count. */
    private static List<Throwable> whileTheCountChanges(Runnable body) throws InterruptedException {
        ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        AtomicBoolean stop = new AtomicBoolean();
        Thread changer = new Thread(() -> {
            try {
                // rising to new highs, then back down: every new high needed a larger pool
                for (int round = 0; !stop.get(); round++) {
                    Backends.setThreads(2 + round % 200);
                    if (round % 7 == 0) Backends.setThreads(1 + round % 3);
                    Thread.onSpinWait();
                }
            } catch (Throwable t) {
                failures.add(t);
            }
        }, "thread-count-changer");
        List<Thread> callers = new ArrayList<>();
        long until = System.nanoTime() + 1_500_000_000L;
        for (int c = 0; c < 3; c++) {
            callers.add(new Thread(() -> {
                try {
                    while (System.nanoTime() < until && failures.isEmpty()) body.run();
                } catch (Throwable t) {
                    failures.add(t);
                }
            }, "caller-" + c));
        }
        changer.start();
        callers.forEach(Thread::start);
        for (Thread t : callers) t.join();
        stop.set(true);
        changer.join();
        return List.copyOf(failures);
    }

    @Test
    void spinSettingReadsWholeMicrosecondsAndFallsBackToTheDefault() {
        assertEquals(100_000, Parallel.spinNanos(null));
        assertEquals(100_000, Parallel.spinNanos(""));
        assertEquals(0, Parallel.spinNanos("0"));
        assertEquals(250_000, Parallel.spinNanos("250"));
        assertEquals(1_000_000_000L, Parallel.spinNanos("1000000"));
        assertEquals(100_000, Parallel.spinNanos("1000001"));
        assertEquals(100_000, Parallel.spinNanos("-1"));
        assertEquals(100_000, Parallel.spinNanos("50us"));
    }

    @Test
    void smallCallsSplitOnlyWhenTheyComeBackToBack() throws Exception {
        Backends.setThreads(2);
        Thread.sleep(5); // more than 1 ms since any earlier small call
        int split = 0;
        for (int call = 0; call < 6; call++) {
            int n = 32;
            AtomicIntegerArray hits = new AtomicIntegerArray(n);
            AtomicInteger slices = new AtomicInteger();
            Parallel.forRangeSmall(n, 64, 8, (begin, end) -> {
                slices.incrementAndGet();
                for (long i = begin; i < end; i++) hits.incrementAndGet((int) i);
            });
            for (int i = 0; i < n; i++) assertEquals(1, hits.get(i), "call " + call + ", row " + i);
            // the first call comes alone: one slice (32 rows < 64 a slice); the next follow it at
            // once: 32 / 8 rows, two threads (unless a pause of over 1 ms fell between two calls)
            if (call == 0) assertEquals(1, slices.get(), "the lone call");
            else if (slices.get() == 2) split++;
        }
        assertTrue(split >= 3, split + " of 5 back-to-back calls split over the two threads");
    }

    @Test
    void everyRowRunsOnceWhileTheThreadCountChanges() throws Exception {
        AtomicLong calls = new AtomicLong();
        List<Throwable> failures = whileTheCountChanges(() -> {
            int n = 512;
            AtomicIntegerArray hits = new AtomicIntegerArray(n);
            Parallel.forRange(n, 1, (begin, end) -> {
                for (long i = begin; i < end; i++) hits.incrementAndGet((int) i);
            });
            for (int i = 0; i < n; i++) {
                if (hits.get(i) != 1) throw new AssertionError("row " + i + " ran " + hits.get(i) + " times");
            }
            calls.incrementAndGet();
        });
        assertTrue(failures.isEmpty(), () -> "after " + calls + " calls: " + failures.getFirst());
        assertTrue(calls.get() > 0, "no call ran");
    }

    @Test
    void normalizeOnTheJavaBackendWhileTheThreadCountChanges() throws Exception {
        Normalize normalize = Normalize.create().withBackend(new JavaBackend(true));
        int rows = 16 * 512, d = 64; // 512 rows (32k values) per slice: 16 slices
        float[] data = new float[rows * d];
        for (int i = 0; i < data.length; i++) data[i] = (i % 13) - 6f;
        Tensor x = Tensor.of(data, rows, d); // no scope open: the test closes it
        float[] want;
        try (Tensor y = normalize.forward(x)) {
            want = y.toFloatArray();
        }
        AtomicLong calls = new AtomicLong();
        List<Throwable> failures = whileTheCountChanges(() -> {
            try (Tensor y = normalize.forward(x)) {
                float[] got = y.toFloatArray();
                for (int i = 0; i < got.length; i++) {
                    if (got[i] != want[i]) throw new AssertionError("element " + i + ": " + got[i] + ", want " + want[i]);
                }
            }
            calls.incrementAndGet();
        });
        x.close();
        assertTrue(failures.isEmpty(), () -> "after " + calls + " calls: " + failures.getFirst());
    }

    @Test
    void aFailingSliceFailsTheCallAfterEverySliceFinished() {
        Backends.setThreads(4);
        AtomicIntegerArray done = new AtomicIntegerArray(4);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Parallel.forRange(4, 1, (begin, end) -> {
            if (begin == 0) throw new IllegalStateException("slice 0 fails");
            try {
                Thread.sleep(50);
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
            done.set((int) begin, 1);
        }));
        assertEquals("slice 0 fails", e.getMessage());
        for (int s = 1; s < 4; s++) assertEquals(1, done.get(s), "slice " + s + " finished before the call returned");
    }

    @Test
    void theCallerAlwaysRunsTheFirstSliceSoThatItsRowsStayOnItsCore() {
        Backends.setThreads(2);
        Thread self = Thread.currentThread();
        AtomicInteger firstElsewhere = new AtomicInteger(), secondElsewhere = new AtomicInteger(), rows = new AtomicInteger();
        int calls = 0;
        // back-to-back calls, as in a training loop: a worker that finished a slice is spinning for the
        // next job and may reach it before the caller does; until some 500 of them did (or 10 s)
        for (long until = System.nanoTime() + 10_000_000_000L; secondElsewhere.get() < 500 && System.nanoTime() < until; calls++) {
            Parallel.forRange(2, 1, (begin, end) -> {
                boolean here = Thread.currentThread() == self;
                if (begin == 0 && !here) firstElsewhere.incrementAndGet();
                if (begin == 1 && !here) secondElsewhere.incrementAndGet();
                rows.addAndGet((int) (end - begin));
                for (long stop = System.nanoTime() + 20_000; System.nanoTime() < stop; ) Thread.onSpinWait(); // a slice's work
            });
        }
        assertEquals(0, firstElsewhere.get(), "calls of " + calls + " whose first slice ran on a worker");
        assertEquals(2 * calls, rows.get(), "rows run");
        // the race happened (a pool grown by the other tests' thread counts may start a thread a call instead)
        assumeTrue(secondElsewhere.get() > 0, "no worker took part in " + calls + " calls");
    }

    @Test
    void aCallFromInsideASliceRunsInThatSlicesThread() {
        Backends.setThreads(4);
        AtomicIntegerArray hits = new AtomicIntegerArray(16);
        Parallel.forRange(4, 1, (begin, end) -> {
            Thread outer = Thread.currentThread();
            Parallel.forRange(4, 1, (b, e) -> {
                if (Thread.currentThread() != outer) throw new AssertionError("a nested slice ran on another thread");
                for (long i = b; i < e; i++) hits.incrementAndGet((int) (begin * 4 + i));
            });
        });
        for (int i = 0; i < 16; i++) assertEquals(1, hits.get(i), "item " + i);
    }

    @Test
    void aCallRunsTheSlicesNoWorkerTookWhileTheWorkersAreBusy() throws Exception {
        Backends.setThreads(2);
        Parallel.forRange(2, 1, (begin, end) -> { }); // at least one worker
        int workers = Parallel.workers(), slices = workers + 1;
        Backends.setThreads(slices);
        CountDownLatch held = new CountDownLatch(slices), release = new CountDownLatch(1);
        // another call's slices hold its caller and every worker of the pool
        Thread other = new Thread(() -> Parallel.forRange(slices, 1, (begin, end) -> {
            held.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }), "busy-caller");
        other.start();
        try {
            assertTrue(held.await(10, TimeUnit.SECONDS), "the other call's slices did not all start");
            Backends.setThreads(2);
            AtomicIntegerArray hits = new AtomicIntegerArray(64);
            AtomicInteger offCaller = new AtomicInteger();
            Thread caller = new Thread(() -> {
                Thread self = Thread.currentThread();
                Parallel.forRange(64, 1, (begin, end) -> {
                    if (Thread.currentThread() != self) offCaller.incrementAndGet();
                    for (long i = begin; i < end; i++) hits.incrementAndGet((int) i);
                });
            }, "caller");
            caller.start();
            caller.join(10_000);
            // the call must not wait for the busy worker: its caller runs both slices
            assertTrue(!caller.isAlive(), "the call waited for a worker busy with another call");
            assertEquals(0, offCaller.get(), "a slice ran on a busy worker");
            for (int i = 0; i < 64; i++) assertEquals(1, hits.get(i), "row " + i);
        } finally {
            release.countDown();
            other.join();
        }
    }
}
