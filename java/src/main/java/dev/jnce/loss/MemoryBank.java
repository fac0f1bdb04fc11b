package dev.jnce.loss;

import dev.jnce.DType;
import dev.jnce.Device;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;

import java.util.Arrays;

/**
 * A MoCo-style queue of past keys (He et al. 2020): a ring buffer of at most {@code capacity}
 * rows (capacity, D) that feeds InfoNCE's shared-negatives form. {@link #enqueue} writes a
 * batch's keys (from the encoder, or from a momentum encoder: the bank stores whatever keys it
 * is given, and they are constants of the loss) over the oldest rows once the bank is full;
 * {@link #negatives()} is the live part. A typical step:
 *
 * <pre>{@code
 * try (MemoryBank bank = MemoryBank.create(65536, 128)) {
 *     for (...) {
 *         try (InfoNce.Result r = bank.forwardBackward(loss, queries, keys)) { ... }  // the bank as negatives
 *         bank.enqueue(momentumKeys);                                                 // then the batch joins it
 *     }
 * }
 * }</pre>
 *
 * Rows are kept in the buffer's order, not by age (the loss does not depend on the order of the
 * negatives); with ids ({@link #createWithIds}), {@link #candidateIds} gives the ids in the
 * matching order for {@link InfoNce#withAccidentalHits}. Not thread-safe: one training loop owns
 * a bank. Closing it frees the buffer.
 */
public final class MemoryBank implements AutoCloseable {
    private final Tensor buffer;
    private final long[] ids; // null without ids
    private long head, size;

    private MemoryBank(Tensor buffer, boolean withIds) {
        this.buffer = buffer;
        this.ids = withIds ? new long[Math.toIntExact(buffer.size(0))] : null;
    }

    /**
     * An empty bank on the host.
     *
     * @param capacity the rows it holds, &ge; 1
     * @param dim      the width D of the keys, &ge; 1
     * @return the bank; close it
     * @throws IllegalArgumentException if capacity or dim is below 1
     */
    public static MemoryBank create(long capacity, long dim) {
        return create(Device.HOST, capacity, dim, false);
    }

    /**
     * An empty bank on the host that also keeps each row's candidate id (for accidental hits).
     *
     * @param capacity the rows it holds, &ge; 1 (and at most {@link Integer#MAX_VALUE})
     * @param dim      the width D of the keys, &ge; 1
     * @return the bank; close it
     * @throws IllegalArgumentException if capacity or dim is out of range
     */
    public static MemoryBank createWithIds(long capacity, long dim) {
        return create(Device.HOST, capacity, dim, true);
    }

    private static MemoryBank create(Device device, long capacity, long dim, boolean withIds) {
        if (capacity < 1 || (withIds && capacity > Integer.MAX_VALUE)) {
            throw new IllegalArgumentException("capacity: " + capacity + " must be >= 1" + (withIds ? " and <= 2^31 - 1" : ""));
        }
        if (dim < 1) throw new IllegalArgumentException("dim: " + dim + " must be >= 1");
        return new MemoryBank(Tensor.zeros(device, DType.FLOAT32, capacity, dim), withIds);
    }

    /**
     * The rows held now: the enqueued rows, at most the capacity.
     *
     * @return the number of live rows
     */
    public long size() {
        return size;
    }

    /**
     * The capacity given at creation.
     *
     * @return the capacity
     */
    public long capacity() {
        return buffer.size(0);
    }

    /**
     * Appends a batch of keys, overwriting the oldest rows once the bank is full (a batch larger
     * than the capacity leaves its last {@code capacity} rows).
     *
     * @param keys (B,D) float32, finite; B &ge; 1
     * @throws IllegalArgumentException if keys are not as stated, or the bank keeps ids
     * @throws IllegalStateException if the bank or keys is closed
     */
    public void enqueue(Tensor keys) {
        if (ids != null) throw new IllegalArgumentException("keys: this bank keeps ids; use enqueue(keys, ids)");
        enqueue(keys, null, null);
    }

    /**
     * Appends a batch of keys with their candidate ids.
     *
     * @param keys (B,D) float32, finite; B &ge; 1
     * @param keyIds (B) int32 or int64
     * @throws IllegalArgumentException if an argument is not as stated, or the bank keeps no ids
     * @throws IllegalStateException if the bank or a tensor is closed
     */
    public void enqueue(Tensor keys, Tensor keyIds) {
        if (ids == null) throw new IllegalArgumentException("keyIds: this bank keeps no ids; use createWithIds");
        if (keyIds == null) throw new IllegalArgumentException("keyIds: must not be null");
        enqueue(keys, keyIds, idsOf(keyIds));
    }

    private void enqueue(Tensor keys, Tensor keyIds, long[] newIds) {
        Kernels k = Kernels.forCall(null, "keys", keys, "keyIds", keyIds, Kernels.OUTPUTS, "bank", buffer);
        Contrastive.embeddings("keys", keys, k, 1, "expected B >= 1");
        Contrastive.sameWidth("keys", keys, "the bank", buffer.size(1));
        if (keyIds != null && (keyIds.rank() != 1 || keyIds.size(0) != keys.size(0))) {
            throw new IllegalArgumentException("keyIds: expected shape (" + keys.size(0) + ") of keys' rows, got "
                    + Tensor.formatShape(keyIds.shape()));
        }
        long cap = capacity(), b = keys.size(0), skip = Math.max(0, b - cap), rows = b - skip;
        long first = Math.min(rows, cap - head);
        k.similarity().copy(keys.rows(skip, first), buffer.rows(head, first));
        if (rows > first) k.similarity().copy(keys.rows(skip + first, rows - first), buffer.rows(0, rows - first));
        if (newIds != null) {
            for (long r = 0; r < rows; r++) ids[(int) ((head + r) % cap)] = newIds[(int) (skip + r)];
        }
        head = (head + rows) % cap;
        size = Math.min(cap, size + rows);
    }

    /**
     * The live rows (size, D), a view of the bank valid until the next enqueue or close; null when
     * the bank is empty. Do not close it.
     *
     * @return the negatives, or null when empty
     * @throws IllegalStateException if the bank is closed
     */
    public Tensor negatives() {
        buffer.requireOpen("bank");
        return size == 0 ? null : buffer.rows(0, size);
    }

    /**
     * The ids of a shared-negatives call's candidates: the batch's keys' ids, then the bank's, in
     * the order of {@link #negatives()}; for {@link InfoNce#withAccidentalHits}.
     *
     * @param batchIds the batch's key ids (N), int32 or int64
     * @return a new int64 (N + size) tensor; close it
     * @throws IllegalArgumentException if the bank keeps no ids or batchIds is not (N) int32/int64
     */
    public Tensor candidateIds(Tensor batchIds) {
        if (ids == null) throw new IllegalArgumentException("batchIds: this bank keeps no ids; use createWithIds");
        if (batchIds == null || batchIds.rank() != 1) throw new IllegalArgumentException("batchIds: expected shape (N)");
        long[] batch = idsOf(batchIds);
        long[] all = Arrays.copyOf(batch, batch.length + (int) size);
        System.arraycopy(ids, 0, all, batch.length, (int) size);
        return Tensor.of(all, all.length);
    }

    /**
     * InfoNCE with the bank's rows as shared negatives ({@link InfoNce#forwardBackward(Tensor, Tensor, Tensor)}),
     * or the plain two-tower form while the bank is empty (gradNegatives then null). Does not enqueue.
     *
     * @param loss    the loss; not null
     * @param queries (N,D) float32
     * @param keys    (N,D) float32
     * @return the loss's result; close it
     * @throws IllegalArgumentException as the loss's forms do
     * @throws IllegalStateException if a tensor or the bank is closed
     */
    public InfoNce.Result forwardBackward(InfoNce loss, Tensor queries, Tensor keys) {
        if (loss == null) throw new IllegalArgumentException("loss: must not be null");
        Tensor negatives = negatives();
        return negatives == null ? loss.forwardBackward(queries, keys) : loss.forwardBackward(queries, keys, negatives);
    }

    /** Frees the buffer. Idempotent. */
    @Override
    public void close() {
        buffer.close();
    }

    private static long[] idsOf(Tensor t) {
        if (t.dtype() == DType.INT64) return t.toLongArray();
        if (t.dtype() == DType.INT32) return Arrays.stream(t.toIntArray()).asLongStream().toArray();
        throw new IllegalArgumentException("keyIds: dtype " + t.dtype() + " is not int32 or int64");
    }
}
