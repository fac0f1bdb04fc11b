package dev.jnce.internal;

import dev.jnce.Device;
import dev.jnce.backend.cuda.CudaContext;

import java.lang.foreign.MemorySegment;

/**
 * Memory of a device other than the host, as {@link dev.jnce.Tensor} uses it. Device addresses
 * travel as zero-length segments: Java can pass them to native code but never dereference them.
 */
public interface DeviceMemory {

    /** Allocates zero-filled device memory; a zero-length segment holding its address. */
    MemorySegment allocate(long bytes);

    /** Frees memory from {@link #allocate} (after the work queued before it). */
    void free(MemorySegment address);

    /** Copies device memory to the host segment and waits until it is there. */
    void toHost(MemorySegment address, MemorySegment host, long bytes);

    /** Copies the host segment to device memory and waits until it is there. */
    void fromHost(MemorySegment host, MemorySegment address, long bytes);

    /** Copies within the device (queued; no wait). */
    void copy(MemorySegment from, MemorySegment to, long bytes);

    /**
     * The memory of {@code device}.
     *
     * @throws dev.jnce.JnceException (a {@link dev.jnce.BackendUnavailableException}) when
     *         the device cannot be used here, with CUDA's reason
     */
    static DeviceMemory of(Device device) {
        if (device.kind() != Device.Kind.CUDA) throw new IllegalArgumentException("device: " + device + " is not a CUDA device");
        return CudaContext.of(device.index());
    }
}
