package dev.jnce.metrics;

/**
 * Ranking metrics at a cutoff K, each the mean over the queries that have at least one
 * relevant item (see {@link Ranking} for the formulas). NaN when no query has one.
 *
 * @param k the cutoff K
 * @param queries the queries averaged over (those with a relevant item)
 * @param skipped the queries left out because they have no relevant item
 * @param recall Recall@K: hits in the top K / relevant items
 * @param precision Precision@K: hits in the top K / K
 * @param hitRate HitRate@K: 1 when the top K holds a relevant item
 * @param mrr MRR@K: 1 / rank of the first relevant item in the top K, 0 if none
 * @param ndcg NDCG@K: DCG@K / ideal DCG@K, binary relevance, log2(rank + 1) discount
 * @param map MAP@K: sum of Precision@i at the ranks i &le; K of hits, / min(K, relevant items)
 */
public record RankingMetrics(int k, long queries, long skipped, double recall, double precision, double hitRate,
                             double mrr, double ndcg, double map) {
}
