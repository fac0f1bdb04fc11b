package dev.jnce.loss;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.SimilarityKernels;
import dev.jnce.internal.Checks;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The symmetric (CLIP-style) contrastive loss: logits {@code scale * â b̂ᵀ + bias} for paired
 * a (N,D) and b (N,D) (image and text towers, say), the mean of the cross-entropy over rows
 * (a→b) and over columns (b→a) with the pairs on the diagonal, and the gradients of a, b, the
 * logit scale and the bias.
 *
 * <p>CLIP learns {@code t = log scale}; the gradient returned is d loss / d scale, so
 * d loss / d t = scale * {@link Result#gradLogitScale()}. A bias shifts every logit of a row
 * (and of a column) equally, which softmax ignores: it is accepted so that CLIP and SigLIP
 * share a configuration, and its gradient is exactly 0.
 *
 * <p>Memory: the (N,N) logits and their transpose (two N×N float32 buffers, each cross-entropy
 * writing its gradient in place) plus O(N·D). Immutable, thread-safe.
 */
public final class ClipLoss {
    private final float logitScale;
    private final float bias;
    private final boolean normalize;
    private final Reduction reduction;
    private final Backend backend;

    private ClipLoss(float logitScale, float bias, boolean normalize, Reduction reduction, Backend backend) {
        this.logitScale = logitScale;
        this.bias = bias;
        this.normalize = normalize;
        this.reduction = reduction;
        this.backend = backend;
    }

    /** Logit scale 1/0.07 (CLIP's initial value), no bias, cosine similarity, MEAN. */
    public static ClipLoss create() {
        return new ClipLoss(1f / 0.07f, 0f, true, Reduction.MEAN, null);
    }

    /** The multiplier of the cosine similarities (CLIP: exp of its learnt logit_scale), > 0. */
    public ClipLoss withLogitScale(float scale) {
        return new ClipLoss(Contrastive.positive("logitScale", scale), bias, normalize, reduction, backend);
    }

    public ClipLoss withBias(float bias) {
        return new ClipLoss(logitScale, Contrastive.finiteValue("bias", bias), normalize, reduction, backend);
    }

    public ClipLoss withNormalize(boolean normalize) {
        return new ClipLoss(logitScale, bias, normalize, reduction, backend);
    }

    /** MEAN (default) or SUM over the N pairs of the two directions' mean; NONE gives (N) per-pair values. */
    public ClipLoss withReduction(Reduction reduction) {
        if (reduction == null) throw new IllegalArgumentException("reduction: must not be null");
        return new ClipLoss(logitScale, bias, normalize, reduction, backend);
    }

    public ClipLoss withBackend(Backend backend) {
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        return new ClipLoss(logitScale, bias, normalize, reduction, backend);
    }

    /** The loss and the gradients of both towers, the logit scale and the bias; closing closes the tensors. */
    public record Result(Tensor loss, Tensor gradA, Tensor gradB, float gradLogitScale, float gradBias)
            implements AutoCloseable {
        @Override
        public void close() {
            loss.close();
            gradA.close();
            gradB.close();
        }
    }

    public Result forwardBackward(Tensor a, Tensor b) {
        Kernels k = (Kernels) (backend != null ? backend : Backends.current());
        long d = Contrastive.embeddings("a", a, k, 2, "the symmetric loss needs N >= 2 pairs (the other pairs are the negatives)");
        Contrastive.embeddings("b", b, k, 2, "expected N >= 2");
        Checks.shape("b", b, "(N, D) of a", a.shape());
        long n = a.size(0);
        SimilarityKernels sim = k.similarity();
        Tensor ah = Contrastive.prepared(sim, a, normalize), bh = Contrastive.prepared(sim, b, normalize);
        Tensor rows = Contrastive.scratch(n, n), cols = Contrastive.scratch(n, n);
        Tensor targets = Contrastive.diagonalTargets(n, 0, n);
        Tensor lossRows = reduction == Reduction.NONE ? Contrastive.scratch(n) : Contrastive.scratch();
        Tensor lossCols = reduction == Reduction.NONE ? Contrastive.scratch(n) : Contrastive.scratch();
        try {
            sim.gemm(false, true, logitScale, ah, bh, 0f, rows);
            transpose(rows, cols); // the bias is left out: softmax does not see a shift
            CrossEntropy ce = CrossEntropy.create().withBackend(k).withReduction(reduction).withIgnoreIndex(-1);
            ce.forwardBackward(rows, targets, null, lossRows, rows, null);
            ce.forwardBackward(cols, targets, null, lossCols, cols, null);
            Tensor loss = Tensor.zeros(DType.FLOAT32, lossRows.shape());
            MemorySegment lr = lossRows.segment(), lc = lossCols.segment(), out = loss.segment();
            for (long i = 0; i < loss.numel(); i++) {
                out.setAtIndex(ValueLayout.JAVA_FLOAT, i, 0.5f * (lr.getAtIndex(ValueLayout.JAVA_FLOAT, i)
                        + lc.getAtIndex(ValueLayout.JAVA_FLOAT, i)));
            }
            // d loss / d logits = (G_rows + G_colsᵀ) / 2
            float half = 0.5f * logitScale;
            Tensor da = Tensor.zeros(DType.FLOAT32, n, d), db = Tensor.zeros(DType.FLOAT32, n, d);
            sim.gemm(false, false, half, rows, bh, 0f, da);
            sim.gemm(true, false, half, cols, bh, 1f, da);
            sim.gemm(true, false, half, rows, ah, 0f, db);
            sim.gemm(false, false, half, cols, ah, 1f, db);
            float gradScale = (float) (Contrastive.dot(ah, da) / logitScale);
            Contrastive.backThroughNormalize(sim, a, da, normalize);
            Contrastive.backThroughNormalize(sim, b, db, normalize);
            return new Result(loss, da, db, gradScale, 0f);
        } finally {
            Contrastive.release(ah, a);
            Contrastive.release(bh, b);
            for (Tensor t : new Tensor[] {rows, cols, targets, lossRows, lossCols}) t.close();
        }
    }

    /** out = inᵀ for square (N,N) matrices, in tiles of 64 for the caches. */
    static void transpose(Tensor in, Tensor out) {
        long n = in.size(0);
        MemorySegment x = in.segment(), y = out.segment();
        final int tile = 64;
        for (long i0 = 0; i0 < n; i0 += tile) {
            for (long j0 = 0; j0 < n; j0 += tile) {
                for (long i = i0, ie = Math.min(n, i0 + tile); i < ie; i++) {
                    for (long j = j0, je = Math.min(n, j0 + tile); j < je; j++) {
                        y.setAtIndex(ValueLayout.JAVA_FLOAT, j * n + i, x.getAtIndex(ValueLayout.JAVA_FLOAT, i * n + j));
                    }
                }
            }
        }
    }
}
