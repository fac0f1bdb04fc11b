package dev.jnce.internal;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

import dev.jnce.DType;
import dev.jnce.Device;
import dev.jnce.Tensor;

/**
 * The tensors an op or loss allocates in one call (its outputs and scratch): closed again when the
 * call fails, whatever failed — a check or kernel that rejects a value, a native error, an
 * allocation that runs out of memory — so that a rejected call leaks nothing. The form every
 * allocating method takes:
 *
 * <pre>{@code
 * Tensor loss = null, grad = null;
 * try {
 *     loss = ...; grad = ...;
 *     kernel(..., loss, grad);
 *     return new LossResult(loss, grad);
 * } catch (RuntimeException | Error e) {
 *     throw Outputs.closeAndRethrow(e, loss, grad);
 * }
 * }</pre>
 */
public final class Outputs {
    /** Host results of at least this many bytes are faulted in by {@link #faultedIn}. */
    public static final long FAULT_IN_BYTES = 1 << 20;

    private static final MethodHandle OVERWRITTEN;

    static {
        try {
            OVERWRITTEN = MethodHandles.privateLookupIn(Tensor.class, MethodHandles.lookup()).findStatic(Tensor.class,
                    "overwritten", MethodType.methodType(Tensor.class, Device.class, DType.class, long[].class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private Outputs() {
    }

    /**
     * A result for a kernel that writes every element of it before the call returns, on
     * {@code device}: small host ones are not zeroed (they may hold memory freed earlier in
     * the process), so use it only where every backend's kernel overwrites the whole tensor,
     * which the test suite checks by running with {@code -Djnce.tensor.poison=true} (such results
     * then start as NaN). Owned by the caller like a tensor from {@link Tensor#zeros(Device, DType, long...)}.
     */
    public static Tensor overwritten(Device device, DType dtype, long... shape) {
        try {
            return (Tensor) OVERWRITTEN.invokeExact(device, dtype, shape);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /**
     * {@code t}, fresh and zero, with a zero written to every 4 KiB page when it is a host tensor of
     * {@link #FAULT_IN_BYTES} or more (a large one is a fresh mapping with transparent huge pages,
     * zero but not yet backed): its page faults are taken here, a few with huge pages, rather than
     * in a kernel whose tiles write their rows of it at scattered places from every thread. The
     * one-tensor InfoNCE step at (8192, 256) on a 2-core Xeon VM measured 1.12-1.13 times its BLAS
     * calls with the faults in the kernel and 1.05-1.07 with them taken first (its 8 MiB
     * gradient). For the contrastive losses' results; not for the cross-entropy's gradient, which
     * its kernel writes in streams from both threads (faulting it in first on one thread made the
     * allocating call at (1024, 16384) 8% slower).
     */
    public static Tensor faultedIn(Tensor t) {
        if (t.device().kind() != Device.Kind.HOST) return t;
        MemorySegment memory = t.segment();
        long bytes = memory.byteSize();
        if (bytes < FAULT_IN_BYTES) return t;
        for (long offset = 0; offset < bytes; offset += 4096) memory.set(ValueLayout.JAVA_BYTE, offset, (byte) 0);
        return t;
    }

    /**
     * Closes every non-null tensor the failed call made and hands back {@code failure} for the
     * caller to throw (an {@link Error} is thrown from here). A tensor that fails to close adds
     * its exception to the failure as suppressed; the failure stays the one reported.
     *
     * @param failure a RuntimeException or an Error
     */
    public static RuntimeException closeAndRethrow(Throwable failure, Tensor... made) {
        for (Tensor t : made) {
            if (t == null) continue;
            try {
                t.close();
            } catch (RuntimeException | Error e) {
                failure.addSuppressed(e);
            }
        }
        if (failure instanceof Error e) throw e;
        if (failure instanceof RuntimeException e) return e;
        throw new IllegalStateException("closeAndRethrow takes a RuntimeException or an Error", failure);
    }
}
