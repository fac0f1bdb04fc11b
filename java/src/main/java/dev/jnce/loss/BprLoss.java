package dev.jnce.loss;

import dev.jnce.Backend;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.backend.ContrastiveKernels;
import dev.jnce.backend.Kernels;
import dev.jnce.internal.Checks;
import dev.jnce.internal.Outputs;

/**
 * Bayesian Personalised Ranking (Rendle et al. 2009): for query (user) q_i, its positive p_i and
 * K negatives n_ik, {@code loss_i = -(1/K) sum_k log sigmoid(q_i·p_i - q_i·n_ik)} on plain dot
 * products (the matrix-factorisation scores), reduced over rows (MEAN by default), with the
 * gradient of all three inputs:
 *
 * <pre>{@code
 * try (InfoNce.Result r = BprLoss.create().forwardBackward(users, positives, negatives)) { // (N,D), (N,D), (N,K,D)
 *     r.loss(); r.gradQueries(); r.gradKeys(); r.gradNegatives();   // gradTemperature is 0: BPR has none
 * }
 * }</pre>
 *
 * The scores are the explicit-negatives batched dots; scores, pairs, reduction and gradients
 * run as one pass on {@code cpu} and {@code java}.
 * {@link #forwardBackward(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)} writes into the
 * caller's buffers instead.
 * Instances are immutable and thread-safe.
 */
public final class BprLoss {
    private final Reduction reduction;
    private final Backend backend;

    private BprLoss(Reduction reduction, Backend backend) {
        this.reduction = reduction;
        this.backend = backend;
    }

    /**
     * MEAN over rows, the backend of the tensors' device.
     *
     * @return a loss with the defaults stated
     */
    public static BprLoss create() {
        return new BprLoss(Reduction.MEAN, null);
    }

    /**
     * The reduction over rows: MEAN (default), SUM, or NONE for the (N) rows' losses.
     *
     * @param reduction MEAN, SUM or NONE
     * @return a copy with this reduction; this instance is unchanged
     * @throws IllegalArgumentException if reduction is null or BATCHMEAN
     */
    public BprLoss withReduction(Reduction reduction) {
        Checks.reduction(reduction);
        return new BprLoss(reduction, backend);
    }

    /**
     * The same loss pinned to a backend.
     *
     * @param backend the backend; not null
     * @return a copy pinned to it; this instance is unchanged
     * @throws IllegalArgumentException if backend is null
     */
    public BprLoss withBackend(Backend backend) {
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        return new BprLoss(reduction, backend);
    }

    /**
     * The loss and the gradients.
     *
     * @param queries   (N,D) float32, finite
     * @param positives (N,D) float32, row i's positive
     * @param negatives (N,K,D) float32, K &ge; 1 negatives per row
     * @return the loss ((N) for NONE, else shape ()) and d loss / d each input (gradKeys: positives,
     *   gradNegatives: negatives; gradTemperature 0), in new tensors; close it
     * @throws IllegalArgumentException if a shape, dtype, device or value is not as stated (naming it)
     * @throws IllegalStateException if a tensor is closed or its memory freed
     */
    public InfoNce.Result forwardBackward(Tensor queries, Tensor positives, Tensor negatives) {
        Kernels k = Kernels.forCall(backend, "queries", queries, "positives", positives, "negatives", negatives);
        long d = ExplicitNegatives.check(k, queries, positives, negatives), n = queries.size(0);
        Tensor loss = null, dq = null, dp = null, dn = null;
        try {
            loss = Contrastive.newLoss(k, reduction, n);
            dq = Contrastive.output(k, n, d);
            dp = Contrastive.output(k, n, d);
            dn = Contrastive.output(k, negatives.shape());
            run(k, queries, positives, negatives, loss, dq, dp, dn);
            return new InfoNce.Result(loss, dq, dp, dn, 0f);
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, loss, dq, dp, dn);
        }
    }

    /**
     * The loss and the gradients into the caller's tensors (buffers a training loop reuses from
     * one step to the next): the same values as {@link #forwardBackward(Tensor, Tensor, Tensor)},
     * with nothing allocated for the results.
     *
     * @param queries       (N,D) float32, finite
     * @param positives     (N,D) float32, row i's positive
     * @param negatives     (N,K,D) float32, K &ge; 1 negatives per row
     * @param loss          (N) float32 for NONE, else a one-element float32 tensor
     * @param gradQueries   (N,D) float32: d loss / d queries
     * @param gradPositives (N,D) float32: d loss / d positives
     * @param gradNegatives (N,K,D) float32: d loss / d negatives; no output may be an input or another output
     * @throws IllegalArgumentException if a shape, dtype, device or value is not as stated, or an output
     *   shares memory with another argument (naming it)
     * @throws IllegalStateException if a tensor is closed, its memory freed, or it belongs to another
     *   thread's confined arena
     */
    public void forwardBackward(Tensor queries, Tensor positives, Tensor negatives, Tensor loss, Tensor gradQueries,
                                Tensor gradPositives, Tensor gradNegatives) {
        Kernels k = Kernels.forCall(backend, "queries", queries, "positives", positives, "negatives", negatives, Kernels.OUTPUTS,
                "loss", loss, "gradQueries", gradQueries, "gradPositives", gradPositives, "gradNegatives", gradNegatives);
        ExplicitNegatives.check(k, queries, positives, negatives);
        Contrastive.lossBuffer(loss, k, reduction, queries.size(0));
        Contrastive.gradBuffer("gradQueries", gradQueries, k, "(N, D) of queries", queries, queries, positives, negatives);
        Contrastive.gradBuffer("gradPositives", gradPositives, k, "(N, D) of positives", positives, queries, positives,
                negatives, gradQueries);
        Contrastive.gradBuffer("gradNegatives", gradNegatives, k, "(N, K, D) of negatives", negatives, queries, positives,
                negatives, gradQueries, gradPositives);
        run(k, queries, positives, negatives, loss, gradQueries, gradPositives, gradNegatives);
    }

    /**
     * The scores, the pairs' softplus and the gradients into checked outputs: in one pass where
     * the backend has one, else through a scratch logit matrix (N, K+1).
     */
    private void run(Kernels k, Tensor queries, Tensor positives, Tensor negatives, Tensor loss, Tensor dq, Tensor dp,
                     Tensor dn) {
        long n = queries.size(0), kNeg = negatives.size(1);
        ContrastiveKernels con = k.contrastive();
        if (con.bprLoss(queries, positives, negatives, reduction, loss, dq, dp, dn)) return;
        try (Tensor logits = Contrastive.scratch(k, n, kNeg + 1);
             Tensor rows = reduction == Reduction.NONE ? null : Contrastive.scratch(k, n)) {
            Tensor perRow = rows == null ? loss : rows;
            con.negativeLogits(queries, positives, negatives, 1f, logits);
            con.bprPairs(logits, perRow, logits);
            if (rows != null) con.reduceRows(rows, null, reduction, n, loss);
            float w = reduction == Reduction.MEAN ? (float) (1.0 / n) : 1f;
            con.negativeLogitsBackward(logits, queries, positives, negatives, w, dq, dp, dn);
        }
    }
}
