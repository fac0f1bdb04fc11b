package dev.jnce.loss;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.backend.ContrastiveKernels.SymmetricTargets;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.ScanKernels;
import dev.jnce.backend.SimilarityKernels;
import dev.jnce.internal.Checks;
import dev.jnce.internal.Outputs;
import dev.jnce.loss.InfoNceSweep.Positives;

/**
 * InfoNCE (van den Oord et al. 2018, "Representation Learning with Contrastive Predictive
 * Coding"): L2-normalise (optional), similarity matrix, divide by a temperature tau,
 * cross-entropy with the positives as targets — with the gradient of every embedding input and
 * of tau. The forms users meet:
 *
 * <pre>{@code
 * InfoNce loss = InfoNce.create().withTemperature(0.07f);
 * try (InfoNce.Result r = loss.forwardBackward(queries, keys)) {   // two towers, in-batch negatives
 *     r.loss().item(); r.gradQueries(); r.gradKeys(); r.gradTemperature();
 * }
 * }</pre>
 *
 * <ul>
 * <li>{@link #forwardBackward(Tensor, Tensor)}: queries (N,D) and keys (N,D); row i's positive
 *     is key i, the other keys are its negatives: {@code loss_i = -log softmax_j(q̂_i·k̂_j / tau)_i},
 *     the two-tower (dual-encoder) retrieval loss.</li>
 * <li>{@link #forwardBackward(Tensor)}: one tensor f (N,D), logits {@code f fᵀ / tau}, positives
 *     on the diagonal ({@code loss_i = -log softmax_j(f̂_i·f̂_j / tau)_i}); an {@link EmbeddingResult}.</li>
 * <li>{@link #forwardBackward(Tensor, Tensor, Tensor)}: plus shared negatives (M,D) appended to
 *     every row's candidates (a memory bank or MoCo queue).</li>
 * <li>{@link #forwardBackwardNegatives}: explicit per-query negatives (N,K,D), for example from
 *     {@link dev.jnce.ops.HardNegatives}; row i's candidates are its positive and its K negatives.</li>
 * <li>{@link #forwardBackwardLabels} and {@link #forwardBackwardMask}: several positives per row
 *     (supervised-contrastive style): the target is uniform over the row's positives. A row with
 *     no positive is an error naming it, unless {@link #withRowsWithoutPositive} says SKIP.
 *     {@link #forwardBackwardLabels(Tensor, Tensor)} is the one-tensor form (SupCon, Khosla et
 *     al. 2020), self left out.</li>
 * <li>{@link #withDecoupled(boolean)}: the positive is removed from the denominator
 *     ({@code loss_i = -s_ip + log sum_{j != p} exp s_ij}, decoupled contrastive learning, Yeh et
 *     al. 2022); single positives only.</li>
 * </ul>
 *
 * <p>Into the caller's tensors: {@link #forwardBackward(Tensor, Tensor, Tensor, Tensor, Tensor)}
 * (two towers) and {@link #forwardBackwardInto} (one tensor; its three-tensor overload is the
 * shared-negatives form) write the loss and the gradients into tensors the caller owns and return
 * d loss / d tau, so that a training loop allocates nothing per step.
 *
 * <p>Memory: the two-tensor forms sweep the logits a block of rows at a time (about 64 MiB of
 * them, at least 64 rows): the block's GEMM, its cross-entropy with the gradient written in place,
 * and its share of the two gradient GEMMs — one block buffer plus O((N+M)·D), whatever N. The
 * one-tensor forms (and {@link NtXent}) use the symmetry of {@code f fᵀ}: the lower triangle
 * alone (SYRK), G + Gᵀ in place, one gradient GEMM — half the flops, one N×N buffer (or, with
 * {@link #withBlockRows} below N, blocks at the two-tensor flops). The
 * several-positives forms read their labels or mask directly: no (N,M) target buffer. A call
 * borrows its logit buffer from a pool shared by every thread and gives it back when it ends (a
 * fresh, zero-filled N×N allocation per call cost a quarter of the time at N = 16384); the pool
 * keeps at most one idle buffer per processor and, beyond the buffer returned last, at most
 * 64 MiB per processor of them, whatever the number of threads that ran calls. The L2-normalised
 * copies of the embeddings (when normalising) of 1 MiB or more come from a second pool under the
 * same rules (at most three idle copies per processor), as a fresh copy's page faults cost as
 * much as the normalisation itself; {@link #releaseWorkspace()} frees both.
 *
 * <p>Reductions: MEAN over rows (PyTorch's default for the cross-entropy), SUM, or NONE (the
 * gradients are then those of the sum). Embeddings must be finite: NaN or Inf is an
 * {@link IllegalArgumentException} naming the row. A call runs on the backend the loss is pinned
 * to, else on that of its tensors' device; outputs are made there. Instances are immutable and
 * thread-safe.
 */
public final class InfoNce {
    /** What a row with no positive does in the several-positives forms. */
    public enum RowsWithoutPositive {
        /** Throw {@link IllegalArgumentException} naming the first such row (the default). */
        THROW,
        /** Leave such rows out of the loss (loss 0, gradient 0) and of the mean. */
        SKIP
    }

    private final InfoNceOptions o;
    private final Backend backend; // null: the backend of the tensors' device

    private InfoNce(InfoNceOptions o, Backend backend) {
        this.o = o;
        this.backend = backend;
    }

    /**
     * Cosine similarity (F.normalize, eps 1e-12), temperature 0.1, MEAN; host tensors on {@link Backends#current()}.
     *
     * @return a loss with the defaults stated
     */
    public static InfoNce create() {
        return new InfoNce(new InfoNceOptions(0.1f, true, false, Reduction.MEAN, false, 0, RetrievalOptions.NONE), null);
    }

    /**
     * The temperature tau the similarities are divided by: finite, > 0 and a normal float32, in
     * [{@link Float#MIN_NORMAL}, {@link Float#MAX_VALUE}] (below, 1/tau overflows float32 or tau
     * is subnormal, with few significant bits); anything else is an {@link IllegalArgumentException}
     * stating the range. Without normalisation a call also refuses, naming temperature, a
     * temperature that could carry a logit q . k / tau past float32's range: when
     * ||Q||_F ||K||_F / tau exceeds {@link Float#MAX_VALUE} (Frobenius norms of the queries and of
     * everything they are compared with), since an overflowed logit makes the loss NaN.
     *
     * @param tau the temperature, a normal positive float32
     * @return a copy of this instance with the setting changed; this instance is unchanged
     */
    public InfoNce withTemperature(float tau) {
        return new InfoNce(new InfoNceOptions(tau, o.normalize(), o.decoupled(),
                o.reduction(), o.skipEmpty(), o.blockRows(), o.retrieval()), backend);
    }

    /**
     * true (default): cosine similarity of L2-normalised rows; false: plain dot product.
     *
     * @param normalize true for cosine similarity, false for the plain dot product
     * @return a copy of this instance with the setting changed; this instance is unchanged
     */
    public InfoNce withNormalize(boolean normalize) {
        return new InfoNce(new InfoNceOptions(o.temperature(), normalize, o.decoupled(), o.reduction(), o.skipEmpty(),
                o.blockRows(), o.retrieval()), backend);
    }

    /**
     * Removes the positive from the denominator (decoupled contrastive learning, Yeh et al. 2022).
     *
     * @param decoupled true to leave the positive out of the denominator
     * @return a copy of this instance with the setting changed; this instance is unchanged
     */
    public InfoNce withDecoupled(boolean decoupled) {
        return new InfoNce(new InfoNceOptions(o.temperature(), o.normalize(), decoupled, o.reduction(), o.skipEmpty(),
                o.blockRows(), o.retrieval()), backend);
    }

    /**
     * The same loss with another reduction over rows: MEAN (default), SUM, or NONE for (N) per-row losses.
     *
     * @param reduction MEAN, SUM or NONE; not null
     * @return a copy with this reduction; this instance is unchanged
     * @throws IllegalArgumentException if reduction is null or BATCHMEAN
     */
    public InfoNce withReduction(Reduction reduction) {
        Checks.reduction(reduction);
        return new InfoNce(new InfoNceOptions(o.temperature(), o.normalize(), o.decoupled(), reduction, o.skipEmpty(),
                o.blockRows(), o.retrieval()), backend);
    }

    /**
     * What a row without any positive (labels or mask forms) does: an error naming the row (the default),
     * or the row
     * is left out of the loss and of the mean.
     *
     * @param rule the rule; not null
     * @return a copy with this rule; this instance is unchanged
     * @throws IllegalArgumentException if rule is null
     */
    public InfoNce withRowsWithoutPositive(RowsWithoutPositive rule) {
        if (rule == null) throw new IllegalArgumentException("rowsWithoutPositive: must not be null");
        return new InfoNce(new InfoNceOptions(o.temperature(), o.normalize(), o.decoupled(), o.reduction(),
                rule == RowsWithoutPositive.SKIP, o.blockRows(), o.retrieval()), backend);
    }

    /**
     * The same loss pinned to a backend: every call runs there, whatever device the tensors are on.
     *
     * @param backend the backend; not null
     * @return a copy pinned to {@code backend}; this instance is unchanged
     * @throws IllegalArgumentException if backend is null
     */
    public InfoNce withBackend(Backend backend) {
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        return new InfoNce(o, backend);
    }

    /**
     * How many rows of logits are held at once. Two-tensor forms: 0 (the default) picks about
     * 64 MiB of them, at least 64 rows; N or more holds the whole (N,M) matrix. One-tensor forms
     * (and {@link NtXent}) hold the whole N×N matrix for their symmetric path (half the flops)
     * unless this is set below N: then they too sweep blocks, at the two-tensor path's flops —
     * for a batch whose N×N logits do not fit in memory. With the default 0 they choose by
     * themselves: the whole matrix while it takes at most 1 GiB (N &le; 16384), row blocks of
     * about 64 MiB beyond, so that no batch size asks for an N×N buffer it cannot have (N = 65536
     * would take 16 GiB). On a GPU the automatic blocks hold about 1 GiB of logits (large GEMMs
     * fill its multiprocessors), and the one-tensor forms always sweep blocks. Results are the
     * same up to float rounding.
     *
     * @param rows the rows of logits held at once: 0 for the automatic choice above, else &ge; 1
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if rows is negative
     */
    public InfoNce withBlockRows(long rows) {
        if (rows < 0) throw new IllegalArgumentException("blockRows: must be >= 0, got " + rows);
        return new InfoNce(new InfoNceOptions(o.temperature(), o.normalize(), o.decoupled(), o.reduction(), o.skipEmpty(),
                rows, o.retrieval()), backend);
    }

    /**
     * Which softmax a two-tower call takes over the (N,N) similarities {@code s_ij = sim(q_i, k_j) / tau}.
     */
    public enum Direction {
        /** Each query against the keys: {@code loss_i = -log softmax_j(s_ij)_i} (the default). */
        QUERY_TO_KEY,
        /** Each key against the queries: {@code loss_i = -log softmax_j(s_ji)_i}. */
        KEY_TO_QUERY,
        /** The mean of the two: {@code (QUERY_TO_KEY_i + KEY_TO_QUERY_i) / 2} per pair (CLIP's loss). */
        SYMMETRIC,
        /**
         * GTE's improved contrastive loss (Li et al. 2023, "Towards General Text Embeddings with
         * Multi-stage Contrastive Learning"; sentence-transformers'
         * MultipleNegativesBidirectionalRankingLoss): {@code loss_i = -log(exp(s(q_i, k_i)) / Z_i)}
         * with {@code Z_i = sum_j exp s(q_i, k_j) + sum_{j != i} exp s(q_i, q_j)
         * + sum_j exp s(q_j, k_i) + sum_{j != i} exp s(k_j, k_i)}: one softmax over 4N - 2
         * candidates per pair, in which the positive appears twice (as q_i against k_i and k_i
         * against q_i).
         */
        BIDIRECTIONAL_GTE
    }

    /**
     * The direction of the two-tower forms ({@link Direction}); the other forms accept
     * QUERY_TO_KEY only, and the shared-negatives form too (its negatives are keys).
     *
     * @param direction the direction; not null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if direction is null
     */
    public InfoNce withDirection(Direction direction) {
        if (direction == null) throw new IllegalArgumentException("direction: must not be null");
        return withRetrieval(o.retrieval().withDirection(direction));
    }

    /**
     * An additive margin on the positive (AM-softmax, Wang et al. 2018): the positive's logit is
     * {@code (sim(q_i, k_i) - margin) / tau}, the margin subtracted from the similarity before the
     * temperature ({@code s (cos - m)} with {@code s = 1/tau}). Two-tower forms (every direction)
     * and the shared-negatives form.
     *
     * @param margin the margin, finite; 0 (the default) for none
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if margin is not finite
     */
    public InfoNce withMargin(float margin) {
        return withRetrieval(o.retrieval().withMargin(Contrastive.finiteValue("margin", margin)));
    }

    /**
     * Label smoothing over each row's candidates, as {@code F.cross_entropy(label_smoothing=eps)}:
     * {@code loss_i = (1 - eps) nll_i + eps * mean over the candidates of -log p_ij}. Candidates
     * taken out of the softmax (accidental hits, GTE's self-pairs) are not counted: the mean is
     * over those left. Two-tower forms (every direction) and the shared-negatives form.
     *
     * @param eps the smoothing, in [0, 1]; 0 (the default) for none
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if eps is outside [0, 1]
     */
    public InfoNce withLabelSmoothing(float eps) {
        if (!(eps >= 0f && eps <= 1f)) throw new IllegalArgumentException("labelSmoothing: " + eps + " is outside [0, 1]");
        return withRetrieval(o.retrieval().withLabelSmoothing(eps));
    }

    /**
     * Sampling-bias (logQ) correction (Yi et al., RecSys 2019): every key column j's logit
     * becomes {@code s_ij - logQ[j]}, after the temperature, so that popular keys, which are
     * in-batch negatives more often, are not over-penalised. As TFRS's Retrieval with
     * candidate_sampling_probability, but given as log-probabilities (see
     * {@link #withSamplingProbabilities} for probabilities). Not differentiated.
     *
     * <p>A per-batch setting: the loss holds {@code logQ} itself (not a copy) and reads it at each
     * call, so make the copy per batch ({@code loss.withLogQCorrection(logQ).forwardBackward(q, k)},
     * cheap) and keep the tensor open until the call returns. Two-tower forms with QUERY_TO_KEY
     * (and the query-to-key half of SYMMETRIC) and the shared-negatives form.
     *
     * @param logQ float32 (M), finite: M = N for the two-tower forms, N + M' with M' shared negatives
     *   (keys first); null removes the correction
     * @return a copy of this instance with the setting changed; this instance is unchanged
     */
    public InfoNce withLogQCorrection(Tensor logQ) {
        return withRetrieval(o.retrieval().withLogQ(logQ, false));
    }

    /**
     * The logQ correction from sampling probabilities, as TFRS's
     * {@code candidate_sampling_probability}: {@code s_ij - log(clamp(p[j], 1e-6, 1))}. Same rules
     * as {@link #withLogQCorrection}.
     *
     * @param probabilities float32 (M), in [0, 1]; null removes the correction
     * @return a copy of this instance with the setting changed; this instance is unchanged
     */
    public InfoNce withSamplingProbabilities(Tensor probabilities) {
        return withRetrieval(o.retrieval().withLogQ(probabilities, true));
    }

    /**
     * Accidental-hit removal (TFRS's remove_accidental_hits): a candidate with the same id as
     * the row's positive, other than the positive itself, takes no part in the row's softmax
     * (its logit is -Infinity, not TFRS's finite large negative, so it stays out at any logit
     * size). The ids are those of the candidate columns, the row's positive being column i;
     * in KEY_TO_QUERY and SYMMETRIC the same ids apply to the pairs. Same per-batch rule as
     * {@link #withLogQCorrection}. Not with BIDIRECTIONAL_GTE.
     *
     * @param keyIds int32 or int64 (M): M = N, or N + M' with shared negatives (keys first);
     *   null removes the option
     * @return a copy of this instance with the setting changed; this instance is unchanged
     */
    public InfoNce withAccidentalHits(Tensor keyIds) {
        return withRetrieval(o.retrieval().withKeyIds(keyIds));
    }

    InfoNce withRetrieval(RetrievalOptions r) {
        return new InfoNce(o.withRetrieval(r), backend);
    }

    InfoNceOptions options() {
        return o;
    }

    /**
     * The temperature tau the similarities are divided by.
     *
     * @return the temperature
     */
    public float temperature() {
        return o.temperature();
    }

    /**
     * Frees the idle logit buffers and normalised copies that InfoNce, NtXent, ClipLoss and
     * SigLipLoss keep between calls (pools shared by every thread); buffers lent to calls in
     * progress return to the pool when those calls end.
     */
    public static void releaseWorkspace() {
        Workspace.releaseIdle();
    }

    /**
     * The loss and gradients of a two-tensor form; closing it closes every tensor in it.
     *
     * @param loss the loss: (N) for NONE, else one element
     * @param gradQueries     d loss / d queries
     * @param gradKeys        d loss / d keys (or d loss / d positives for explicit negatives)
     * @param gradNegatives   d loss / d the shared (M,D) or explicit (N,K,D) negatives, or null
     * @param gradTemperature d loss / d tau
     */
    public record Result(Tensor loss, Tensor gradQueries, Tensor gradKeys, Tensor gradNegatives, float gradTemperature)
            implements AutoCloseable {
        @Override
        public void close() {
            loss.close();
            gradQueries.close();
            if (gradKeys != null) gradKeys.close();
            if (gradNegatives != null) gradNegatives.close();
        }
    }

    // ---- two towers --------------------------------------------------------------------------

    /**
     * Two towers: queries (N,D), keys (N,D); key i is row i's positive, the other keys its negatives.
     *
     * @param queries the queries (N,D) float32, N &ge; 1, finite values
     * @param keys the keys (N,D) float32; key i is query i's positive
     * @return the loss and the gradients, in new tensors on the call's device; close the result (or use a
     *   {@link dev.jnce.TensorScope})
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Result forwardBackward(Tensor queries, Tensor keys) {
        Kernels k = kernels("queries", queries, "keys", keys);
        long d = checkTwoTowers(k, queries, keys), n = queries.size(0);
        return allocated(k, n, new long[] {n, d}, new long[] {n, d}, null,
                (loss, dq, dk, unused) -> twoTowers(k, queries, keys, loss, dq, dk));
    }

    /**
     * Two towers into the caller's tensors: the loss into {@code loss}, d loss / d queries into
     * {@code gradQueries} and d loss / d keys into {@code gradKeys}; returns d loss / d tau.
     *
     * @param queries the queries (N,D) float32, N &ge; 1, finite values
     * @param keys the keys (N,D) float32; key i is query i's positive
     * @param loss        (N) float32 for NONE, else a one-element float32 tensor
     * @param gradQueries (N,D) float32, not an input
     * @param gradKeys    (N,D) float32, not an input nor gradQueries
     * @return d loss / d tau
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public float forwardBackward(Tensor queries, Tensor keys, Tensor loss, Tensor gradQueries, Tensor gradKeys) {
        Kernels k = kernels("queries", queries, "keys", keys, Kernels.OUTPUTS, "loss", loss, "gradQueries", gradQueries,
                "gradKeys", gradKeys);
        checkTwoTowers(k, queries, keys);
        Contrastive.lossBuffer(loss, k, o.reduction(), queries.size(0));
        Contrastive.gradBuffer("gradQueries", gradQueries, k, "(N, D) of queries", queries, queries, keys);
        Contrastive.gradBuffer("gradKeys", gradKeys, k, "(N, D) of keys", keys, queries, keys, gradQueries);
        return twoTowers(k, queries, keys, loss, gradQueries, gradKeys);
    }

    /**
     * The loss alone for two towers (evaluation): one GEMM and the cross-entropy per block, no
     * gradient buffers. Same checks and meaning as {@link #forwardBackward(Tensor, Tensor)}.
     *
     * @param queries the queries (N,D) float32, N &ge; 1, finite values
     * @param keys the keys (N,D) float32; key i is query i's positive
     * @return the loss in a new tensor: (N) for NONE, else shape ()
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Tensor forward(Tensor queries, Tensor keys) {
        Kernels k = kernels("queries", queries, "keys", keys);
        checkTwoTowers(k, queries, keys);
        Tensor loss = Contrastive.newLoss(k, o.reduction(), queries.size(0));
        try {
            twoTowers(k, queries, keys, loss, null, null);
            return loss;
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, loss);
        }
    }

    /**
     * Two towers plus shared negatives (M,D) appended to every row's candidates (memory bank, MoCo queue).
     *
     * @param queries the queries (N,D) float32, N &ge; 1, finite values
     * @param keys the keys (N,D) float32; key i is query i's positive
     * @param sharedNegatives negatives (M,D) float32 shared by every row (a memory bank, MoCo's queue)
     * @return the loss and the gradients (gradNegatives for the shared negatives), in new tensors on the
     *   call's device; close the result (or use a {@link dev.jnce.TensorScope})
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Result forwardBackward(Tensor queries, Tensor keys, Tensor sharedNegatives) {
        Kernels k = kernels("queries", queries, "keys", keys, "sharedNegatives", sharedNegatives);
        long d = checkShared(k, queries, keys, sharedNegatives), n = queries.size(0);
        return allocated(k, n, new long[] {n, d}, new long[] {n, d}, sharedNegatives.shape(), (loss, dq, dk, dNeg) ->
                InfoNceSweep.run(k, o, queries, keys, sharedNegatives, Positives.diagonal(0), loss, dq, dk, dNeg));
    }

    /**
     * Two towers plus shared negatives into the caller's tensors; returns d loss / d tau.
     *
     * @param queries the queries (N,D) float32, N &ge; 1, finite values
     * @param keys the keys (N,D) float32; key i is query i's positive
     * @param sharedNegatives negatives (M,D) float32 shared by every row (a memory bank, MoCo's queue)
     * @param loss          (N) float32 for NONE, else a one-element float32 tensor
     * @param gradQueries   (N,D) float32
     * @param gradKeys      (N,D) float32
     * @param gradNegatives (M,D) float32; no gradient buffer may be an input or another output
     * @return d loss / d tau
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public float forwardBackward(Tensor queries, Tensor keys, Tensor sharedNegatives, Tensor loss, Tensor gradQueries,
                                 Tensor gradKeys, Tensor gradNegatives) {
        Kernels k = kernels("queries", queries, "keys", keys, "sharedNegatives", sharedNegatives, Kernels.OUTPUTS, "loss", loss,
                "gradQueries", gradQueries, "gradKeys", gradKeys, "gradNegatives", gradNegatives);
        checkShared(k, queries, keys, sharedNegatives);
        Contrastive.lossBuffer(loss, k, o.reduction(), queries.size(0));
        Contrastive.gradBuffer("gradQueries", gradQueries, k, "(N, D) of queries", queries, queries, keys, sharedNegatives);
        Contrastive.gradBuffer("gradKeys", gradKeys, k, "(N, D) of keys", keys, queries, keys, sharedNegatives, gradQueries);
        Contrastive.gradBuffer("gradNegatives", gradNegatives, k, "(M, D) of sharedNegatives", sharedNegatives, queries, keys,
                sharedNegatives, gradQueries, gradKeys);
        return InfoNceSweep.run(k, o, queries, keys, sharedNegatives, Positives.diagonal(0), loss, gradQueries, gradKeys,
                gradNegatives);
    }

    private long checkShared(Kernels k, Tensor queries, Tensor keys, Tensor sharedNegatives) {
        if (o.retrieval().direction() != Direction.QUERY_TO_KEY) {
            throw new IllegalArgumentException("direction: " + o.retrieval().direction() + " is not supported with "
                    + "sharedNegatives (they are keys); use QUERY_TO_KEY");
        }
        long d = Contrastive.embeddings("queries", queries, k, 1, "expected N >= 1");
        Contrastive.embeddings("keys", keys, k, 1, "expected N >= 1");
        Checks.shape("keys", keys, "(N, D) of queries", queries.shape());
        Contrastive.embeddings("sharedNegatives", sharedNegatives, k, 1, "expected M >= 1 negatives");
        Contrastive.sameWidth("sharedNegatives", sharedNegatives, "queries", d);
        checkRetrievalTensors(k, queries.size(0) + sharedNegatives.size(0), "N + M (keys, then sharedNegatives)");
        return d;
    }

    // ---- one tensor --------------------------------------------------------------------------

    /**
     * One tensor (N,D): logits {@code f fᵀ / tau}, positives on the diagonal; the gradient flows through both sides.
     *
     * @param embeddings the embeddings (N,D) float32, N &ge; 2, finite values
     * @return the loss and d loss / d embeddings, in new tensors on the call's device; close the result
     *   (or use a {@link dev.jnce.TensorScope})
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public EmbeddingResult forwardBackward(Tensor embeddings) {
        Kernels k = kernels("embeddings", embeddings);
        long d = checkOneTensor(k, embeddings);
        return allocated(k, embeddings.size(0), d,
                (loss, grad) -> oneTensor(k, embeddings, Positives.diagonal(0), loss, grad));
    }

    /**
     * The one-tensor form into the caller's tensors: the loss into {@code loss}, d loss / d
     * embeddings into {@code grad}; returns d loss / d tau. (Named apart from the overloads: three
     * tensors is the shared-negatives form.)
     *
     * @param embeddings the embeddings (N,D) float32, N &ge; 2, finite values
     * @param loss (N) float32 for NONE, else a one-element float32 tensor
     * @param grad (N,D) float32, not the embeddings
     * @return d loss / d tau
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public float forwardBackwardInto(Tensor embeddings, Tensor loss, Tensor grad) {
        Kernels k = kernels("embeddings", embeddings, Kernels.OUTPUTS, "loss", loss, "grad", grad);
        checkOneTensor(k, embeddings);
        Contrastive.lossBuffer(loss, k, o.reduction(), embeddings.size(0));
        Contrastive.gradBuffer("grad", grad, k, "(N, D) of embeddings", embeddings, embeddings);
        return oneTensor(k, embeddings, Positives.diagonal(0), loss, grad);
    }

    /**
     * The loss alone for the one-tensor form.
     *
     * @param embeddings the embeddings (N,D) float32, N &ge; 2, finite values
     * @return the loss in a new tensor: (N) for NONE, else shape ()
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Tensor forward(Tensor embeddings) {
        Kernels k = kernels("embeddings", embeddings);
        checkOneTensor(k, embeddings);
        Tensor loss = Contrastive.newLoss(k, o.reduction(), embeddings.size(0));
        try {
            oneTensor(k, embeddings, Positives.diagonal(0), loss, null);
            return loss;
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, loss);
        }
    }

    // ---- several positives -------------------------------------------------------------------

    /**
     * Several positives per row: key j is a positive of query i when their labels are equal
     * (int32 or int64 labels, (N) and (M)).
     *
     * @param queries the queries (N,D) float32, N &ge; 1, finite values
     * @param keys the keys (M,D) float32, finite values; for the two-tower forms M = N and key i is row
     *   i's positive
     * @param queryLabels the queries' labels (N), int32 or int64
     * @param keyLabels the keys' labels (M), int32 or int64, of the queries' dtype
     * @return the loss and the gradients, in new tensors on the call's device; close the result (or use a
     *   {@link dev.jnce.TensorScope})
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Result forwardBackwardLabels(Tensor queries, Tensor keys, Tensor queryLabels, Tensor keyLabels) {
        Kernels k = kernels("queries", queries, "keys", keys, "queryLabels", queryLabels, "keyLabels", keyLabels);
        long d = checkLabels(k, queries, keys, queryLabels, keyLabels), n = queries.size(0);
        return allocated(k, n, new long[] {n, d}, keys.shape(), null, (loss, dq, dk, unused) ->
                InfoNceSweep.run(k, o, queries, keys, null, Positives.labels(queryLabels, keyLabels), loss, dq, dk, null));
    }

    /**
     * Several positives by labels, into the caller's tensors; returns d loss / d tau.
     *
     * @param queries the queries (N,D) float32, N &ge; 1, finite values
     * @param keys the keys (M,D) float32, finite values; for the two-tower forms M = N and key i is row
     *   i's positive
     * @param queryLabels the queries' labels (N), int32 or int64
     * @param keyLabels the keys' labels (M), int32 or int64, of the queries' dtype
     * @param loss        (N) float32 for NONE, else a one-element float32 tensor
     * @param gradQueries (N,D) float32
     * @param gradKeys    (M,D) float32; neither gradient buffer may be an input or the other
     * @return d loss / d tau
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public float forwardBackwardLabels(Tensor queries, Tensor keys, Tensor queryLabels, Tensor keyLabels, Tensor loss,
                                       Tensor gradQueries, Tensor gradKeys) {
        Kernels k = kernels("queries", queries, "keys", keys, "queryLabels", queryLabels, "keyLabels", keyLabels,
                Kernels.OUTPUTS, "loss", loss, "gradQueries", gradQueries, "gradKeys", gradKeys);
        checkLabels(k, queries, keys, queryLabels, keyLabels);
        intoTwoTowers(k, queries, keys, loss, gradQueries, gradKeys);
        return InfoNceSweep.run(k, o, queries, keys, null, Positives.labels(queryLabels, keyLabels), loss, gradQueries,
                gradKeys, null);
    }

    private long checkLabels(Kernels k, Tensor queries, Tensor keys, Tensor queryLabels, Tensor keyLabels) {
        long d = Contrastive.embeddings("queries", queries, k, 1, "expected N >= 1");
        Contrastive.embeddings("keys", keys, k, 2, "expected M >= 2 keys");
        Contrastive.sameWidth("keys", keys, "queries", d);
        labels("queryLabels", queryLabels, k, queries.size(0));
        labels("keyLabels", keyLabels, k, keys.size(0));
        severalPositives();
        plainOnly("the labels form");
        return d;
    }

    /** The caller's loss (N or one element), d/d queries (N,D) and d/d keys (M,D) buffers of a two-tower form. */
    private void intoTwoTowers(Kernels k, Tensor queries, Tensor keys, Tensor loss, Tensor gradQueries, Tensor gradKeys) {
        Contrastive.lossBuffer(loss, k, o.reduction(), queries.size(0));
        Contrastive.gradBuffer("gradQueries", gradQueries, k, "(N, D) of queries", queries, queries, keys);
        Contrastive.gradBuffer("gradKeys", gradKeys, k, "(M, D) of keys", keys, queries, keys, gradQueries);
    }

    /**
     * Supervised contrastive learning on one tensor (SupCon's L_out, Khosla et al. 2020):
     * embeddings (N,D) and labels (N), int32 or int64; row i's positives are the other rows with
     * its label, its own similarity takes no part, and
     * loss_i = -(1/|P(i)|) sum_{p in P(i)} log softmax_{j != i}(s_i)_p. The gradient flows through
     * both sides of {@code f fᵀ}. A row whose label no other row shares has no positive: an
     * error naming it, or left out with {@link #withRowsWithoutPositive} SKIP.
     *
     * @param embeddings the embeddings (N,D) float32, N &ge; 2, finite values
     * @param labels the labels (N), int32 or int64; rows with equal labels are positives of each other
     * @return the loss and d loss / d embeddings, in new tensors on the call's device; close the result
     *   (or use a {@link dev.jnce.TensorScope})
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public EmbeddingResult forwardBackwardLabels(Tensor embeddings, Tensor labels) {
        Kernels k = kernels("embeddings", embeddings, "labels", labels);
        long d = checkSupCon(k, embeddings, labels);
        return allocated(k, embeddings.size(0), d,
                (loss, grad) -> oneTensor(k, embeddings, Positives.labels(labels, labels), loss, grad));
    }

    /**
     * SupCon on one tensor into the caller's tensors; returns d loss / d tau. (Named apart from
     * the overloads, as {@link #forwardBackwardInto} is: four tensors is the two-tower labels form.)
     *
     * @param embeddings the embeddings (N,D) float32, N &ge; 2, finite values
     * @param labels the labels (N), int32 or int64; rows with equal labels are positives of each other
     * @param loss (N) float32 for NONE, else a one-element float32 tensor
     * @param grad (N,D) float32, not the embeddings
     * @return d loss / d tau
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public float forwardBackwardLabelsInto(Tensor embeddings, Tensor labels, Tensor loss, Tensor grad) {
        Kernels k = kernels("embeddings", embeddings, "labels", labels, Kernels.OUTPUTS, "loss", loss, "grad", grad);
        checkSupCon(k, embeddings, labels);
        Contrastive.lossBuffer(loss, k, o.reduction(), embeddings.size(0));
        Contrastive.gradBuffer("grad", grad, k, "(N, D) of embeddings", embeddings, embeddings);
        return oneTensor(k, embeddings, Positives.labels(labels, labels), loss, grad);
    }

    private long checkSupCon(Kernels k, Tensor embeddings, Tensor labels) {
        long d = Contrastive.embeddings("embeddings", embeddings, k, 2, "expected N >= 2 (the other rows are the candidates)");
        labels("labels", labels, k, embeddings.size(0));
        severalPositives();
        plainOnly("the one-tensor labels form");
        return d;
    }

    /**
     * Several positives per row from a (N,M) int32 mask (non-zero: positive).
     *
     * @param queries the queries (N,D) float32, N &ge; 1, finite values
     * @param keys the keys (M,D) float32, finite values; for the two-tower forms M = N and key i is row
     *   i's positive
     * @param positiveMask (N,M) int32; non-zero marks key j as a positive of query i
     * @return the loss and the gradients, in new tensors on the call's device; close the result (or use a
     *   {@link dev.jnce.TensorScope})
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Result forwardBackwardMask(Tensor queries, Tensor keys, Tensor positiveMask) {
        Kernels k = kernels("queries", queries, "keys", keys, "positiveMask", positiveMask);
        long d = checkMask(k, queries, keys, positiveMask), n = queries.size(0);
        return allocated(k, n, new long[] {n, d}, keys.shape(), null, (loss, dq, dk, unused) ->
                InfoNceSweep.run(k, o, queries, keys, null, Positives.mask(positiveMask), loss, dq, dk, null));
    }

    /**
     * Several positives from a mask, into the caller's tensors; returns d loss / d tau.
     *
     * @param queries the queries (N,D) float32, N &ge; 1, finite values
     * @param keys the keys (M,D) float32, finite values; for the two-tower forms M = N and key i is row
     *   i's positive
     * @param positiveMask (N,M) int32; non-zero marks key j as a positive of query i
     * @param loss        (N) float32 for NONE, else a one-element float32 tensor
     * @param gradQueries (N,D) float32
     * @param gradKeys    (M,D) float32; neither gradient buffer may be an input or the other
     * @return d loss / d tau
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public float forwardBackwardMask(Tensor queries, Tensor keys, Tensor positiveMask, Tensor loss, Tensor gradQueries,
                                     Tensor gradKeys) {
        Kernels k = kernels("queries", queries, "keys", keys, "positiveMask", positiveMask, Kernels.OUTPUTS, "loss", loss,
                "gradQueries", gradQueries, "gradKeys", gradKeys);
        checkMask(k, queries, keys, positiveMask);
        intoTwoTowers(k, queries, keys, loss, gradQueries, gradKeys);
        return InfoNceSweep.run(k, o, queries, keys, null, Positives.mask(positiveMask), loss, gradQueries, gradKeys, null);
    }

    private long checkMask(Kernels k, Tensor queries, Tensor keys, Tensor positiveMask) {
        long d = Contrastive.embeddings("queries", queries, k, 1, "expected N >= 1");
        Contrastive.embeddings("keys", keys, k, 2, "expected M >= 2 keys");
        Contrastive.sameWidth("keys", keys, "queries", d);
        Checks.usable("positiveMask", positiveMask, k);
        Checks.dtype("positiveMask", positiveMask, DType.INT32);
        Checks.shape("positiveMask", positiveMask, "(N, M)", queries.size(0), keys.size(0));
        severalPositives();
        plainOnly("the mask form");
        return d;
    }

    /**
     * Explicit negatives: queries (N,D), positives (N,D), negatives (N,K,D) with K >= 1; row i's
     * candidates are its positive and its own K negatives. gradKeys is d loss / d positives.
     *
     * @param queries the queries (N,D) float32, N &ge; 1, finite values
     * @param positives each row's positive (N,D) float32
     * @param negatives each row's own negatives (N,K,D) float32, K &ge; 1
     * @return the loss and the gradients (gradKeys for the positives, gradNegatives for the negatives), in
     *   new tensors on the call's device; close the result (or use a {@link dev.jnce.TensorScope})
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Result forwardBackwardNegatives(Tensor queries, Tensor positives, Tensor negatives) {
        Kernels k = kernels("queries", queries, "positives", positives, "negatives", negatives);
        plainOnly("the explicit-negatives form");
        long d = ExplicitNegatives.check(k, queries, positives, negatives), n = queries.size(0);
        return allocated(k, n, new long[] {n, d}, new long[] {n, d}, negatives.shape(), (loss, dq, dp, dn) ->
                ExplicitNegatives.run(k, o, queries, positives, negatives, loss, dq, dp, dn));
    }

    /**
     * Explicit negatives into the caller's tensors; returns d loss / d tau.
     *
     * @param queries the queries (N,D) float32, N &ge; 1, finite values
     * @param positives each row's positive (N,D) float32
     * @param negatives each row's own negatives (N,K,D) float32, K &ge; 1
     * @param loss          (N) float32 for NONE, else a one-element float32 tensor
     * @param gradQueries   (N,D) float32
     * @param gradPositives (N,D) float32
     * @param gradNegatives (N,K,D) float32; no gradient buffer may be an input or another output
     * @return d loss / d tau
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public float forwardBackwardNegatives(Tensor queries, Tensor positives, Tensor negatives, Tensor loss,
                                          Tensor gradQueries, Tensor gradPositives, Tensor gradNegatives) {
        Kernels k = kernels("queries", queries, "positives", positives, "negatives", negatives, Kernels.OUTPUTS, "loss", loss,
                "gradQueries", gradQueries, "gradPositives", gradPositives, "gradNegatives", gradNegatives);
        plainOnly("the explicit-negatives form");
        ExplicitNegatives.check(k, queries, positives, negatives);
        Contrastive.lossBuffer(loss, k, o.reduction(), queries.size(0));
        Contrastive.gradBuffer("gradQueries", gradQueries, k, "(N, D) of queries", queries, queries, positives, negatives);
        Contrastive.gradBuffer("gradPositives", gradPositives, k, "(N, D) of positives", positives, queries, positives,
                negatives, gradQueries);
        Contrastive.gradBuffer("gradNegatives", gradNegatives, k, "(N, K, D) of negatives", negatives, queries, positives,
                negatives, gradQueries, gradPositives);
        return ExplicitNegatives.run(k, o, queries, positives, negatives, loss, gradQueries, gradPositives, gradNegatives);
    }

    // ---- shared with NtXent ------------------------------------------------------------------

    /** The pinned backend, else the one of the tensors' device (every tensor on one device). */
    Kernels kernels(Object... namesAndTensors) {
        RetrievalOptions r = o.retrieval();
        if (r.logQ() == null && r.keyIds() == null) return Kernels.forCall(backend, namesAndTensors);
        Object[] all = new Object[namesAndTensors.length + 4];
        all[0] = r.logQIsProbability() ? "samplingProbabilities" : "logQ";
        all[1] = r.logQ();
        all[2] = "keyIds";
        all[3] = r.keyIds();
        System.arraycopy(namesAndTensors, 0, all, 4, namesAndTensors.length);
        return Kernels.forCall(backend, all);
    }

    Reduction reduction() {
        return o.reduction();
    }

    /**
     * A one-tensor form on f (N,D), arguments checked: the symmetric path, or the row-block sweep
     * when blocks smaller than N are asked for. df == null computes the loss alone. Returns
     * d loss / d tau.
     */
    float oneTensor(Kernels k, Tensor f, Positives pos, Tensor loss, Tensor df) {
        if (!pos.single() && !o.skipEmpty()) {
            long row = k.contrastive().firstUnsharedLabel(pos.queryLabels());
            if (row >= 0) throw InfoNceSweep.noPositive("labels", row, f.size(0), true);
        }
        long n = f.size(0);
        if (Contrastive.onGpu(k) || (o.blockRows() > 0 ? o.blockRows() < n : 4L * n * n > Contrastive.FULL_MATRIX_BYTES)) {
            return InfoNceSweep.run(k, o, f, null, null, pos, loss, df, null, null);
        }
        SymmetricTargets targets = pos.single()
                ? new SymmetricTargets(pos.offset(), pos.offset() != 0, o.decoupled(), o.reduction())
                : SymmetricTargets.labels(pos.queryLabels(), o.skipEmpty(), o.reduction());
        return symmetric(k, f, targets, loss, df);
    }

    /** An EmbeddingResult of fresh outputs on the call's device, closed again if the call fails. */
    EmbeddingResult allocated(Kernels k, long n, long d, OneTensorRun run) {
        Tensor loss = null, grad = null;
        try {
            loss = Contrastive.newLoss(k, o.reduction(), n);
            grad = Contrastive.output(k, n, d);
            return new EmbeddingResult(loss, grad, run.into(loss, grad));
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, loss, grad);
        }
    }

    /** A one-tensor call writing into its outputs; returns d loss / d tau. */
    @FunctionalInterface
    interface OneTensorRun {
        float into(Tensor loss, Tensor grad);
    }

    // ---- inside ------------------------------------------------------------------------------

    /** A two-tensor call writing into its outputs (a third gradient may be null); returns d loss / d tau. */
    @FunctionalInterface
    private interface TwoTensorRun {
        float into(Tensor loss, Tensor g1, Tensor g2, Tensor g3);
    }

    /** A Result of fresh outputs of these shapes (the third may be null) on the call's device, closed again if the call fails. */
    private Result allocated(Kernels k, long n, long[] shape1, long[] shape2, long[] shape3, TwoTensorRun run) {
        Tensor loss = null, g1 = null, g2 = null, g3 = null;
        try {
            loss = Contrastive.newLoss(k, o.reduction(), n);
            g1 = Contrastive.output(k, shape1);
            g2 = Contrastive.output(k, shape2);
            g3 = shape3 == null ? null : Contrastive.output(k, shape3);
            return new Result(loss, g1, g2, g3, run.into(loss, g1, g2, g3));
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, loss, g1, g2, g3);
        }
    }

    /** The two-tower forms by direction, arguments checked; dq == null computes the loss alone. Returns d loss / d tau. */
    private float twoTowers(Kernels k, Tensor queries, Tensor keys, Tensor loss, Tensor dq, Tensor dk) {
        Positives diagonal = Positives.diagonal(0);
        return switch (o.retrieval().direction()) {
            case QUERY_TO_KEY -> InfoNceSweep.run(k, o, queries, keys, null, diagonal, loss, dq, dk, null);
            case KEY_TO_QUERY -> InfoNceSweep.run(k, o, keys, queries, null, diagonal, loss, dk, dq, null);
            case BIDIRECTIONAL_GTE -> GteSweep.run(k, o, queries, keys, loss, dq, dk);
            case SYMMETRIC -> symmetricDirections(k, queries, keys, loss, dq, dk);
        };
    }

    /** (query-to-key + key-to-query) / 2; the logQ correction belongs to the key columns, the first half. */
    private float symmetricDirections(Kernels k, Tensor queries, Tensor keys, Tensor loss, Tensor dq, Tensor dk) {
        Positives diagonal = Positives.diagonal(0);
        InfoNceOptions back = o.withRetrieval(o.retrieval().withLogQ(null, false));
        Tensor loss2 = null, dq2 = null, dk2 = null;
        try {
            loss2 = Contrastive.newLossScratch(k, o.reduction(), queries.size(0));
            if (dq != null) {
                dq2 = Contrastive.scratch(k, queries.shape());
                dk2 = Contrastive.scratch(k, keys.shape());
            }
            float t1 = InfoNceSweep.run(k, o, queries, keys, null, diagonal, loss, dq, dk, null);
            float t2 = InfoNceSweep.run(k, back, keys, queries, null, diagonal, loss2, dk2, dq2, null);
            SimilarityKernels sim = k.similarity();
            sim.axpy(1f, loss2, loss);
            sim.scale(0.5f, loss);
            if (dq == null) return Float.NaN;
            sim.axpy(1f, dq2, dq);
            sim.scale(0.5f, dq);
            sim.axpy(1f, dk2, dk);
            sim.scale(0.5f, dk);
            return 0.5f * (t1 + t2);
        } finally {
            for (Tensor t : new Tensor[] {loss2, dq2, dk2}) if (t != null) t.close();
        }
    }

    /** The retrieval options are for the two-tower and shared-negatives forms only. */
    private void plainOnly(String form) {
        if (o.retrieval().any()) {
            throw new IllegalArgumentException("withDirection/withMargin/withLabelSmoothing/withLogQCorrection/"
                    + "withAccidentalHits: supported by the two-tower and shared-negatives forms, not by " + form
                    + "; use a loss without them");
        }
    }

    /** The per-batch tensors of the retrieval options against the call's M candidate columns, and their combinations. */
    private void checkRetrievalTensors(Kernels k, long m, String meaning) {
        RetrievalOptions r = o.retrieval();
        if (r.any() && o.decoupled()) {
            throw new IllegalArgumentException("decoupled: not supported together with withDirection/withMargin/"
                    + "withLabelSmoothing/withLogQCorrection/withAccidentalHits");
        }
        Direction dir = r.direction();
        if (r.logQ() != null) {
            String name = r.logQIsProbability() ? "samplingProbabilities" : "logQ";
            if (dir == Direction.KEY_TO_QUERY || dir == Direction.BIDIRECTIONAL_GTE) {
                throw new IllegalArgumentException(name + ": the correction is per key column; not supported with direction "
                        + dir + " (QUERY_TO_KEY or SYMMETRIC)");
            }
            Checks.usable(name, r.logQ(), k);
            Checks.dtype(name, r.logQ(), DType.FLOAT32);
            Checks.shape(name, r.logQ(), "(" + meaning + ")", m);
            ScanKernels.Rule rule = r.logQIsProbability() ? ScanKernels.Rule.UNIT_INTERVAL : ScanKernels.Rule.FINITE;
            long bad = k.scan().firstBreaking(r.logQ(), rule);
            if (bad >= 0) {
                throw new IllegalArgumentException(name + "[" + bad + "] = " + (float) k.scan().valueAt(r.logQ(), bad)
                        + (r.logQIsProbability() ? " is outside [0, 1]" : " is not finite"));
            }
        }
        if (r.keyIds() != null) {
            if (dir == Direction.BIDIRECTIONAL_GTE) {
                throw new IllegalArgumentException("keyIds: accidental-hit removal is not supported with BIDIRECTIONAL_GTE");
            }
            labels("keyIds", r.keyIds(), k, m);
        }
    }

    /** Checks two towers, (N,D) each with N >= 2; returns D. */
    private long checkTwoTowers(Kernels k, Tensor queries, Tensor keys) {
        long d = Contrastive.embeddings("queries", queries, k, 1, "expected N >= 1");
        Contrastive.embeddings("keys", keys, k, 1, "expected N >= 1");
        Checks.shape("keys", keys, "(N, D) of queries", queries.shape());
        if (queries.size(0) < 2) {
            throw new IllegalArgumentException("queries: shape " + Tensor.formatShape(queries.shape())
                    + " has N = 1; in-batch InfoNCE needs N >= 2 (the other rows are the negatives)");
        }
        checkRetrievalTensors(k, queries.size(0), "N (one per key)");
        return d;
    }

    /** Checks the embeddings of the one-tensor form; returns D. */
    private long checkOneTensor(Kernels k, Tensor embeddings) {
        plainOnly("the one-tensor form");
        return Contrastive.embeddings("embeddings", embeddings, k, 2, "InfoNCE needs N >= 2 (the other rows are the negatives)");
    }

    private static void labels(String argument, Tensor t, Kernels k, long n) {
        Checks.usable(argument, t, k);
        Checks.dtype(argument, t, DType.INT32, DType.INT64);
        Checks.shape(argument, t, "(N)", n);
    }

    private void severalPositives() {
        if (o.decoupled()) {
            throw new IllegalArgumentException("decoupled: supported with one positive per row only, not with labels or a mask");
        }
    }

    /**
     * The one-tensor forms' symmetric path (the diagonal form, NT-Xent, SupCon by labels): the
     * logits f fᵀ / tau are symmetric, so only their lower triangle is computed (SYRK, half a
     * GEMM's flops), the cross-entropy reads it and writes G + Gᵀ over it, and the product
     * (G + Gᵀ) f / tau gives d loss / d f: half the flops of the sweep's three GEMMs. The backend
     * may keep only G + Gᵀ's lower part and take the product in blocks
     * ({@link dev.jnce.backend.ContrastiveKernels#symmetricGradient}). Offset 0 is the
     * diagonal form (a row's positive is itself); otherwise the self-pair is left out.
     */
    private float symmetric(Kernels k, Tensor f, SymmetricTargets targets, Tensor loss, Tensor df) {
        Contrastive.logitsInRange(k, o.temperature(), o.normalize(), f);
        SimilarityKernels sim = k.similarity();
        long n = f.size(0);
        Tensor fh = Contrastive.prepared(k, f, o.normalize());
        // (n, stride): the backend may want rows longer than n (cache-set conflicts); the logits are the first n columns
        try (Workspace.Lease workspace = Workspace.borrow(k, n, k.contrastive().symmetricRowStride(n))) {
            Tensor s = workspace.logits();
            float inv = 1f / o.temperature();
            sim.syrk(inv, fh, s);
            if (df == null) {
                k.contrastive().symmetricCrossEntropy(s, targets, loss, null);
                return Float.NaN;
            }
            k.contrastive().symmetricGradient(s, targets, loss, inv, fh, df, sim); // (G + Gᵀ) fh / tau
            // d loss / d tau = -(1/tau) sum G∘S = -(1/(2 tau)) sum fh∘df, S being symmetric
            float gradTau = (float) (-sim.dot(fh, df) / (2.0 * o.temperature()));
            Contrastive.backThroughNormalize(k, f, df, o.normalize());
            return gradTau;
        } finally {
            Contrastive.release(fh, f);
        }
    }
}
