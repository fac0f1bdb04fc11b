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

/**
 * The pairwise sigmoid loss (SigLIP): logits {@code z = scale * â b̂ᵀ + bias} over every pair
 * of a (N,D) and b (N,D), label +1 on the diagonal and -1 elsewhere, and
 * {@code loss = -(1/N) sum_ij log sigmoid(label_ij * z_ij)} (MEAN; SUM drops the 1/N), with the
 * gradients of a, b, the logit scale and the bias. SigLIP initialises scale = 10, bias = -10.
 *
 * <p>Memory: the logits a block of rows at a time (about 64 MiB, {@link #withBlockRows}), in the
 * calling thread's workspace, kept for the next call ({@link InfoNce#releaseWorkspace()} frees
 * it). Per block one kernel pass adds the bias, sums the losses and writes d loss / d logits in
 * place, so the step is the three GEMMs' flops and one pass over the logits. Plus O(N·D).
 * Immutable, thread-safe.
 */
public final class SigLipLoss {
    private final float logitScale;
    private final float bias;
    private final boolean normalize;
    private final Reduction reduction;
    private final Backend backend;
    private final long blockRows; // rows of logits held at once; 0: about InfoNce.BLOCK_BYTES of them

    private SigLipLoss(float logitScale, float bias, boolean normalize, Reduction reduction, Backend backend,
                       long blockRows) {
        this.logitScale = logitScale;
        this.bias = bias;
        this.normalize = normalize;
        this.reduction = reduction;
        this.backend = backend;
        this.blockRows = blockRows;
    }

    /** SigLIP's initial values: scale 10, bias -10; cosine similarity; MEAN (over N). */
    public static SigLipLoss create() {
        return new SigLipLoss(10f, -10f, true, Reduction.MEAN, null, 0);
    }

    public SigLipLoss withLogitScale(float scale) {
        return new SigLipLoss(Contrastive.positive("logitScale", scale), bias, normalize, reduction, backend, blockRows);
    }

    public SigLipLoss withBias(float bias) {
        return new SigLipLoss(logitScale, Contrastive.finiteValue("bias", bias), normalize, reduction, backend, blockRows);
    }

    public SigLipLoss withNormalize(boolean normalize) {
        return new SigLipLoss(logitScale, bias, normalize, reduction, backend, blockRows);
    }

    /** MEAN (sum over pairs / N, SigLIP's) or SUM; NONE is not offered. */
    public SigLipLoss withReduction(Reduction reduction) {
        if (reduction != Reduction.MEAN && reduction != Reduction.SUM) {
            throw new IllegalArgumentException("reduction: " + reduction + " is not offered; use MEAN (SigLIP's) or SUM");
        }
        return new SigLipLoss(logitScale, bias, normalize, reduction, backend, blockRows);
    }

    public SigLipLoss withBackend(Backend backend) {
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        return new SigLipLoss(logitScale, bias, normalize, reduction, backend, blockRows);
    }

    /**
     * How many rows of the (N,N) logits are held at once: 0 (the default) picks about 64 MiB of
     * them, at least 64 rows; N or more holds the whole matrix. Every pair is independent, so the
     * blocks cost no extra flops and a batch whose N×N logits would not fit in memory runs.
     * Results are the same up to float rounding (the sums are taken block by block).
     */
    public SigLipLoss withBlockRows(long rows) {
        if (rows < 0) throw new IllegalArgumentException("blockRows: must be >= 0, got " + rows);
        return new SigLipLoss(logitScale, bias, normalize, reduction, backend, rows);
    }

    /** Same shape as {@link ClipLoss.Result}. */
    public ClipLoss.Result forwardBackward(Tensor a, Tensor b) {
        Kernels k = (Kernels) (backend != null ? backend : Backends.current());
        long d = Contrastive.embeddings("a", a, k, 1, "expected N >= 1");
        Contrastive.embeddings("b", b, k, 1, "expected N >= 1");
        Checks.shape("b", b, "(N, D) of a", a.shape());
        long n = a.size(0);
        SimilarityKernels sim = k.similarity();
        Tensor ah = Contrastive.prepared(sim, a, normalize), bh = Contrastive.prepared(sim, b, normalize);
        // Row blocks of the logits in the calling thread's workspace (InfoNce's, kept between
        // calls): each block's GEMM, its pass, its rows of da and its share of db.
        long block = Math.min(n, InfoNce.blockRows(blockRows, n));
        Tensor s = Contrastive.workspace(block, n);
        Tensor da = Tensor.zeros(DType.FLOAT32, n, d), db = Tensor.zeros(DType.FLOAT32, n, d);
        boolean done = false;
        try {
            float per = reduction == Reduction.MEAN ? 1f / n : 1f;
            double lossSum = 0, gradSum = 0;
            for (long r0 = 0; r0 < n; r0 += block) {
                long rows = Math.min(block, n - r0);
                Tensor sb = rows == block ? s : Contrastive.rowsOf(s, 0, rows), ab = Contrastive.rowsOf(ah, r0, rows);
                sim.gemm(false, true, logitScale, ab, bh, 0f, sb);
                // one pass: the bias added, the pairs' losses summed, d sum / d logits in place
                ContrastiveKernels.PairSums sums = k.contrastive().sigLipPairs(sb, r0, bias, sb);
                lossSum += sums.loss();
                gradSum += sums.grad();
                sim.gemm(false, false, logitScale * per, sb, bh, 0f, Contrastive.rowsOf(da, r0, rows));
                sim.gemm(true, false, logitScale * per, sb, ab, r0 == 0 ? 0f : 1f, db);
            }
            float gradScale = (float) (Contrastive.dot(ah, da) / logitScale);
            Contrastive.backThroughNormalize(sim, a, da, normalize);
            Contrastive.backThroughNormalize(sim, b, db, normalize);
            done = true;
            return new ClipLoss.Result(Tensor.scalar((float) (lossSum * per)), da, db, gradScale, (float) (gradSum * per));
        } finally {
            Contrastive.release(ah, a);
            Contrastive.release(bh, b);
            if (!done) {
                da.close();
                db.close();
            }
        }
    }
}
