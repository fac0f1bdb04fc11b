package dev.jnce.harness;

import dev.jnce.Backends;

import java.util.Set;

/**
 * The thread count each case runs with (Backends.setThreads, which reaches jnce's kernels and
 * OpenBLAS). Unless {@link KnownOpen#THREADS_LOWERED} is enforced the count only rises: 1 for the
 * first third of the run's cases, 2 for the second, 3 (at most twice the cores minus one) for
 * the last; a replay of case i with the same {@code jnce.fuzz.cases} gets the same count.
 * Enforced, each case draws its own count in 1..2 cores - 1, and with
 * {@link KnownOpen#THREADS_OVERSUBSCRIBED} enforced in 1..2 cores.
 */
final class ThreadPlan {
    private final int cores;
    private final long cases;
    private final boolean lowering, oversubscribing;

    ThreadPlan(int cores, long cases, Set<KnownOpen> enforced) {
        this.cores = cores;
        this.cases = Math.max(1, cases);
        this.lowering = enforced.contains(KnownOpen.THREADS_LOWERED);
        this.oversubscribing = enforced.contains(KnownOpen.THREADS_OVERSUBSCRIBED);
    }

    /** Sets the case's thread count; returns a note for its description. */
    String apply(Case c, long index) {
        int safeMax = Math.max(1, 2 * cores - 1);
        int t;
        if (lowering || oversubscribing) {
            int max = oversubscribing ? 2 * cores : safeMax;
            t = 1 + c.g.nextInt(max);
            if (!lowering && t < Backends.threads()) t = Backends.threads();
        } else {
            t = (int) Math.min(safeMax, 1 + Math.min(2, 3 * Math.max(0, index) / cases));
        }
        // the classes only decide which counts run: a failure of the case is its op's, not the thread count's
        String tag = t >= 2 * cores ? " (" + KnownOpen.THREADS_OVERSUBSCRIBED + ")"
                : t < Backends.threads() ? " (" + KnownOpen.THREADS_LOWERED + ")" : "";
        if (t != Backends.threads()) Backends.setThreads(t);
        return "threads=" + t + tag;
    }
}
