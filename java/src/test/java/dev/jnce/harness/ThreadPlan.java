package dev.jnce.harness;

import dev.jnce.Backends;

/**
 * The thread count each case runs with (Backends.setThreads, which reaches jnce's kernels and
 * OpenBLAS): each case draws its own in 1..2 x cores from its seed, so a run raises, lowers and
 * oversubscribes the pool between calls, and a replay of case i sets the same count. A count of
 * at least twice the cores is noted as oversubscribed, one below the current count as lowered
 * (once, OpenBLAS 0.3.28 crashed on the first and jnce's pool aborted on the second).
 */
final class ThreadPlan {
    private final int cores;

    ThreadPlan(int cores) {
        this.cores = cores;
    }

    /** Sets the case's thread count; returns a note for its description. */
    String apply(Case c) {
        int t = 1 + c.g.nextInt(2 * cores);
        String tag = t >= 2 * cores ? " (oversubscribed)" : t < Backends.threads() ? " (lowered)" : "";
        if (t != Backends.threads()) Backends.setThreads(t);
        return "threads=" + t + tag;
    }
}
