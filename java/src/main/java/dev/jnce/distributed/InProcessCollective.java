package dev.jnce.distributed;

import dev.jnce.DType;
import dev.jnce.Device;
import dev.jnce.Tensor;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * P ranks as threads of one JVM (tests, and several devices driven by one process): each handle
 * belongs to one thread. Every collective posts this rank's part, waits for all P at a barrier,
 * reads the others', and waits once more before the next call may overwrite them. A rank that
 * throws inside a collective, calls {@link #abort}, or does not arrive within the timeout breaks
 * the barrier: every rank's pending call ends with an {@link IllegalStateException}. A rank's bad
 * argument (null, closed, not a 2-D float32 host tensor, row counts that differ between ranks or
 * do not sum to the rows) is exchanged with the others' parts, so that every rank's call ends at
 * once with an {@link IllegalArgumentException}, not at the timeout.
 */
public final class InProcessCollective implements Collective {
    private final Group group;
    private final int rank;

    /**
     * The ranks' slots and their barrier: a count of arrivals and a generation under the group's
     * monitor, where a failure is set and seen under the same lock. (A CyclicBarrier reset by
     * {@link #abort} let a rank that had checked for a failure just before it wait on the fresh
     * barrier until the timeout.)
     */
    private static final class Group {
        final int size;
        final Object[] slots;
        final long timeoutNanos;
        private String failure;
        private int arrived;
        private long generation;

        Group(int size, Duration timeout) {
            this.size = size;
            this.slots = new Object[size];
            this.timeoutNanos = timeout.toNanos();
        }

        synchronized void fail(String why) {
            if (failure == null) failure = why;
            notifyAll();
        }

        /** Waits for every rank to arrive; throws once a rank has failed or the timeout passed first. */
        synchronized void arrive(String op, int rank) {
            if (failure != null) throw new IllegalStateException(op + " on rank " + rank + ": " + failure);
            long gen = generation;
            if (++arrived == size) {
                arrived = 0;
                generation++;
                notifyAll();
                return;
            }
            long deadline = System.nanoTime() + timeoutNanos;
            while (generation == gen && failure == null) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    fail("a rank did not reach " + op + " within " + Duration.ofNanos(timeoutNanos));
                    break;
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(this, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    fail("rank " + rank + " failed: interrupted in " + op);
                    throw new IllegalStateException(op + " on rank " + rank + ": interrupted", e);
                }
            }
            if (generation == gen) throw new IllegalStateException(op + " on rank " + rank + ": " + failure);
        }
    }

    private InProcessCollective(Group group, int rank) {
        this.group = group;
        this.rank = rank;
    }

    /**
     * P handles of one group, handle r for the thread that is rank r.
     *
     * @param size    P &ge; 1
     * @param timeout how long a rank waits for the others at a collective
     * @return the P handles
     * @throws IllegalArgumentException if size &lt; 1 or the timeout is not positive
     */
    public static List<Collective> create(int size, Duration timeout) {
        if (size < 1) throw new IllegalArgumentException("size: " + size + " ranks; expected >= 1");
        if (timeout == null || timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout: " + timeout + "; expected a positive duration");
        }
        Group g = new Group(size, timeout);
        List<Collective> handles = new ArrayList<>();
        for (int r = 0; r < size; r++) handles.add(new InProcessCollective(g, r));
        return handles;
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int size() {
        return group.size;
    }

    /**
     * Ends every rank's pending and future collectives with an {@link IllegalStateException}
     * naming this rank and the reason (a rank that failed calls it).
     *
     * @param why the reason, for the other ranks' messages
     */
    public void abort(String why) {
        group.fail("rank " + rank + " failed: " + why);
    }

    /** Posts this rank's part, returns every rank's once all have posted. */
    private Object[] exchange(String op, Object part) {
        group.slots[rank] = part;
        await(op);
        Object[] all = group.slots.clone();
        await(op);
        return all;
    }

    private void await(String op) {
        group.arrive(op, rank);
    }

    /** One rank's part: its rows, or its complaint about its own arguments. */
    private record Rows(long rows, long cols, float[] values, long[] rowCounts, String problem) {
    }

    private static Rows rows(String argument, Tensor t, boolean withCounts, long[] rowCounts, int size) {
        String problem = null;
        if (t == null) {
            problem = argument + ": must not be null";
        } else if (t.isClosed()) {
            problem = argument + ": is closed";
        } else if (t.dtype() != DType.FLOAT32 || t.rank() != 2 || t.device().kind() != Device.Kind.HOST) {
            problem = argument + ": expected a (rows, D) float32 tensor on the host, got " + t.describe();
        } else if (withCounts && rowCounts == null) {
            problem = "rowCounts: must not be null";
        } else if (withCounts && rowCounts.length != size) {
            problem = "rowCounts: " + rowCounts.length + " counts for " + size + " ranks";
        } else if (withCounts) {
            long total = 0;
            for (long c : rowCounts) {
                if (c < 0) problem = "rowCounts: " + Arrays.toString(rowCounts) + " has a negative count";
                total += c;
            }
            if (problem == null && total != t.size(0)) {
                problem = "rowCounts: " + Arrays.toString(rowCounts) + " sums to " + total + ", not full's " + t.size(0) + " rows";
            }
        }
        if (problem != null) return new Rows(0, 0, null, null, problem);
        return new Rows(t.size(0), t.size(1), t.toFloatArray(), withCounts ? rowCounts.clone() : null, null);
    }

    /** The same exception on every rank when any rank refused its arguments or the ranks' D differ. */
    private Rows[] agree(String op, String argument, Object[] parts) {
        Rows[] all = new Rows[parts.length];
        for (int r = 0; r < parts.length; r++) all[r] = (Rows) parts[r];
        if (all[rank].problem != null) {
            throw new IllegalArgumentException(all[rank].problem + " (rank " + rank + "; " + op + " refused on every rank)");
        }
        for (int r = 0; r < all.length; r++) {
            if (all[r].problem != null) {
                throw new IllegalArgumentException(argument + ": rank " + r + " refused its arguments to " + op
                        + " (its exception says why); every rank's call ends");
            }
        }
        for (Rows x : all) {
            if (x.cols != all[0].cols) throw new IllegalArgumentException(argument + ": the ranks' D differ: " + shapes(all));
        }
        return all;
    }

    private static String shapes(Rows[] all) {
        StringBuilder b = new StringBuilder();
        for (int r = 0; r < all.length; r++) {
            b.append(r == 0 ? "" : ", ").append("rank ").append(r).append(": (").append(all[r].rows).append(", ").append(all[r].cols).append(')');
        }
        return b.toString();
    }

    @Override
    public Tensor allGatherRows(Tensor local) {
        Rows[] all = agree("allGatherRows", "local", exchange("allGatherRows", rows("local", local, false, null, group.size)));
        long d = all[0].cols, n = 0;
        for (Rows x : all) n += x.rows;
        float[] out = new float[Math.toIntExact(n * d)];
        int at = 0;
        for (Rows x : all) {
            System.arraycopy(x.values, 0, out, at, x.values.length);
            at += x.values.length;
        }
        return Tensor.of(out, n, d);
    }

    @Override
    public Tensor reduceScatterRows(Tensor full, long[] rowCounts) {
        Rows[] all = agree("reduceScatterRows", "full", exchange("reduceScatterRows", rows("full", full, true, rowCounts, group.size)));
        for (Rows x : all) {
            if (x.rows != all[0].rows) throw new IllegalArgumentException("full: the ranks' row counts differ: " + shapes(all));
        }
        for (int r = 0; r < all.length; r++) {
            if (!Arrays.equals(all[r].rowCounts, all[0].rowCounts)) {
                StringBuilder b = new StringBuilder();
                for (int i = 0; i < all.length; i++) b.append(i == 0 ? "" : ", ").append("rank ").append(i).append(": ").append(Arrays.toString(all[i].rowCounts));
                throw new IllegalArgumentException("rowCounts: the ranks pass different counts: " + b);
            }
        }
        Rows mine = all[rank];
        long offset = 0;
        for (int r = 0; r < rank; r++) offset += rowCounts[r];
        int d = (int) mine.cols, from = Math.toIntExact(offset * d), count = Math.toIntExact(rowCounts[rank] * d);
        float[] out = new float[count];
        for (int i = 0; i < count; i++) {
            double s = 0;
            for (Rows x : all) s += x.values[from + i];
            out[i] = (float) s;
        }
        return Tensor.of(out, rowCounts[rank], d);
    }

    @Override
    public double[] allReduceSum(double... values) {
        Object[] all = exchange("allReduceSum", values == null ? null : values.clone());
        if (values == null) throw new IllegalArgumentException("values: must not be null (rank " + rank + "; allReduceSum refused on every rank)");
        for (int r = 0; r < all.length; r++) {
            if (all[r] == null) {
                throw new IllegalArgumentException("values: rank " + r + " passed null to allReduceSum; every rank's call ends");
            }
        }
        double[] out = new double[values.length];
        for (Object o : all) {
            double[] v = (double[]) o;
            if (v.length != values.length) {
                throw new IllegalArgumentException("values: the ranks pass different counts (" + v.length + " and " + values.length + ")");
            }
            for (int i = 0; i < v.length; i++) out[i] += v[i];
        }
        return out;
    }

    @Override
    public void close() {
        // nothing to release: the group ends with its threads
    }
}
