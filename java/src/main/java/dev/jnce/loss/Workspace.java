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
 *
 * <p>A second pool, under the same rules with its own caps, lends the large L2-normalised copies
 * of the embeddings: a fresh 8 MiB copy (N = 8192, D = 256) took its page faults inside the
 * normalisation, 12 ms against 1.5 ms for one already touched on the 2-core Xeon VM, about 6% of
 * the one-tensor step there.
 */
final class Workspace {
    /** Idle buffers kept per device: one per processor, at least 2. */
    static final int MAX_IDLE = Math.max(2, Runtime.getRuntime().availableProcessors());

    /** Idle bytes kept per device (beyond the buffer returned last): one row block of the sweeps per idle buffer. */
    static final long MAX_IDLE_BYTES = MAX_IDLE * Contrastive.BLOCK_BYTES;

    /**
     * Idle copies kept per device: three per processor, at least 6 (a call holds up to three
     * normalised copies at once: queries, positives and explicit negatives).
     */
    static final int MAX_IDLE_COPIES = 3 * MAX_IDLE;

    /** The logit buffers. */
    private static final Pool LOGITS = new Pool(MAX_IDLE, MAX_IDLE_BYTES);

    /**
     * The large normalised copies of the embeddings ({@link Contrastive#prepared}): apart from the
     * logits, so that returning a copy after its call's logit buffer never evicts that buffer.
     */
    private static final Pool COPIES = new Pool(MAX_IDLE_COPIES, MAX_IDLE_BYTES);

    private Workspace() {
    }

    /** A buffer lent to one call; closing it gives it back. Use it from the call that borrowed it only. */
    static final class Lease implements AutoCloseable {
        private final Pool pool;
        private final Device device;
        private final Tensor view;
        private Tensor buffer;

        private Lease(Pool pool, Device device, Tensor buffer, long[] shape) {
            this.pool = pool;
            this.device = device;
            this.buffer = buffer;
            long numel = 1;
            for (long d : shape) numel = Math.multiplyExact(numel, d);
            this.view = buffer.rows(0, numel).reshape(shape);
        }

        /** An (n, m) float32 view of the borrowed buffer, valid until the lease is closed; do not close it. */
        Tensor logits() {
            return view;
        }

        /** The borrowed buffer's view in the shape asked for, valid until the lease is closed; do not close it. */
        Tensor tensor() {
            return view;
        }

        /** Gives the buffer back to the pool. Idempotent. */
        @Override
        public void close() {
            Tensor b = buffer;
            buffer = null;
            if (b != null) pool.giveBack(device, b);
        }
    }

    /** Lends an (n, m) float32 logit buffer on the call's device: an idle one large enough, else a new one. */
    static Lease borrow(Kernels k, long n, long m) {
        return LOGITS.borrow(k, new long[] {n, m});
    }

    /**
     * Lends a float32 buffer of the shape from the pool of copies (apart from the logit buffers);
     * its values are whatever an earlier call left: the borrower writes it whole before reading.
     */
    static Lease borrowCopy(Kernels k, long... shape) {
        return COPIES.borrow(k, shape.clone());
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

    /** One pool: per device, the idle buffers, most recently returned first, within its caps. */
    private static final class Pool {
        private final int maxIdle;
        private final long maxIdleBytes;
        /** Guarded by the class lock of Workspace. */
        private final Map<Device, Deque<Tensor>> idle = new HashMap<>();
        private long idleBytes; // all devices; guarded by the class lock of Workspace

        Pool(int maxIdle, long maxIdleBytes) {
            this.maxIdle = maxIdle;
            this.maxIdleBytes = maxIdleBytes;
        }

        Lease borrow(Kernels k, long[] shape) {
            long need = 1;
            for (long d : shape) need = Math.multiplyExact(need, d);
            long elements = need;
            Device device = k.device();
            Tensor found = take(device, need);
            if (found == null) {
                // not from the scratch slabs: a pooled buffer lives on between calls and would keep its slab from reuse
                found = device.equals(Device.HOST) ? Tensor.zerosUnscoped(DType.FLOAT32, elements)
                        : outsideAnyScope(() -> Tensor.zeros(device, DType.FLOAT32, elements));
            }
            return new Lease(this, device, found, shape);
        }

        /** The smallest open idle buffer of device with at least need elements, taken out of the pool; or null. */
        private Tensor take(Device device, long need) {
            Tensor best = null;
            synchronized (Workspace.class) {
                Deque<Tensor> list = idle.get(device);
                if (list == null) return null;
                for (Iterator<Tensor> it = list.iterator(); it.hasNext(); ) {
                    Tensor t = it.next();
                    if (t.isClosed()) { // only the pool closes its buffers; dropped rather than lent should it happen
                        it.remove();
                        idleBytes -= bytes(t);
                    } else if (t.numel() >= need && (best == null || t.numel() < best.numel())) {
                        best = t;
                    }
                }
                if (best != null) {
                    list.remove(best);
                    idleBytes -= bytes(best);
                }
            }
            return best;
        }

        /** Puts a buffer back first in its device's idle list and frees the least recently returned ones beyond the caps. */
        private void giveBack(Device device, Tensor buffer) {
            List<Tensor> evicted = new ArrayList<>(0);
            synchronized (Workspace.class) {
                if (buffer.isClosed()) return;
                Deque<Tensor> list = idle.computeIfAbsent(device, d -> new ArrayDeque<>());
                list.addFirst(buffer);
                idleBytes += bytes(buffer);
                long deviceBytes = 0;
                for (Tensor t : list) deviceBytes += bytes(t);
                while (list.size() > 1 && (list.size() > maxIdle || deviceBytes > maxIdleBytes)) {
                    Tensor t = list.removeLast();
                    deviceBytes -= bytes(t);
                    idleBytes -= bytes(t);
                    evicted.add(t);
                }
            }
            for (Tensor t : evicted) t.close(); // outside the lock: freeing a shared arena waits for every thread
        }

        /** Empties the pool (under the class lock); returns the buffers to free. */
        private List<Tensor> clear() {
            List<Tensor> freed = new ArrayList<>();
            for (Deque<Tensor> list : idle.values()) freed.addAll(list);
            idle.clear();
            idleBytes = 0;
            return freed;
        }

        private int count() {
            int count = 0;
            for (Deque<Tensor> list : idle.values()) count += list.size();
            return count;
        }
    }

    /** Frees every idle buffer, logits and copies; those lent to calls in progress come back to the pool when the calls end. */
    static void releaseIdle() {
        List<Tensor> freed = new ArrayList<>();
        synchronized (Workspace.class) {
            freed.addAll(LOGITS.clear());
            freed.addAll(COPIES.clear());
        }
        for (Tensor t : freed) t.close();
    }

    /** Bytes held by idle logit buffers, all devices (for tests of the bound). */
    static synchronized long idleBytes() {
        return LOGITS.idleBytes;
    }

    /** Idle logit buffers, all devices (for tests of the bound). */
    static synchronized int idleCount() {
        return LOGITS.count();
    }

    /** Bytes held by idle copies, all devices (for tests of the bound). */
    static synchronized long idleCopyBytes() {
        return COPIES.idleBytes;
    }

    /** Idle copies, all devices (for tests of the bound). */
    static synchronized int idleCopyCount() {
        return COPIES.count();
    }

    private static long bytes(Tensor t) {
        return t.numel() * Float.BYTES;
    }
}
