package dev.jnce.metrics;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Device;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.internal.Checks;

/**
 * The k best items of each query, as {@code torch.topk(scores, k)} with excluded items masked
 * out, without sorting any full row: per row a heap of the k best so far, which nearly every
 * score passes with one compare (native/src/cpu/topk.c on {@code cpu}, its Java twin on
 * {@code java}). Indices (N, k) int64 by decreasing score, ties to the lower item index; a row
 * with fewer than k items left pads with -1.
 *
 * <p>From a score matrix (N, M), or straight from two embedding tables: {@link #fromEmbeddings}
 * computes the scores {@code queries · itemsᵀ} a block of rows at a time (one GEMM per block into
 * one reused buffer, then the block's top-k), so memory is one block (about 64 MiB;
 * {@link #withBlockRows}) plus the (N, k) result whatever N and M.
 *
 * <pre>{@code
 * Tensor top = TopK.of(10).fromEmbeddings(users, items, trainItems);   // (N, 10) int64
 * }</pre>
 *
 * <p>Pitfalls: NaN scores are an error naming the row (excluded items are not read); the
 * indices are those of the columns (items), not of the scores' memory. Host tensors only.
 * Immutable and thread-safe.
 */
public final class TopK {
    private static final long BLOCK_BYTES = 64L << 20;
    private final int k;
    private final int blockRows;
    private final Backend backend;

    private TopK(int k, int blockRows, Backend backend) {
        this.k = k;
        this.blockRows = blockRows;
        this.backend = backend;
    }

    /**
     * The k best items per row.
     *
     * @param k items per row, &ge; 1
     * @return a selector of k items
     * @throws IllegalArgumentException if k &lt; 1
     */
    public static TopK of(int k) {
        if (k < 1) throw new IllegalArgumentException("k: must be >= 1, got " + k);
        return new TopK(k, 0, null);
    }

    /**
     * The same selector with the query rows per block of {@link #fromEmbeddings} fixed (0: about
     * 64 MiB of scores per block, the default).
     *
     * @param rows query rows per block, &ge; 0
     * @return a copy with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if rows &lt; 0
     */
    public TopK withBlockRows(int rows) {
        if (rows < 0) throw new IllegalArgumentException("rows: must be >= 0, got " + rows);
        return new TopK(k, rows, backend);
    }

    /**
     * The same selector pinned to a backend.
     *
     * @param backend the backend every call runs on; not null
     * @return a copy with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if backend is null
     */
    public TopK withBackend(Backend backend) {
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        return new TopK(k, blockRows, backend);
    }

    /**
     * The items kept per row.
     *
     * @return k
     */
    public int k() {
        return k;
    }

    /**
     * The backend this selector is pinned to, else {@link Backends#current()}.
     *
     * @return the pinned backend, or the current host backend when not pinned
     */
    public Backend backend() {
        return Backends.orCurrent(backend);
    }

    /**
     * The query rows per block that {@link #fromEmbeddings} uses for M items.
     *
     * @param n the query rows
     * @param m the items
     * @return rows per block, in [1, max(1, n)]
     */
    public int blockRows(long n, long m) {
        long rows = blockRows > 0 ? blockRows : BLOCK_BYTES / 4 / Math.max(1, m);
        return (int) Math.max(1, Math.min(Math.max(1, n), rows));
    }

    /**
     * The k best columns of each row of scores.
     *
     * @param scores (N, M) float32, on the host
     * @param exclude one set per row of columns never to return, or null for none
     * @return (N, k) int64 column indices, best first, -1 past a row's last column
     * @throws IllegalArgumentException if scores is not an (N, M) float32 host tensor, exclude has
     *   another number of rows or an item outside [0, M), or a row holds NaN (the message names
     *   the argument and the shapes)
     * @throws IllegalStateException if scores is closed
     */
    public Tensor select(Tensor scores, ItemSets exclude) {
        Kernels kn = Kernels.forCall(backend, "scores", scores);
        long[] nm = Checks.matrix("scores", scores, kn, "(N, M)");
        requireHost(kn);
        if (exclude != null) MetricChecks.itemSets("exclude", exclude, nm[0], nm[1], "scores " + Tensor.formatShape(nm));
        Tensor out = Tensor.zeros(DType.INT64, nm[0], k);
        try (Csr csr = Csr.of(exclude)) {
            long nan = kn.pair().topK(scores, csr.offsets, csr.items, out, null);
            if (nan >= 0) {
                throw new IllegalArgumentException("scores: row " + nan + " of scores " + Tensor.formatShape(nm)
                        + " holds NaN; scores must not be NaN to be ranked");
            }
            return out;
        } catch (RuntimeException | Error e) {
            out.close();
            throw e;
        }
    }

    /**
     * The k best items of each query by the dot product {@code queries[i] · items[j]} (normalise
     * both tables first for cosine similarity), in row blocks: the (N, M) scores are never held.
     *
     * @param queries (N, D) float32, on the host
     * @param items (M, D) float32, on the host
     * @param exclude one set per query of items never to return (its training items), or null
     * @return (N, k) int64 item indices, best first, -1 past a query's last item
     * @throws IllegalArgumentException if a table is not a float32 host matrix, their D differ,
     *   exclude has another number of rows or an item outside [0, M), or a query's scores hold
     *   NaN (the message names the argument and the shapes)
     * @throws IllegalStateException if a tensor is closed
     */
    public Tensor fromEmbeddings(Tensor queries, Tensor items, ItemSets exclude) {
        Kernels kn = Kernels.forCall(backend, "queries", queries, "items", items);
        long[] nd = Checks.matrix("queries", queries, kn, "(N, D)");
        long[] md = Checks.matrix("items", items, kn, "(M, D)");
        Checks.sameFeatures("queries", queries, "items", items);
        requireHost(kn);
        if (exclude != null) MetricChecks.itemSets("exclude", exclude, nd[0], md[0], "items " + Tensor.formatShape(md));
        long n = nd[0], m = md[0];
        int rows = blockRows(n, m);
        Tensor out = Tensor.zeros(DType.INT64, n, k);
        try (Csr csr = Csr.of(exclude); Tensor block = Tensor.zerosUnscoped(DType.FLOAT32, rows, m)) {
            for (long r0 = 0; r0 < n; r0 += rows) {
                long b = Math.min(rows, n - r0);
                Tensor scores = block.rows(0, b);
                kn.similarity().gemm(false, true, 1f, queries.rows(r0, b), items, 0f, scores);
                long nan = kn.pair().topK(scores, csr.offsets == null ? null : csr.offsets.rows(r0, b + 1), csr.items,
                        out.rows(r0, b), null);
                if (nan >= 0) {
                    throw new IllegalArgumentException("queries: the scores of query " + (r0 + nan) + " (queries "
                            + Tensor.formatShape(nd) + ", items " + Tensor.formatShape(md)
                            + ") hold NaN; embeddings must be finite to be ranked");
                }
            }
            return out;
        } catch (RuntimeException | Error e) {
            out.close();
            throw e;
        }
    }

    private static void requireHost(Kernels kn) {
        if (!kn.device().equals(Device.HOST)) {
            throw new UnsupportedOperationException("TopK runs on host tensors only, got the " + kn.device() + " backend");
        }
    }

    /** Exclusions as tensors for the kernel: offsets (N+1) int64 and items int32, both null for none. */
    private record Csr(Tensor offsets, Tensor items) implements AutoCloseable {
        static Csr of(ItemSets sets) {
            if (sets == null) return new Csr(null, null);
            long[] o = sets.offsetsView();
            int[] it = sets.itemsView();
            Tensor offsets = Tensor.zerosUnscoped(DType.INT64, o.length);
            Tensor items = Tensor.zerosUnscoped(DType.INT32, it.length);
            offsets.asLongBuffer().put(o);
            items.asIntBuffer().put(it);
            return new Csr(offsets, items);
        }

        @Override
        public void close() {
            if (offsets != null) offsets.close();
            if (items != null) items.close();
        }
    }
}
