package dev.jnce.loss;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.SimilarityKernels;
import dev.jnce.internal.Checks;

/**
 * The pairwise sigmoid loss (SigLIP): logits {@code z = scale * â b̂ᵀ + bias} over every pair
 * of a (N,D) and b (N,D), label +1 on the diagonal and -1 elsewhere, and
 * {@code loss = -(1/N) sum_ij log sigmoid(label_ij * z_ij)} (MEAN; SUM drops the 1/N), with the
 * gradients of a, b, the logit scale and the bias. SigLIP initialises scale = 10, bias = -10.
 *
 * <p>Memory: the (N,N) logits, one N×N float32 buffer in the calling thread's workspace, kept
 * for the next call ({@link InfoNce#releaseWorkspace()} frees it). One kernel pass adds the bias,
 * sums the N² losses and writes d loss / d logits in place, so the step is three GEMMs and one
 * pass over the logits. Plus O(N·D). Immutable, thread-safe.
 */
public final class SigLipLoss {
    private final float logitScale;
    private final float bias;
    private final boolean normalize;
    private final Reduction reduction;
    private final Backend backend;

    private SigLipLoss(float logitScale, float bias, boolean normalize, Reduction reduction, Backend backend) {
        this.logitScale = logitScale;
        this.bias = bias;
        this.normalize = normalize;
        this.reduction = reduction;
        this.backend = backend;
    }

    /** SigLIP's initial values: scale 10, bias -10; cosine similarity; MEAN (over N). */
    public static SigLipLoss create() {
        return new SigLipLoss(10f, -10f, true, Reduction.MEAN, null);
    }

    public SigLipLoss withLogitScale(float scale) {
        return new SigLipLoss(Contrastive.positive("logitScale", scale), bias, normalize, reduction, backend);
    }

    public SigLipLoss withBias(float bias) {
        return new SigLipLoss(logitScale, Contrastive.finiteValue("bias", bias), normalize, reduction, backend);
    }

    public SigLipLoss withNormalize(boolean normalize) {
        return new SigLipLoss(logitScale, bias, normalize, reduction, backend);
    }

    /** MEAN (sum over pairs / N, SigLIP's) or SUM; NONE is not offered. */
    public SigLipLoss withReduction(Reduction reduction) {
        if (reduction != Reduction.MEAN && reduction != Reduction.SUM) {
            throw new IllegalArgumentException("reduction: " + reduction + " is not offered; use MEAN (SigLIP's) or SUM");
        }
        return new SigLipLoss(logitScale, bias, normalize, reduction, backend);
    }

    public SigLipLoss withBackend(Backend backend) {
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        return new SigLipLoss(logitScale, bias, normalize, reduction, backend);
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
        // The (N,N) logits in the calling thread's workspace (InfoNce's, kept between calls).
        Tensor z = Contrastive.workspace(n, n);
        Tensor da = Tensor.zeros(DType.FLOAT32, n, d), db = Tensor.zeros(DType.FLOAT32, n, d);
        boolean done = false;
        try {
            sim.gemm(false, true, logitScale, ah, bh, 0f, z);
            // one pass: the bias added, every pair's loss summed, d sum / d logits in place
            SimilarityKernels.PairSums sums = sim.sigLipPairs(z, bias, z);
            float per = reduction == Reduction.MEAN ? 1f / n : 1f;
            Tensor loss = Tensor.scalar((float) (sums.loss() * per));
            sim.gemm(false, false, logitScale * per, z, bh, 0f, da);
            sim.gemm(true, false, logitScale * per, z, ah, 0f, db);
            float gradScale = (float) (Contrastive.dot(ah, da) / logitScale);
            Contrastive.backThroughNormalize(sim, a, da, normalize);
            Contrastive.backThroughNormalize(sim, b, db, normalize);
            done = true;
            return new ClipLoss.Result(loss, da, db, gradScale, (float) (sums.grad() * per));
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
