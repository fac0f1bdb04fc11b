package dev.jnce.loss;

import dev.jnce.Reduction;
import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.ContrastiveKernels;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.SimilarityKernels;
import dev.jnce.internal.Checks;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * InfoNCE: L2-normalise (optional), similarity matrix, divide by a temperature tau,
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
 *     is key i, the other keys are its negatives (the notes' {@code Recommender}).</li>
 * <li>{@link #forwardBackward(Tensor)}: one tensor (N,D), logits {@code f fᵀ / tau}, positives on
 *     the diagonal (the notes' {@code info_nce_loss}).</li>
 * <li>{@link #forwardBackward(Tensor, Tensor, Tensor)}: plus shared negatives (M,D) appended to
 *     every row's candidates (a memory bank or MoCo queue).</li>
 * <li>{@link #forwardBackwardNegatives}: explicit per-query negatives (N,K,D), for example from
 *     {@link dev.jnce.ops.HardNegatives}; row i's candidates are its positive and its K negatives.</li>
 * <li>{@link #forwardBackwardLabels} and {@link #forwardBackwardMask}: several positives per row
 *     (supervised-contrastive style): the target is uniform over the row's positives. A row with
 *     no positive is an error naming it, unless {@link #withRowsWithoutPositive} says SKIP.
 *     {@link #forwardBackwardLabels(Tensor, Tensor)} is the one-tensor form (SupCon), self left out.</li>
 * <li>{@link #withDecoupled(boolean)}: the positive is removed from the denominator
 *     ({@code loss_i = -s_ip + log sum_{j != p} exp s_ij}); single positives only.</li>
 * </ul>
 *
 * <p>Memory: the two-tensor forms sweep the logits a block of rows at a time (about 64 MiB of
 * them, at least 64 rows): the block's GEMM, its cross-entropy with the gradient written in place,
 * and its share of the two gradient GEMMs — one block buffer plus O((N+M)·D), whatever N. The
 * one-tensor forms (and {@link NtXent}) use the symmetry of {@code f fᵀ}: the lower triangle
 * alone (SYRK), G + Gᵀ in place, one gradient GEMM — half the flops, one N×N buffer (or, with
 * {@link #withBlockRows} below N, blocks at the two-tensor flops). The
 * several-positives forms read their labels or mask directly: no (N,M) target buffer. The logit
 * buffer belongs to the calling thread and is kept for the next call (a fresh, zero-filled N×N
 * allocation per call cost a quarter of the time at N = 16384); {@link #releaseWorkspace()} frees it.
 *
 * <p>Reductions: MEAN over rows (PyTorch's default for the cross-entropy), SUM, or NONE (the
 * gradients are then those of the sum). Embeddings must be finite: NaN or Inf is an
 * {@link IllegalArgumentException} naming the row. Instances are immutable and thread-safe.
 */
public final class InfoNce {
    /** What a row with no positive does in the several-positives forms. */
    public enum RowsWithoutPositive {
        /** Throw {@link IllegalArgumentException} naming the first such row (the default). */
        THROW,
        /** Leave such rows out of the loss (loss 0, gradient 0) and of the mean. */
        SKIP
    }

    /** A logit that takes no part in the softmax (exp underflows to exactly 0, and 0 times it is 0). */
    static final float EXCLUDED = -1e30f;

    private final float temperature;
    private final boolean normalize;
    private final boolean decoupled;
    private final Reduction reduction;
    private final RowsWithoutPositive rowsWithoutPositive;
    private final Backend backend;
    private final long blockRows; // rows per logit block of the two-tensor path; 0: about BLOCK_BYTES

    private InfoNce(float temperature, boolean normalize, boolean decoupled, Reduction reduction,
                    RowsWithoutPositive rowsWithoutPositive, Backend backend, long blockRows) {
        this.temperature = temperature;
        this.normalize = normalize;
        this.decoupled = decoupled;
        this.reduction = reduction;
        this.rowsWithoutPositive = rowsWithoutPositive;
        this.backend = backend;
        this.blockRows = blockRows;
    }

    /** Cosine similarity (F.normalize, eps 1e-12), temperature 0.1, MEAN, on {@link Backends#current()}. */
    public static InfoNce create() {
        return new InfoNce(0.1f, true, false, Reduction.MEAN, RowsWithoutPositive.THROW, null, 0);
    }

    /** The temperature tau > 0 the similarities are divided by. */
    public InfoNce withTemperature(float tau) {
        return new InfoNce(Contrastive.positive("temperature", tau), normalize, decoupled, reduction, rowsWithoutPositive,
                backend, blockRows);
    }

    /** true (default): cosine similarity of L2-normalised rows; false: plain dot product. */
    public InfoNce withNormalize(boolean normalize) {
        return new InfoNce(temperature, normalize, decoupled, reduction, rowsWithoutPositive, backend, blockRows);
    }

    /** Removes the positive from the denominator (decoupled contrastive loss). */
    public InfoNce withDecoupled(boolean decoupled) {
        return new InfoNce(temperature, normalize, decoupled, reduction, rowsWithoutPositive, backend, blockRows);
    }

    public InfoNce withReduction(Reduction reduction) {
        Checks.reduction(reduction);
        return new InfoNce(temperature, normalize, decoupled, reduction, rowsWithoutPositive, backend, blockRows);
    }

    public InfoNce withRowsWithoutPositive(RowsWithoutPositive rule) {
        if (rule == null) throw new IllegalArgumentException("rowsWithoutPositive: must not be null");
        return new InfoNce(temperature, normalize, decoupled, reduction, rule, backend, blockRows);
    }

    public InfoNce withBackend(Backend backend) {
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        return new InfoNce(temperature, normalize, decoupled, reduction, rowsWithoutPositive, backend, blockRows);
    }

    /**
     * How many rows of logits are held at once. Two-tensor forms: 0 (the default) picks about
     * 64 MiB of them, at least 64 rows; N or more holds the whole (N,M) matrix. One-tensor forms
     * (and {@link NtXent}) hold the whole N×N matrix for their symmetric path (half the flops)
     * unless this is set below N: then they too sweep blocks, at the two-tensor path's flops —
     * for a batch whose N×N logits do not fit in memory. Results are the same up to float
     * rounding.
     */
    public InfoNce withBlockRows(long rows) {
        if (rows < 0) throw new IllegalArgumentException("blockRows: must be >= 0, got " + rows);
        return new InfoNce(temperature, normalize, decoupled, reduction, rowsWithoutPositive, backend, rows);
    }

    public float temperature() {
        return temperature;
    }

    /** Frees the logit buffer the calling thread keeps between calls (InfoNce and NtXent share it). */
    public static void releaseWorkspace() {
        Contrastive.releaseWorkspace();
    }

    /**
     * A loss and its gradients; closing it closes every tensor in it.
     *
     * @param gradQueries     d loss / d queries (or / d embeddings for the one-tensor form)
     * @param gradKeys        d loss / d keys, or null for the one-tensor form
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

    // ---- the forms -------------------------------------------------------------------------

    /** Two towers: queries (N,D), keys (N,D); key i is row i's positive, the other keys its negatives. */
    public Result forwardBackward(Tensor queries, Tensor keys) {
        return forwardBackward(queries, keys, true);
    }

    /**
     * The loss alone for two towers (evaluation): one GEMM and the cross-entropy, no gradient
     * buffers. Same checks and meaning as {@link #forwardBackward(Tensor, Tensor)}.
     */
    public Tensor forward(Tensor queries, Tensor keys) {
        try (Result r = forwardBackward(queries, keys, false)) {
            Tensor loss = r.loss();
            return copyOf(loss);
        }
    }

    /** The loss alone for the one-tensor form. */
    public Tensor forward(Tensor embeddings) {
        Kernels k = kernels();
        long d = Contrastive.embeddings("embeddings", embeddings, k, 2, "InfoNCE needs N >= 2 (the other rows are the negatives)");
        try (Result r = matrix(k, embeddings, null, null, Positives.diagonal(0), d, false)) {
            return copyOf(r.loss());
        }
    }

    private Result forwardBackward(Tensor queries, Tensor keys, boolean gradients) {
        Kernels k = kernels();
        long d = Contrastive.embeddings("queries", queries, k, 1, "expected N >= 1");
        Contrastive.embeddings("keys", keys, k, 1, "expected N >= 1");
        Checks.shape("keys", keys, "(N, D) of queries", queries.shape());
        if (queries.size(0) < 2) {
            throw new IllegalArgumentException("queries: shape " + Tensor.formatShape(queries.shape())
                    + " has N = 1; in-batch InfoNCE needs N >= 2 (the other rows are the negatives)");
        }
        return matrix(k, queries, keys, null, Positives.diagonal(0), d, gradients);
    }

    /** Two towers plus shared negatives (M,D) appended to every row's candidates (memory bank, MoCo queue). */
    public Result forwardBackward(Tensor queries, Tensor keys, Tensor sharedNegatives) {
        Kernels k = kernels();
        long d = Contrastive.embeddings("queries", queries, k, 1, "expected N >= 1");
        Contrastive.embeddings("keys", keys, k, 1, "expected N >= 1");
        Checks.shape("keys", keys, "(N, D) of queries", queries.shape());
        Contrastive.embeddings("sharedNegatives", sharedNegatives, k, 1, "expected M >= 1 negatives");
        Contrastive.sameWidth("sharedNegatives", sharedNegatives, "queries", d);
        return matrix(k, queries, keys, sharedNegatives, Positives.diagonal(0), d);
    }

    /** One tensor (N,D): logits {@code f fᵀ / tau}, positives on the diagonal (the notes' info_nce_loss). */
    public Result forwardBackward(Tensor embeddings) {
        Kernels k = kernels();
        long d = Contrastive.embeddings("embeddings", embeddings, k, 2, "InfoNCE needs N >= 2 (the other rows are the negatives)");
        return matrix(k, embeddings, null, null, Positives.diagonal(0), d);
    }

    /**
     * Several positives per row: key j is a positive of query i when their labels are equal
     * (int32 or int64 labels, (N) and (M)).
     */
    public Result forwardBackwardLabels(Tensor queries, Tensor keys, Tensor queryLabels, Tensor keyLabels) {
        Kernels k = kernels();
        long d = Contrastive.embeddings("queries", queries, k, 1, "expected N >= 1");
        Contrastive.embeddings("keys", keys, k, 2, "expected M >= 2 keys");
        Contrastive.sameWidth("keys", keys, "queries", d);
        long[] ql = labels("queryLabels", queryLabels, k, queries.size(0));
        long[] kl = labels("keyLabels", keyLabels, k, keys.size(0));
        return matrix(k, queries, keys, null, Positives.labels(ql, kl), d);
    }

    /**
     * Supervised contrastive learning on one tensor (SupCon's L_out): embeddings (N,D) and labels
     * (N), int32 or int64; row i's positives are the other rows with its label, its own
     * similarity takes no part, and loss_i = -(1/|P(i)|) sum_{p in P(i)} log softmax_{j != i}(s_i)_p.
     * The gradient flows through both sides of {@code f fᵀ}. A row whose label no other row
     * shares has no positive: an error naming it, or left out with
     * {@link #withRowsWithoutPositive} SKIP.
     */
    public Result forwardBackwardLabels(Tensor embeddings, Tensor labels) {
        Kernels k = kernels();
        long d = Contrastive.embeddings("embeddings", embeddings, k, 2, "expected N >= 2 (the other rows are the candidates)");
        long[] l = labels("labels", labels, k, embeddings.size(0));
        return matrix(k, embeddings, null, null, Positives.labels(l, l), d);
    }

    /** Several positives per row from a (N,M) int32 mask (non-zero: positive). */
    public Result forwardBackwardMask(Tensor queries, Tensor keys, Tensor positiveMask) {
        Kernels k = kernels();
        long d = Contrastive.embeddings("queries", queries, k, 1, "expected N >= 1");
        Contrastive.embeddings("keys", keys, k, 2, "expected M >= 2 keys");
        Contrastive.sameWidth("keys", keys, "queries", d);
        Checks.usable("positiveMask", positiveMask, k);
        Checks.dtype("positiveMask", positiveMask, DType.INT32);
        Checks.shape("positiveMask", positiveMask, "(N, M)", queries.size(0), keys.size(0));
        return matrix(k, queries, keys, null, Positives.mask(positiveMask), d);
    }

    /**
     * Explicit negatives: queries (N,D), positives (N,D), negatives (N,K,D) with K >= 1; row i's
     * candidates are its positive and its own K negatives.
     */
    public Result forwardBackwardNegatives(Tensor queries, Tensor positives, Tensor negatives) {
        return new ExplicitNegatives(this, kernels()).run(queries, positives, negatives);
    }

    // ---- the matrix forms ------------------------------------------------------------------

    /** Which keys are row i's positives. */
    record Positives(long offset, long[] queryLabels, long[] keyLabels, Tensor mask) {
        static Positives diagonal(long offset) {
            return new Positives(offset, null, null, null);
        }

        static Positives labels(long[] q, long[] k) {
            return new Positives(0, q, k, null);
        }

        static Positives mask(Tensor m) {
            return new Positives(0, null, null, m);
        }

        boolean single() {
            return queryLabels == null && mask == null;
        }
    }

    /**
     * The shared path: logits S = prep(q) prep(keys)ᵀ / tau into one (N,M) buffer, cross-entropy
     * with its gradient in place, two GEMMs, back through the normalisation. keys == null means
     * the one-tensor form (keys are the queries), which takes the symmetric path (one N×N buffer)
     * unless {@link #withBlockRows} asks for fewer rows: then this path, twice the flops, one
     * block of logits. Package-private: NtXent uses it.
     */
    Result matrix(Kernels k, Tensor q, Tensor keys, Tensor shared, Positives pos, long d) {
        return matrix(k, q, keys, shared, pos, d, true);
    }

    /** As above; without gradients only the loss is filled (the gradient tensors are empty (0,D)). */
    private Result matrix(Kernels k, Tensor q, Tensor keys, Tensor shared, Positives pos, long d, boolean gradients) {
        if (decoupled && !pos.single()) {
            throw new IllegalArgumentException("decoupled: supported with one positive per row only, not with labels or a mask");
        }
        boolean oneTensor = keys == null;
        if (oneTensor && !pos.single()) checkEveryRowHasAPositive(pos.queryLabels());
        boolean blocked = blockRows > 0 && blockRows < q.size(0);
        if (oneTensor && pos.single() && !blocked) {
            return symmetric(k, q, new ContrastiveKernels.SymmetricTargets(pos.offset(), pos.offset() != 0, decoupled, reduction),
                    d, gradients);
        }
        if (oneTensor && !blocked) {
            try (Tensor labels = int64(pos.queryLabels())) {
                return symmetric(k, q, ContrastiveKernels.SymmetricTargets.labels(labels, skipsRows(), reduction), d, gradients);
            }
        }
        SimilarityKernels sim = k.similarity();
        Tensor keysAll = oneTensor ? q : shared == null ? keys : Contrastive.stack(keys, shared);
        long n = q.size(0), m = keysAll.size(0);
        Tensor qh = Contrastive.prepared(sim, q, normalize);
        Tensor kh = oneTensor ? qh : Contrastive.prepared(sim, keysAll, normalize);
        // One tensor: a row's similarity to itself is its positive in the notes' form (offset 0),
        // and takes no part otherwise (NT-Xent's i±N positives, labels).
        boolean selfPairs = oneTensor && (!pos.single() || pos.offset() != 0);
        long block = Math.min(n, blockRows(blockRows, m));
        Tensor s = Contrastive.workspace(block, m);
        Tensor rowLoss = Contrastive.scratch(n), targets = null, lse = null, ql = null, kl = null, dq = null, dkAll = null;
        try {
            float inv = 1f / temperature;
            float[] positiveLogit = decoupled ? new float[(int) n] : null;
            CrossEntropy ce = null;
            if (pos.single()) {
                targets = Contrastive.diagonalTargets(n, pos.offset(), m);
                if (decoupled) lse = Contrastive.scratch(n);
                ce = CrossEntropy.create().withBackend(k).withReduction(Reduction.NONE).withIgnoreIndex(-1);
            } else if (pos.mask() == null) {
                ql = int64(pos.queryLabels());
                kl = int64(pos.keyLabels());
            }
            if (gradients) {
                dq = Tensor.zeros(DType.FLOAT32, n, d);
                dkAll = shared == null && !oneTensor ? Tensor.zeros(DType.FLOAT32, m, d) : Contrastive.scratch(m, d);
            }
            long counted = pos.single() ? n : 0;
            // Row blocks: each block's logits, its cross-entropy (rows are independent) and its
            // share of both gradient GEMMs, so that only a (block, M) logit buffer is ever held.
            for (long r0 = 0; r0 < n; r0 += block) {
                long rows = Math.min(block, n - r0);
                Tensor sb = rows == block ? s : Contrastive.rowsOf(s, 0, rows);
                Tensor qb = Contrastive.rowsOf(qh, r0, rows);
                sim.gemm(false, true, inv, qb, kh, 0f, sb);
                Tensor lossB = Contrastive.rowsOf(rowLoss, r0, rows);
                if (ce != null) {
                    if (selfPairs) for (long i = 0; i < rows; i++) Contrastive.set(sb, i, r0 + i, EXCLUDED);
                    if (decoupled) {
                        for (long i = 0; i < rows; i++) {
                            long p = (r0 + i + pos.offset()) % m;
                            positiveLogit[(int) (r0 + i)] = Contrastive.get(sb, i, p);
                            Contrastive.set(sb, i, p, EXCLUDED);
                        }
                    }
                    ce.forwardBackward(sb, Contrastive.rowsOf(targets, r0, rows), null, lossB, gradients ? sb : null,
                            lse == null ? null : Contrastive.rowsOf(lse, r0, rows));
                } else {
                    ContrastiveKernels.PositiveTargets blockTargets = new ContrastiveKernels.PositiveTargets(
                            ql == null ? null : Contrastive.rowsOf(ql, r0, rows), kl,
                            pos.mask() == null ? null : Contrastive.rowsOf(pos.mask(), r0, rows),
                            selfPairs ? r0 : -1, skipsRows(), Reduction.NONE);
                    ContrastiveKernels.PositivesOutcome found = k.contrastive().positivesCrossEntropy(sb, blockTargets, lossB, gradients ? sb : null);
                    if (found.rowWithoutPositive() >= 0) {
                        throw noPositive(pos.mask() != null ? "positiveMask" : "queryLabels", r0 + found.rowWithoutPositive(), m, false);
                    }
                    counted += found.counted();
                }
                if (gradients) {
                    sim.gemm(false, false, inv, sb, kh, 0f, Contrastive.rowsOf(dq, r0, rows));   // G kh / tau
                    sim.gemm(true, false, inv, sb, qb, r0 == 0 ? 0f : 1f, dkAll);              // + Gᵀ qh / tau
                }
            }
            Tensor loss = decoupled ? decoupledLoss(lse, positiveLogit) : reduce(rowLoss, counted);
            if (!gradients) {
                return new Result(loss, Tensor.zerosUnscoped(DType.FLOAT32, 0, d), null, null, Float.NaN);
            }
            // The blocks gave the gradients of the sum of the rows' losses; MEAN divides by the rows
            // counted (with none, every gradient is 0 and stays so).
            if (reduction == Reduction.MEAN && counted > 0) {
                float w = (float) (1.0 / counted);
                Contrastive.scale(dq, w);
                Contrastive.scale(dkAll, w);
            }
            // d loss / d tau = -(1/tau^2) sum G∘(qh khᵀ) = -(1/tau) sum qh∘(G kh / tau)
            float gradTau = (float) (-Contrastive.dot(qh, dq) / temperature);
            if (oneTensor) { // both sides of f fᵀ: G kh + Gᵀ qh, then back through the one normalisation
                Contrastive.add(dq, dkAll);
                Contrastive.backThroughNormalize(sim, q, dq, normalize);
                Result r = new Result(loss, dq, null, null, gradTau);
                dq = null;
                return r;
            }
            Contrastive.backThroughNormalize(sim, keysAll, dkAll, normalize);
            Tensor dk = dkAll, dNeg = null;
            if (shared != null) {
                dk = Contrastive.rows(dkAll, 0, keys.size(0));
                dNeg = Contrastive.rows(dkAll, keys.size(0), shared.size(0));
                dkAll.close();
            }
            dkAll = null;
            Contrastive.backThroughNormalize(sim, q, dq, normalize);
            Result r = new Result(loss, dq, dk, dNeg, gradTau);
            dq = null;
            return r;
        } finally {
            if (kh != qh) Contrastive.release(kh, keysAll);
            Contrastive.release(qh, q);
            if (keysAll != keys && keysAll != q) keysAll.close();
            for (Tensor t : new Tensor[] {rowLoss, targets, lse, ql, kl}) if (t != null) t.close();
            if (dq != null) dq.close();
            if (dkAll != null) dkAll.close();
        }
    }

    /** The rows' losses reduced: NONE keeps them, SUM adds them, MEAN divides by the rows counted (NaN for none). */
    private Tensor reduce(Tensor rowLoss, long counted) {
        if (reduction == Reduction.NONE) return copyOf(rowLoss);
        MemorySegment l = rowLoss.segment();
        double total = 0;
        for (long i = 0, n = rowLoss.numel(); i < n; i++) total += l.getAtIndex(ValueLayout.JAVA_FLOAT, i);
        return Tensor.scalar((float) (reduction == Reduction.SUM ? total : counted == 0 ? Double.NaN : total / counted));
    }

    /**
     * Logits held at once by the two-tensor path: 64 MiB. Measured (bench/RESULTS.md) against one
     * whole N×M buffer: as fast at N=8192 (GEMMs of 2048 rows still run at full speed) and 4%
     * faster at N=16384 (the cross-entropy reads its block from cache), with 9× less peak memory.
     */
    static final long BLOCK_BYTES = 64L << 20;

    /** Rows per logit block of M columns: chosen when set (> 0), else about BLOCK_BYTES of logits, at least 64 rows. */
    static long blockRows(long chosen, long m) {
        return chosen > 0 ? chosen : Math.max(64, BLOCK_BYTES / (4 * m));
    }

    private boolean skipsRows() {
        return rowsWithoutPositive == RowsWithoutPositive.SKIP;
    }

    /**
     * Under THROW, the error for the first row whose label no other row carries (the one-tensor
     * label form has no positive there); under SKIP such rows are left out by the kernel.
     */
    private void checkEveryRowHasAPositive(long[] labels) {
        if (skipsRows()) return;
        java.util.Map<Long, Integer> count = new java.util.HashMap<>();
        for (long l : labels) count.merge(l, 1, Integer::sum);
        for (int i = 0; i < labels.length; i++) {
            if (count.get(labels[i]) < 2) throw noPositive("labels", i, labels.length, true);
        }
    }

    private static Tensor int64(long[] values) {
        Tensor t = Tensor.zerosUnscoped(DType.INT64, values.length);
        MemorySegment.copy(values, 0, t.segment(), ValueLayout.JAVA_LONG, 0, values.length);
        return t;
    }

    /**
     * The one-tensor forms (the notes' info_nce_loss, NT-Xent, SupCon by labels): the logits
     * f fᵀ / tau are symmetric, so only their lower triangle is computed (SYRK, half a GEMM's
     * flops), the cross-entropy reads it and writes G + Gᵀ over it, and one GEMM gives
     * d loss / d f = (G + Gᵀ) f / tau: half the flops of the general path's three GEMMs.
     * Offset 0 is the notes' form (a row's positive is itself); otherwise the self-pair is left out.
     */
    private Result symmetric(Kernels k, Tensor f, ContrastiveKernels.SymmetricTargets targets, long d, boolean gradients) {
        SimilarityKernels sim = k.similarity();
        long n = f.size(0);
        Tensor fh = Contrastive.prepared(sim, f, normalize);
        Tensor s = Contrastive.workspace(n, n);
        try {
            float inv = 1f / temperature;
            sim.syrk(inv, fh, s);
            Tensor loss = reduction == Reduction.NONE ? Tensor.zeros(DType.FLOAT32, n) : Tensor.zeros(DType.FLOAT32);
            k.contrastive().symmetricCrossEntropy(s, targets, loss, gradients ? s : null);
            if (!gradients) {
                return new Result(loss, Tensor.zerosUnscoped(DType.FLOAT32, 0, d), null, null, Float.NaN);
            }
            Tensor df = Tensor.zeros(DType.FLOAT32, n, d);
            sim.gemm(false, false, inv, s, fh, 0f, df);                  // (G + Gᵀ) fh / tau
            // d loss / d tau = -(1/tau) sum G∘S = -(1/(2 tau)) sum fh∘df, S being symmetric
            float gradTau = (float) (-Contrastive.dot(fh, df) / (2.0 * temperature));
            Contrastive.backThroughNormalize(sim, f, df, normalize);
            return new Result(loss, df, null, null, gradTau);
        } finally {
            Contrastive.release(fh, f);
        }
    }

    private static IllegalArgumentException noPositive(String argument, long row, long keys, boolean selfExcluded) {
        return new IllegalArgumentException(argument + ": row " + row + " has no positive among the " + keys + " keys"
                + (selfExcluded ? " (itself excluded)" : "") + "; give it one, or use withRowsWithoutPositive(SKIP)");
    }

    /** loss_i = lse_i(without the positive) - s_ip, reduced. */
    private Tensor decoupledLoss(Tensor lse, float[] positiveLogit) {
        MemorySegment l = lse.segment();
        int n = positiveLogit.length;
        if (reduction == Reduction.NONE) {
            Tensor out = Tensor.zeros(DType.FLOAT32, n);
            for (int i = 0; i < n; i++) {
                out.segment().setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) ((double) l.getAtIndex(ValueLayout.JAVA_FLOAT, i) - positiveLogit[i]));
            }
            return out;
        }
        double total = 0;
        for (int i = 0; i < n; i++) total += (double) l.getAtIndex(ValueLayout.JAVA_FLOAT, i) - positiveLogit[i];
        return Tensor.scalar((float) (reduction == Reduction.MEAN ? total / n : total));
    }

    private static Tensor copyOf(Tensor t) {
        Tensor out = Tensor.zeros(DType.FLOAT32, t.shape());
        MemorySegment.copy(t.segment(), 0, out.segment(), 0, t.numel() * 4);
        return out;
    }

    private static long[] labels(String argument, Tensor t, Kernels k, long n) {
        Checks.usable(argument, t, k);
        Checks.dtype(argument, t, DType.INT32, DType.INT64);
        Checks.shape(argument, t, "(N)", n);
        return t.toLongArray();
    }

    // ---- shared with ExplicitNegatives -------------------------------------------------------

    boolean normalize() {
        return normalize;
    }

    boolean decoupled() {
        return decoupled;
    }

    Reduction reduction() {
        return reduction;
    }

    Tensor decoupledLossOf(Tensor lse, float[] positiveLogit) {
        return decoupledLoss(lse, positiveLogit);
    }

    Kernels kernels() {
        return (Kernels) (backend != null ? backend : Backends.current());
    }
}
