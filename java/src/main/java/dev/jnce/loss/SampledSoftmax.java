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
    private final InfoNce infoNce;

    private SampledSoftmax(InfoNce infoNce) {
        this.infoNce = infoNce;
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
        return new SampledSoftmax(infoNce.withTemperature(tau));
    }

    /**
     * true: cosine similarity of L2-normalised rows; false (the default): plain dot product.
     *
     * @param normalize true for cosine similarity
     * @return a copy with this setting; this instance is unchanged
     */
    public SampledSoftmax withNormalize(boolean normalize) {
        return new SampledSoftmax(infoNce.withNormalize(normalize));
    }

    /**
     * The reduction over rows: MEAN (default), SUM, or NONE.
     *
     * @param reduction MEAN, SUM or NONE
     * @return a copy with this reduction; this instance is unchanged
     * @throws IllegalArgumentException if reduction is null or BATCHMEAN
     */
    public SampledSoftmax withReduction(Reduction reduction) {
        return new SampledSoftmax(infoNce.withReduction(reduction));
    }

    /**
     * The same loss pinned to a backend.
     *
     * @param backend the backend; not null
     * @return a copy pinned to it; this instance is unchanged
     * @throws IllegalArgumentException if backend is null
     */
    public SampledSoftmax withBackend(Backend backend) {
        return new SampledSoftmax(infoNce.withBackend(backend));
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
        inputs(infoNce.kernels("queries", queries, "positives", positives, "sampled", sampled), queries, positives, sampled);
        return infoNce.withRetrieval(inBatchOut(queries)).forwardBackward(queries, positives, sampled);
    }

    /**
     * Sampled softmax with a uniform proposal into the caller's tensors (buffers a training loop
     * reuses): the values of {@link #forwardBackward(Tensor, Tensor, Tensor)}, nothing allocated
     * for the results; returns d loss / d tau.
     *
     * @param queries       (N,D) float32, finite
     * @param positives     (N,D) float32, row i's positive
     * @param sampled       (M,D) float32, M &ge; 1 negatives shared by every row
     * @param loss          (N) float32 for NONE, else a one-element float32 tensor
     * @param gradQueries   (N,D) float32: d loss / d queries
     * @param gradPositives (N,D) float32: d loss / d positives
     * @param gradSampled   (M,D) float32: d loss / d sampled; no output may be an input or another output
     * @return d loss / d tau
     * @throws IllegalArgumentException if a shape, dtype, device or value is not as stated, or an output
     *   shares memory with another argument (naming it)
     * @throws IllegalStateException if a tensor is closed, its memory freed, or it belongs to another
     *   thread's confined arena
     */
    public float forwardBackward(Tensor queries, Tensor positives, Tensor sampled, Tensor loss, Tensor gradQueries,
                                 Tensor gradPositives, Tensor gradSampled) {
        Kernels k = infoNce.kernels("queries", queries, "positives", positives, "sampled", sampled, Kernels.OUTPUTS,
                "loss", loss, "gradQueries", gradQueries, "gradPositives", gradPositives, "gradSampled", gradSampled);
        inputs(k, queries, positives, sampled);
        outputs(k, queries, positives, sampled, loss, gradQueries, gradPositives, gradSampled);
        return infoNce.withRetrieval(inBatchOut(queries)).forwardBackward(queries, positives, sampled, loss, gradQueries,
                gradPositives, gradSampled);
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
        Kernels k = infoNce.kernels("queries", queries, "positives", positives, "sampled", sampled,
                "logQPositives", logQPositives, "logQSampled", logQSampled);
        inputs(k, queries, positives, sampled);
        try (Tensor all = logQs(k, queries, sampled, logQPositives, logQSampled)) {
            return infoNce.withRetrieval(inBatchOut(queries).withLogQ(all, false)).forwardBackward(queries, positives, sampled);
        }
    }

    /**
     * Sampled softmax with the proposal's log-probabilities subtracted, into the caller's tensors:
     * the values of {@link #forwardBackward(Tensor, Tensor, Tensor, Tensor, Tensor)}, nothing
     * allocated for the results; returns d loss / d tau.
     *
     * @param queries       (N,D) float32, finite
     * @param positives     (N,D) float32, row i's positive
     * @param sampled       (M,D) float32, M &ge; 1 negatives shared by every row
     * @param logQPositives (N) float32, finite: log Q(p_i)
     * @param logQSampled   (M) float32, finite: log Q of each sampled negative
     * @param loss          (N) float32 for NONE, else a one-element float32 tensor
     * @param gradQueries   (N,D) float32: d loss / d queries
     * @param gradPositives (N,D) float32: d loss / d positives
     * @param gradSampled   (M,D) float32: d loss / d sampled; no output may be an input or another output
     * @return d loss / d tau
     * @throws IllegalArgumentException if a shape, dtype, device or value is not as stated, or an output
     *   shares memory with another argument (naming it)
     * @throws IllegalStateException if a tensor is closed, its memory freed, or it belongs to another
     *   thread's confined arena
     */
    public float forwardBackward(Tensor queries, Tensor positives, Tensor sampled, Tensor logQPositives, Tensor logQSampled,
                                 Tensor loss, Tensor gradQueries, Tensor gradPositives, Tensor gradSampled) {
        Kernels k = infoNce.kernels("queries", queries, "positives", positives, "sampled", sampled,
                "logQPositives", logQPositives, "logQSampled", logQSampled, Kernels.OUTPUTS, "loss", loss,
                "gradQueries", gradQueries, "gradPositives", gradPositives, "gradSampled", gradSampled);
        inputs(k, queries, positives, sampled);
        outputs(k, queries, positives, sampled, loss, gradQueries, gradPositives, gradSampled);
        try (Tensor all = logQs(k, queries, sampled, logQPositives, logQSampled)) {
            return infoNce.withRetrieval(inBatchOut(queries).withLogQ(all, false)).forwardBackward(queries, positives, sampled,
                    loss, gradQueries, gradPositives, gradSampled);
        }
    }

    private RetrievalOptions inBatchOut(Tensor queries) {
        return infoNce.options().retrieval().withInBatchColumns(queries.size(0));
    }

    /** The three inputs under their own names (the InfoNCE sweep behind calls them keys and sharedNegatives). */
    private static void inputs(Kernels k, Tensor queries, Tensor positives, Tensor sampled) {
        long d = Contrastive.embeddings("queries", queries, k, 1, "expected N >= 1");
        Contrastive.embeddings("positives", positives, k, 1, "expected N >= 1");
        Checks.shape("positives", positives, "(N, D) of queries", queries.shape());
        Contrastive.embeddings("sampled", sampled, k, 1, "expected M >= 1 sampled negatives");
        Contrastive.sameWidth("sampled", sampled, "queries", d);
    }

    private void outputs(Kernels k, Tensor queries, Tensor positives, Tensor sampled, Tensor loss, Tensor gradQueries,
                         Tensor gradPositives, Tensor gradSampled) {
        Contrastive.lossBuffer(loss, k, infoNce.options().reduction(), queries.size(0));
        Contrastive.gradBuffer("gradQueries", gradQueries, k, "(N, D) of queries", queries, queries, positives, sampled);
        Contrastive.gradBuffer("gradPositives", gradPositives, k, "(N, D) of positives", positives, queries, positives, sampled,
                gradQueries);
        Contrastive.gradBuffer("gradSampled", gradSampled, k, "(M, D) of sampled", sampled, queries, positives, sampled,
                gradQueries, gradPositives);
    }

    /** [logQPositives; logQSampled] in one scratch vector of N + M, after their checks. */
    private static Tensor logQs(Kernels k, Tensor queries, Tensor sampled, Tensor logQPositives, Tensor logQSampled) {
        logQ("logQPositives", logQPositives, k, queries.size(0));
        logQ("logQSampled", logQSampled, k, sampled.size(0));
        long n = queries.size(0), m = sampled.size(0);
        Tensor all = Contrastive.scratch(k, n + m);
        try {
            k.similarity().copy(logQPositives, all.rows(0, n));
            k.similarity().copy(logQSampled, all.rows(n, m));
            return all;
        } catch (RuntimeException | Error e) {
            all.close();
            throw e;
        }
    }

    private static void logQ(String argument, Tensor t, Kernels k, long n) {
        Checks.usable(argument, t, k);
        Checks.dtype(argument, t, DType.FLOAT32);
        Checks.shape(argument, t, "(" + (argument.equals("logQPositives") ? "N" : "M") + ")", n);
        Contrastive.finite(argument, t, k);
    }
}
