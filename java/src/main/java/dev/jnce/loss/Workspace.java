package dev.jnce.loss;

import dev.jnce.DType;
import dev.jnce.Device;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.function.Supplier;

/**
 * The logit buffers of the contrastive losses (InfoNce, NtXent, ClipLoss, SigLipLoss): one pool
 * per device of idle float32 buffers, shared by every thread. A call borrows one buffer for its
 * whole run and gives it back when the run ends, failed or not (a {@link Lease} in
 * try-with-resources or a finally block). A fresh, zero-filled N×N buffer per call cost a
 * quarter of InfoNCE's time at N = 16384 (page faults, memset, unmap); a borrowed one is
 * overwritten by the GEMM anyway.
 *
 * <p>The rule: borrowing takes the smallest idle buffer that is large enough (a larger one
 * serves a smaller call), else allocates one of the size asked for. Giving back puts the buffer
 * first in its device's idle list, then frees the least recently returned ones until at most
 * {@link #MAX_IDLE} buffers and at most {@link #MAX_IDLE_BYTES} bytes are idle on that device;
 * the buffer just returned always stays, so one thread's loop allocates nothing after its
 * first call, whatever its size.
 *
 * <p>Buffers belong to no TensorScope (a scope closed on the thread that made one must not free
 * it under another thread's call). Memory bound, per device: the buffers lent to calls in progress (one per call) plus the
 * idle ones, at most {@link #MAX_IDLE} buffers of at most max({@link #MAX_IDLE_BYTES}, the
 * largest buffer returned) bytes in all — never a buffer per thread that ever ran a call.
 * {@link #releaseIdle()} frees the idle buffers. Thread-safe.
 */
final class Workspace {
    /** Idle buffers kept per device: one per processor, at least 2. */
    static final int MAX_IDLE = Math.max(2, Runtime.getRuntime().availableProcessors());

    /** Idle bytes kept per device (beyond the buffer returned last): one row block of the sweeps per idle buffer. */
    static final long MAX_IDLE_BYTES = MAX_IDLE * Contrastive.BLOCK_BYTES;

    /** Per device, the idle buffers, most recently returned first. Guarded by the class lock. */
    private static final Map<Device, Deque<Tensor>> IDLE = new HashMap<>();
    private static long idleBytes; // all devices; guarded by the class lock

    private Workspace() {
    }

    /** A buffer lent to one call; closing it gives it back. Use it from the call that borrowed it only. */
    static final class Lease implements AutoCloseable {
        private final Device device;
        private final Tensor logits;
        private Tensor buffer;

        private Lease(Device device, Tensor buffer, long n, long m) {
            this.device = device;
            this.buffer = buffer;
            this.logits = buffer.rows(0, n * m).reshape(n, m);
        }

        /** An (n, m) float32 view of the borrowed buffer, valid until the lease is closed; do not close it. */
        Tensor logits() {
            return logits;
        }

        /** Gives the buffer back to the pool. Idempotent. */
        @Override
        public void close() {
            Tensor b = buffer;
            buffer = null;
            if (b != null) giveBack(device, b);
        }
    }

    /** Lends an (n, m) float32 buffer on the call's device: an idle one large enough, else a new one. */
    static Lease borrow(Kernels k, long n, long m) {
        long need = Math.multiplyExact(n, m);
        Device device = k.device();
        Tensor found = take(device, need);
        if (found == null) {
            // not from the scratch slabs: a pooled buffer lives on between calls and would keep its slab from reuse
            found = device.equals(Device.HOST) ? Tensor.zerosUnscoped(DType.FLOAT32, need)
                    : outsideAnyScope(() -> Tensor.zeros(device, DType.FLOAT32, need));
        }
        return new Lease(device, found, n, m);
    }

    /**
     * What {@code make} returns, made on a thread with no TensorScope open, so that it belongs to
     * none. A pooled buffer is lent to other threads: freed with the scope of the thread that
     * happened to make it, it would be freed under another thread's call. (Host buffers are made
     * unscoped directly; a device tensor has no unscoped factory.) Waits for the maker even when
     * interrupted, so that nothing made is lost.
     */
    static Tensor outsideAnyScope(Supplier<Tensor> make) {
        FutureTask<Tensor> task = new FutureTask<>(make::get);
        Thread.ofVirtual().name("jnce-workspace").start(task);
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return task.get();
                } catch (InterruptedException e) {
                    interrupted = true;
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof RuntimeException r) throw r;
                    if (e.getCause() instanceof Error err) throw err;
                    throw new IllegalStateException(e.getCause());
                }
            }
        } finally {
            if (interrupted) Thread.currentThread().interrupt();
        }
    }

    /** The smallest open idle buffer of device with at least need elements, taken out of the pool; or null. */
    private static Tensor take(Device device, long need) {
        Tensor best = null;
        synchronized (Workspace.class) {
            Deque<Tensor> idle = IDLE.get(device);
            if (idle == null) return null;
            for (Iterator<Tensor> it = idle.iterator(); it.hasNext(); ) {
                Tensor t = it.next();
                if (t.isClosed()) { // only the pool closes its buffers; dropped rather than lent should it happen
                    it.remove();
                    idleBytes -= bytes(t);
                } else if (t.numel() >= need && (best == null || t.numel() < best.numel())) {
                    best = t;
                }
            }
            if (best != null) {
                idle.remove(best);
                idleBytes -= bytes(best);
            }
        }
        return best;
    }

    /** Puts a buffer back first in its device's idle list and frees the least recently returned ones beyond the caps. */
    private static void giveBack(Device device, Tensor buffer) {
        List<Tensor> evicted = new ArrayList<>(0);
        synchronized (Workspace.class) {
            if (buffer.isClosed()) return;
            Deque<Tensor> idle = IDLE.computeIfAbsent(device, d -> new ArrayDeque<>());
            idle.addFirst(buffer);
            idleBytes += bytes(buffer);
            long deviceBytes = 0;
            for (Tensor t : idle) deviceBytes += bytes(t);
            while (idle.size() > 1 && (idle.size() > MAX_IDLE || deviceBytes > MAX_IDLE_BYTES)) {
                Tensor t = idle.removeLast();
                deviceBytes -= bytes(t);
                idleBytes -= bytes(t);
                evicted.add(t);
            }
        }
        for (Tensor t : evicted) t.close(); // outside the lock: freeing a shared arena waits for every thread
    }

    /** Frees every idle buffer; those lent to calls in progress come back to the pool when the calls end. */
    static void releaseIdle() {
        List<Tensor> freed = new ArrayList<>();
        synchronized (Workspace.class) {
            for (Deque<Tensor> idle : IDLE.values()) freed.addAll(idle);
            IDLE.clear();
            idleBytes = 0;
        }
        for (Tensor t : freed) t.close();
    }

    /** Bytes held by idle buffers, all devices (for tests of the bound). */
    static synchronized long idleBytes() {
        return idleBytes;
    }

    /** Idle buffers, all devices (for tests of the bound). */
    static synchronized int idleCount() {
        int count = 0;
        for (Deque<Tensor> idle : IDLE.values()) count += idle.size();
        return count;
    }

    private static long bytes(Tensor t) {
        return t.numel() * Float.BYTES;
    }
}
