package dev.jnce.distributed;

import dev.jnce.DType;
import dev.jnce.Tensor;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * P ranks as threads of one JVM (tests, and several devices driven by one process): each handle
 * belongs to one thread. Every collective posts this rank's part, waits for all P at a barrier,
 * reads the others', and waits once more before the next call may overwrite them. A rank that
 * throws inside a collective, calls {@link #abort}, or does not arrive within the timeout breaks
 * the barrier: every rank's pending call ends with an {@link IllegalStateException}.
 */
public final class InProcessCollective implements Collective {
    private final Group group;
    private final int rank;

    private static final class Group {
        final int size;
        final CyclicBarrier barrier;
        final Object[] slots;
        final long timeoutNanos;
        volatile String failure;

        Group(int size, Duration timeout) {
            this.size = size;
            this.barrier = new CyclicBarrier(size);
            this.slots = new Object[size];
            this.timeoutNanos = timeout.toNanos();
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
        group.failure = "rank " + rank + " failed: " + why;
        group.barrier.reset();
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
        if (group.failure != null) throw new IllegalStateException(op + " on rank " + rank + ": " + group.failure);
        try {
            group.barrier.await(group.timeoutNanos, TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            if (group.failure == null) {
                group.failure = "a rank did not reach " + op + " within " + Duration.ofNanos(group.timeoutNanos);
            }
            group.barrier.reset();
            throw new IllegalStateException(op + " on rank " + rank + ": " + group.failure, e);
        } catch (BrokenBarrierException e) {
            throw new IllegalStateException(op + " on rank " + rank + ": "
                    + (group.failure != null ? group.failure : "another rank left the collective"), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            abort("interrupted in " + op);
            throw new IllegalStateException(op + " on rank " + rank + ": interrupted", e);
        }
    }

    private record Rows(long rows, long cols, float[] values) {
    }

    private static Rows rows(String argument, Tensor t) {
        if (t == null) throw new IllegalArgumentException(argument + ": must not be null");
        if (t.dtype() != DType.FLOAT32 || t.rank() != 2) {
            throw new IllegalArgumentException(argument + ": expected a (rows, D) float32 tensor, got " + t.describe());
        }
        return new Rows(t.size(0), t.size(1), t.toFloatArray());
    }

    private static String shapes(Object[] all) {
        StringBuilder b = new StringBuilder();
        for (int r = 0; r < all.length; r++) {
            Rows x = (Rows) all[r];
            b.append(r == 0 ? "" : ", ").append("rank ").append(r).append(": (").append(x.rows).append(", ").append(x.cols).append(')');
        }
        return b.toString();
    }

    @Override
    public Tensor allGatherRows(Tensor local) {
        Object[] all = exchange("allGatherRows", rows("local", local));
        long d = ((Rows) all[0]).cols, n = 0;
        for (Object o : all) {
            if (((Rows) o).cols != d) throw new IllegalArgumentException("local: the ranks' D differ: " + shapes(all));
            n += ((Rows) o).rows;
        }
        float[] out = new float[Math.toIntExact(n * d)];
        int at = 0;
        for (Object o : all) {
            float[] v = ((Rows) o).values;
            System.arraycopy(v, 0, out, at, v.length);
            at += v.length;
        }
        return Tensor.of(out, n, d);
    }

    @Override
    public Tensor reduceScatterRows(Tensor full, long[] rowCounts) {
        Object[] all = exchange("reduceScatterRows", rows("full", full));
        Rows mine = (Rows) all[rank];
        for (Object o : all) {
            if (((Rows) o).rows != mine.rows || ((Rows) o).cols != mine.cols) {
                throw new IllegalArgumentException("full: the ranks' shapes differ: " + shapes(all));
            }
        }
        long offset = 0, total = 0;
        for (int r = 0; r < rowCounts.length; r++) {
            if (r < rank) offset += rowCounts[r];
            total += rowCounts[r];
        }
        if (rowCounts.length != group.size || total != mine.rows) {
            throw new IllegalArgumentException("rowCounts: " + java.util.Arrays.toString(rowCounts) + " must give each of the "
                    + group.size + " ranks its rows of full's " + mine.rows);
        }
        int d = (int) mine.cols, from = Math.toIntExact(offset * d), count = Math.toIntExact(rowCounts[rank] * d);
        float[] out = new float[count];
        for (int i = 0; i < count; i++) {
            double s = 0;
            for (Object o : all) s += ((Rows) o).values[from + i];
            out[i] = (float) s;
        }
        return Tensor.of(out, rowCounts[rank], d);
    }

    @Override
    public double[] allReduceSum(double... values) {
        Object[] all = exchange("allReduceSum", values.clone());
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
