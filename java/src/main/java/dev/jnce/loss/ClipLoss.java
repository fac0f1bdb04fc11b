package dev.jnce.loss;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.SimilarityKernels;
import dev.jnce.internal.Checks;
import dev.jnce.internal.Parallel;

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
 * <p>Memory: the (N,N) logits and their transpose (two N×N float32 buffers in the calling
 * thread's workspace, kept for the next call; {@link InfoNce#releaseWorkspace()} frees it), each
 * cross-entropy writing its gradient in place; (G_rows + G_colsᵀ) / 2 is formed once, so the
 * gradients take two GEMMs. Plus O(N·D). Immutable, thread-safe.
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
        // Both (N,N) matrices in the calling thread's workspace (InfoNce's, kept between calls):
        // fresh zero-filled buffers cost page faults and a memset of 2 N² floats per call.
        Tensor both = Contrastive.workspace(2 * n, n);
        Tensor rows = Contrastive.rowsOf(both, 0, n), cols = Contrastive.rowsOf(both, n, n);
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
            // d loss / d logits = (G_rows + G_colsᵀ) / 2: formed once, then two GEMMs (not four)
            addTransposed(rows, cols);
            float half = 0.5f * logitScale;
            Tensor da = Tensor.zeros(DType.FLOAT32, n, d), db = Tensor.zeros(DType.FLOAT32, n, d);
            sim.gemm(false, false, half, rows, bh, 0f, da);
            sim.gemm(true, false, half, rows, ah, 0f, db);
            float gradScale = (float) (Contrastive.dot(ah, da) / logitScale);
            Contrastive.backThroughNormalize(sim, a, da, normalize);
            Contrastive.backThroughNormalize(sim, b, db, normalize);
            return new Result(loss, da, db, gradScale, 0f);
        } finally {
            Contrastive.release(ah, a);
            Contrastive.release(bh, b);
            for (Tensor t : new Tensor[] {targets, lossRows, lossCols}) t.close();
        }
    }

    private static final int TILE = 64;

    /** out = inᵀ for square (N,N) matrices, tile by tile (rows of tiles in parallel). */
    static void transpose(Tensor in, Tensor out) {
        tiles(in.size(0), (x, y) -> transposeInto(x, y), in, out);
    }

    /** a += bᵀ for square (N,N) matrices, tile by tile. */
    static void addTransposed(Tensor a, Tensor b) {
        tiles(a.size(0), (x, y) -> {
            for (int k = 0; k < x.length; k++) x[k] += y[k];
        }, b, a);
    }

    /** What a tile step does with the transposed source tile (in src) and the target tile (in dst), both TILE x TILE. */
    private interface TileStep {
        void apply(float[] dst, float[] srcTransposed);
    }

    private static void transposeInto(float[] dst, float[] srcTransposed) {
        System.arraycopy(srcTransposed, 0, dst, 0, dst.length);
    }

    /**
     * For every tile (I, J) of the (N,N) target: reads the source's tile (J, I) transposed and the
     * target's tile (I, J) into heap buffers, applies step, writes the target tile back.
     */
    private static void tiles(long n, TileStep step, Tensor source, Tensor target) {
        MemorySegment src = source.segment(), dst = target.segment();
        long side = (n + TILE - 1) / TILE;
        Parallel.forRange(side, 1, (begin, end) -> {
            float[] t = new float[TILE * TILE], u = new float[TILE * TILE], d = new float[TILE * TILE];
            for (long bi = begin; bi < end; bi++) {
                long i0 = bi * TILE, rows = Math.min(TILE, n - i0);
                for (long j0 = 0; j0 < n; j0 += TILE) {
                    long cols = Math.min(TILE, n - j0);
                    for (int c = 0; c < cols; c++) { // source rows j0 + c, columns i0 .. i0 + rows
                        MemorySegment.copy(src, ValueLayout.JAVA_FLOAT, 4 * ((j0 + c) * n + i0), u, c * TILE, (int) rows);
                    }
                    for (int r = 0; r < rows; r++) {
                        for (int c = 0; c < cols; c++) t[r * TILE + c] = u[c * TILE + r];
                        MemorySegment.copy(dst, ValueLayout.JAVA_FLOAT, 4 * ((i0 + r) * n + j0), d, r * TILE, (int) cols);
                    }
                    step.apply(d, t);
                    for (int r = 0; r < rows; r++) {
                        MemorySegment.copy(d, r * TILE, dst, ValueLayout.JAVA_FLOAT, 4 * ((i0 + r) * n + j0), (int) cols);
                    }
                }
            }
        });
    }
}
