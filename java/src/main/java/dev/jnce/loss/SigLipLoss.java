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
 * The pairwise sigmoid loss (SigLIP): logits {@code z = scale * â b̂ᵀ + bias} over every pair
 * of a (N,D) and b (N,D), label +1 on the diagonal and -1 elsewhere, and
 * {@code loss = -(1/N) sum_ij log sigmoid(label_ij * z_ij)} (MEAN; SUM drops the 1/N), with the
 * gradients of a, b, the logit scale and the bias. SigLIP initialises scale = 10, bias = -10.
 *
 * <p>The sigmoids run on the binary-cross-entropy-with-logits kernel of the backend.
 * Memory: three N×N float32 buffers (logits, labels, gradient) plus O(N·D). Immutable, thread-safe.
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
        Tensor z = Contrastive.scratch(n, n), labels = Contrastive.scratch(n, n), g = Contrastive.scratch(n, n);
        Tensor sum = Contrastive.scratch();
        try {
            sim.gemm(false, true, logitScale, ah, bh, 0f, z);
            MemorySegment zs = z.segment(), ls = labels.segment();
            for (long i = 0, nn = n * n; i < nn; i++) zs.setAtIndex(ValueLayout.JAVA_FLOAT, i, zs.getAtIndex(ValueLayout.JAVA_FLOAT, i) + bias);
            for (long i = 0; i < n; i++) ls.setAtIndex(ValueLayout.JAVA_FLOAT, i * n + i, 1f);
            // -log sigmoid(label * z) with labels in {+1,-1} is BCE-with-logits with targets in {1,0}.
            k.binaryCrossEntropy().binaryCrossEntropyWithLogits(z, labels, null, null, Reduction.SUM, sum, g, null);
            float per = reduction == Reduction.MEAN ? 1f / n : 1f;
            Tensor loss = Tensor.scalar(sum.item() * per);
            MemorySegment gs = g.segment();
            double gradBias = 0;
            for (long i = 0, nn = n * n; i < nn; i++) gradBias += gs.getAtIndex(ValueLayout.JAVA_FLOAT, i);
            Tensor da = Tensor.zeros(DType.FLOAT32, n, d), db = Tensor.zeros(DType.FLOAT32, n, d);
            sim.gemm(false, false, logitScale * per, g, bh, 0f, da);
            sim.gemm(true, false, logitScale * per, g, ah, 0f, db);
            float gradScale = (float) (Contrastive.dot(ah, da) / logitScale);
            Contrastive.backThroughNormalize(sim, a, da, normalize);
            Contrastive.backThroughNormalize(sim, b, db, normalize);
            return new ClipLoss.Result(loss, da, db, gradScale, (float) (gradBias * per));
        } finally {
            Contrastive.release(ah, a);
            Contrastive.release(bh, b);
            for (Tensor t : new Tensor[] {z, labels, g, sum}) t.close();
        }
    }
}
