package dev.jnce.distributed;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.internal.Mpi;

/**
 * The ranks of an {@code mpirun} job (MPI_COMM_WORLD), through Open MPI's C library called by
 * FFM (no Java binding needed): start each rank's JVM with mpirun,
 * {@code mpirun -np 4 java --enable-native-access=ALL-UNNAMED -cp ... your.Main}. Host tensors;
 * the shapes are exchanged first, so that the ranks' disagreement is an
 * {@link IllegalArgumentException} on every rank. A rank that dies ends the job: Open MPI's
 * default error handler and mpirun stop every rank. {@link #abort} ends the job from a rank that
 * caught an error. Needs Debian's openmpi-bin and libopenmpi-dev (libmpi.so.40), or
 * {@code -Djnce.mpi.library=/path/to/libmpi.so}.
 */
public final class MpiCollective implements Collective {
    private final Mpi mpi;
    private final int rank, size;

    private MpiCollective(Mpi mpi) {
        this.mpi = mpi;
        this.rank = mpi.rank();
        this.size = mpi.size();
    }

    /**
     * MPI_COMM_WORLD, initialising MPI unless the program did.
     *
     * @return this process's handle
     * @throws IllegalStateException if Open MPI cannot be loaded, with what to install
     */
    public static MpiCollective world() {
        return new MpiCollective(Mpi.load());
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int size() {
        return size;
    }

    /** Every rank's (rows, cols); refuses, on every rank, ranks whose cols differ. */
    private long[][] shapes(String argument, Tensor t) {
        if (t == null) throw new IllegalArgumentException(argument + ": must not be null");
        if (t.dtype() != DType.FLOAT32 || t.rank() != 2) {
            throw new IllegalArgumentException(argument + ": expected a (rows, D) float32 tensor, got " + t.describe());
        }
        double[] mine = new double[2 * size];
        mine[2 * rank] = t.size(0);
        mine[2 * rank + 1] = t.size(1);
        double[] all = mpi.allReduceSum(mine);
        long[][] out = new long[size][2];
        StringBuilder b = new StringBuilder();
        boolean same = true;
        for (int r = 0; r < size; r++) {
            out[r][0] = Math.round(all[2 * r]);
            out[r][1] = Math.round(all[2 * r + 1]);
            same &= out[r][1] == out[0][1];
            b.append(r == 0 ? "" : ", ").append("rank ").append(r).append(": (").append(out[r][0]).append(", ").append(out[r][1]).append(')');
        }
        if (!same) throw new IllegalArgumentException(argument + ": the ranks' D differ: " + b);
        return out;
    }

    @Override
    public Tensor allGatherRows(Tensor local) {
        long[][] s = shapes("local", local);
        long d = s[0][1], n = 0;
        int[] counts = new int[size];
        for (int r = 0; r < size; r++) {
            counts[r] = Math.toIntExact(s[r][0] * d);
            n += s[r][0];
        }
        Tensor out = Tensor.zeros(DType.FLOAT32, n, d);
        mpi.allGatherFloats(local, out, counts);
        return out;
    }

    @Override
    public Tensor reduceScatterRows(Tensor full, long[] rowCounts) {
        long[][] s = shapes("full", full);
        for (long[] x : s) {
            if (x[0] != s[0][0]) throw new IllegalArgumentException("full: the ranks' row counts differ (" + x[0] + " and " + s[0][0] + ")");
        }
        long d = s[0][1];
        int[] counts = new int[size];
        long total = 0;
        for (int r = 0; r < size; r++) {
            counts[r] = Math.toIntExact(rowCounts[r] * d);
            total += rowCounts[r];
        }
        if (rowCounts.length != size || total != full.size(0)) {
            throw new IllegalArgumentException("rowCounts: must give each of the " + size + " ranks its rows of full's " + full.size(0));
        }
        Tensor out = Tensor.zeros(DType.FLOAT32, rowCounts[rank], d);
        mpi.reduceScatterFloats(full, out, counts);
        return out;
    }

    @Override
    public double[] allReduceSum(double... values) {
        return mpi.allReduceSum(values);
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

    /** MPI_Finalize (every rank calls it at the end). */
    @Override
    public void close() {
        mpi.finish();
    }
}
