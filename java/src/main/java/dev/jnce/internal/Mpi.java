package dev.jnce.internal;

import dev.jnce.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Open MPI's C API through FFM, the handful of calls dev.jnce.distributed.MpiCollective needs.
 * Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_DOUBLE, MPI_SUM) are the addresses of its
 * global objects ({@code ompi_mpi_comm_world} and so on), found in libmpi.so.40 by name. Errors:
 * Open MPI's default handler aborts the whole job (every rank, through mpirun) on a failed call,
 * which is what a collective whose peer died must do.
 */
public final class Mpi {
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    private static final ValueLayout ADDR = ValueLayout.ADDRESS;
    private final MemorySegment world, mpiFloat, mpiDouble, mpiSum;
    private final MethodHandle commRank, commSize, allgatherv, reduceScatter, allreduce, finalizeCall, abort, finalized;

    private Mpi(SymbolLookup lib) {
        Linker linker = Linker.nativeLinker();
        world = symbol(lib, "ompi_mpi_comm_world");
        mpiFloat = symbol(lib, "ompi_mpi_float");
        mpiDouble = symbol(lib, "ompi_mpi_double");
        mpiSum = symbol(lib, "ompi_mpi_op_sum");
        MethodHandle init = linker.downcallHandle(symbol(lib, "MPI_Init"), FunctionDescriptor.of(INT, ADDR, ADDR));
        MethodHandle initialized = linker.downcallHandle(symbol(lib, "MPI_Initialized"), FunctionDescriptor.of(INT, ADDR));
        commRank = linker.downcallHandle(symbol(lib, "MPI_Comm_rank"), FunctionDescriptor.of(INT, ADDR, ADDR));
        commSize = linker.downcallHandle(symbol(lib, "MPI_Comm_size"), FunctionDescriptor.of(INT, ADDR, ADDR));
        allgatherv = linker.downcallHandle(symbol(lib, "MPI_Allgatherv"),
                FunctionDescriptor.of(INT, ADDR, INT, ADDR, ADDR, ADDR, ADDR, ADDR, ADDR));
        reduceScatter = linker.downcallHandle(symbol(lib, "MPI_Reduce_scatter"),
                FunctionDescriptor.of(INT, ADDR, ADDR, ADDR, ADDR, ADDR, ADDR));
        allreduce = linker.downcallHandle(symbol(lib, "MPI_Allreduce"), FunctionDescriptor.of(INT, ADDR, ADDR, INT, ADDR, ADDR, ADDR));
        finalizeCall = linker.downcallHandle(symbol(lib, "MPI_Finalize"), FunctionDescriptor.of(INT));
        finalized = linker.downcallHandle(symbol(lib, "MPI_Finalized"), FunctionDescriptor.of(INT, ADDR));
        abort = linker.downcallHandle(symbol(lib, "MPI_Abort"), FunctionDescriptor.of(INT, ADDR, INT));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment flag = arena.allocate(INT);
            check((int) initialized.invokeExact(flag), "MPI_Initialized");
            if (flag.get(INT, 0) == 0) check((int) init.invokeExact(MemorySegment.NULL, MemorySegment.NULL), "MPI_Init");
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("MPI_Init failed: " + t, t);
        }
    }

    /**
     * Loads Open MPI (libmpi.so.40, or the file named by jnce.mpi.library) and initialises it
     * unless the program already has.
     *
     * @return the library
     * @throws IllegalStateException if Open MPI cannot be loaded here, with what to install
     */
    public static Mpi load() {
        String name = System.getProperty("jnce.mpi.library", "libmpi.so.40");
        SymbolLookup lib;
        try {
            lib = SymbolLookup.libraryLookup(name, Arena.global());
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("Open MPI is not installed here: " + name + " did not load (install openmpi-bin and "
                    + "libopenmpi-dev, or set jnce.mpi.library to its libmpi.so), and start the ranks with mpirun", e);
        }
        return new Mpi(lib);
    }

    private static MemorySegment symbol(SymbolLookup lib, String name) {
        return lib.find(name).orElseThrow(() -> new IllegalStateException("the MPI library has no symbol " + name
                + ": jnce speaks to Open MPI (its handles are symbols), not to another MPI"));
    }

    private static void check(int code, String call) {
        if (code != 0) throw new IllegalStateException(call + " failed with MPI error " + code);
    }

    private int intOut(MethodHandle h, String call) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(INT);
            check((int) h.invokeExact(world, out), call);
            return out.get(INT, 0);
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(call + ": " + t, t);
        }
    }

    /** @return this process's rank in MPI_COMM_WORLD */
    public int rank() {
        return intOut(commRank, "MPI_Comm_rank");
    }

    /** @return the size of MPI_COMM_WORLD */
    public int size() {
        return intOut(commSize, "MPI_Comm_size");
    }

    /**
     * MPI_Allgatherv of float32: local's elements into out, rank r's at displs[r].
     *
     * @param local  this rank's (contiguous, host) float32 tensor
     * @param out    the (Σ counts) float32 result
     * @param counts elements per rank
     */
    public void allGatherFloats(Tensor local, Tensor out, int[] counts) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment c = arena.allocateFrom(INT, counts), displs = arena.allocate(INT, counts.length);
            int at = 0;
            for (int r = 0; r < counts.length; r++) {
                displs.setAtIndex(INT, r, at);
                at += counts[r];
            }
            MemorySegment send = local.numel() == 0 ? arena.allocate(4) : local.segment();
            check((int) allgatherv.invokeExact(send, (int) local.numel(), mpiFloat, out.segment(), c, displs, mpiFloat, world),
                    "MPI_Allgatherv");
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("MPI_Allgatherv: " + t, t);
        }
    }

    /**
     * MPI_Reduce_scatter of float32 with MPI_SUM: full summed over ranks, rank r keeping counts[r]
     * elements into out.
     *
     * @param full   the float32 tensor every rank passes, Σ counts elements
     * @param out    this rank's counts[rank] elements
     * @param counts elements per rank
     */
    public void reduceScatterFloats(Tensor full, Tensor out, int[] counts) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment c = arena.allocateFrom(INT, counts);
            MemorySegment recv = out.numel() == 0 ? arena.allocate(4) : out.segment();
            check((int) reduceScatter.invokeExact(full.segment(), recv, c, mpiFloat, mpiSum, world), "MPI_Reduce_scatter");
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("MPI_Reduce_scatter: " + t, t);
        }
    }

    /**
     * MPI_Allreduce of doubles with MPI_SUM.
     *
     * @param values this rank's values
     * @return the sums
     */
    public double[] allReduceSum(double[] values) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment in = arena.allocateFrom(ValueLayout.JAVA_DOUBLE, values), out = arena.allocate(ValueLayout.JAVA_DOUBLE, values.length);
            check((int) allreduce.invokeExact(in, out, values.length, mpiDouble, mpiSum, world), "MPI_Allreduce");
            return out.toArray(ValueLayout.JAVA_DOUBLE);
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("MPI_Allreduce: " + t, t);
        }
    }

    /** MPI_Abort of the whole job with this code (ends every rank). */
    public void abort(int code) {
        try {
            int ignored = (int) abort.invokeExact(world, code);
        } catch (Throwable t) {
            Runtime.getRuntime().halt(code);
        }
    }

    /** MPI_Finalize, once. */
    public void finish() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment flag = arena.allocate(INT);
            check((int) finalized.invokeExact(flag), "MPI_Finalized");
            if (flag.get(INT, 0) == 0) check((int) finalizeCall.invokeExact(), "MPI_Finalize");
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("MPI_Finalize: " + t, t);
        }
    }
}
