package dev.jnce.backend.cuda;

import dev.jnce.BackendUnavailableException;
import dev.jnce.bindings.JnceNative;
import dev.jnce.spi.DeviceMemory;
import dev.jnce.internal.NativeStatus;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One GPU and one CUDA stream (jnce.h's {@code jnce_cuda_ctx}), shared by the tensors on that
 * device and the CUDA backend computing on it, so device memory is allocated, used and freed in
 * stream order. Made on first use and kept for the life of the JVM.
 */
public final class CudaContext implements DeviceMemory {
    private static final Map<Integer, CudaContext> CONTEXTS = new HashMap<>();

    private final int device;
    private final MemorySegment ctx;
    private final String deviceName;
    private volatile boolean destroyed;
    private final Map<Long, Long> sizes = new ConcurrentHashMap<>(); // address -> bytes of each live allocation
    private final AtomicLong allocated = new AtomicLong(), peak = new AtomicLong();

    static {
        // A context holds a stream and cuBLAS state on the GPU: release every one when the JVM exits.
        // The binding's holder class is loaded now: at exit the class loader that brought jnce may
        // already be closed (a test launcher's, an application server's).
        try {
            Class.forName(JnceNative.class.getName() + "$jnce_cuda_destroy", true, CudaContext.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            // a binding without that holder class resolves its handle when first called, as before
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                destroyAll();
            } catch (LinkageError e) {
                // the loader that brought jnce was closed before the JVM exit: the driver releases the GPU's memory
            }
        }, "jnce-cuda-release"));
    }

    private CudaContext(int device, MemorySegment ctx, String deviceName) {
        this.device = device;
        this.ctx = ctx;
        this.deviceName = deviceName;
    }

    /**
     * The context of GPU {@code device}.
     *
     * @throws BackendUnavailableException when the CUDA library does not load, there is no driver
     *         or no such GPU, with the loader's or CUDA's reason
     */
    public static synchronized CudaContext of(int device) {
        CudaContext c = CONTEXTS.get(device);
        if (c != null) return c;
        try {
            CudaLibrary.load();
        } catch (UnsatisfiedLinkError e) {
            throw new BackendUnavailableException("cuda:" + device + " is not usable: " + e.getMessage(), e);
        }
        int count = deviceCount();
        if (device >= count) {
            throw new BackendUnavailableException("cuda:" + device + " is not usable: " + (count == 0 ? noDeviceReason()
                    : "only " + count + " CUDA device(s) are visible"), null);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            CudaLibrary.check(JnceNative.jnce_cuda_create(device, out), "create");
            MemorySegment handle = out.get(ValueLayout.ADDRESS, 0);
            MemorySegment name = arena.allocate(256);
            int status = JnceNative.jnce_cuda_device_name(device, name, 256L, MemorySegment.NULL);
            if (status != JnceNative.JNCE_OK()) {
                JnceNative.jnce_cuda_destroy(handle);
                CudaLibrary.check(status, "device_name");
            }
            c = new CudaContext(device, handle, name.getString(0));
        }
        CONTEXTS.put(device, c);
        return c;
    }

    /** GPUs visible; 0 when there is no driver or device (see {@link #noDeviceReason()}). */
    public static int deviceCount() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment n = arena.allocate(ValueLayout.JAVA_INT);
            int status = JnceNative.jnce_cuda_device_count(n);
            return status == JnceNative.JNCE_OK() ? n.get(ValueLayout.JAVA_INT, 0) : 0;
        }
    }

    /** Why no GPU is usable: CUDA's message and the driver and runtime versions. */
    public static String noDeviceReason() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment n = arena.allocate(ValueLayout.JAVA_INT);
            int status = JnceNative.jnce_cuda_device_count(n);
            String why = status == JnceNative.JNCE_OK() ? "no CUDA device is visible" : CudaLibrary.lastError();
            MemorySegment driver = arena.allocate(ValueLayout.JAVA_INT), runtime = arena.allocate(ValueLayout.JAVA_INT);
            JnceNative.jnce_cuda_driver_version(driver, runtime);
            return why + " (CUDA driver version " + version(driver.get(ValueLayout.JAVA_INT, 0)) + ", runtime "
                    + version(runtime.get(ValueLayout.JAVA_INT, 0)) + ")";
        }
    }

    private static String version(int v) {
        return v == 0 ? "none" : v / 1000 + "." + v % 1000 / 10;
    }

    /** The native context handle. */
    MemorySegment handle() {
        if (destroyed) throw new IllegalStateException("cuda:" + device + ": the context was released (the JVM is exiting)");
        return ctx;
    }

    /** Waits for each context's stream and releases it (jnce_cuda_destroy); at JVM exit. */
    static synchronized void destroyAll() {
        for (CudaContext c : CONTEXTS.values()) c.destroy();
        CONTEXTS.clear();
    }

    private synchronized void destroy() {
        if (destroyed) return;
        destroyed = true;
        JnceNative.jnce_cuda_destroy(ctx); // waits for the stream; a failure at exit has no one to report to
    }

    public int device() {
        return device;
    }

    /** For example {@code NVIDIA H100 80GB HBM3 (sm_90, 132 SMs)}. */
    public String deviceName() {
        return deviceName;
    }

    /** Waits for the stream; reports bad data kernels found since the last wait. */
    public void synchronize() {
        CudaLibrary.check(JnceNative.jnce_cuda_synchronize(handle()), "synchronize");
    }

    @Override
    public MemorySegment allocate(long bytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            CudaLibrary.check(JnceNative.jnce_cuda_malloc(handle(), bytes, out), "malloc");
            MemorySegment p = out.get(ValueLayout.ADDRESS, 0);
            int status = JnceNative.jnce_cuda_memset_zero(handle(), p, bytes);
            if (status != JnceNative.JNCE_OK()) {
                JnceNative.jnce_cuda_free(handle(), p);
                CudaLibrary.check(status, "memset_zero");
            }
            sizes.put(p.address(), bytes);
            peak.accumulateAndGet(allocated.addAndGet(bytes), Math::max);
            return p;
        }
    }

    @Override
    public void free(MemorySegment address) {
        if (destroyed) return; // released at exit: the driver frees the memory with the context
        CudaLibrary.check(JnceNative.jnce_cuda_free(ctx, address), "free");
        Long bytes = sizes.remove(address.address());
        if (bytes != null) allocated.addAndGet(-bytes);
    }

    /** Bytes of device memory jnce holds now on this GPU (tensors, workspaces), as allocated through this context. */
    public long allocatedBytes() {
        return allocated.get();
    }

    /** The most bytes {@link #allocatedBytes()} has been since the context was made or the last {@link #resetPeak()}. */
    public long peakAllocatedBytes() {
        return peak.get();
    }

    /** Starts a new peak at the bytes held now. */
    public void resetPeak() {
        peak.set(allocated.get());
    }

    @Override
    public void toHost(MemorySegment address, MemorySegment host, long bytes) {
        CudaLibrary.check(JnceNative.jnce_cuda_memcpy_d2h(handle(), host, address, bytes), "memcpy_d2h");
    }

    @Override
    public void fromHost(MemorySegment host, MemorySegment address, long bytes) {
        CudaLibrary.check(JnceNative.jnce_cuda_memcpy_h2d(handle(), address, host, bytes), "memcpy_h2d");
    }

    @Override
    public void copy(MemorySegment from, MemorySegment to, long bytes) {
        CudaLibrary.check(JnceNative.jnce_cuda_memcpy_d2d(handle(), to, from, bytes), "memcpy_d2d");
    }

    /** The build of libjnce_cuda.so, one line. */
    static String buildInfo() {
        return NativeStatus.string(JnceNative::jnce_cuda_build_info);
    }
}
