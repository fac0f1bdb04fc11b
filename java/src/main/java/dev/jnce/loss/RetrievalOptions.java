package dev.jnce.loss;

import dev.jnce.Tensor;

/**
 * The retrieval options of a two-tower InfoNCE call ({@link InfoNce#withDirection},
 * {@link InfoNce#withMargin}, {@link InfoNce#withLabelSmoothing},
 * {@link InfoNce#withLogQCorrection}, {@link InfoNce#withSamplingProbabilities},
 * {@link InfoNce#withAccidentalHits}), handed down with {@link InfoNceOptions}. Package-private.
 *
 * @param direction         which softmax (or softmaxes) the loss takes
 * @param margin            subtracted from the positive's similarity before the temperature
 * @param labelSmoothing    eps of the smoothing over each row's candidates, in [0, 1]
 * @param logQ              (M) float32 subtracted from the logit of every key column, or null
 * @param logQIsProbability logQ holds sampling probabilities (their clamped log is subtracted)
 * @param keyIds            (M) int32 or int64 candidate ids for accidental hits, or null
 * @param inBatchColumns    &gt; 0: the first columns other than a row's positive are no candidates
 *                          (sampled softmax: only the sampled negatives are)
 */
record RetrievalOptions(InfoNce.Direction direction, float margin, float labelSmoothing, Tensor logQ,
                        boolean logQIsProbability, Tensor keyIds, long inBatchColumns) {
    static final RetrievalOptions NONE = new RetrievalOptions(InfoNce.Direction.QUERY_TO_KEY, 0f, 0f, null, false, null, 0);

    /** Whether the sweep needs the retrieval cross-entropy rather than the plain one. */
    boolean corrected() {
        return margin != 0f || labelSmoothing != 0f || logQ != null || keyIds != null || inBatchColumns > 0;
    }

    /** Whether anything beyond the defaults is set. */
    boolean any() {
        return corrected() || direction != InfoNce.Direction.QUERY_TO_KEY;
    }

    RetrievalOptions withDirection(InfoNce.Direction d) {
        return new RetrievalOptions(d, margin, labelSmoothing, logQ, logQIsProbability, keyIds, inBatchColumns);
    }

    RetrievalOptions withMargin(float m) {
        return new RetrievalOptions(direction, m, labelSmoothing, logQ, logQIsProbability, keyIds, inBatchColumns);
    }

    RetrievalOptions withLabelSmoothing(float eps) {
        return new RetrievalOptions(direction, margin, eps, logQ, logQIsProbability, keyIds, inBatchColumns);
    }

    RetrievalOptions withLogQ(Tensor t, boolean probability) {
        return new RetrievalOptions(direction, margin, labelSmoothing, t, probability, keyIds, inBatchColumns);
    }

    RetrievalOptions withKeyIds(Tensor ids) {
        return new RetrievalOptions(direction, margin, labelSmoothing, logQ, logQIsProbability, ids, inBatchColumns);
    }

    RetrievalOptions withInBatchColumns(long columns) {
        return new RetrievalOptions(direction, margin, labelSmoothing, logQ, logQIsProbability, keyIds, columns);
    }
}
