package dev.jnce.distributed;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.backend.Kernels;
import dev.jnce.loss.InfoNce;

/**
 * Two-tower InfoNCE over a batch sharded across the ranks of a {@link Collective}: rank r holds
 * queries and keys (n_r, D), row i of its queries paired with row i of its keys; the loss is the
 * one of the global batch, N = Σ n_r rows in rank order, each query against all N keys (the
 * in-batch negatives of every rank), as open_clip's {@code gather_with_grad} with
 * {@code local_loss}. Every rank gets the global loss and temperature gradient and the gradients
 * of its own rows, equal to {@link InfoNce} on the concatenated batch up to float32 rounding.
 *
 * <p>Per step: the keys are all-gathered (and the queries too when symmetric); each rank computes
 * its rows against all N candidates with jnce's row-block sweep (memory O(N·D) plus one block,
 * never (N, N)); the gradients of the gathered rows are summed back to their owners by a
 * reduce-scatter; the loss and the temperature gradient by an all-reduce. MEAN over the N global
 * rows. Symmetric: the mean of query-to-key and key-to-query (CLIP's loss; see {@link ShardedClip}).
 * A rank may hold 0 rows. Arguments are checked on every rank together before any data moves: a
 * bad argument on one rank ends every rank's call with an {@link IllegalArgumentException}.
 *
 * <p>Immutable; a call is a collective: every rank calls it with its shard.
 */
public final class ShardedInfoNce {
    private final Collective collective;
    private final float temperature;
    private final boolean normalize;
    private final boolean symmetric;
    private final Backend backend;

    private ShardedInfoNce(Collective collective, float temperature, boolean normalize, boolean symmetric, Backend backend) {
        this.collective = collective;
        this.temperature = temperature;
        this.normalize = normalize;
        this.symmetric = symmetric;
        this.backend = backend;
    }

    /**
     * InfoNCE's defaults (cosine similarity, its default temperature), query to key.
     *
     * @param collective the group of ranks; not null
     * @return the loss
     * @throws IllegalArgumentException if collective is null
     */
    public static ShardedInfoNce create(Collective collective) {
        if (collective == null) throw new IllegalArgumentException("collective: must not be null");
        return new ShardedInfoNce(collective, InfoNce.create().temperature(), true, false, null);
    }

    /**
     * The temperature (as {@link InfoNce#withTemperature}).
     *
     * @param tau the temperature, a normal positive float32
     * @return a copy with this temperature
     * @throws IllegalArgumentException if tau is out of range
     */
    public ShardedInfoNce withTemperature(float tau) {
        InfoNce.create().withTemperature(tau); // its checks
        return new ShardedInfoNce(collective, tau, normalize, symmetric, backend);
    }

    /**
     * Cosine similarity (true, the default) or the plain dot product.
     *
     * @param normalize true to L2-normalise rows first
     * @return a copy with this setting
     */
    public ShardedInfoNce withNormalize(boolean normalize) {
        return new ShardedInfoNce(collective, temperature, normalize, symmetric, backend);
    }

    /**
     * Query to key (false, the default) or the mean of both directions (true).
     *
     * @param symmetric true for (query-to-key + key-to-query) / 2
     * @return a copy with this setting
     */
    public ShardedInfoNce withSymmetric(boolean symmetric) {
        return new ShardedInfoNce(collective, temperature, normalize, symmetric, backend);
    }

    /**
     * The backend the local computation runs on.
     *
     * @param backend a host backend; not null
     * @return a copy pinned to it
     * @throws IllegalArgumentException if backend is null
     */
    public ShardedInfoNce withBackend(Backend backend) {
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        return new ShardedInfoNce(collective, temperature, normalize, symmetric, backend);
    }

    /**
     * The global loss and gradients of one step.
     *
     * @param loss            the loss of the global batch, the same on every rank
     * @param gradQueries     (n_r, D) d loss / d this rank's queries
     * @param gradKeys        (n_r, D) d loss / d this rank's keys
     * @param gradTemperature d loss / d tau, the same on every rank
     */
    public record Result(float loss, Tensor gradQueries, Tensor gradKeys, float gradTemperature) implements AutoCloseable {
        /** Closes the gradient tensors. */
        @Override
        public void close() {
            gradQueries.close();
            gradKeys.close();
        }
    }

    /**
     * One step: a collective, every rank passes its shard.
     *
     * @param queries this rank's queries (n_r, D) float32 on the host, finite
     * @param keys    this rank's keys (n_r, D), row i the positive of query i
     * @return the global loss and temperature gradient, and this rank's gradients (new tensors)
     * @throws IllegalArgumentException if a shape is wrong here or the ranks' D differ
     * @throws IllegalStateException if another rank failed or timed out
     */
    public Result forwardBackward(Tensor queries, Tensor keys) {
        Step s = step("queries", queries, "keys", keys, temperature);
        return new Result(s.loss, s.dq, s.dk, s.dTau);
    }

    record Step(float loss, Tensor dq, Tensor dk, float dTau) {
    }

    /** One step, the tensors named in messages as the caller's API names them. */
    Step step(String queriesName, Tensor queries, String keysName, Tensor keys, float tau) {
        RuntimeException refusal = null;
        try {
            pair(queriesName, queries, keysName, keys);
            Kernels.forCall(backend, queriesName, queries, keysName, keys); // open, on one device
        } catch (RuntimeException e) {
            refusal = e;
        }
        Shards shards = Shards.exchange(collective, queriesName, refusal == null ? queries.size(0) : 0,
                refusal == null ? queries.size(1) : 0, refusal);
        long n = queries.size(0), d = queries.size(1);
        long[] counts = shards.counts();
        long total = shards.total(), offset = shards.offset();
        float[] dq = new float[Math.toIntExact(n * d)], dk = new float[Math.toIntExact(n * d)];
        double[] sums = new double[2]; // loss, d tau (SUM over this rank's rows)
        try (TensorScope scope = TensorScope.open()) {
            Tensor keysAll = collective.allGatherRows(keys);
            float[] gradKeysAll = half(queries, keys, keysAll, offset, n, tau, dq, sums);
            float[] gradQueriesAll = null;
            if (symmetric) {
                Tensor queriesAll = collective.allGatherRows(queries);
                gradQueriesAll = half(keys, queries, queriesAll, offset, n, tau, dk, sums);
            }
            add(dk, collective.reduceScatterRows(Tensor.of(gradKeysAll, total, d), counts));
            if (symmetric) add(dq, collective.reduceScatterRows(Tensor.of(gradQueriesAll, total, d), counts));
        }
        double[] global = collective.allReduceSum(sums);
        double scale = (symmetric ? 0.5 : 1.0) / total;
        for (int i = 0; i < dq.length; i++) {
            dq[i] = (float) (dq[i] * scale);
            dk[i] = (float) (dk[i] * scale);
        }
        return new Step((float) (global[0] * scale), Tensor.of(dq, n, d), Tensor.of(dk, n, d), (float) (global[1] * scale));
    }

    /** Two (n, D) float32 tensors of one shape, the form every two-tower sharded loss takes. */
    static void pair(String nameA, Tensor a, String nameB, Tensor b) {
        if (a == null || b == null) throw new IllegalArgumentException(nameA + ", " + nameB + ": must not be null");
        if (a.dtype() != DType.FLOAT32 || a.rank() != 2) {
            throw new IllegalArgumentException(nameA + ": expected a (n, D) float32 tensor, got " + a.describe());
        }
        if (b.dtype() != DType.FLOAT32 || b.rank() != 2 || a.size(0) != b.size(0) || a.size(1) != b.size(1)) {
            throw new IllegalArgumentException(nameB + ": expected float32 of shape (n, D) of " + nameA + " = "
                    + Tensor.formatShape(a.shape()) + ", got " + b.describe());
        }
    }

    /**
     * This rank's rows against all the partners (the positive of local row i is partners row i,
     * the rest the other ranks'): adds the SUM's gradient of the rows into dRows and its loss and
     * d tau into sums; returns d SUM / d partnersAll (N, D) for the reduce-scatter.
     */
    private float[] half(Tensor rows, Tensor partners, Tensor partnersAll, long offset, long n, float tau, float[] dRows,
                         double[] sums) {
        long total = partnersAll.size(0), d = partnersAll.size(1);
        float[] all = new float[Math.toIntExact(total * d)];
        if (n == 0) return all;
        InfoNce loss = InfoNce.create().withTemperature(tau).withNormalize(normalize).withReduction(Reduction.SUM);
        if (backend != null) loss = loss.withBackend(backend);
        Tensor value = Tensor.zeros(DType.FLOAT32, 1), gRows = Tensor.zeros(DType.FLOAT32, n, d), gPartners = Tensor.zeros(DType.FLOAT32, n, d);
        float dTau;
        int from = Math.toIntExact(offset * d), mine = Math.toIntExact(n * d);
        if (total == n) {
            dTau = loss.forwardBackward(rows, partners, value, gRows, gPartners);
            System.arraycopy(gPartners.toFloatArray(), 0, all, 0, mine);
        } else {
            float[] a = partnersAll.toFloatArray(), others = new float[all.length - mine];
            System.arraycopy(a, 0, others, 0, from);
            System.arraycopy(a, from + mine, others, from, a.length - from - mine);
            Tensor negatives = Tensor.of(others, total - n, d), gNegatives = Tensor.zeros(DType.FLOAT32, total - n, d);
            dTau = loss.forwardBackward(rows, partners, negatives, value, gRows, gPartners, gNegatives);
            float[] gn = gNegatives.toFloatArray();
            System.arraycopy(gn, 0, all, 0, from);
            System.arraycopy(gPartners.toFloatArray(), 0, all, from, mine);
            System.arraycopy(gn, from, all, from + mine, gn.length - from);
        }
        float[] g = gRows.toFloatArray();
        for (int i = 0; i < g.length; i++) dRows[i] += g[i];
        sums[0] += value.item();
        sums[1] += dTau;
        return all;
    }

    private static void add(float[] into, Tensor t) {
        float[] v = t.toFloatArray();
        for (int i = 0; i < v.length; i++) into[i] += v[i];
    }
}
