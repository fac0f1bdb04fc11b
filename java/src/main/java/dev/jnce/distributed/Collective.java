package dev.jnce.distributed;

import dev.jnce.Tensor;

/**
 * The few collectives a sharded loss needs, over P ranks that each hold a shard of a batch: every
 * rank calls the same operations in the same order (as with MPI). Host float32 tensors of shape
 * (rows, D); a rank's rows may differ from the others', D may not (checked on every rank, so that
 * a mismatch ends every rank with the same {@link IllegalArgumentException}).
 *
 * <p>Implementations: {@link InProcessCollective} (P ranks as threads of one JVM) and
 * {@link MpiCollective} (Open MPI through FFM, ranks started by {@code mpirun}). A rank that fails
 * or does not arrive within the timeout ends every other rank's pending call with an
 * {@link IllegalStateException} naming it, never a hang.
 */
public interface Collective extends AutoCloseable {
    /**
     * This rank's index.
     *
     * @return the rank, in [0, size)
     */
    int rank();

    /**
     * The number of ranks.
     *
     * @return P &ge; 1
     */
    int size();

    /**
     * Every rank's rows, concatenated in rank order.
     *
     * @param local (n_r, D) float32 on the host
     * @return a new (Σ n_r, D) tensor, the same on every rank
     * @throws IllegalArgumentException if the ranks' D differ (named with every rank's shape)
     * @throws IllegalStateException if another rank failed or timed out
     */
    Tensor allGatherRows(Tensor local);

    /**
     * The sum over ranks of a (Σ n_r, D) tensor, of which each rank keeps its own rows.
     *
     * @param full (Σ n_r, D) float32 on the host, the same shape on every rank
     * @param rowCounts every rank's n_r, as {@link #rowCounts} gives
     * @return a new (n_rank, D) tensor
     * @throws IllegalArgumentException if the ranks' shapes differ
     * @throws IllegalStateException if another rank failed or timed out
     */
    Tensor reduceScatterRows(Tensor full, long[] rowCounts);

    /**
     * Element-wise sums of a few doubles over the ranks.
     *
     * @param values this rank's values; the same count on every rank
     * @return the sums, the same on every rank
     * @throws IllegalStateException if another rank failed or timed out
     */
    double[] allReduceSum(double... values);

    /**
     * Every rank's count, in rank order.
     *
     * @param count this rank's count
     * @return the P counts
     * @throws IllegalStateException if another rank failed or timed out
     */
    default long[] rowCounts(long count) {
        double[] one = new double[size()];
        one[rank()] = count;
        double[] all = allReduceSum(one);
        long[] out = new long[all.length];
        for (int i = 0; i < all.length; i++) out[i] = Math.round(all[i]);
        return out;
    }

    /**
     * Every rank's longs (labels, ids), concatenated in rank order; exact for every long value.
     * The default moves them through {@link #allReduceSum} as two 32-bit halves a value, each
     * summed with zeros only (16 bytes a value, small beside the embeddings it goes with).
     *
     * @param local this rank's values; ranks may pass different counts
     * @return the Σ counts values, the same on every rank
     * @throws IllegalArgumentException if local is null
     * @throws IllegalStateException if another rank failed or timed out
     */
    default long[] allGatherLongs(long[] local) {
        if (local == null) throw new IllegalArgumentException("local: must not be null");
        long[] counts = rowCounts(local.length);
        long offset = 0, total = 0;
        for (int r = 0; r < counts.length; r++) {
            if (r < rank()) offset += counts[r];
            total += counts[r];
        }
        double[] halves = new double[Math.toIntExact(2 * total)];
        for (int i = 0; i < local.length; i++) {
            halves[Math.toIntExact(2 * (offset + i))] = local[i] >>> 32;
            halves[Math.toIntExact(2 * (offset + i) + 1)] = local[i] & 0xffffffffL;
        }
        double[] sums = allReduceSum(halves);
        long[] out = new long[Math.toIntExact(total)];
        for (int i = 0; i < out.length; i++) out[i] = ((long) sums[2 * i] << 32) | (long) sums[2 * i + 1];
        return out;
    }

    /** Leaves the group (MPI: finalises). */
    @Override
    void close();
}
