package dev.jnce;

import dev.jnce.spi.CallArguments;
import dev.jnce.spi.DeviceMemory;

import java.lang.foreign.Arena;
import java.lang.ref.Cleaner;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * An off-heap, row-major, contiguous array of {@link DType float32, int32 or int64} values
 * with a shape, on a {@link Device}.
 *
 * <h2>Storage</h2>
 * Tensors made by jnce own a 64-byte-aligned {@link MemorySegment}. {@link #wrap} makes a
 * tensor over a caller's segment without copying; the caller keeps owning that memory, and
 * closing the tensor does not free it. A shape of length 0 is a scalar of one element.
 *
 * <h2>Device tensors</h2>
 * {@link #zeros(Device, DType, long...)} and {@link #to(Device)} make tensors in the memory of a
 * CUDA GPU. Their {@link #segment()} is a zero-length segment holding the device address: it
 * can be handed to jnce's CUDA kernels but never read from Java. The reading methods
 * ({@link #toFloatArray()}, {@link #item()}, ...) copy to the host first and wait for the work
 * queued on the device; a kernel's bad-data error (such as a class index out of range) surfaces
 * there. A device tensor is freed on {@code close()} or with its scope, in stream order.
 *
 * <h2>Lifetime</h2>
 * A tensor is {@link AutoCloseable}; {@code close()} is idempotent. A tensor created while a
 * {@link TensorScope} is open on the current thread belongs to that scope and is freed when
 * the scope closes (closing it earlier only marks it closed). Any use after close, including
 * passing it to a loss, throws {@link IllegalStateException}; so does using a view
 * ({@link #rows}, {@link #reshape}) of a closed tensor, or a wrapped segment whose arena is
 * closed or confined to another thread.
 *
 * <p>Close tensors (or their scope) when done: that frees the memory at once, except that tensors
 * of 64 KiB or less made outside a scope share slabs of 4 MiB, freed when the last tensor in them
 * is closed (making and freeing an arena of its own for each small tensor cost about 14 µs a
 * tensor, more than a small loss call; {@code -Djnce.tensor.slabs=false} turns slabs off). A tensor that owns
 * its memory and is never closed is not lost: once it is unreachable, a {@link Cleaner} frees
 * its memory (with {@code -Djnce.debug.leaks=true}, a WARNING on the {@code dev.jnce} logger names
 * where such a tensor was created). This is a safety net for a forgotten {@code close()}, not a
 * way to manage memory: the collector runs when the Java heap fills, not when off-heap memory
 * does.
 *
 * <h2>Threads</h2>
 * A tensor may be read from several threads at once and passed to losses from any thread.
 * Writing to it (as an output) while another thread reads or writes it is a data race that
 * jnce does not detect. Closing a tensor while a native call uses it fails with
 * {@link IllegalStateException} instead of freeing memory in use (a small tensor whose slab stays
 * allocated closes, and its memory is freed with the slab after that call).
 */
public final class Tensor implements AutoCloseable {
    /** Alignment of storage that jnce allocates (a cache line, and an AVX-512 vector). */
    public static final long ALIGNMENT = 64;

    private final MemorySegment segment;
    private final DType dtype;
    private final long[] shape;
    private final Device device;
    private final Arena ownArena; // null when wrapped, owned by a scope or in a slab
    private final Slab slab; // the shared slab a small owned host tensor lies in; else null
    private final DeviceMemory deviceMemory; // null on the host
    private final Tensor base; // the tensor a view's memory belongs to, kept reachable while the view is; else null
    private final Cleaner.Cleanable reclaim; // frees own memory that was never closed; null when not owned
    private volatile boolean closed;

    private Tensor(MemorySegment segment, DType dtype, long[] shape, Device device, Arena ownArena) {
        this(segment, dtype, shape, device, ownArena, null);
    }

    private Tensor(MemorySegment segment, DType dtype, long[] shape, Device device, Arena ownArena,
                   DeviceMemory deviceMemory) {
        this(segment, dtype, shape, device, ownArena, deviceMemory, null, false);
    }

    private Tensor(MemorySegment segment, DType dtype, long[] shape, Device device, Arena ownArena,
                   DeviceMemory deviceMemory, Tensor base, boolean ownsDeviceMemory) {
        this(segment, dtype, shape, device, ownArena, null, deviceMemory, base, ownsDeviceMemory);
    }

    private Tensor(MemorySegment segment, DType dtype, long[] shape, Device device, Arena ownArena, Slab slab,
                   DeviceMemory deviceMemory, Tensor base, boolean ownsDeviceMemory) {
        this.segment = segment;
        this.dtype = dtype;
        this.shape = shape;
        this.device = device;
        this.ownArena = ownArena;
        this.slab = slab;
        this.deviceMemory = deviceMemory;
        this.base = base;
        this.reclaim = ownArena != null || slab != null || ownsDeviceMemory
                ? Reclaimer.register(this, ownArena, slab, ownsDeviceMemory ? deviceMemory : null, segment)
                : null;
    }

    // ---- creation -------------------------------------------------------------------------

    /**
     * A zero-filled tensor.
     *
     * @param dtype the element type; not null
     * @param shape the sizes of the dimensions, each &ge; 0; none for a scalar, shape {@code ()}
     * @return a new zero-filled tensor, owned by the innermost open {@link TensorScope} of this thread if
     *   any
     * @throws IllegalArgumentException if dtype (or device) is null, or the shape is null, has a negative
     *   size or more bytes than memory can hold
     */
    public static Tensor zeros(DType dtype, long... shape) {
        if (dtype == null) throw new IllegalArgumentException("dtype: must not be null");
        long[] s = checkedShape(shape);
        long bytes = Math.multiplyExact(numel(s), dtype.byteSize());
        TensorScope scope = TensorScope.current();
        if (scope == null) return zerosUnscoped(dtype, s);
        Tensor t = new Tensor(PageMemory.allocate(scope.arena(), bytes, ALIGNMENT), dtype, s, Device.HOST, null);
        scope.register(t);
        return t;
    }

    /**
     * A zero-filled tensor that owns its memory even while a {@link TensorScope} is open: for
     * scratch buffers an operation frees itself, which must not pile up in the caller's scope
     * over a training loop. Close it yourself.
     *
     * @param dtype the element type; not null
     * @param shape the sizes of the dimensions, each &ge; 0; none for a scalar, shape {@code ()}
     * @return a new zero-filled tensor that belongs to no scope
     * @throws IllegalArgumentException if dtype (or device) is null, or the shape is null, has a negative
     *   size or more bytes than memory can hold
     */
    public static Tensor zerosUnscoped(DType dtype, long... shape) {
        if (dtype == null) throw new IllegalArgumentException("dtype: must not be null");
        long[] s = checkedShape(shape);
        long bytes = Math.multiplyExact(numel(s), dtype.byteSize());
        if (bytes <= Slab.SMALL_BYTES && Slab.ENABLED) {
            Slab.Allocation a = Slab.allocate(bytes);
            return new Tensor(a.segment(), dtype, s, Device.HOST, null, a.slab(), null, null, false);
        }
        Arena arena = Arena.ofShared();
        return new Tensor(PageMemory.allocate(arena, bytes, ALIGNMENT), dtype, s, Device.HOST, arena);
    }

    /**
     * A zero-filled host tensor for an operation's own scratch, which it closes before it returns
     * and whose memory no caller ever sees: small ones come from scratch slabs that are reused
     * once every tensor carved from them is closed (no new arena, no page faults, no hand-shake),
     * zeroed piece by piece as they are handed out (zero = false: not zeroed, for a buffer the
     * operation overwrites whole before reading it). Reached through
     * {@code dev.jnce.internal.ScratchTensors}; not API.
     */
    private static Tensor scratchZeros(DType dtype, long[] shape, boolean zero) {
        long[] s = checkedShape(shape);
        long bytes = Math.multiplyExact(numel(s), dtype.byteSize());
        if (bytes > Slab.SMALL_BYTES || !Slab.ENABLED) return zero ? zerosUnscoped(dtype, s) : poisoned(zerosUnscoped(dtype, s));
        Slab.Allocation a = Slab.allocateScratch(bytes);
        if (zero) a.segment().fill((byte) 0);
        else if (POISON) a.segment().fill(POISON_BYTE);
        return new Tensor(a.segment(), dtype, s, Device.HOST, null, a.slab(), null, null, false);
    }

    /**
     * A result an operation returns to its caller, made for a kernel that writes every element
     * before the call returns (never reads it first, never leaves one as it was): a host tensor
     * outside any open {@link TensorScope} and of at most {@link Slab#SMALL_BYTES} comes from
     * slabs whose memory is not zeroed, which saves zeroing it (of making and closing BPR's four
     * results at (32, 4, 128), 96 KiB, the zeroing was more than half); anything else is made
     * as {@link #zeros(Device, DType, long...)} makes it. Owned by the caller (and by the
     * innermost open scope) like a tensor from {@code zeros}. With {@code -Djnce.tensor.poison=true}
     * (the test suite's setting) every such tensor, whatever its size or scope, starts as 0xFF
     * bytes (NaN floats, -1 integers), so that an element a kernel leaves unwritten shows in the
     * results the tests compare. Reached through {@code dev.jnce.internal.Outputs}; not API.
     */
    private static Tensor overwritten(Device device, DType dtype, long[] shape) {
        if (device == null) throw new IllegalArgumentException("device: must not be null");
        if (device.kind() != Device.Kind.HOST) return zeros(device, dtype, shape);
        if (dtype == null) throw new IllegalArgumentException("dtype: must not be null");
        long[] s = checkedShape(shape);
        long bytes = Math.multiplyExact(numel(s), dtype.byteSize());
        if (bytes > Slab.SMALL_BYTES || !Slab.ENABLED || TensorScope.current() != null) return poisoned(zeros(dtype, s));
        Slab.Allocation a = Slab.allocateUnzeroed(bytes);
        if (POISON) a.segment().fill(POISON_BYTE);
        return new Tensor(a.segment(), dtype, s, Device.HOST, null, a.slab(), null, null, false);
    }

    /** The test mode of {@link #overwritten}: memory a kernel must overwrite whole starts as 0xFF bytes. */
    private static final boolean POISON = Boolean.getBoolean("jnce.tensor.poison");
    private static final byte POISON_BYTE = (byte) 0xFF;

    private static Tensor poisoned(Tensor t) {
        if (POISON) t.segment().fill(POISON_BYTE);
        return t;
    }

    /**
     * Small owned host tensors ({@link #SMALL_BYTES} or less) are carved out of shared slabs of
     * {@link #SLAB_BYTES}, so that making and closing one does not make and close a shared arena
     * each time: closing a shared arena makes the JVM hand-shake every thread (about 14 µs), which
     * dominated small calls that return new tensors. A slab's memory is zeroed once when the slab
     * is made and never handed out twice (a bump pointer), so a tensor's memory starts at zero and
     * a stale view of a closed tensor can reach only that tensor's own bytes. The slab's arena
     * closes when the last tensor carved from it is closed (or reclaimed) and the slab is full:
     * one hand-shake for many tensors. The cost: a small tensor that stays open keeps its whole
     * slab (at most {@link #SLAB_BYTES}) allocated. Slabs of 4 MiB rather than 1 spread each
     * close (a hand-shake and a free: 35-190 µs on a 2-core VM) over four times the tensors:
     * allocating calls at (32, 128) measured BPR 21.6 → 15.3 µs, cross-entropy 4.7 → 3.6, the
     * triplet loss 9.8 → 6.9 (JMH, 2 threads, slab sizes interleaved). {@code -Djnce.tensor.slabs=false} gives every
     * tensor its own arena again (its memory freed by its own close).
     *
     * <p>Scratch slabs ({@link #scratchZeros}) hold only operations' own scratch, never a tensor a
     * caller sees: once the last tensor in one is closed, it is kept (up to {@link #SPARE_SCRATCH})
     * and handed out again from its start, instead of freed.
     */
    private static final class Slab {
        static final long SMALL_BYTES = 64 << 10;
        static final long SLAB_BYTES = 4 << 20;
        /** Scratch slabs are kept and reused rather than freed, so their size costs no hand-shakes. */
        static final long SCRATCH_SLAB_BYTES = 1 << 20;
        static final int SPARE_SCRATCH = 2;
        static final boolean ENABLED = !"false".equals(System.getProperty("jnce.tensor.slabs"));
        private static Slab current;
        private static Slab currentScratch;
        private static final java.util.ArrayDeque<Slab> spareScratch = new java.util.ArrayDeque<>(); // guarded by Slab.class
        private static final java.util.ArrayList<Slab> unclosed = new java.util.ArrayList<>(); // guarded by Slab.class

        private static Slab currentUnzeroed;

        private final boolean scratch;
        private final Arena arena = Arena.ofShared();
        private final MemorySegment memory;
        private long next; // guarded by Slab.class
        // tensors carved from this slab and not yet released, plus one while it is the current slab
        private final AtomicInteger live = new AtomicInteger(1);

        record Allocation(MemorySegment segment, Slab slab) {
        }

        private Slab(boolean scratch) {
            this.scratch = scratch;
            this.memory = arena.allocate(scratch ? SCRATCH_SLAB_BYTES : SLAB_BYTES, ALIGNMENT);
        }

        /** A slab of results that their kernels overwrite whole: its memory is not zeroed. */
        private Slab() {
            this.scratch = false;
            this.memory = PageMemory.allocateUnzeroed(arena, SLAB_BYTES, ALIGNMENT);
        }

        static synchronized Allocation allocate(long bytes) {
            long size = Math.max(bytes, 1);
            if (current == null || current.next + size > SLAB_BYTES) {
                Slab full = current;
                current = new Slab(false);
                if (full != null) full.releaseQuietly();
            }
            return current.carve(size);
        }

        /**
         * From the slabs of results a kernel overwrites whole: not zeroed (it holds whatever malloc
         * gave, often memory this process freed earlier), otherwise as {@link #allocate}.
         */
        static synchronized Allocation allocateUnzeroed(long bytes) {
            long size = Math.max(bytes, 1);
            if (currentUnzeroed == null || currentUnzeroed.next + size > SLAB_BYTES) {
                Slab full = currentUnzeroed;
                currentUnzeroed = new Slab();
                if (full != null) full.releaseQuietly();
            }
            return currentUnzeroed.carve(size);
        }

        /** From the scratch slabs; the memory is not zeroed (a reused slab holds earlier scratch). */
        static synchronized Allocation allocateScratch(long bytes) {
            long size = Math.max(bytes, 1);
            if (currentScratch == null || currentScratch.next + size > SCRATCH_SLAB_BYTES) {
                Slab full = currentScratch;
                Slab spare = spareScratch.pollFirst();
                currentScratch = spare != null ? spare : new Slab(true);
                if (full != null) full.release();
            }
            return currentScratch.carve(size);
        }

        private Allocation carve(long size) { // under the class lock
            MemorySegment segment = memory.asSlice(next, size);
            next = (next + size + ALIGNMENT - 1) & -ALIGNMENT;
            live.incrementAndGet();
            return new Allocation(segment, this);
        }

        /**
         * The allocator is done with a full slab. Should its arena not close because a native call
         * still holds memory of a tensor closed meanwhile, the slab waits for the next full slab
         * to try again, instead of failing an unrelated allocation.
         */
        private void releaseQuietly() { // under the class lock
            for (int i = unclosed.size() - 1; i >= 0; i--) { // earlier slabs that could not close
                try {
                    unclosed.get(i).arena.close();
                    unclosed.remove(i);
                } catch (IllegalStateException stillInUse) {
                    // next time
                }
            }
            try {
                release();
            } catch (IllegalStateException inUse) {
                unclosed.add(this);
            }
        }

        /** One tensor (or the allocator) is done with the slab; the last one frees it (a scratch slab: keeps it, up to a few). */
        void release() {
            if (live.decrementAndGet() > 0) return;
            if (scratch) {
                synchronized (Slab.class) {
                    if (spareScratch.size() < SPARE_SCRATCH) { // no tensor left in it and not current: reuse from its start
                        next = 0;
                        live.set(1);
                        spareScratch.addFirst(this);
                        return;
                    }
                }
            }
            try {
                arena.close();
            } catch (IllegalStateException inUse) {
                live.incrementAndGet(); // a native call still holds the memory: the caller stays open
                throw inUse;
            }
        }
    }

    /**
     * A zero-filled tensor on {@code device}; on a CUDA device the memory is the GPU's.
     *
     * @param device where the memory lives; not null
     * @param dtype the element type; not null
     * @param shape the sizes of the dimensions, each &ge; 0; none for a scalar, shape {@code ()}
     * @return a new zero-filled tensor, owned by the innermost open {@link TensorScope} of this thread if
     *   any
     * @throws BackendUnavailableException if the device cannot be used here (no CUDA library,
     *         driver or GPU), with the reason
     * @throws IllegalArgumentException if dtype (or device) is null, or the shape is null, has a negative
     *   size or more bytes than memory can hold
     */
    public static Tensor zeros(Device device, DType dtype, long... shape) {
        if (device == null) throw new IllegalArgumentException("device: must not be null");
        if (device.kind() == Device.Kind.HOST) return zeros(dtype, shape);
        if (dtype == null) throw new IllegalArgumentException("dtype: must not be null");
        long[] s = checkedShape(shape);
        long bytes = Math.multiplyExact(numel(s), dtype.byteSize());
        DeviceMemory memory = Backends.memory(device);
        TensorScope scope = TensorScope.current();
        Tensor t = new Tensor(memory.allocate(bytes), dtype, s, device, null, memory, null, scope == null);
        if (scope != null) scope.register(t);
        return t;
    }

    /**
     * A copy of this tensor on {@code device} (a new tensor, also when it is on that device
     * already; close it as any other). Copies that involve the host wait until done.
     *
     * @param target the device to copy to; not null
     * @return a new tensor on {@code target} holding a copy of the values
     */
    public Tensor to(Device target) {
        if (target == null) throw new IllegalArgumentException("device: must not be null");
        requireOpen("tensor");
        long bytes = numel() * dtype.byteSize();
        Tensor t = zeros(target, dtype, shape);
        if (bytes == 0) return t;
        if (deviceMemory == null && t.deviceMemory == null) {
            MemorySegment.copy(segment, 0, t.segment, 0, bytes);
        } else if (deviceMemory == null) {
            t.deviceMemory.fromHost(segment, t.segment, bytes);
        } else if (t.deviceMemory == null) {
            deviceMemory.toHost(segment, t.segment, bytes);
        } else if (owner(deviceMemory) == owner(t.deviceMemory)) {
            deviceMemory.copy(segment, t.segment, bytes);
        } else {
            try (Arena staging = Arena.ofConfined()) { // between two GPUs, through the host
                MemorySegment host = staging.allocate(bytes, ALIGNMENT);
                deviceMemory.toHost(segment, host, bytes);
                t.deviceMemory.fromHost(host, t.segment, bytes);
            }
        }
        return t;
    }

    /**
     * A float32 scalar: shape {@code ()}, one element.
     *
     * @param value the value
     * @return a new float32 tensor of shape {@code ()}
     */
    public static Tensor scalar(float value) {
        Tensor t = zeros(DType.FLOAT32);
        t.segment.set(ValueLayout.JAVA_FLOAT, 0, value);
        return t;
    }

    /**
     * A float32 tensor holding a copy of {@code data}; the shape defaults to {@code (data.length)}
     * (use {@link #scalar} for shape {@code ()}).
     *
     * @param data the values, copied; not null
     * @param shape the shape; none for {@code (data.length)}; its elements must number data.length
     * @return a new tensor holding a copy of the data
     * @throws IllegalArgumentException if data is null or the shape does not hold data.length elements
     */
    public static Tensor of(float[] data, long... shape) {
        if (data == null) throw new IllegalArgumentException("data: must not be null");
        Tensor t = zeros(DType.FLOAT32, shapeFor("data", data.length, shape));
        MemorySegment.copy(data, 0, t.segment, ValueLayout.JAVA_FLOAT, 0, data.length);
        return t;
    }

    /**
     * An int32 tensor holding a copy of {@code data}; the shape defaults to {@code (data.length)}.
     *
     * @param data the values, copied; not null
     * @param shape the shape; none for {@code (data.length)}; its elements must number data.length
     * @return a new tensor holding a copy of the data
     * @throws IllegalArgumentException if data is null or the shape does not hold data.length elements
     */
    public static Tensor of(int[] data, long... shape) {
        if (data == null) throw new IllegalArgumentException("data: must not be null");
        Tensor t = zeros(DType.INT32, shapeFor("data", data.length, shape));
        MemorySegment.copy(data, 0, t.segment, ValueLayout.JAVA_INT, 0, data.length);
        return t;
    }

    /**
     * An int64 tensor holding a copy of {@code data}; the shape defaults to {@code (data.length)}.
     *
     * @param data the values, copied; not null
     * @param shape the shape; none for {@code (data.length)}; its elements must number data.length
     * @return a new tensor holding a copy of the data
     * @throws IllegalArgumentException if data is null or the shape does not hold data.length elements
     */
    public static Tensor of(long[] data, long... shape) {
        if (data == null) throw new IllegalArgumentException("data: must not be null");
        Tensor t = zeros(DType.INT64, shapeFor("data", data.length, shape));
        MemorySegment.copy(data, 0, t.segment, ValueLayout.JAVA_LONG, 0, data.length);
        return t;
    }

    /**
     * A float32 tensor holding a copy of {@code data}'s rows, which must all have one length.
     *
     * @param data the rows, copied; not null, at least one row, all of one length
     * @return a new tensor holding a copy of the data
     * @throws IllegalArgumentException if data is null, empty or ragged
     */
    public static Tensor of(float[][] data) {
        if (data == null) throw new IllegalArgumentException("data: must not be null");
        int rows = data.length, cols = rows == 0 ? 0 : data[0].length;
        Tensor t = zeros(DType.FLOAT32, rows, cols);
        for (int i = 0; i < rows; i++) {
            if (data[i] == null || data[i].length != cols) {
                t.close();
                throw new IllegalArgumentException("data: row " + i + " has " + (data[i] == null ? "no array" : data[i].length)
                        + " values, row 0 has " + cols + "; expected a rectangular (" + rows + ", " + cols + ") array");
            }
            MemorySegment.copy(data[i], 0, t.segment, ValueLayout.JAVA_FLOAT, (long) i * cols * 4, cols);
        }
        return t;
    }

    /**
     * A float32 tensor holding a copy of the buffer's remaining values (heap or direct);
     * the buffer's position is not changed.
     *
     * @param data the buffer whose remaining values are copied; not null
     * @param shape the shape; none for {@code (remaining)}; its elements must number the buffer's
     *   remaining values
     * @return a new tensor holding a copy of the data
     */
    public static Tensor of(FloatBuffer data, long... shape) {
        if (data == null) throw new IllegalArgumentException("data: must not be null");
        int n = data.remaining();
        Tensor t = zeros(DType.FLOAT32, shapeFor("data", n, shape));
        if (data.isDirect()) {
            // a direct buffer may be big-endian and may start at any byte
            MemorySegment.copy(MemorySegment.ofBuffer(data), ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(data.order()), 0,
                    t.segment, ValueLayout.JAVA_FLOAT, 0, n);
        } else {
            float[] tmp = new float[n];
            data.duplicate().get(tmp);
            MemorySegment.copy(tmp, 0, t.segment, ValueLayout.JAVA_FLOAT, 0, n);
        }
        return t;
    }

    /**
     * A tensor over the caller's memory, without copying. The segment must be exactly as large
     * as the shape needs and aligned to the element size; native memory is required (a heap
     * segment cannot be handed to native code). The caller keeps ownership: closing the
     * tensor does not free the segment, and freeing the segment first makes the tensor unusable.
     * A read-only segment makes a tensor that losses and ops refuse as an output.
     *
     * <p>A segment carries no byte order: its values are read in the platform's
     * {@linkplain ByteOrder#nativeOrder() native order}. {@code MemorySegment.ofBuffer} of a
     * big-endian buffer (what {@code ByteBuffer.allocateDirect} gives unless told otherwise)
     * therefore wraps bytes that read as other numbers; wrap NIO buffers with
     * {@link #wrap(ByteBuffer, DType, long...)} or {@link #wrap(FloatBuffer, long...)}, which
     * check the order.
     *
     * @param segment native memory of exactly the shape's bytes, aligned to the element size; the caller
     *   keeps ownership
     * @param dtype the element type; not null
     * @param shape the sizes of the dimensions, each &ge; 0; none for a scalar, shape {@code ()}
     * @return a tensor over {@code segment}; closing it does not free the segment
     * @throws IllegalArgumentException if segment or dtype is null, or the segment is a heap segment, is
     *   not exactly the shape's size or is misaligned
     */
    public static Tensor wrap(MemorySegment segment, DType dtype, long... shape) {
        if (segment == null) throw new IllegalArgumentException("segment: must not be null");
        if (dtype == null) throw new IllegalArgumentException("dtype: must not be null");
        long[] s = checkedShape(shape);
        long bytes = Math.multiplyExact(numel(s), dtype.byteSize());
        if (segment.byteSize() != bytes) {
            throw new IllegalArgumentException("segment: " + segment.byteSize() + " bytes, but shape "
                    + formatShape(s) + " of " + dtype + " needs " + bytes);
        }
        if (!segment.isNative()) {
            throw new IllegalArgumentException("segment: a heap segment cannot be passed to native code; "
                    + "use Tensor.of(array) to copy it, or allocate the segment from an Arena");
        }
        if (segment.address() % dtype.byteSize() != 0) {
            throw new IllegalArgumentException("segment: address 0x" + Long.toHexString(segment.address())
                    + " is not aligned to " + dtype.byteSize() + " bytes for " + dtype);
        }
        return new Tensor(segment, dtype, s, Device.HOST, null);
    }

    /**
     * A tensor over a direct buffer's remaining bytes (position to limit), without copying; the
     * buffer's position is not changed. The buffer must be {@linkplain ByteBuffer#isDirect()
     * direct}, in {@linkplain ByteOrder#nativeOrder() native order}, hold exactly the bytes the
     * shape needs from its position, and start at an address aligned to the element size. Each
     * is an {@link IllegalArgumentException} naming {@code buffer} otherwise: a heap buffer
     * cannot be handed to native code (copy it with {@code Tensor.of}), and a big-endian buffer,
     * the default of {@code ByteBuffer.allocateDirect}, would read as other numbers (call
     * {@code buffer.order(ByteOrder.nativeOrder())} before filling it).
     *
     * <p>The buffer keeps owning the memory, as a wrapped segment: closing the tensor frees
     * nothing, and the tensor keeps the buffer reachable. A read-only buffer makes a tensor that
     * losses and ops refuse as an output.
     *
     * @param buffer a direct, native-order buffer whose remaining bytes are exactly the shape's,
     *   starting at an address aligned to the element size; it keeps owning the memory
     * @param dtype the element type; not null
     * @param shape the sizes of the dimensions, each &ge; 0; none for a scalar, shape {@code ()}
     * @return a tensor over the buffer's remaining bytes; closing it does not free them
     * @throws IllegalArgumentException naming {@code buffer} if it is null, a heap buffer, not in
     *   native order, not exactly the shape's size (both sizes stated) or misaligned; naming
     *   {@code dtype} or {@code shape} if dtype is null or the shape is null or has a negative dimension
     */
    public static Tensor wrap(ByteBuffer buffer, DType dtype, long... shape) {
        if (buffer == null) throw new IllegalArgumentException("buffer: must not be null");
        if (dtype == null) throw new IllegalArgumentException("dtype: must not be null");
        return wrapBuffer(buffer, "ByteBuffer", 1, buffer.order(), dtype, shape);
    }

    /**
     * A float32 tensor over a direct buffer's remaining elements, without copying; the rules of
     * {@link #wrap(ByteBuffer, DType, long...)}. A view such as {@code byteBuffer.asFloatBuffer()}
     * takes the byte buffer's order at the time it is made, so set the order first.
     *
     * @param buffer a direct, native-order buffer whose remaining elements number exactly the
     *   shape's, starting at an aligned address; it keeps owning the memory
     * @param shape the sizes of the dimensions, each &ge; 0; none for a scalar, shape {@code ()}
     * @return a float32 tensor over the buffer's remaining elements; closing it does not free them
     * @throws IllegalArgumentException naming {@code buffer} if it is null, a heap buffer, not in
     *   native order, not exactly the shape's size (both sizes stated) or misaligned; naming
     *   {@code shape} if it is null or has a negative dimension
     */
    public static Tensor wrap(FloatBuffer buffer, long... shape) {
        if (buffer == null) throw new IllegalArgumentException("buffer: must not be null");
        return wrapBuffer(buffer, "FloatBuffer", 4, buffer.order(), DType.FLOAT32, shape);
    }

    /**
     * An int32 tensor over a direct buffer's remaining elements, without copying; the rules of
     * {@link #wrap(ByteBuffer, DType, long...)}. A view such as {@code byteBuffer.asIntBuffer()}
     * takes the byte buffer's order at the time it is made, so set the order first.
     *
     * @param buffer a direct, native-order buffer whose remaining elements number exactly the
     *   shape's, starting at an aligned address; it keeps owning the memory
     * @param shape the sizes of the dimensions, each &ge; 0; none for a scalar, shape {@code ()}
     * @return a int32 tensor over the buffer's remaining elements; closing it does not free them
     * @throws IllegalArgumentException naming {@code buffer} if it is null, a heap buffer, not in
     *   native order, not exactly the shape's size (both sizes stated) or misaligned; naming
     *   {@code shape} if it is null or has a negative dimension
     */
    public static Tensor wrap(IntBuffer buffer, long... shape) {
        if (buffer == null) throw new IllegalArgumentException("buffer: must not be null");
        return wrapBuffer(buffer, "IntBuffer", 4, buffer.order(), DType.INT32, shape);
    }

    /**
     * An int64 tensor over a direct buffer's remaining elements, without copying; the rules of
     * {@link #wrap(ByteBuffer, DType, long...)}. A view such as {@code byteBuffer.asLongBuffer()}
     * takes the byte buffer's order at the time it is made, so set the order first.
     *
     * @param buffer a direct, native-order buffer whose remaining elements number exactly the
     *   shape's, starting at an aligned address; it keeps owning the memory
     * @param shape the sizes of the dimensions, each &ge; 0; none for a scalar, shape {@code ()}
     * @return a int64 tensor over the buffer's remaining elements; closing it does not free them
     * @throws IllegalArgumentException naming {@code buffer} if it is null, a heap buffer, not in
     *   native order, not exactly the shape's size (both sizes stated) or misaligned; naming
     *   {@code shape} if it is null or has a negative dimension
     */
    public static Tensor wrap(LongBuffer buffer, long... shape) {
        if (buffer == null) throw new IllegalArgumentException("buffer: must not be null");
        return wrapBuffer(buffer, "LongBuffer", 8, buffer.order(), DType.INT64, shape);
    }

    private static Tensor wrapBuffer(Buffer buffer, String kind, int unit, ByteOrder order, DType dtype, long[] shape) {
        long[] s = checkedShape(shape);
        if (!buffer.isDirect()) {
            throw new IllegalArgumentException("buffer: a heap (non-direct) " + kind + " is not native memory and cannot "
                    + "be wrapped without copying; use Tensor.of to copy its values, or allocate it with "
                    + "ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder())");
        }
        if (order != ByteOrder.nativeOrder()) {
            throw new IllegalArgumentException("buffer: a " + order + " " + kind + " holds values in the other byte order "
                    + "than this platform's " + ByteOrder.nativeOrder() + ", and would read as other numbers (ByteBuffer."
                    + "allocateDirect is BIG_ENDIAN until told otherwise); call buffer.order(ByteOrder.nativeOrder()) on the "
                    + "ByteBuffer before filling it" + (unit > 1 ? " and taking this view of it" : "")
                    + (dtype == DType.FLOAT32 && unit > 1 ? ", or copy it with Tensor.of(FloatBuffer), which converts" : ""));
        }
        long needed = Math.multiplyExact(numel(s), dtype.byteSize()) / unit;
        if (buffer.remaining() != needed) {
            String what = unit == 1 ? " bytes" : " elements";
            throw new IllegalArgumentException("buffer: " + buffer.remaining() + what + " remaining (position "
                    + buffer.position() + ", limit " + buffer.limit() + ", capacity " + buffer.capacity() + "), but shape "
                    + formatShape(s) + " of " + dtype + " needs " + needed + what);
        }
        MemorySegment segment = MemorySegment.ofBuffer(buffer);
        if (segment.address() % dtype.byteSize() != 0) {
            throw new IllegalArgumentException("buffer: address 0x" + Long.toHexString(segment.address()) + " (at its "
                    + "position " + buffer.position() + ") is not aligned to " + dtype.byteSize() + " bytes for " + dtype
                    + "; wrap a buffer that starts at an aligned address, or copy it with Tensor.of");
        }
        return new Tensor(segment, dtype, s, Device.HOST, null);
    }

    // ---- views ----------------------------------------------------------------------------

    /**
     * Rows {@code [from, from + count)} of dimension 0 as a view of the same memory, on the same
     * device: no copy. The view does not own the memory: closing it frees nothing, and it must not
     * be used after this tensor is closed.
     *
     * @param from the first row, in [0, size(0)]
     * @param count the number of rows, &ge; 0, with from + count &le; size(0)
     * @return a view of those rows, of shape {@code (count, ...)}
     * @throws IllegalArgumentException if the rows are out of range
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor rows(long from, long count) {
        requireOpen("tensor");
        if (rank() == 0) throw new IllegalArgumentException("rows: a scalar " + describe() + " has no rows");
        if (from < 0 || count < 0 || from > shape[0] - count) {
            throw new IllegalArgumentException("rows: [" + from + ", " + from + " + " + count + ") is outside the "
                    + shape[0] + " rows of " + describe());
        }
        long[] s = shape.clone();
        s[0] = count;
        long rowBytes = shape[0] == 0 ? 0 : numel() / shape[0] * dtype.byteSize();
        return view(from * rowBytes, count * rowBytes, s);
    }

    /**
     * The same values with another shape of as many elements (row-major, as PyTorch's
     * {@code view}): no copy, same device; closing the view frees nothing.
     *
     * @param newShape the new sizes, whose product is {@link #numel()}
     * @return a view of the same memory with the new shape
     * @throws IllegalArgumentException if the element counts differ
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor reshape(long... newShape) {
        requireOpen("tensor");
        long[] s = checkedShape(newShape);
        if (numel(s) != numel()) {
            throw new IllegalArgumentException("shape: " + formatShape(s) + " has " + numel(s) + " elements, but "
                    + describe() + " has " + numel());
        }
        return view(0, numel() * dtype.byteSize(), s);
    }

    private Tensor view(long offset, long bytes, long[] s) {
        // A device segment is a zero-length address: a view is that address moved by offset.
        MemorySegment part = deviceMemory == null ? segment.asSlice(offset, bytes)
                : MemorySegment.ofAddress(segment.address() + offset);
        return new Tensor(part, dtype, s, device, null, deviceMemory == null ? null : new BorrowedMemory(deviceMemory),
                base != null ? base : this, false);
    }

    private static DeviceMemory owner(DeviceMemory m) {
        return m instanceof BorrowedMemory b ? b.owner() : m;
    }

    /** A view's device memory: copies as its owner's, never frees. */
    private record BorrowedMemory(DeviceMemory owner) implements DeviceMemory {
        @Override
        public MemorySegment allocate(long bytes) {
            return owner.allocate(bytes);
        }

        @Override
        public void free(MemorySegment address) {
            // the owner frees the memory
        }

        @Override
        public void toHost(MemorySegment address, MemorySegment host, long bytes) {
            owner.toHost(address, host, bytes);
        }

        @Override
        public void fromHost(MemorySegment host, MemorySegment address, long bytes) {
            owner.fromHost(host, address, bytes);
        }

        @Override
        public void copy(MemorySegment from, MemorySegment to, long bytes) {
            owner.copy(from, to, bytes);
        }
    }

    // ---- reading --------------------------------------------------------------------------

    /**
     * The element type.
     *
     * @return the element type
     */
    public DType dtype() {
        return dtype;
    }

    /**
     * A copy of the shape.
     *
     * @return a new array holding the sizes of the dimensions
     */
    public long[] shape() {
        return shape.clone();
    }

    /**
     * Size of one dimension; negative indices count from the end.
     *
     * @param dim the dimension, in [-rank, rank)
     * @return the size of that dimension
     */
    public long size(int dim) {
        int d = dim < 0 ? dim + shape.length : dim;
        if (d < 0 || d >= shape.length) {
            throw new IllegalArgumentException("dim: " + dim + " is out of range for shape " + formatShape(shape));
        }
        return shape[d];
    }

    /**
     * Number of dimensions.
     *
     * @return the number of dimensions, 0 for a scalar
     */
    public int rank() {
        return shape.length;
    }

    /**
     * Number of elements.
     *
     * @return the number of elements, 1 for a scalar
     */
    public long numel() {
        return numel(shape);
    }

    /**
     * The device whose memory holds the values.
     *
     * @return the device
     */
    public Device device() {
        return device;
    }

    /**
     * Whether {@link #close()} has been called (on this tensor, or on the scope that owns it).
     *
     * @return true once closed
     */
    public boolean isClosed() {
        return closed;
    }

    /**
     * The storage. Valid while the tensor is open; do not keep it beyond. For a device tensor,
     * a zero-length segment holding the device address (never readable from Java).
     *
     * @return the memory of this tensor
     */
    public MemorySegment segment() {
        if (closed || base != null && base.closed || !segment.scope().isAlive() || !segment.isAccessibleBy(Thread.currentThread())) {
            // freed by another thread since the call checked it: name it as that call did
            String name = CallArguments.nameOf(this);
            requireOpen(name != null ? name : "tensor");
        }
        return segment;
    }

    /**
     * The tensor's memory as a direct {@link ByteBuffer} in {@linkplain ByteOrder#nativeOrder()
     * native order} (position 0, limit the tensor's bytes), without copying: writes through the
     * buffer change the tensor and the other way round. Read-only memory (a read-only segment or
     * buffer given to {@code wrap}) gives a read-only buffer.
     *
     * <p>The buffer is valid while the tensor is open and its memory alive, as {@link #segment()}:
     * keep the tensor open (and reachable: an unreachable tensor's memory is freed) while the
     * buffer is used. Once the memory is freed (the tensor, its scope, or a wrapped segment's
     * arena closed), access through the buffer throws {@link IllegalStateException}.
     *
     * @return a native-order view of the tensor's bytes
     * @throws IllegalStateException if the tensor is closed, on a CUDA device (copy it with
     *         {@code to(Device.HOST)}), or larger than a Java buffer can address (2<sup>31</sup> - 1
     *         bytes; take {@link #rows} or use {@link #segment()})
     */
    public ByteBuffer asByteBuffer() {
        requireOpen("tensor");
        if (deviceMemory != null) {
            throw new IllegalStateException("tensor " + describe() + " is in device memory, which Java cannot address; "
                    + "copy it with to(Device.HOST) first");
        }
        long bytes = numel() * dtype.byteSize();
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalStateException("tensor " + describe() + " has " + bytes + " bytes, more than a Java buffer "
                    + "can address (" + Integer.MAX_VALUE + "); take rows(from, count) of it, or use segment()");
        }
        return segment.asSlice(0, bytes).asByteBuffer().order(ByteOrder.nativeOrder());
    }

    /**
     * A float32 tensor's memory as a direct {@link FloatBuffer}, without copying; the rules of {@link #asByteBuffer()}.
     *
     * @return a native-order view of the tensor's values
     * @throws IllegalStateException as {@link #asByteBuffer()}, or if the tensor is not float32
     */
    public FloatBuffer asFloatBuffer() {
        requireDType(DType.FLOAT32);
        return asByteBuffer().asFloatBuffer();
    }

    /**
     * An int32 tensor's memory as a direct {@link IntBuffer}, without copying; the rules of {@link #asByteBuffer()}.
     *
     * @return a native-order view of the tensor's values
     * @throws IllegalStateException as {@link #asByteBuffer()}, or if the tensor is not int32
     */
    public IntBuffer asIntBuffer() {
        requireDType(DType.INT32);
        return asByteBuffer().asIntBuffer();
    }

    /**
     * An int64 tensor's memory as a direct {@link LongBuffer}, without copying; the rules of {@link #asByteBuffer()}.
     *
     * @return a native-order view of the tensor's values
     * @throws IllegalStateException as {@link #asByteBuffer()}, or if the tensor is not int64
     */
    public LongBuffer asLongBuffer() {
        requireDType(DType.INT64);
        return asByteBuffer().asLongBuffer();
    }

    /**
     * The values of a float32 tensor.
     *
     * @return a new array of the values in row-major order
     * @throws IllegalStateException if the tensor is closed or not float32
     */
    public float[] toFloatArray() {
        requireDType(DType.FLOAT32);
        if (numel() == 0) return new float[0];
        return onHost(h -> h.toArray(ValueLayout.JAVA_FLOAT));
    }

    /**
     * The values of an int32 tensor.
     *
     * @return a new array of the values in row-major order
     * @throws IllegalStateException if the tensor is closed or not int32
     */
    public int[] toIntArray() {
        requireDType(DType.INT32);
        if (numel() == 0) return new int[0];
        return onHost(h -> h.toArray(ValueLayout.JAVA_INT));
    }

    /**
     * The values of an int32 or int64 tensor, as longs.
     *
     * @return a new array of the values in row-major order
     * @throws IllegalStateException if the tensor is closed or neither int32 nor int64
     */
    public long[] toLongArray() {
        requireOpen("tensor");
        if (dtype == DType.INT32) return Arrays.stream(toIntArray()).asLongStream().toArray();
        if (dtype != DType.INT64) throw new IllegalStateException("tensor " + describe() + " holds " + dtype + ", not int32 or int64");
        if (numel() == 0) return new long[0];
        return onHost(h -> h.toArray(ValueLayout.JAVA_LONG));
    }

    /**
     * The value of a one-element float32 tensor, such as a reduced loss.
     *
     * @return the value
     * @throws IllegalStateException if the tensor is closed, not float32, or does not hold exactly one
     *   element
     */
    public float item() {
        requireDType(DType.FLOAT32);
        if (numel() != 1) {
            throw new IllegalStateException("item(): tensor of shape " + formatShape(shape) + " has " + numel()
                    + " elements, expected 1");
        }
        return onHost(h -> h.get(ValueLayout.JAVA_FLOAT, 0));
    }

    /** Applies read to the host storage, or to a host copy of a device tensor's storage. */
    private <R> R onHost(Function<MemorySegment, R> read) {
        if (deviceMemory == null) return read.apply(segment);
        long bytes = numel() * dtype.byteSize();
        try (Arena staging = Arena.ofConfined()) {
            MemorySegment host = staging.allocate(Math.max(bytes, 1), ALIGNMENT).asSlice(0, bytes);
            if (bytes > 0) deviceMemory.toHost(segment, host, bytes);
            return read.apply(host);
        }
    }

    /**
     * Throws {@link IllegalStateException} naming {@code argument} unless this tensor can be used
     * by the calling thread: it is open, its memory has not been freed (a view's base tensor, a
     * wrapped segment's arena, a scope), and that memory is accessible from this thread (a
     * wrapped segment of a confined arena belongs to the thread that opened it). Every loss and
     * op calls this for every tensor before any native call.
     *
     * @param argument the name of the argument the tensor was passed as, for the message
     * @throws IllegalStateException if the tensor cannot be used by this thread, naming {@code argument}
     */
    public void requireOpen(String argument) {
        if (closed) {
            throw new IllegalStateException(argument + ": tensor " + describe() + " is closed");
        }
        if (base != null && base.closed) {
            throw new IllegalStateException(argument + ": tensor " + describe() + " is a view of a tensor that is closed");
        }
        if (!segment.scope().isAlive()) {
            throw new IllegalStateException(argument + ": the memory of tensor " + describe() + " has been freed ("
                    + (base != null ? "this is a view of a tensor that is closed" : ownArena == null && deviceMemory == null
                    ? "the arena of the wrapped segment, or the TensorScope, is closed" : "closed") + ")");
        }
        if (!segment.isAccessibleBy(Thread.currentThread())) {
            throw new IllegalStateException(argument + ": the memory of tensor " + describe() + " is confined to another "
                    + "thread (a wrapped segment of a confined arena); use it on the thread that opened the arena, or "
                    + "allocate the segment from a shared arena");
        }
    }

    /**
     * Closes the tensor; frees its memory unless it is wrapped or owned by a scope. Idempotent.
     * A small tensor (64 KiB or less, made outside a scope) lies in a shared slab of 4 MiB that is
     * freed when its last tensor is closed; until then a buffer view of the closed tensor still
     * reads that tensor's own last values (never another tensor's), after that it throws.
     *
     * @throws IllegalStateException if a native call on another thread is using the memory right
     *         now and it would be freed; the tensor stays open and can be closed once that call has
     *         returned
     */
    @Override
    public void close() {
        if (closed) return;
        synchronized (this) {
            if (closed) return;
            if (ownArena != null || slab != null) {
                try {
                    if (ownArena != null) ownArena.close();
                    else slab.release();
                } catch (IllegalStateException inUse) {
                    throw new IllegalStateException("tensor " + describe() + " is in use by a call on another thread; "
                            + "it stays open: close it after that call returns", inUse);
                }
            }
            closed = true;
            if (deviceMemory != null && reclaim != null) deviceMemory.free(segment); // stream-ordered: after queued work
            if (reclaim != null) reclaim.clean(); // unregisters: the memory is freed already
        }
    }

    /** Marks the tensor closed when its scope frees the memory (device memory: frees it now). */
    void closeFromScope() {
        synchronized (this) {
            if (!closed && deviceMemory != null) deviceMemory.free(segment);
            closed = true;
        }
    }

    /**
     * The safety net for tensors that are never closed: once a tensor that owns its memory (not a
     * view, not a wrapped segment, not in a scope) is unreachable, a {@link Cleaner} frees that
     * memory. With the system property {@code jnce.debug.leaks=true} each such tensor is reported
     * by a WARNING on the {@code dev.jnce} logger, naming where it was created.
     */
    private static final class Reclaimer implements Runnable {
        private static final Cleaner CLEANER = Cleaner.create(r -> {
            Thread t = new Thread(r, "jnce-tensor-cleaner");
            t.setDaemon(true);
            return t;
        });
        private static final boolean DEBUG = Boolean.getBoolean("jnce.debug.leaks");
        private static final System.Logger LOG = System.getLogger("dev.jnce");

        private final Arena arena;
        private final Slab slab;
        private final DeviceMemory device;
        private final MemorySegment deviceAddress;
        private final String what;
        private final Throwable createdAt;
        private volatile boolean done;

        private Reclaimer(Arena arena, Slab slab, DeviceMemory device, MemorySegment deviceAddress, String what) {
            this.arena = arena;
            this.slab = slab;
            this.device = device;
            this.deviceAddress = deviceAddress;
            this.what = what;
            this.createdAt = DEBUG ? new Throwable("tensor created here") : null;
        }

        static Cleaner.Cleanable register(Tensor t, Arena arena, Slab slab, DeviceMemory device, MemorySegment segment) {
            Reclaimer r = new Reclaimer(arena, slab, device, device != null ? segment : null, DEBUG ? t.describe() : null);
            Cleaner.Cleanable c = CLEANER.register(t, r);
            return () -> {
                r.done = true; // close() freed the memory: nothing left to reclaim
                c.clean();
            };
        }

        @Override
        public void run() {
            if (done) return;
            if (createdAt != null) {
                LOG.log(System.Logger.Level.WARNING, "jnce: tensor " + what + " was never closed; its memory is freed "
                        + "now that it is unreachable", createdAt);
            }
            try {
                if (arena != null) arena.close();
                if (slab != null) slab.release();
                if (device != null) device.free(deviceAddress);
            } catch (RuntimeException e) {
                // an unreachable tensor's memory cannot be in use; nothing more can be done here
            }
        }
    }

    /**
     * For example {@code float32(8, 1)}; tensors not on the host add {@code " on cuda:0"}.
     *
     * @return the dtype and shape, and the device when not the host
     */
    public String describe() {
        return dtype + formatShape(shape) + (device.equals(Device.HOST) ? "" : " on " + device);
    }

    @Override
    public String toString() {
        return "Tensor[" + describe() + (closed ? ", closed" : "") + "]";
    }

    /**
     * Formats a shape the way messages do: {@code (8192, 32000)}.
     *
     * @param shape the sizes of the dimensions
     * @return the shape in parentheses, sizes separated by commas
     */
    public static String formatShape(long... shape) {
        StringBuilder b = new StringBuilder("(");
        for (int i = 0; i < shape.length; i++) b.append(i == 0 ? "" : ", ").append(shape[i]);
        return b.append(')').toString();
    }

    private void requireDType(DType expected) {
        requireOpen("tensor");
        if (dtype != expected) {
            throw new IllegalStateException("tensor " + describe() + " holds " + dtype + ", not " + expected);
        }
    }

    private static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    private static long[] checkedShape(long[] shape) {
        if (shape == null) throw new IllegalArgumentException("shape: must not be null");
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("shape: " + formatShape(shape) + " has a negative dimension");
        }
        try {
            Math.multiplyExact(numel(shape), 8L); // the bytes of the widest dtype must be countable
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("shape: " + formatShape(shape) + " has more elements than memory can hold");
        }
        return shape.clone();
    }

    private static long[] shapeFor(String argument, int length, long[] shape) {
        if (shape == null || shape.length == 0) return new long[] {length};
        long[] s = checkedShape(shape);
        if (numel(s) != length) {
            throw new IllegalArgumentException(argument + ": " + length + " values do not fill shape "
                    + formatShape(s) + " (" + numel(s) + " elements)");
        }
        return s;
    }
}
