package dev.jnce.distributed;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.backend.ContrastiveKernels;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.SimilarityKernels;
import dev.jnce.ops.Normalize;

/**
 * SigLIP's pairwise sigmoid loss (Zhai et al. 2023) over a batch sharded across ranks, equal to
 * {@link dev.jnce.loss.SigLipLoss} (MEAN) on the concatenated batch: loss = -(1/N) Σ_i Σ_j
 * log σ(z_ij (t a_i·b_j + bias)), z = 1 on the global diagonal, -1 elsewhere, a and b
 * L2-normalised. The pairs split by rows: each rank sweeps its rows of a against all N rows of b
 * (all-gathered) in row blocks, the pair kernel told where its rows' positives sit; the gradient of
 * the gathered b rows returns to their owners by a reduce-scatter; the loss and the gradients of t
 * and the bias by an all-reduce. Memory O(N·D) plus one block. Arguments are checked on every rank
 * together before any data moves: a bad argument on one rank ends every rank's call with an
 * {@link IllegalArgumentException}.
 */
public final class ShardedSigLip {
    private static final long BLOCK_BYTES = 64L << 20;
    private final Collective collective;
    private final float logitScale, bias;
    private final Backend backend;

    private ShardedSigLip(Collective collective, float logitScale, float bias, Backend backend) {
        this.collective = collective;
        this.logitScale = logitScale;
        this.bias = bias;
        this.backend = backend;
    }

    /**
     * SigLIP's initial values: logit scale 10, bias -10; cosine similarity.
     *
     * @param collective the group of ranks; not null
     * @return the loss
     * @throws IllegalArgumentException if collective is null
     */
    public static ShardedSigLip create(Collective collective) {
        if (collective == null) throw new IllegalArgumentException("collective: must not be null");
        return new ShardedSigLip(collective, 10f, -10f, null);
    }

    /**
     * The multiplier t of the cosine similarities.
     *
     * @param scale finite and &gt; 0
     * @return a copy with this scale
     * @throws IllegalArgumentException if scale is not finite or not &gt; 0
     */
    public ShardedSigLip withLogitScale(float scale) {
        if (!(scale > 0) || Float.isInfinite(scale)) throw new IllegalArgumentException("logitScale: " + scale + " must be finite and > 0");
        return new ShardedSigLip(collective, scale, bias, backend);
    }

    /**
     * The bias added to every logit.
     *
     * @param bias a finite bias
     * @return a copy with this bias
     * @throws IllegalArgumentException if bias is not finite
     */
    public ShardedSigLip withBias(float bias) {
        if (!Float.isFinite(bias)) throw new IllegalArgumentException("bias: " + bias + " must be finite");
        return new ShardedSigLip(collective, logitScale, bias, backend);
    }

    /**
     * The backend the local computation runs on.
     *
     * @param backend a host backend; not null
     * @return a copy pinned to it
     * @throws IllegalArgumentException if backend is null
     */
    public ShardedSigLip withBackend(Backend backend) {
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        return new ShardedSigLip(collective, logitScale, bias, backend);
    }

    /**
     * The global loss and gradients of one step.
     *
     * @param loss           the loss of the global batch, the same on every rank
     * @param gradA          (n_r, D) d loss / d this rank's rows of a
     * @param gradB          (n_r, D) d loss / d this rank's rows of b
     * @param gradLogitScale d loss / d t, the same on every rank
     * @param gradBias       d loss / d bias, the same on every rank
     */
    public record Result(float loss, Tensor gradA, Tensor gradB, float gradLogitScale, float gradBias) implements AutoCloseable {
        /** Closes the gradient tensors. */
        @Override
        public void close() {
            gradA.close();
            gradB.close();
        }
    }

    /**
     * One step: a collective, every rank passes its shard.
     *
     * @param a this rank's rows of the first tower (n_r, D) float32 on the host, finite
     * @param b this rank's rows of the second tower, row i the positive of a's row i
     * @return the global loss and scalar gradients, and this rank's gradients (new tensors)
     * @throws IllegalArgumentException if a shape is wrong here or the ranks' D differ
     * @throws IllegalStateException if another rank failed or timed out
     */
    public Result forwardBackward(Tensor a, Tensor b) {
        RuntimeException refusal = null;
        Kernels k = null;
        try {
            ShardedInfoNce.pair("a", a, "b", b);
            k = Kernels.forCall(backend, "a", a, "b", b);
        } catch (RuntimeException e) {
            refusal = e;
        }
        Shards shards = Shards.exchange(collective, "a", refusal == null ? a.size(0) : 0, refusal == null ? a.size(1) : 0, refusal);
        long n = a.size(0), d = a.size(1);
        long[] counts = shards.counts();
        long total = shards.total(), offset = shards.offset();
        SimilarityKernels sim = k.similarity();
        ContrastiveKernels con = k.contrastive();
        Normalize normalize = Normalize.create().withBackend(k);
        float per = 1f / total;
        double[] sums = new double[3]; // loss, d bias, d t: this rank's rows
        double[] global;
        float[] ga = new float[0], gb = new float[0];
        try (TensorScope scope = TensorScope.open()) {
            Tensor ah = n == 0 ? a : normalize.forward(a), bh = n == 0 ? b : normalize.forward(b);
            Tensor bAll = collective.allGatherRows(bh);
            Tensor dAh = Tensor.zeros(DType.FLOAT32, n, d), dBAll = Tensor.zeros(DType.FLOAT32, total, d);
            if (n > 0) {
                long block = Math.min(n, Math.max(64, BLOCK_BYTES / (4 * total)));
                Tensor s = Tensor.zeros(DType.FLOAT32, block, total);
                for (long r0 = 0; r0 < n; r0 += block) {
                    long rows = Math.min(block, n - r0);
                    Tensor sb = rows == block ? s : s.rows(0, rows), ab = ah.rows(r0, rows);
                    sim.gemm(false, true, logitScale, ab, bAll, 0f, sb);
                    ContrastiveKernels.PairSums p = con.sigLipPairs(sb, offset + r0, bias, sb); // positives at global columns
                    sums[0] += p.loss();
                    sums[1] += p.grad();
                    sim.gemm(false, false, logitScale * per, sb, bAll, 0f, dAh.rows(r0, rows));
                    sim.gemm(true, false, logitScale * per, sb, ab, 1f, dBAll);
                }
                sums[2] = sim.dot(ah, dAh) / logitScale;
            }
            Tensor dBh = collective.reduceScatterRows(dBAll, counts);
            global = collective.allReduceSum(sums);
            if (n > 0) {
                ga = normalize.backward(a, dAh).toFloatArray();
                gb = normalize.backward(b, dBh).toFloatArray();
            }
        }
        return new Result((float) (global[0] * per), Tensor.of(ga, n, d), Tensor.of(gb, n, d), (float) global[2],
                (float) (global[1] * per));
    }
}
