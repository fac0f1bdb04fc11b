package dev.jnce.loss;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.internal.Checks;

/**
 * Sampled softmax (Bengio and Senécal 2008; Jean et al. 2015; TensorFlow's
 * {@code sampled_softmax_loss} with {@code subtract_log_q}): row i's candidates are its positive
 * p_i and M negatives sampled from a proposal Q, shared by every row (not the other rows'
 * positives), with logits {@code z_ic = sim(q_i, c) / tau - log Q(c)}:
 *
 * <pre>{@code
 * SampledSoftmax loss = SampledSoftmax.create();                        // dot product, tau 1, MEAN
 * try (InfoNce.Result r = loss.forwardBackward(queries, positives, sampled, logQPositives, logQSampled)) {
 *     r.loss(); r.gradQueries(); r.gradKeys(); r.gradNegatives();         // gradKeys: d loss / d positives
 * }
 * }</pre>
 *
 * A uniform proposal ({@link #forwardBackward(Tensor, Tensor, Tensor)}) needs no correction: a
 * constant log Q shifts every logit of a row alike and the softmax does not see it. The logits
 * are computed as InfoNCE's shared-negatives sweep over [positives; sampled] with the other rows'
 * positives taken out of each softmax, so the GEMM also computes the N×N in-batch block it then
 * ignores (about N / (N + M) more flops). Instances are immutable and thread-safe.
 */
public final class SampledSoftmax {
    private final InfoNce loss;

    private SampledSoftmax(InfoNce loss) {
        this.loss = loss;
    }

    /**
     * Plain dot products, temperature 1, MEAN over rows.
     *
     * @return a loss with the defaults stated
     */
    public static SampledSoftmax create() {
        return new SampledSoftmax(InfoNce.create().withNormalize(false).withTemperature(1f));
    }

    /**
     * The temperature the similarities are divided by (see {@link InfoNce#withTemperature}).
     *
     * @param tau the temperature, a normal positive float32
     * @return a copy with this temperature; this instance is unchanged
     * @throws IllegalArgumentException if tau is not a normal positive float32
     */
    public SampledSoftmax withTemperature(float tau) {
        return new SampledSoftmax(loss.withTemperature(tau));
    }

    /**
     * true: cosine similarity of L2-normalised rows; false (the default): plain dot product.
     *
     * @param normalize true for cosine similarity
     * @return a copy with this setting; this instance is unchanged
     */
    public SampledSoftmax withNormalize(boolean normalize) {
        return new SampledSoftmax(loss.withNormalize(normalize));
    }

    /**
     * The reduction over rows: MEAN (default), SUM, or NONE.
     *
     * @param reduction MEAN, SUM or NONE
     * @return a copy with this reduction; this instance is unchanged
     * @throws IllegalArgumentException if reduction is null or BATCHMEAN
     */
    public SampledSoftmax withReduction(Reduction reduction) {
        return new SampledSoftmax(loss.withReduction(reduction));
    }

    /**
     * The same loss pinned to a backend.
     *
     * @param backend the backend; not null
     * @return a copy pinned to it; this instance is unchanged
     * @throws IllegalArgumentException if backend is null
     */
    public SampledSoftmax withBackend(Backend backend) {
        return new SampledSoftmax(loss.withBackend(backend));
    }

    /**
     * Sampled softmax with a uniform proposal (no correction).
     *
     * @param queries   (N,D) float32, finite
     * @param positives (N,D) float32, row i's positive
     * @param sampled   (M,D) float32, M &ge; 1 negatives shared by every row
     * @return the loss and the gradients (gradKeys: positives, gradNegatives: sampled); close it
     * @throws IllegalArgumentException if a shape, dtype, device or value is not as stated (naming it)
     * @throws IllegalStateException if a tensor is closed or its memory freed
     */
    public InfoNce.Result forwardBackward(Tensor queries, Tensor positives, Tensor sampled) {
        if (queries == null) throw new IllegalArgumentException("queries: must not be null");
        return loss.withRetrieval(inBatchOut(queries)).forwardBackward(queries, positives, sampled);
    }

    /**
     * Sampled softmax with the proposal's log-probabilities subtracted from the logits.
     *
     * @param queries       (N,D) float32, finite
     * @param positives     (N,D) float32, row i's positive
     * @param sampled       (M,D) float32, M &ge; 1 negatives shared by every row
     * @param logQPositives (N) float32, finite: log Q(p_i) (the expected count's log, when sampling
     *                      with replacement)
     * @param logQSampled   (M) float32, finite: log Q of each sampled negative
     * @return the loss and the gradients (gradKeys: positives, gradNegatives: sampled); close it
     * @throws IllegalArgumentException if a shape, dtype, device or value is not as stated (naming it)
     * @throws IllegalStateException if a tensor is closed or its memory freed
     */
    public InfoNce.Result forwardBackward(Tensor queries, Tensor positives, Tensor sampled, Tensor logQPositives,
                                          Tensor logQSampled) {
        Kernels k = loss.kernels("queries", queries, "positives", positives, "sampled", sampled,
                "logQPositives", logQPositives, "logQSampled", logQSampled);
        Contrastive.embeddings("queries", queries, k, 1, "expected N >= 1");
        Contrastive.embeddings("sampled", sampled, k, 1, "expected M >= 1 sampled negatives");
        logQ("logQPositives", logQPositives, k, queries.size(0));
        logQ("logQSampled", logQSampled, k, sampled.size(0));
        long n = queries.size(0), m = sampled.size(0);
        try (Tensor all = Contrastive.scratch(k, n + m)) {
            k.similarity().copy(logQPositives, all.rows(0, n));
            k.similarity().copy(logQSampled, all.rows(n, m));
            return loss.withRetrieval(inBatchOut(queries).withLogQ(all, false)).forwardBackward(queries, positives, sampled);
        }
    }

    private RetrievalOptions inBatchOut(Tensor queries) {
        return loss.options().retrieval().withInBatchColumns(queries.size(0));
    }

    private static void logQ(String argument, Tensor t, Kernels k, long n) {
        Checks.usable(argument, t, k);
        Checks.dtype(argument, t, DType.FLOAT32);
        Checks.shape(argument, t, "(" + (argument.equals("logQPositives") ? "N" : "M") + ")", n);
        Contrastive.finite(argument, t, k);
    }
}
