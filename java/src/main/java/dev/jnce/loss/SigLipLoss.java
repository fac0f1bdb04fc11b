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

    /**
     * SigLIP's initial values: scale 10, bias -10; cosine similarity; MEAN (over N).
     *
     * @return a loss with SigLIP's initial settings
     */
    public static SigLipLoss create() {
        return new SigLipLoss(10f, -10f, true, Reduction.MEAN, null, 0);
    }

    /**
     * The multiplier of the cosine similarities: finite, > 0 and a normal float32, in
     * [{@link Float#MIN_NORMAL}, {@link Float#MAX_VALUE}], as {@link ClipLoss#withLogitScale}.
     *
     * @param scale the logit scale, a normal positive float32
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if scale is not finite, not positive or subnormal, or logitScale +
     *   |bias| overflows float32
     */
    public SigLipLoss withLogitScale(float scale) {
        Contrastive.normalPositive("logitScale", scale, ClipLoss.SCALE_WHY);
        logitRange("logitScale", scale, bias);
        return new SigLipLoss(scale, bias, normalize, reduction, backend, blockRows);
    }

    /**
     * The bias added to every logit: finite, with logitScale + |bias| finite in float32.
     *
     * @param bias the bias, finite
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if bias is not finite or logitScale + |bias| overflows float32
     */
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

    /**
     * Whether rows are L2-normalised first (cosine similarity, the default) or compared by plain dot
     * product.
     *
     * @param normalize true for cosine similarity, false for the dot product
     * @return a copy with this setting; this instance is unchanged
     */
    public SigLipLoss withNormalize(boolean normalize) {
        return new SigLipLoss(logitScale, bias, normalize, reduction, backend, blockRows);
    }

    /**
     * MEAN (sum over pairs / N, SigLIP's) or SUM; NONE is not offered.
     *
     * @param reduction MEAN or SUM; not null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if reduction is null or not MEAN or SUM
     */
    public SigLipLoss withReduction(Reduction reduction) {
        if (reduction != Reduction.MEAN && reduction != Reduction.SUM) {
            throw new IllegalArgumentException("reduction: " + reduction + " is not offered; use MEAN (SigLIP's) or SUM");
        }
        return new SigLipLoss(logitScale, bias, normalize, reduction, backend, blockRows);
    }

    /**
     * The same loss pinned to a backend: every call runs there, whatever device the tensors are on.
     *
     * @param backend the backend; not null
     * @return a copy pinned to {@code backend}; this instance is unchanged
     * @throws IllegalArgumentException if backend is null
     */
    public SigLipLoss withBackend(Backend backend) {
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        return new SigLipLoss(logitScale, bias, normalize, reduction, backend, blockRows);
    }

    /**
     * How many rows of the (N,N) logits are held at once: 0 (the default) picks about 64 MiB of
     * them, at least 64 rows; N or more holds the whole matrix. Every pair is independent, so the
     * blocks cost no extra flops and a batch whose N×N logits would not fit in memory runs.
     * Results are the same up to float rounding (the sums are taken block by block).
     *
     * @param rows the rows held at once: 0 for about 64 MiB of them, else &ge; 1
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if rows is negative
     */
    public SigLipLoss withBlockRows(long rows) {
        if (rows < 0) throw new IllegalArgumentException("blockRows: must be >= 0, got " + rows);
        return new SigLipLoss(logitScale, bias, normalize, reduction, backend, rows);
    }

    /**
     * The loss and the gradients of both towers, the logit scale and the bias, in new tensors on the call's device.
     *
     * @param a the first tower's embeddings (images, say), (N,D) float32 with N &ge; 2 and finite values
     * @param b the second tower's embeddings, (N,D) float32 like {@code a}; row i of b is the positive of
     *   row i of a
     * @return the loss and the gradients of a, b, the logit scale and the bias, in new tensors on the
     *   call's device; close the result (or use a {@link dev.jnce.TensorScope})
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
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
     * @param a the first tower's embeddings (images, say), (N,D) float32 with N &ge; 2 and finite values
     * @param b the second tower's embeddings, (N,D) float32 like {@code a}; row i of b is the positive of
     *   row i of a
     * @param loss  a one-element float32 tensor
     * @param gradA (N,D) float32, not an input
     * @param gradB (N,D) float32, not an input nor gradA
     * @return the gradients of the logit scale and of the bias
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
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
            long block = Math.min(n, Contrastive.blockRows(blockRows, n, k));
            long stride = k.contrastive().logitRowStride(n); // longer than n on cpu where n is a multiple of 256
            workspace = Workspace.borrow(k, block, stride);
            Tensor s = workspace.logits();
            float per = reduction == Reduction.MEAN ? 1f / n : 1f;
            double lossSum = 0, gradSum = 0;
            for (long r0 = 0; r0 < n; r0 += block) {
                long rows = Math.min(block, n - r0);
                Tensor sb = rows == block ? s : s.rows(0, rows), ab = ah.rows(r0, rows);
                sim.gemm(false, true, logitScale, ab, bh, 0f, sb);
                // the bias added, the pairs' losses summed, d sum / d logits and the block's products:
                // its rows of da = G bh, and db += Gᵀ ab
                ContrastiveKernels.PairSums sums = k.contrastive().sigLipGradient(sb, n, r0, bias, ab, bh, logitScale * per,
                        r0 == 0 ? 0f : 1f, da.rows(r0, rows), db, sim);
                lossSum += sums.loss();
                gradSum += sums.grad();
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
