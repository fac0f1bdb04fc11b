package dev.jnce.loss;

import dev.jnce.Reduction;
import dev.jnce.Backend;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.SimilarityKernels;
import dev.jnce.internal.Checks;
import dev.jnce.internal.Outputs;

/**
 * The symmetric contrastive loss of CLIP (Radford et al. 2021): logits {@code scale * â b̂ᵀ + bias} for paired
 * a (N,D) and b (N,D) (image and text towers, say), the mean of the cross-entropy over rows
 * (a→b) and over columns (b→a) with the pairs on the diagonal, and the gradients of a, b, the
 * logit scale and the bias.
 *
 * <p>CLIP learns {@code t = log scale}; the gradient returned is d loss / d scale, so
 * d loss / d t = scale * {@link PairedResult#gradLogitScale()}. A bias shifts every logit of a row
 * (and of a column) equally, which softmax ignores: it is accepted so that CLIP and SigLIP
 * share a configuration, and its gradient is exactly 0.
 *
 * <p>Memory: the (N,N) logits, one N×N float32 buffer borrowed for the call from the pool the
 * InfoNCE family shares, which keeps it for the next call ({@link InfoNce#releaseWorkspace()}).
 * One kernel reads both the row and the column softmax from it and writes d loss / d logits in
 * place, so the step is three GEMMs and two passes over the logits. Plus O(N·D).
 * {@link #forwardBackward(Tensor, Tensor, Tensor, Tensor, Tensor)} writes into the caller's tensors. A call runs on the backend the loss is pinned to, else on
 * that of its tensors' device. Immutable, thread-safe.
 */
public final class ClipLoss {
    /** Why a logit scale must be a normal float32, for the message. */
    static final String SCALE_WHY = "d loss / d logitScale is divided by it, which a subnormal scale makes wrong";

    private final float logitScale;
    private final float bias;
    private final boolean normalize;
    private final Reduction reduction;
    private final Backend backend;
    private final long blockRows; // 0: the whole matrix up to Contrastive.FULL_MATRIX_BYTES, row blocks beyond

    private ClipLoss(float logitScale, float bias, boolean normalize, Reduction reduction, Backend backend, long blockRows) {
        this.logitScale = logitScale;
        this.bias = bias;
        this.normalize = normalize;
        this.reduction = reduction;
        this.backend = backend;
        this.blockRows = blockRows;
    }

    /**
     * Logit scale 1/0.07 (CLIP's initial value), no bias, cosine similarity, MEAN.
     *
     * @return a loss with CLIP's initial settings
     */
    public static ClipLoss create() {
        return new ClipLoss(1f / 0.07f, 0f, true, Reduction.MEAN, null, 0);
    }

    /**
     * The multiplier of the cosine similarities (CLIP: exp of its learnt logit_scale): finite,
     * > 0 and a normal float32, in [{@link Float#MIN_NORMAL}, {@link Float#MAX_VALUE}] (d loss /
     * d scale is recovered by dividing by it, which a subnormal scale makes wrong).
     *
     * @param scale the logit scale, a normal positive float32
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if scale is not finite, not positive or subnormal
     */
    public ClipLoss withLogitScale(float scale) {
        return new ClipLoss(Contrastive.normalPositive("logitScale", scale, SCALE_WHY), bias, normalize, reduction, backend, blockRows);
    }

    /**
     * The bias added to every logit. Softmax ignores a shift of a whole row or column, so it changes
     * neither the
     * loss nor the towers' gradients, and its gradient is 0; it is accepted so that CLIP and SigLIP share
     * a
     * configuration.
     *
     * @param bias a finite bias
     * @return a copy with this bias; this instance is unchanged
     * @throws IllegalArgumentException if bias is not finite
     */
    public ClipLoss withBias(float bias) {
        return new ClipLoss(logitScale, Contrastive.finiteValue("bias", bias), normalize, reduction, backend, blockRows);
    }

    /**
     * Whether rows are L2-normalised first (cosine similarity, the default) or compared by plain dot
     * product.
     *
     * @param normalize true for cosine similarity, false for the dot product
     * @return a copy with this setting; this instance is unchanged
     */
    public ClipLoss withNormalize(boolean normalize) {
        return new ClipLoss(logitScale, bias, normalize, reduction, backend, blockRows);
    }

    /**
     * MEAN (default) or SUM over the N pairs of the two directions' mean; NONE gives (N) per-pair values.
     *
     * @param reduction MEAN (default), SUM or NONE; not null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if reduction is null or BATCHMEAN (kl_div's alone)
     */
    public ClipLoss withReduction(Reduction reduction) {
        Checks.reduction(reduction);
        return new ClipLoss(logitScale, bias, normalize, reduction, backend, blockRows);
    }

    /**
     * The same loss pinned to a backend: every call runs there, whatever device the tensors are on.
     *
     * @param backend the backend; not null
     * @return a copy pinned to {@code backend}; this instance is unchanged
     * @throws IllegalArgumentException if backend is null
     */
    public ClipLoss withBackend(Backend backend) {
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        return new ClipLoss(logitScale, bias, normalize, reduction, backend, blockRows);
    }

    /**
     * How much of the N×N logits a call holds. With the default 0 the whole matrix while it takes
     * at most 1 GiB (N &le; 16384): three GEMMs and two passes over it. Past that, or with rows
     * below N, the loss is computed as what it is, the mean of InfoNCE from a to b and from b to a
     * at temperature 1/logitScale, each direction swept in blocks of this many rows of logits
     * (about 64 MiB of them for 0): memory O(rows·N + N·D) whatever N, at twice the GEMM flops.
     * Results are the same up to float rounding. N or more: always the whole matrix.
     *
     * @param rows rows of logits held at once; 0 for the automatic choice above, else &ge; 1
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if rows is negative
     */
    public ClipLoss withBlockRows(long rows) {
        if (rows < 0) throw new IllegalArgumentException("blockRows: must be >= 0, got " + rows);
        return new ClipLoss(logitScale, bias, normalize, reduction, backend, rows);
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
     * @param loss  (N) float32 for NONE, else a one-element float32 tensor
     * @param gradA (N,D) float32, not an input
     * @param gradB (N,D) float32, not an input nor gradA
     * @return the gradients of the logit scale and of the bias (always 0)
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

    /** Checks a (N,D) and b (N,D), N >= 2, finite; returns D. */
    private static long check(Kernels k, Tensor a, Tensor b) {
        long d = Contrastive.embeddings("a", a, k, 2, "the symmetric loss needs N >= 2 pairs (the other pairs are the negatives)");
        Contrastive.embeddings("b", b, k, 2, "expected N >= 2");
        Checks.shape("b", b, "(N, D) of a", a.shape());
        return d;
    }

    private PairedResult.Scalars run(Kernels k, Tensor a, Tensor b, Tensor loss, Tensor da, Tensor db) {
        long n = a.size(0);
        if (blockRows > 0 ? blockRows < n : 4L * n * n > Contrastive.FULL_MATRIX_BYTES) return swept(a, b, loss, da, db);
        SimilarityKernels sim = k.similarity();
        Tensor ah = null, bh = null;
        Workspace.Lease workspace = null;
        try {
            ah = Contrastive.prepared(k, a, normalize);
            bh = Contrastive.prepared(k, b, normalize);
            // The (N,N) logits in a buffer borrowed from the pool (InfoNce's): a fresh zero-filled
            // buffer costs page faults and a memset of N² floats per call. Its rows are the
            // backend's stride apart (longer than N on cpu where N is a multiple of 256).
            workspace = Workspace.borrow(k, n, k.contrastive().logitRowStride(n));
            Tensor logits = workspace.logits();
            sim.gemm(false, true, logitScale, ah, bh, 0f, logits); // the bias is left out: softmax does not see a shift
            // both directions' cross-entropy from the one matrix, and G = d loss / d logits into
            // da = G bh scale and db = Gᵀ ah scale (on cpu a tile of G at a time, never written)
            k.contrastive().clipGradient(logits, reduction, loss, ah, bh, logitScale, da, db, sim);
            float gradScale = (float) (sim.dot(ah, da) / logitScale);
            Contrastive.backThroughNormalize(k, a, da, normalize);
            Contrastive.backThroughNormalize(k, b, db, normalize);
            return new PairedResult.Scalars(gradScale, 0f);
        } finally {
            if (workspace != null) workspace.close();
            Contrastive.release(ah, a);
            Contrastive.release(bh, b);
        }
    }

    /**
     * CLIP's loss as the mean of the two InfoNCE directions at temperature 1/logitScale, each swept
     * in row blocks (no N×N buffer); d loss / d scale = -(d loss / d tau) / scale².
     */
    private PairedResult.Scalars swept(Tensor a, Tensor b, Tensor loss, Tensor da, Tensor db) {
        float dTau;
        try {
            InfoNce both = InfoNce.create().withTemperature(1f / logitScale).withNormalize(normalize).withReduction(reduction)
                    .withDirection(InfoNce.Direction.SYMMETRIC).withBlockRows(blockRows);
            if (backend != null) both = both.withBackend(backend);
            dTau = both.forwardBackward(a, b, loss, da, db);
        } catch (IllegalArgumentException e) { // a, b and the outputs are checked already: the scale is what is left
            if (!String.valueOf(e.getMessage()).startsWith("temperature")) throw e;
            throw new IllegalArgumentException("logitScale: " + logitScale + " cannot be swept in row blocks (as InfoNCE's "
                    + "temperature 1/logitScale: " + e.getMessage() + ")", e);
        }
        return new PairedResult.Scalars((float) (-dTau / ((double) logitScale * logitScale)), 0f);
    }
}
