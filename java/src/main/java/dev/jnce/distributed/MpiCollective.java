package dev.jnce.distributed;

import dev.jnce.DType;
import dev.jnce.Device;
import dev.jnce.Tensor;
import dev.jnce.internal.Mpi;

import java.time.Duration;
import java.util.Arrays;

/**
 * The ranks of an {@code mpirun} job (MPI_COMM_WORLD), through Open MPI's C library called by
 * FFM (no Java binding needed): start each rank's JVM with mpirun,
 * {@code mpirun -np 4 java --enable-native-access=ALL-UNNAMED -cp ... your.Main}. Host tensors;
 * the shapes are exchanged first, so that the ranks' disagreement is an
 * {@link IllegalArgumentException} on every rank. A rank that dies ends the job: Open MPI's
 * default error handler and mpirun stop every rank. {@link #abort} ends the job from a rank that
 * caught an error.
 *
 * <p>Arguments are agreed before any data moves: every collective first all-reduces each rank's
 * (rows, D) and its verdict on its own arguments (null, not float32, not 2-D, closed, not on the
 * host; for {@link #reduceScatterRows} also its row counts), so that one rank's bad argument ends
 * every rank's call with an {@link IllegalArgumentException} instead of leaving the others in a
 * collective that rank never reaches. A collective that does not complete within the timeout (a
 * rank that stalls, or ranks that call different collectives) ends the job: a watchdog thread
 * prints which collective on which rank waited how long to standard error and halts this JVM
 * with exit code {@value #TIMEOUT_EXIT}, and mpirun then stops every rank. Only the time inside a
 * collective counts; compute between collectives is not timed.
 *
 * <p>Needs Debian's openmpi-bin and libopenmpi-dev (libmpi.so.40), or
 * {@code -Djnce.mpi.library=/path/to/libmpi.so}.
 */
public final class MpiCollective implements Collective {
    /** The exit code of a rank whose collective timed out (as timeout(1) uses). */
    public static final int TIMEOUT_EXIT = 124;
    /** The default timeout of one collective, used unless jnce.mpi.timeout (seconds) says otherwise. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(5);

    private final Mpi mpi;
    private final int rank, size;
    private final Duration timeout;
    private final Thread watchdog;
    private volatile InFlight inFlight;

    /** The collective in progress on this rank and when it began. */
    private record InFlight(String op, long since) {
    }

    private MpiCollective(Mpi mpi, Duration timeout) {
        this.mpi = mpi;
        this.rank = mpi.rank();
        this.size = mpi.size();
        this.timeout = timeout;
        this.watchdog = Thread.ofPlatform().daemon().name("jnce-mpi-watchdog-" + rank).unstarted(this::watch);
        watchdog.start();
    }

    /**
     * MPI_COMM_WORLD, initialising MPI unless the program did, with the timeout of
     * {@code -Djnce.mpi.timeout=SECONDS}, else {@link #DEFAULT_TIMEOUT}.
     *
     * @return this process's handle
     * @throws IllegalStateException if Open MPI cannot be loaded, with what to install
     * @throws IllegalArgumentException if jnce.mpi.timeout is not a positive number of seconds
     */
    public static MpiCollective world() {
        String s = System.getProperty("jnce.mpi.timeout");
        Duration timeout = DEFAULT_TIMEOUT;
        if (s != null) {
            double seconds;
            try {
                seconds = Double.parseDouble(s.trim());
            } catch (NumberFormatException e) {
                seconds = Double.NaN;
            }
            if (!(seconds > 0) || Double.isInfinite(seconds)) {
                throw new IllegalArgumentException("jnce.mpi.timeout: '" + s + "'; expected a positive number of seconds");
            }
            timeout = Duration.ofNanos((long) Math.min(seconds * 1e9, Long.MAX_VALUE));
        }
        return world(timeout);
    }

    /**
     * MPI_COMM_WORLD, initialising MPI unless the program did.
     *
     * @param timeout how long one collective may wait for the other ranks before this rank ends
     *                the job (exit code {@value #TIMEOUT_EXIT})
     * @return this process's handle
     * @throws IllegalArgumentException if the timeout is null or not positive
     * @throws IllegalStateException if Open MPI cannot be loaded, with what to install
     */
    public static MpiCollective world(Duration timeout) {
        if (timeout == null || timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout: " + timeout + "; expected a positive duration");
        }
        return new MpiCollective(Mpi.load(), timeout);
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int size() {
        return size;
    }

    /**
     * The timeout of one collective.
     *
     * @return the duration after which a pending collective ends the job
     */
    public Duration timeout() {
        return timeout;
    }

    private void watch() {
        long limit = timeout.toNanos(), tick = Math.max(1_000_000L, Math.min(limit / 10, 1_000_000_000L));
        while (!Thread.currentThread().isInterrupted()) {
            try {
                Thread.sleep(Duration.ofNanos(tick));
            } catch (InterruptedException e) {
                return;
            }
            InFlight f = inFlight;
            if (f != null && System.nanoTime() - f.since > limit) {
                System.out.flush();
                System.err.println("jnce MpiCollective: rank " + rank + " of " + size + ": " + f.op + " did not complete within "
                        + timeout + " (a rank stalled or died without ending the job, or the ranks called different collectives); "
                        + "ending the job with exit code " + TIMEOUT_EXIT);
                System.err.flush();
                Runtime.getRuntime().halt(TIMEOUT_EXIT);
            }
        }
    }

    private <T> T timed(String op, java.util.function.Supplier<T> call) {
        inFlight = new InFlight(op, System.nanoTime());
        try {
            return call.get();
        } finally {
            inFlight = null;
        }
    }

    /** This rank's complaint about its own tensor, or null. */
    private static String problem(String argument, Tensor t) {
        if (t == null) return argument + ": must not be null";
        if (t.isClosed()) return argument + ": is closed";
        if (t.dtype() != DType.FLOAT32 || t.rank() != 2 || t.device().kind() != Device.Kind.HOST) {
            return argument + ": expected a (rows, D) float32 tensor on the host, got " + t.describe();
        }
        return null;
    }

    /**
     * Every rank's (rows, cols), agreed in one all-reduce with every rank's verdict on its own
     * arguments (and, withCounts, the row counts it passed, which must be the same on every rank
     * and sum to the rows of t): the same exception on every rank, or none.
     */
    private long[][] agree(String op, String argument, Tensor t, boolean withCounts, long[] rowCounts) {
        String mine = problem(argument, t);
        if (mine == null && withCounts) {
            if (rowCounts == null) {
                mine = "rowCounts: must not be null";
            } else if (rowCounts.length != size) {
                mine = "rowCounts: " + rowCounts.length + " counts for " + size + " ranks";
            } else {
                long total = 0;
                for (long c : rowCounts) {
                    if (c < 0) mine = "rowCounts: " + Arrays.toString(rowCounts) + " has a negative count";
                    total += c;
                }
                if (mine == null && total != t.size(0)) {
                    mine = "rowCounts: " + Arrays.toString(rowCounts) + " sums to " + total + ", not full's " + t.size(0) + " rows";
                }
            }
        }
        int width = 3 + (withCounts ? size : 0);
        double[] part = new double[width * size];
        part[width * rank + 2] = mine == null ? 0 : 1;
        if (mine == null) {
            part[width * rank] = t.size(0);
            part[width * rank + 1] = t.size(1);
            for (int r = 0; withCounts && r < size; r++) part[width * rank + 3 + r] = rowCounts[r];
        }
        double[] all = mpi.allReduceSum(part);
        if (mine != null) throw new IllegalArgumentException(mine + " (rank " + rank + "; " + op + " refused on every rank)");
        long[][] out = new long[size][2];
        StringBuilder shapes = new StringBuilder();
        boolean sameD = true, sameRows = true, sameCounts = true;
        for (int r = 0; r < size; r++) {
            if (all[width * r + 2] != 0) {
                throw new IllegalArgumentException(argument + ": rank " + r + " refused its arguments to " + op
                        + " (its exception says why); every rank's call ends");
            }
            out[r][0] = Math.round(all[width * r]);
            out[r][1] = Math.round(all[width * r + 1]);
            sameD &= out[r][1] == out[0][1];
            sameRows &= out[r][0] == out[0][0];
            for (int i = 0; withCounts && i < size; i++) sameCounts &= all[width * r + 3 + i] == all[3 + i];
            shapes.append(r == 0 ? "" : ", ").append("rank ").append(r).append(": (").append(out[r][0]).append(", ").append(out[r][1]).append(')');
        }
        if (!sameD) throw new IllegalArgumentException(argument + ": the ranks' D differ: " + shapes);
        if (withCounts && !sameRows) throw new IllegalArgumentException(argument + ": the ranks' row counts differ: " + shapes);
        if (withCounts && !sameCounts) {
            StringBuilder b = new StringBuilder();
            for (int r = 0; r < size; r++) {
                b.append(r == 0 ? "" : ", ").append("rank ").append(r).append(": [");
                for (int i = 0; i < size; i++) b.append(i == 0 ? "" : ", ").append(Math.round(all[width * r + 3 + i]));
                b.append(']');
            }
            throw new IllegalArgumentException("rowCounts: the ranks pass different counts: " + b);
        }
        return out;
    }

    /** MPI's counts are C ints: the elements of one collective must fit. */
    private static int[] elementCounts(String argument, long[] rows, long d) {
        int[] counts = new int[rows.length];
        long total = 0;
        for (int r = 0; r < rows.length; r++) total += rows[r] * d;
        if (total > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(argument + ": " + total + " elements in one collective; MPI counts them in a 32-bit int "
                    + "(at most " + Integer.MAX_VALUE + "): use smaller shards");
        }
        for (int r = 0; r < rows.length; r++) counts[r] = (int) (rows[r] * d);
        return counts;
    }

    @Override
    public Tensor allGatherRows(Tensor local) {
        return timed("allGatherRows", () -> {
            long[][] s = agree("allGatherRows", "local", local, false, null);
            long d = s[0][1], n = 0;
            long[] rows = new long[size];
            for (int r = 0; r < size; r++) {
                rows[r] = s[r][0];
                n += rows[r];
            }
            int[] counts = elementCounts("local", rows, d);
            Tensor out = Tensor.zeros(DType.FLOAT32, n, d);
            mpi.allGatherFloats(local, out, counts);
            return out;
        });
    }

    @Override
    public Tensor reduceScatterRows(Tensor full, long[] rowCounts) {
        return timed("reduceScatterRows", () -> {
            long[][] s = agree("reduceScatterRows", "full", full, true, rowCounts);
            long d = s[0][1];
            int[] counts = elementCounts("full", rowCounts, d);
            Tensor out = Tensor.zeros(DType.FLOAT32, rowCounts[rank], d);
            mpi.reduceScatterFloats(full, out, counts);
            return out;
        });
    }

    @Override
    public double[] allReduceSum(double... values) {
        if (values == null) throw new IllegalArgumentException("values: must not be null");
        return timed("allReduceSum", () -> mpi.allReduceSum(values));
    }

    /**
     * Ends the whole job (every rank) with this exit code: for a rank that caught an error the
     * others cannot know of.
     *
     * @param code the exit code mpirun reports
     */
    public void abort(int code) {
        mpi.abort(code);
    }

    /** MPI_Finalize (every rank calls it at the end); timed like a collective. */
    @Override
    public void close() {
        timed("close (MPI_Finalize)", () -> {
            mpi.finish();
            return null;
        });
        watchdog.interrupt();
    }
}
