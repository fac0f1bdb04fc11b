/**
 * Evaluation metrics, computed in float64 and returned as plain Java values.
 *
 * <p>Ranking ({@link dev.jnce.metrics.Ranking}): Recall@K, Precision@K, HitRate@K, MRR, NDCG@K
 * and MAP@K from a score matrix, from top-k indices, or straight from two embedding tables,
 * with items to exclude per query ({@link dev.jnce.metrics.ItemSets}); the top k of each row
 * ({@link dev.jnce.metrics.TopK}) is selected without sorting the row, and from embeddings a
 * row block of scores at a time.
 *
 * <p>Classification, equal to scikit-learn's functions on the same inputs:
 * {@link dev.jnce.metrics.ConfusionMatrix} (confusion matrix; precision, recall and F1 averaged
 * as {@link dev.jnce.metrics.Average} says) and {@link dev.jnce.metrics.BinaryScores} (ROC curve
 * and ROC-AUC, precision-recall curve and average precision, the thresholds that maximise F1 or
 * Youden's J). Edge cases follow scikit-learn, as each class documents.
 */
package dev.jnce.metrics;
