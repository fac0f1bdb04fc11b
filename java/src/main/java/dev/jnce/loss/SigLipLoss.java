package dev.jnce.loss;

import dev.jnce.Reduction;
import dev.jnce.Backend;
import dev.jnce.Tensor;
import dev.jnce.backend.ContrastiveKernels;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.SimilarityKernels;
import dev.jnce.internal.Checks;
import dev.jnce.internal.Outputs;

/**
 * The pairwise sigmoid loss of SigLIP (Zhai et al. 2023): logits {@code z = scale * â b̂ᵀ + bias} over every pair
 * of a (N,D) and b (N,D), label +1 on the diagonal and -1 elsewhere, and
 * {@code loss = -(1/N) sum_ij log sigmoid(label_ij * z_ij)} (MEAN; SUM drops the 1/N), with the
 * gradients of a, b, the logit scale and the bias. SigLIP initialises scale = 10, bias = -10.
 *
 * <p>Memory: the logits a block of rows at a time (about 64 MiB, {@link #withBlockRows}), in a
 * buffer borrowed for the call from the pool the InfoNCE family shares, which keeps it for the
 * next call ({@link InfoNce#releaseWorkspace()} frees it). Per block one kernel pass adds the
 * bias, sums the losses and writes d loss / d logits in place, so the step is the three GEMMs' flops and one pass over the logits. Plus O(N·D).
 * {@link #forwardBackward(Tensor, Tensor, Tensor, Tensor, Tensor)} writes into the caller's
 * tensors. A call runs on the backend the loss is pinned to, else on that of its tensors'
 * device. Immutable, thread-safe.
 */
public final class SigLipLoss {
    private final float logitScale;
    private final float bias;
    private final boolean normalize;
    private final Reduction reduction;
    private final Backend backend;
    private final long blockRows; // rows of logits held at once; 0: about Contrastive.BLOCK_BYTES of them

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

    /**
     * The multiplier of the cosine similarities: finite, > 0 and a normal float32, in
     * [{@link Float#MIN_NORMAL}, {@link Float#MAX_VALUE}], as {@link ClipLoss#withLogitScale}.
     */
    public SigLipLoss withLogitScale(float scale) {
        Contrastive.normalPositive("logitScale", scale, ClipLoss.SCALE_WHY);
        logitRange("logitScale", scale, bias);
        return new SigLipLoss(scale, bias, normalize, reduction, backend, blockRows);
    }

    /** The bias added to every logit: finite, with logitScale + |bias| finite in float32. */
    public SigLipLoss withBias(float bias) {
        Contrastive.finiteValue("bias", bias);
        logitRange("bias", logitScale, bias);
        return new SigLipLoss(logitScale, bias, normalize, reduction, backend, blockRows);
    }

    /**
     * The logits of cosine similarities lie in [-scale + bias, scale + bias]: scale + |bias| must
     * be finite in float32, else pairs get infinite logits and the loss turns NaN.
     */
    private static void logitRange(String argument, float scale, float bias) {
        if (Float.isInfinite(scale + Math.abs(bias))) {
            throw new IllegalArgumentException(argument + ": logitScale " + scale + " with bias " + bias
                    + " gives logits up to logitScale + |bias| = Infinity in float32; keep logitScale + |bias| <= "
                    + Float.MAX_VALUE);
        }
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

    /** The loss and the gradients of both towers, the logit scale and the bias, in new tensors on the call's device. */
    public PairedResult forwardBackward(Tensor a, Tensor b) {
        Kernels k = Kernels.forCall(backend, "a", a, "b", b);
        long d = check(k, a, b), n = a.size(0);
        Tensor loss = null, da = null, db = null;
        try {
            loss = Contrastive.newLoss(k, reduction, n);
            da = Contrastive.output(k, n, d);
            db = Contrastive.output(k, n, d);
            PairedResult.Scalars s = run(k, a, b, loss, da, db);
            return new PairedResult(loss, da, db, s.gradLogitScale(), s.gradBias());
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, loss, da, db);
        }
    }

    /**
     * The loss into {@code loss} and the towers' gradients into {@code gradA} and {@code gradB};
     * returns the gradients of the logit scale and the bias.
     *
     * @param loss  a one-element float32 tensor
     * @param gradA (N,D) float32, not an input
     * @param gradB (N,D) float32, not an input nor gradA
     */
    public PairedResult.Scalars forwardBackward(Tensor a, Tensor b, Tensor loss, Tensor gradA, Tensor gradB) {
        Kernels k = Kernels.forCall(backend, "a", a, "b", b, Kernels.OUTPUTS, "loss", loss, "gradA", gradA, "gradB", gradB);
        check(k, a, b);
        Contrastive.lossBuffer(loss, k, reduction, a.size(0));
        Contrastive.gradBuffer("gradA", gradA, k, "(N, D) of a", a, a, b);
        Contrastive.gradBuffer("gradB", gradB, k, "(N, D) of b", b, a, b, gradA);
        return run(k, a, b, loss, gradA, gradB);
    }

    /** Checks a (N,D) and b (N,D), finite; returns D. */
    private static long check(Kernels k, Tensor a, Tensor b) {
        long d = Contrastive.embeddings("a", a, k, 1, "expected N >= 1");
        Contrastive.embeddings("b", b, k, 1, "expected N >= 1");
        Checks.shape("b", b, "(N, D) of a", a.shape());
        return d;
    }

    private PairedResult.Scalars run(Kernels k, Tensor a, Tensor b, Tensor loss, Tensor da, Tensor db) {
        SimilarityKernels sim = k.similarity();
        long n = a.size(0);
        Tensor ah = null, bh = null;
        Workspace.Lease workspace = null;
        try {
            ah = Contrastive.prepared(k, a, normalize);
            bh = Contrastive.prepared(k, b, normalize);
            // Row blocks of the logits in a buffer borrowed from the pool (InfoNce's): each block's
            // GEMM, its pass, its rows of da and its share of db.
            long block = Math.min(n, Contrastive.blockRows(blockRows, n));
            workspace = Workspace.borrow(k, block, n);
            Tensor s = workspace.logits();
            float per = reduction == Reduction.MEAN ? 1f / n : 1f;
            double lossSum = 0, gradSum = 0;
            for (long r0 = 0; r0 < n; r0 += block) {
                long rows = Math.min(block, n - r0);
                Tensor sb = rows == block ? s : s.rows(0, rows), ab = ah.rows(r0, rows);
                sim.gemm(false, true, logitScale, ab, bh, 0f, sb);
                // one pass: the bias added, the pairs' losses summed, d sum / d logits in place
                ContrastiveKernels.PairSums sums = k.contrastive().sigLipPairs(sb, r0, bias, sb);
                lossSum += sums.loss();
                gradSum += sums.grad();
                sim.gemm(false, false, logitScale * per, sb, bh, 0f, da.rows(r0, rows));
                sim.gemm(true, false, logitScale * per, sb, ab, r0 == 0 ? 0f : 1f, db);
            }
            sim.fill((float) (lossSum * per), loss);
            float gradScale = (float) (sim.dot(ah, da) / logitScale);
            Contrastive.backThroughNormalize(k, a, da, normalize);
            Contrastive.backThroughNormalize(k, b, db, normalize);
            return new PairedResult.Scalars(gradScale, (float) (gradSum * per));
        } finally {
            if (workspace != null) workspace.close();
            Contrastive.release(ah, a);
            Contrastive.release(bh, b);
        }
    }
}
