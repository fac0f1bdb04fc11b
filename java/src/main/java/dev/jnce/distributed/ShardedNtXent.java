package dev.jnce.distributed;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.backend.ContrastiveKernels;
import dev.jnce.backend.ContrastiveKernels.PositiveTargets;
import dev.jnce.backend.ContrastiveKernels.PositivesOutcome;
import dev.jnce.backend.CrossEntropyCall;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.SimilarityKernels;
import dev.jnce.loss.InfoNce;
import dev.jnce.loss.NtXent;
import dev.jnce.ops.Normalize;

/**
 * The one-tensor contrastive losses over a batch sharded across ranks: NT-Xent (SimCLR) and
 * SupCon, equal to {@link NtXent} and {@link InfoNce#forwardBackwardLabels} (MEAN) on the
 * concatenated batch, with the gradient of every rank's own rows and the global temperature
 * gradient on every rank.
 *
 * <p>Each rank's rows are all-gathered (L2-normalised first), and the rank sweeps its own rows
 * against all N of them in row blocks (memory O(N·D) plus 64 MiB of logits, never (N, N)): the
 * block's GEMM, its row's similarity to itself taken out of the softmax at its global column, the
 * cross-entropy with the positives at their global columns (the other view, or the rows sharing
 * the label), and both gradient GEMMs. The logits f fᵀ are symmetric, so the gradient of row k is
 * its row's share plus its column's share: the column shares of the gathered rows are summed back
 * to their owners by a reduce-scatter; the loss, the rows counted and the temperature gradient by
 * an all-reduce.
 *
 * <p>Shard layout of NT-Xent: rank r passes its views (2 n_r, D) as {@code [view1 of its n_r
 * samples; view2 of them]}, as {@link NtXent} takes the whole batch; the global batch is then
 * {@code [view1 of rank 0, of rank 1, ...; view2 of rank 0, of rank 1, ...]}. A rank may hold 0
 * rows. Arguments are checked on every rank together before any data moves: a bad argument on one
 * rank ends every rank's call with an {@link IllegalArgumentException}.
 *
 * <p>Immutable; a call is a collective: every rank calls the same form with its shard.
 */
public final class ShardedNtXent {
    private static final long BLOCK_BYTES = 64L << 20;
    private static final float NORM_EPS = 1e-12f;
    private final Collective collective;
    private final float temperature;
    private final boolean normalize, skipEmpty;
    private final long blockRows;
    private final Backend backend;

    private ShardedNtXent(Collective collective, float temperature, boolean normalize, boolean skipEmpty, long blockRows,
                          Backend backend) {
        this.collective = collective;
        this.temperature = temperature;
        this.normalize = normalize;
        this.skipEmpty = skipEmpty;
        this.blockRows = blockRows;
        this.backend = backend;
    }

    /**
     * SimCLR's settings, as {@link NtXent#create}: temperature 0.5, cosine similarity, MEAN.
     *
     * @param collective the group of ranks; not null
     * @return the loss
     * @throws IllegalArgumentException if collective is null
     */
    public static ShardedNtXent create(Collective collective) {
        if (collective == null) throw new IllegalArgumentException("collective: must not be null");
        return new ShardedNtXent(collective, 0.5f, true, false, 0, null);
    }

    /**
     * The temperature (as {@link NtXent#withTemperature}).
     *
     * @param tau the temperature, a normal positive float32
     * @return a copy with this temperature
     * @throws IllegalArgumentException if tau is out of range
     */
    public ShardedNtXent withTemperature(float tau) {
        NtXent.create().withTemperature(tau); // its checks
        return new ShardedNtXent(collective, tau, normalize, skipEmpty, blockRows, backend);
    }

    /**
     * Cosine similarity (true, the default) or the plain dot product.
     *
     * @param normalize true to L2-normalise rows first
     * @return a copy with this setting
     */
    public ShardedNtXent withNormalize(boolean normalize) {
        return new ShardedNtXent(collective, temperature, normalize, skipEmpty, blockRows, backend);
    }

    /**
     * What a row whose label no other row of the global batch carries does in
     * {@link #forwardBackwardLabels}: THROW (the default, on every rank) or SKIP (left out of the
     * loss and of the mean), as {@link InfoNce#withRowsWithoutPositive}.
     *
     * @param rule THROW or SKIP; not null
     * @return a copy with this rule
     * @throws IllegalArgumentException if rule is null
     */
    public ShardedNtXent withRowsWithoutPositive(InfoNce.RowsWithoutPositive rule) {
        if (rule == null) throw new IllegalArgumentException("rule: must not be null");
        return new ShardedNtXent(collective, temperature, normalize, rule == InfoNce.RowsWithoutPositive.SKIP, blockRows, backend);
    }

    /**
     * This rank's rows of logits held at once, against all N candidates (as
     * {@link InfoNce#withBlockRows}).
     *
     * @param rows 0 for about 64 MiB of logits (the default), else &ge; 1
     * @return a copy with this block size
     * @throws IllegalArgumentException if rows is negative
     */
    public ShardedNtXent withBlockRows(long rows) {
        if (rows < 0) throw new IllegalArgumentException("rows: " + rows + "; expected 0 (about 64 MiB of logits) or >= 1");
        return new ShardedNtXent(collective, temperature, normalize, skipEmpty, rows, backend);
    }

    /**
     * The backend the local computation runs on.
     *
     * @param backend a host backend; not null
     * @return a copy pinned to it
     * @throws IllegalArgumentException if backend is null
     */
    public ShardedNtXent withBackend(Backend backend) {
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        return new ShardedNtXent(collective, temperature, normalize, skipEmpty, blockRows, backend);
    }

    /**
     * The global loss and gradients of one step.
     *
     * @param loss            the loss of the global batch, the same on every rank
     * @param grad            d loss / d this rank's rows, the shape of its input
     * @param gradTemperature d loss / d tau, the same on every rank
     */
    public record Result(float loss, Tensor grad, float gradTemperature) implements AutoCloseable {
        /** Closes the gradient tensor. */
        @Override
        public void close() {
            grad.close();
        }
    }

    /**
     * NT-Xent of the global batch: row i's positive is the other view of its sample, its own
     * similarity takes no part, MEAN over the 2N global rows. Needs N &ge; 2 samples globally.
     *
     * @param views this rank's (2 n_r, D) float32 on the host, {@code [view1; view2]} of its
     *              n_r samples (n_r &ge; 0), finite
     * @return the global loss and temperature gradient, and d loss / d views (a new tensor)
     * @throws IllegalArgumentException if a shape is wrong on any rank, the ranks' D differ, or
     *                                  the global batch has fewer than 2 samples
     * @throws IllegalStateException if a tensor is closed or another rank failed or timed out
     */
    public Result forwardBackward(Tensor views) {
        RuntimeException refusal = null;
        Kernels k = null;
        try {
            embeddings("views", views);
            if (views.size(0) % 2 != 0) {
                throw new IllegalArgumentException("views: shape " + Tensor.formatShape(views.shape())
                        + " has an odd number of rows; expected (2 n, D) = both views of this rank's n samples stacked");
            }
            k = Kernels.forCall(backend, "views", views);
        } catch (RuntimeException e) {
            refusal = e;
        }
        Shards s = Shards.exchange(collective, "views", rows(views), cols(views), refusal);
        if (s.total() < 4) {
            throw new IllegalArgumentException("views: the global batch has " + s.total() / 2 + " samples; NT-Xent needs >= 2 "
                    + "so that every row has a negative");
        }
        long half = views.size(0) / 2;
        long[] partner = new long[Math.toIntExact(views.size(0))];
        // gathered as they lie, every rank's [view1; view2] in rank order: a permutation of NtXent's layout, the same pairs
        for (int i = 0; i < partner.length; i++) partner[i] = i < half ? s.offset() + half + i : s.offset() + i - half;
        return sweep(k, views, s, partner, null).result(views.size(0), views.size(1));
    }

    /**
     * SupCon of the global batch (SupCon's L_out, as {@link InfoNce#forwardBackwardLabels}): row
     * i's positives are the other rows of the global batch with its label, its own similarity
     * takes no part; MEAN over the rows counted. Needs N &ge; 2 rows globally.
     *
     * @param embeddings this rank's (n_r, D) float32 on the host, n_r &ge; 0, finite
     * @param labels     this rank's (n_r) int32 or int64 labels
     * @return the global loss and temperature gradient, and d loss / d embeddings (a new tensor)
     * @throws IllegalArgumentException if a shape is wrong on any rank, the ranks' D differ, the
     *                                  global batch has fewer than 2 rows, or (THROW) a row's
     *                                  label is on no other row of the global batch
     * @throws IllegalStateException if a tensor is closed or another rank failed or timed out
     */
    public Result forwardBackwardLabels(Tensor embeddings, Tensor labels) {
        RuntimeException refusal = null;
        Kernels k = null;
        long[] mine = null;
        try {
            embeddings("embeddings", embeddings);
            if (labels == null) throw new IllegalArgumentException("labels: must not be null");
            if (labels.rank() != 1 || labels.size(0) != embeddings.size(0)
                    || (labels.dtype() != DType.INT32 && labels.dtype() != DType.INT64)) {
                throw new IllegalArgumentException("labels: expected (" + embeddings.size(0) + ") int32 or int64, one a row of embeddings "
                        + Tensor.formatShape(embeddings.shape()) + ", got " + labels.describe());
            }
            k = Kernels.forCall(backend, "embeddings", embeddings, "labels", labels);
            mine = labels.toLongArray();
        } catch (RuntimeException e) {
            refusal = e;
        }
        Shards s = Shards.exchange(collective, "embeddings", rows(embeddings), cols(embeddings), refusal);
        if (s.total() < 2) {
            throw new IllegalArgumentException("embeddings: the global batch has " + s.total() + " rows; expected >= 2 "
                    + "(the other rows are the candidates)");
        }
        long[] all = collective.allGatherLongs(mine);
        Sweep out;
        try (TensorScope scope = TensorScope.open()) {
            Tensor allLabels = Tensor.of(all, all.length);
            if (!skipEmpty) {
                long row = k.contrastive().firstUnsharedLabel(allLabels); // the same answer on every rank
                if (row >= 0) {
                    throw new IllegalArgumentException("labels: row " + row + " of the global batch has no positive among the "
                            + all.length + " rows (itself excluded); give it one, or use withRowsWithoutPositive(SKIP)");
                }
            }
            out = sweep(k, embeddings, s, null, allLabels);
        }
        return out.result(embeddings.size(0), embeddings.size(1)); // outside the scope: the caller's tensor
    }

    /** What a sweep gives: the global loss and d tau, and this rank's gradient. */
    private record Sweep(float loss, float[] grad, float dTau) {
        Result result(long n, long d) {
            return new Result(loss, Tensor.of(grad, n, d), dTau);
        }
    }

    /** Rows of f against all gathered rows; partner (NT-Xent's global positive columns) or allLabels (SupCon). */
    private Sweep sweep(Kernels k, Tensor f, Shards s, long[] partner, Tensor allLabels) {
        SimilarityKernels sim = k.similarity();
        ContrastiveKernels con = k.contrastive();
        long n = f.size(0), d = f.size(1), total = s.total();
        float inv = 1f / temperature;
        double[] sums = new double[3]; // loss, sum of fh . dRows (for d tau), rows counted: SUM over this rank's rows
        double[] global;
        float[] grad;
        try (TensorScope scope = TensorScope.open()) {
            Normalize norm = Normalize.create().withBackend(k);
            Tensor fh = normalize && n > 0 ? norm.forward(f) : f;
            Tensor fAll = collective.allGatherRows(fh);
            Tensor dRows = Tensor.zeros(DType.FLOAT32, n, d), dAll = Tensor.zeros(DType.FLOAT32, total, d);
            if (n > 0) {
                Tensor rowLoss = Tensor.zeros(DType.FLOAT32, n), lossSum = Tensor.zeros(DType.FLOAT32, 1);
                Tensor targets = partner == null ? null : Tensor.of(partner, n);
                Tensor myLabels = allLabels == null ? null : allLabels.rows(s.offset(), n);
                long block = Math.min(n, blockRows > 0 ? blockRows : Math.max(64, BLOCK_BYTES / (4 * total)));
                Tensor logits = Tensor.zeros(DType.FLOAT32, block, total);
                long counted = 0;
                for (long r0 = 0; r0 < n; r0 += block) {
                    long rows = Math.min(block, n - r0), self = s.offset() + r0; // the block's first row, as a global column
                    Tensor sb = rows == block ? logits : logits.rows(0, rows), fb = fh.rows(r0, rows), lossB = rowLoss.rows(r0, rows);
                    sim.gemm(false, true, inv, fb, fAll, 0f, sb);
                    if (partner != null) {
                        con.excludeLogits(sb, self, 0, 1, null);
                        k.crossEntropy().crossEntropy(new CrossEntropyCall(sb, targets.rows(r0, rows), null, null, null, -1, 0f, 0f,
                                Reduction.NONE, false, lossB, sb, null));
                        counted += rows;
                    } else {
                        PositivesOutcome found = con.positivesCrossEntropy(sb, PositiveTargets.labels(myLabels.rows(r0, rows), allLabels,
                                self, skipEmpty, Reduction.NONE), lossB, sb);
                        counted += found.counted();
                    }
                    sim.gemm(false, false, inv, sb, fAll, 0f, dRows.rows(r0, rows)); // row shares: G fAll / tau
                    sim.gemm(true, false, inv, sb, fb, 1f, dAll);                      // column shares: Gᵀ f_block / tau
                }
                con.reduceRows(rowLoss, null, Reduction.SUM, n, lossSum);
                sums[0] = lossSum.item();
                sums[1] = sim.dot(fh, dRows);
                sums[2] = counted;
            }
            Tensor dMine = collective.reduceScatterRows(dAll, s.counts());
            global = collective.allReduceSum(sums);
            if (n > 0) {
                sim.axpy(1f, dMine, dRows);
                if (global[2] > 0) sim.scale((float) (1.0 / global[2]), dRows); // MEAN over the rows counted
                if (normalize) sim.normalizeBackward(f, dRows, NORM_EPS, dRows);
            }
            grad = dRows.toFloatArray();
        }
        double count = global[2];
        // d loss / d tau = -(1/tau^2) sum G∘(fh fhᵀ) = -(1/tau) sum_rows fh∘(G fAll / tau)
        float loss = count > 0 ? (float) (global[0] / count) : Float.NaN;
        float dTau = count > 0 ? (float) (-global[1] / temperature / count) : 0f;
        return new Sweep(loss, grad, dTau);
    }

    private static void embeddings(String argument, Tensor t) {
        if (t == null) throw new IllegalArgumentException(argument + ": must not be null");
        if (t.dtype() != DType.FLOAT32 || t.rank() != 2) {
            throw new IllegalArgumentException(argument + ": expected a (rows, D) float32 tensor, got " + t.describe());
        }
    }

    private static long rows(Tensor t) {
        return t != null && t.rank() == 2 ? t.size(0) : 0;
    }

    private static long cols(Tensor t) {
        return t != null && t.rank() == 2 ? t.size(1) : 0;
    }
}
