package dev.jnce.metrics;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;

/**
 * Ranking metrics at a cutoff K — Recall@K, Precision@K, HitRate@K, MRR, NDCG@K and MAP@K — from
 * each query's top-K items and its set of relevant items, accumulated in float64. The top K come
 * from a score matrix, from two embedding tables (the scores computed and ranked a row block at
 * a time, never held whole: {@link TopK#fromEmbeddings}), or ready-made as indices.
 *
 * <p>Definitions, for a query with R &gt; 0 relevant items (a set: repeats count once) and
 * rel<sub>i</sub> = 1 when the item ranked i (1-based, i &le; K) is relevant, hits = Σ rel<sub>i</sub>:
 * <ul>
 * <li>Recall@K = hits / R;</li>
 * <li>Precision@K = hits / K (also when fewer than K items could be ranked);</li>
 * <li>HitRate@K = 1 if hits &gt; 0, else 0;</li>
 * <li>MRR@K = 1 / (rank of the first relevant item), 0 when none is in the top K;</li>
 * <li>NDCG@K = DCG / IDCG with DCG = Σ<sub>i≤K</sub> rel<sub>i</sub> / log2(i + 1) and IDCG =
 *     Σ<sub>i ≤ min(K, R)</sub> 1 / log2(i + 1) (binary relevance);</li>
 * <li>MAP@K = Σ<sub>i≤K</sub> rel<sub>i</sub> · Precision@i / min(K, R).</li>
 * </ul>
 * Each is averaged over the queries with R &gt; 0; queries with no relevant item are skipped and
 * counted in {@link RankingMetrics#skipped()}. Relevant items that are also excluded from the
 * ranking still count in R (they cannot be found: exclude only what is not relevant).
 *
 * <p>How other conventions differ: torchmetrics' retrieval metrics score a query without
 * relevant items 0 by default ({@code empty_target_action="neg"}) instead of skipping it; its
 * {@code RetrievalMAP(top_k=K)} divides by the hits found in the top K rather than min(K, R);
 * its NDCG averages over tied scores (as scikit-learn's {@code ndcg_score}), where jnce breaks
 * ties by the lower item index. Some recommender papers divide Recall@K by min(K, R); here it
 * is R, as torchmetrics does.
 *
 * <pre>{@code
 * RankingMetrics m = Ranking.atK(10).evaluate(users, items, heldOut, trainItems);
 * double recall = m.recall(), ndcg = m.ndcg();
 * }</pre>
 *
 * Immutable and thread-safe.
 */
public final class Ranking {
    private final TopK topK;

    private Ranking(TopK topK) {
        this.topK = topK;
    }

    /**
     * Metrics at cutoff k.
     *
     * @param k the cutoff K, &ge; 1
     * @return the metrics at K
     * @throws IllegalArgumentException if k &lt; 1
     */
    public static Ranking atK(int k) {
        return new Ranking(TopK.of(k));
    }

    /**
     * The same metrics with the query rows per block of the embedding form fixed (0: about 64 MiB
     * of scores per block).
     *
     * @param rows query rows per block, &ge; 0
     * @return a copy with the setting changed
     * @throws IllegalArgumentException if rows &lt; 0
     */
    public Ranking withBlockRows(int rows) {
        return new Ranking(topK.withBlockRows(rows));
    }

    /**
     * The same metrics with the top-k selection pinned to a backend.
     *
     * @param backend the backend the selection runs on; not null
     * @return a copy with the setting changed
     * @throws IllegalArgumentException if backend is null
     */
    public Ranking withBackend(Backend backend) {
        return new Ranking(topK.withBackend(backend));
    }

    /**
     * The cutoff.
     *
     * @return K
     */
    public int k() {
        return topK.k();
    }

    /**
     * Metrics from ready-made rankings: the first K columns of each row of topIndices, best
     * first; an index of -1 is an empty slot (a row with fewer than K items). The indices of a
     * row are taken to be distinct.
     *
     * @param topIndices (N, L) int32 or int64 item indices, L &ge; K, each &ge; -1, on the host
     * @param relevant one set of relevant items per query (N rows)
     * @return the metrics
     * @throws IllegalArgumentException if topIndices is not such a matrix, relevant has another
     *   number of rows, or an index is below -1 (the message names the argument and the shapes)
     * @throws IllegalStateException if topIndices is closed
     */
    public RankingMetrics evaluate(Tensor topIndices, ItemSets relevant) {
        MetricChecks.host("topIndices", topIndices, DType.INT32, DType.INT64);
        int k = k();
        if (topIndices.rank() != 2 || topIndices.size(1) < k) {
            throw new IllegalArgumentException("topIndices: expected shape (N, L) with L >= K = " + k + ", got "
                    + Tensor.formatShape(topIndices.shape()));
        }
        long n = topIndices.size(0), l = topIndices.size(1);
        MetricChecks.itemSets("relevant", relevant, n, -1, "topIndices " + Tensor.formatShape(topIndices.shape()));
        long[] idx = topIndices.dtype() == DType.INT64 ? topIndices.toLongArray()
                : java.util.Arrays.stream(topIndices.toIntArray()).asLongStream().toArray();
        for (int at = 0; at < idx.length; at++) {
            if (idx[at] < -1) {
                throw new IllegalArgumentException("topIndices: [" + at / l + ", " + at % l + "] = " + idx[at]
                        + "; indices must be >= 0, or -1 for an empty slot");
            }
        }
        double[] discount = new double[k + 1]; // 1 / log2(i + 1) for rank i, and its prefix sums for IDCG
        double[] ideal = new double[k + 1];
        for (int i = 1; i <= k; i++) {
            discount[i] = 1.0 / (Math.log(i + 1) / Math.log(2));
            ideal[i] = ideal[i - 1] + discount[i];
        }
        double recall = 0, precision = 0, hitRate = 0, mrr = 0, ndcg = 0, map = 0;
        long queries = 0;
        for (int q = 0; q < n; q++) {
            int r = relevant.size(q);
            if (r == 0) continue;
            queries++;
            int hits = 0;
            double dcg = 0, ap = 0, rr = 0;
            for (int i = 1; i <= k; i++) {
                long item = idx[(int) (q * l + i - 1)];
                if (item < 0 || !relevant.contains(q, item)) continue;
                hits++;
                dcg += discount[i];
                ap += (double) hits / i;
                if (rr == 0) rr = 1.0 / i;
            }
            recall += (double) hits / r;
            precision += (double) hits / k;
            hitRate += hits > 0 ? 1 : 0;
            mrr += rr;
            ndcg += dcg / ideal[Math.min(k, r)];
            map += ap / Math.min(k, r);
        }
        double d = queries;
        return new RankingMetrics(k, queries, n - queries, recall / d, precision / d, hitRate / d, mrr / d, ndcg / d, map / d);
    }

    /**
     * Metrics from a score matrix: each row's top K columns (leaving out its excluded ones) are
     * ranked by {@link TopK#select}, without sorting the rows.
     *
     * @param scores (N, M) float32 scores, on the host
     * @param relevant one set of relevant items per query (N rows)
     * @param exclude one set per query of items never ranked (its training items), or null
     * @return the metrics
     * @throws IllegalArgumentException if a shape, dtype or value is not as stated (the message
     *   names the argument and the shapes)
     * @throws IllegalStateException if scores is closed
     */
    public RankingMetrics evaluate(Tensor scores, ItemSets relevant, ItemSets exclude) {
        if (relevant == null) throw new IllegalArgumentException("relevant: must not be null");
        try (Tensor top = topK.select(scores, exclude)) {
            return evaluate(top, relevant);
        }
    }

    /**
     * Metrics straight from two embedding tables: scores {@code queries · itemsᵀ} computed and
     * ranked a row block at a time ({@link TopK#fromEmbeddings}), never held whole.
     *
     * @param queries (N, D) float32 query (user) embeddings, on the host
     * @param items (M, D) float32 item embeddings, on the host
     * @param relevant one set of relevant items per query (N rows)
     * @param exclude one set per query of items never ranked (its training items), or null
     * @return the metrics
     * @throws IllegalArgumentException if a shape, dtype or value is not as stated (the message
     *   names the argument and the shapes)
     * @throws IllegalStateException if a tensor is closed
     */
    public RankingMetrics evaluate(Tensor queries, Tensor items, ItemSets relevant, ItemSets exclude) {
        if (relevant == null) throw new IllegalArgumentException("relevant: must not be null");
        try (Tensor top = topK.fromEmbeddings(queries, items, exclude)) {
            return evaluate(top, relevant);
        }
    }
}
