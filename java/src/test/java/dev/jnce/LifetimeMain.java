package dev.jnce;

import dev.jnce.loss.CrossEntropy;
import dev.jnce.loss.InfoNce;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Run in a fresh JVM by {@link TensorLifetimeProcessTest}: one thread keeps calling a loss
 * (cross-entropy forward and backward, and two-tower InfoNCE, whose cross-entropy writes the
 * caller's loss) on the cpu backend while another thread closes the memory under it, in three
 * ways (mode {@code tensor}, {@code scope} or {@code arena}):
 *
 * <ul>
 * <li>{@code tensor}: {@code logits.close()} / {@code queries.close()} of an unscoped tensor;</li>
 * <li>{@code scope}: the {@link TensorScope} that owns the inputs, closed by its owner while the
 *     calls run on a worker thread;</li>
 * <li>{@code arena}: the user's shared {@link Arena} whose segment the inputs wrap.</li>
 * </ul>
 * Every close either fails with an {@link IllegalStateException} (a call holds the memory) or
 * succeeds between two calls, and then the next call fails with an IllegalStateException naming
 * the input. Every call that returns gives the loss computed before the race (relative 1e-6).
 * Prints a tally and {@code done}; any other outcome (a wrong loss, another exception, a crash)
 * exits non-zero.
 */
public final class LifetimeMain {
    private static final int ROUNDS = 12;
    private static final int EXTRA_ROUNDS = 200;

    private LifetimeMain() {
    }

    /** Where the inputs of one round live and how the closer closes them. */
    private interface Inputs {
        Tensor a();

        Tensor b();

        /** Closes the memory under a and b: throws IllegalStateException while a call holds it. */
        void close();

        /** The argument name a call must give once the memory is gone. */
        String[] names();
    }

    public static void main(String[] args) throws Exception {
        String mode = args[0];
        Backends.use("cpu");
        int[] tally = new int[4]; // calls done, calls refused, closes refused, closes done
        for (String op : new String[] {"ce", "infonce"}) {
            for (int round = 0; round < ROUNDS; round++) race(mode, op, round, tally);
        }
        // whether a close lands inside a call is a matter of timing: where every close so far fell
        // between two calls (seen once in a full test run on a busy two-core machine), more rounds
        // until one meets a running call, up to EXTRA_ROUNDS
        for (int extra = 0; tally[2] == 0 && extra < EXTRA_ROUNDS; extra++) {
            race(mode, extra % 2 == 0 ? "ce" : "infonce", ROUNDS + extra, tally);
        }
        System.out.println("calls=" + tally[0] + " refusedCalls=" + tally[1] + " refusedCloses=" + tally[2]
                + " closes=" + tally[3]);
        if (tally[2] == 0) throw new AssertionError("no close ever met a running call: the race was not exercised");
        System.out.println("done");
    }

    private static void race(String mode, String op, int round, int[] tally) throws Exception {
        boolean ce = op.equals("ce");
        int n = ce ? 512 : 384, c = ce ? 2048 : 256;
        float[] a = gaussian(n * c, 11 + round), b = gaussian(n * c, 97 + round);
        long[] targets = new long[n];
        for (int i = 0; i < n; i++) targets[i] = (i * 7L) % c;
        float expected;
        try (Tensor x = Tensor.of(a, n, c); Tensor y = Tensor.of(b, n, c); Tensor t = Tensor.of(targets, n)) {
            expected = call(ce, x, y, t);
        }
        AtomicReference<Throwable> failure = new AtomicReference<>();
        int[] local = new int[4];
        if (mode.equals("scope")) {
            // the scope's owner closes it; the calls run on a worker thread
            TensorScope scope = TensorScope.open();
            Tensor x = Tensor.of(a, n, c), y = Tensor.of(b, n, c), t = Tensor.of(targets, n);
            CountDownLatch firstCall = new CountDownLatch(1);
            AtomicBoolean stop = new AtomicBoolean();
            Thread worker = Thread.ofPlatform().start(() -> calls(ce, x, y, t, expected,
                    ce ? new String[] {"logits", "targets"} : new String[] {"queries", "keys"}, stop, local, failure, firstCall));
            firstCall.await();
            Thread.sleep(round % 3);
            closeUntilDone(scope::close, local);
            stop.set(true);
            worker.join();
        } else {
            Inputs in = mode.equals("arena") ? arenaInputs(a, b, n, c) : tensorInputs(a, b, n, c);
            Tensor t = Tensor.of(targets, n);
            AtomicBoolean stop = new AtomicBoolean();
            CountDownLatch firstCall = new CountDownLatch(1);
            Thread worker = Thread.ofPlatform().start(
                    () -> calls(ce, in.a(), in.b(), t, expected, in.names(), stop, local, failure, firstCall));
            firstCall.await();
            Thread.sleep(round % 3);
            closeUntilDone(in::close, local);
            stop.set(true);
            worker.join();
            t.close();
        }
        if (failure.get() != null) {
            throw new AssertionError(mode + "/" + op + " round " + round + ": " + failure.get(), failure.get());
        }
        for (int i = 0; i < 4; i++) tally[i] += local[i];
    }

    /** Tries to close until it succeeds, counting the refusals (a call held the memory). */
    private static void closeUntilDone(Runnable close, int[] tally) {
        while (true) {
            try {
                close.run();
                tally[3]++;
                return;
            } catch (IllegalStateException inUse) {
                String m = String.valueOf(inUse.getMessage());
                if (!m.contains("in use") && !m.contains("acquired")) throw new AssertionError("close refused with: " + m, inUse);
                tally[2]++;
                Thread.onSpinWait();
            }
        }
    }

    /** Calls until the memory is gone (a named IllegalStateException) and the closer says stop. */
    private static void calls(boolean ce, Tensor x, Tensor y, Tensor t, float expected, String[] names, AtomicBoolean stop,
                              int[] tally, AtomicReference<Throwable> failure, CountDownLatch firstCall) {
        try {
            while (true) {
                float got;
                try {
                    got = call(ce, x, y, t);
                } catch (IllegalStateException closed) {
                    String m = String.valueOf(closed.getMessage());
                    boolean named = false;
                    for (String name : names) named |= m.startsWith(name + ":");
                    // freed in the nanoseconds between the kernel's reading of the address and the
                    // downcall's hold on it: the JDK's own refusal, before any native code runs
                    if (m.equals("Already closed")) {
                        tally[1]++;
                        return;
                    }
                    if (!named) throw new AssertionError("a call on closed memory must name " + String.join(" or ", names) + ": " + m, closed);
                    tally[1]++;
                    return; // the memory is gone: every later call is refused the same way

                }
                tally[0]++;
                firstCall.countDown();
                if (!(Math.abs(got - expected) <= 1e-6f * Math.abs(expected))) {
                    throw new AssertionError("a call that returned gave " + got + ", expected " + expected);
                }
            }
        } catch (Throwable e) {
            failure.set(e);
        } finally {
            firstCall.countDown(); // a first call that failed must not leave the closer waiting
        }
    }

    /** The loss of one call: CE forward and backward (class targets), or two-tower InfoNCE. */
    private static float call(boolean ce, Tensor x, Tensor y, Tensor t) {
        if (ce) {
            try (CrossEntropy.Result r = CrossEntropy.create().forwardBackward(x, t)) {
                return r.loss().item();
            }
        }
        try (InfoNce.Result r = InfoNce.create().forwardBackward(x, y)) {
            return r.loss().item();
        }
    }

    private static Inputs tensorInputs(float[] a, float[] b, int n, int c) {
        Tensor x = Tensor.of(a, n, c), y = Tensor.of(b, n, c);
        return new Inputs() {
            public Tensor a() {
                return x;
            }

            public Tensor b() {
                return y;
            }

            public void close() {
                x.close(); // idempotent: a retry after y refused closes y only
                y.close();
            }

            public String[] names() {
                return new String[] {"logits", "queries", "keys"};
            }
        };
    }

    private static Inputs arenaInputs(float[] a, float[] b, int n, int c) {
        Arena arena = Arena.ofShared();
        MemorySegment sa = arena.allocate(4L * a.length, 64), sb = arena.allocate(4L * b.length, 64);
        MemorySegment.copy(a, 0, sa, ValueLayout.JAVA_FLOAT, 0, a.length);
        MemorySegment.copy(b, 0, sb, ValueLayout.JAVA_FLOAT, 0, b.length);
        Tensor x = Tensor.wrap(sa, DType.FLOAT32, n, c), y = Tensor.wrap(sb, DType.FLOAT32, n, c);
        return new Inputs() {
            public Tensor a() {
                return x;
            }

            public Tensor b() {
                return y;
            }

            public void close() {
                arena.close();
            }

            public String[] names() {
                return new String[] {"logits", "queries", "keys"};
            }
        };
    }

    private static float[] gaussian(int count, long seed) {
        Random r = new Random(seed);
        float[] v = new float[count];
        for (int i = 0; i < count; i++) v[i] = (float) r.nextGaussian();
        return v;
    }
}
