package dev.jnce.spi;

import java.lang.foreign.MemorySegment;

/**
 * Memory of a device other than the host, as {@link dev.jnce.Tensor} uses it. Device addresses
 * travel as zero-length segments: Java can pass them to native code but never dereference them.
 * A backend whose device is not the host implements {@link Source}.
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

    /** A backend that owns a device's memory. */
    interface Source {
        DeviceMemory memory();
    }
}
