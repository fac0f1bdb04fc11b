package dev.jnce.internal;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

import dev.jnce.DType;
import dev.jnce.Tensor;

/**
 * Zero-filled host tensors for an operation's own scratch buffers, which the operation closes
 * before it returns and never hands to a caller: small ones come from slabs that are reused
 * rather than freed (see Tensor's scratch slabs), so a small loss call makes no arena, takes no
 * page fault and closes no shared arena for its scratch. Tensor's factory for them is private;
 * this class reaches it within the module, so that it stays out of the API.
 */
public final class ScratchTensors {
    private static final MethodHandle ZEROS;

    static {
        try {
            ZEROS = MethodHandles.privateLookupIn(Tensor.class, MethodHandles.lookup())
                    .findStatic(Tensor.class, "scratchZeros", MethodType.methodType(Tensor.class, DType.class, long[].class, boolean.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private ScratchTensors() {
    }

    /** A zero-filled host tensor of the shape; close it before the operation returns. */
    public static Tensor zeros(DType dtype, long... shape) {
        return make(dtype, shape, true);
    }

    /**
     * A host tensor of the shape whose small form is not zeroed (it may hold earlier scratch), for
     * a buffer the operation writes whole before it reads any of it; close it before the operation
     * returns.
     */
    public static Tensor overwritten(DType dtype, long... shape) {
        return make(dtype, shape, false);
    }

    private static Tensor make(DType dtype, long[] shape, boolean zero) {
        try {
            return (Tensor) ZEROS.invokeExact(dtype, shape, zero);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
