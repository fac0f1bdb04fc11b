package dev.jnce.loss;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Device;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.backend.CrossEntropyCall;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.SimilarityKernels;
import dev.jnce.internal.Checks;
import dev.jnce.internal.Outputs;

/**
 * Cross-entropy of a linear layer's output, {@code F.cross_entropy(hidden @ classifier.T + bias,
 * targets)}, with the gradients of hidden, classifier and bias, <b>without ever holding the
 * (N, V) logits</b>: the fused linear cross-entropy of a classifier or language-model head, as
 * Apple's Cut Cross-Entropy (Wijmans et al. 2024, "Cut Your Losses in Large-Vocabulary Language
 * Models") and Liger-Kernel's fused linear cross-entropy do on the GPU.
 *
 * <pre>{@code
 * LinearCrossEntropy head = LinearCrossEntropy.create().withIgnoreIndex(-100).withZLoss(1e-4f);
 * try (LinearCrossEntropy.Result r = head.forwardBackward(hidden, classifier, bias, targets)) {
 *     float loss = r.loss().item();      // hidden (N, D), classifier (V, D), bias (V) or null, targets (N)
 *     Tensor dHidden = r.gradHidden(), dClassifier = r.gradClassifier(), dBias = r.gradBias();
 * }
 * }</pre>
 *
 * <h2>How</h2>
 * The rows are swept in blocks of B (about 64 MiB of logits, {@link #withBlockRows}): the block's
 * logits {@code S = h_B W^T + b} (one GEMM), its fused cross-entropy with the gradient G written
 * over S in place, then {@code dH_B = a G W} and {@code dW += a G^T h_B} (two GEMMs) and
 * {@code db += a 1^T G}, where a is the reduction's scale. The three GEMMs are the flops any
 * implementation needs; the added memory is one block plus the outputs, whatever N and V
 * (PyTorch's {@code F.linear} + {@code F.cross_entropy} holds the (N, V) logits and their
 * gradient). A MEAN's denominators are taken from the targets and class weights before the sweep
 * (which also checks every target), so each block's gradient is final when it is formed.
 *
 * <h2>Meaning</h2>
 * Every option means what it means in {@link CrossEntropy} (PyTorch's {@code weight},
 * {@code ignore_index}, {@code label_smoothing}, {@code reduction}; z-loss and the per-row
 * log-sum-exp beyond it), applied to the logits {@code hidden @ classifier.T + bias}. With
 * {@link #withSoftcap(float) softcap c > 0} the logits are first capped, {@code c tanh(s / c)}
 * (Gemma 2's final-logit soft-capping), and the gradient carries the cap's derivative
 * {@code 1 - tanh^2(s / c)}; the log-sum-exp returned is that of the capped logits. Targets are
 * class indices only (probability targets would be the (N, V) matrix this op avoids).
 *
 * <h2>Backends</h2>
 * {@code cpu} (OpenBLAS GEMMs, the native fused cross-entropy) and {@code java}; on {@code cuda} a
 * call throws {@link UnsupportedOperationException} for now.
 *
 * <p>Instances are immutable and thread-safe; they hold the class-weight tensor, which must stay
 * open.
 */
public final class LinearCrossEntropy {
    /** Logits (and, with a softcap, their gradient) per block when the rows are not chosen. */
    static final long BLOCK_BYTES = 64L << 20;

    private final Reduction reduction;
    private final Tensor weight;
    private final long ignoreIndex;
    private final float labelSmoothing;
    private final float zLoss;
    private final float softcap;
    private final boolean zeroWhenAllIgnored;
    private final boolean logSumExp;
    private final long blockRows;
    private final Backend backend;

    private LinearCrossEntropy(Reduction reduction, Tensor weight, long ignoreIndex, float labelSmoothing, float zLoss,
                               float softcap, boolean zeroWhenAllIgnored, boolean logSumExp, long blockRows, Backend backend) {
        this.reduction = reduction;
        this.weight = weight;
        this.ignoreIndex = ignoreIndex;
        this.labelSmoothing = labelSmoothing;
        this.zLoss = zLoss;
        this.softcap = softcap;
        this.zeroWhenAllIgnored = zeroWhenAllIgnored;
        this.logSumExp = logSumExp;
        this.blockRows = blockRows;
        this.backend = backend;
    }

    /**
     * PyTorch's defaults: MEAN, no class weight, ignore index -100, no smoothing, no z-loss, no
     * softcap; each call runs where its tensors live, in blocks of about 64 MiB of logits.
     *
     * @return a loss with PyTorch's defaults
     */
    public static LinearCrossEntropy create() {
        return new LinearCrossEntropy(Reduction.MEAN, null, -100, 0f, 0f, 0f, false, false, 0, null);
    }

    /**
     * The same loss with another reduction over rows, as {@link CrossEntropy#withReduction}.
     *
     * @param reduction MEAN, SUM or NONE; not null
     * @return a copy with this reduction; this instance is unchanged
     * @throws IllegalArgumentException if reduction is null or BATCHMEAN
     */
    public LinearCrossEntropy withReduction(Reduction reduction) {
        Checks.reduction(reduction);
        return new LinearCrossEntropy(reduction, weight, ignoreIndex, labelSmoothing, zLoss, softcap, zeroWhenAllIgnored,
                logSumExp, blockRows, backend);
    }

    /**
     * Class weights (PyTorch's {@code weight}), as {@link CrossEntropy#withWeight}.
     *
     * @param weight (V) float32 with finite values, or null to remove them
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if the weight is not float32 of rank 1
     * @throws IllegalStateException if the weight is closed
     */
    public LinearCrossEntropy withWeight(Tensor weight) {
        if (weight != null) {
            weight.requireOpen("weight");
            Checks.dtype("weight", weight, DType.FLOAT32);
            if (weight.rank() != 1) {
                throw new IllegalArgumentException("weight: expected shape (V), got " + Tensor.formatShape(weight.shape()));
            }
        }
        return new LinearCrossEntropy(reduction, weight, ignoreIndex, labelSmoothing, zLoss, softcap, zeroWhenAllIgnored,
                logSumExp, blockRows, backend);
    }

    /**
     * Class targets equal to this are left out (PyTorch's ignore_index; default -100).
     *
     * @param ignoreIndex the class target that marks a row to leave out
     * @return a copy of this instance with the setting changed; this instance is unchanged
     */
    public LinearCrossEntropy withIgnoreIndex(long ignoreIndex) {
        return new LinearCrossEntropy(reduction, weight, ignoreIndex, labelSmoothing, zLoss, softcap, zeroWhenAllIgnored,
                logSumExp, blockRows, backend);
    }

    /**
     * PyTorch's label_smoothing.
     *
     * @param labelSmoothing the smoothing, in [0, 1]
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if labelSmoothing is outside [0, 1]
     */
    public LinearCrossEntropy withLabelSmoothing(float labelSmoothing) {
        if (!(labelSmoothing >= 0f && labelSmoothing <= 1f)) {
            throw new IllegalArgumentException("labelSmoothing: " + labelSmoothing + " is outside [0, 1]");
        }
        return new LinearCrossEntropy(reduction, weight, ignoreIndex, labelSmoothing, zLoss, softcap, zeroWhenAllIgnored,
                logSumExp, blockRows, backend);
    }

    /**
     * Adds lambda * lse^2 per counted row, as {@link CrossEntropy#withZLoss}.
     *
     * @param lambda the z-loss weight, finite and &ge; 0; 0 turns it off
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if lambda is negative or not finite
     */
    public LinearCrossEntropy withZLoss(float lambda) {
        if (!(lambda >= 0f) || Float.isInfinite(lambda)) {
            throw new IllegalArgumentException("zLoss: lambda " + lambda + " must be finite and >= 0");
        }
        return new LinearCrossEntropy(reduction, weight, ignoreIndex, labelSmoothing, lambda, softcap, zeroWhenAllIgnored,
                logSumExp, blockRows, backend);
    }

    /**
     * Caps the logits at c: {@code s -> c tanh(s / c)} before the softmax (0 turns it off).
     *
     * @param c the cap, finite and &gt; 0, or 0 for none
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if c is negative, NaN or infinite
     */
    public LinearCrossEntropy withSoftcap(float c) {
        if (!(c >= 0f) || Float.isInfinite(c)) {
            throw new IllegalArgumentException("softcap: " + c + " must be finite and > 0, or 0 for none");
        }
        return new LinearCrossEntropy(reduction, weight, ignoreIndex, labelSmoothing, zLoss, c, zeroWhenAllIgnored,
                logSumExp, blockRows, backend);
    }

    /**
     * When true, a MEAN over a batch with no counted row is 0 (gradients 0) instead of PyTorch's NaN.
     *
     * @param zero true for 0 where PyTorch gives NaN
     * @return a copy of this instance with the setting changed; this instance is unchanged
     */
    public LinearCrossEntropy withZeroWhenAllIgnored(boolean zero) {
        return new LinearCrossEntropy(reduction, weight, ignoreIndex, labelSmoothing, zLoss, softcap, zero,
                logSumExp, blockRows, backend);
    }

    /**
     * When true, {@link Result#lse()} holds each row's log-sum-exp (N) of the (capped) logits.
     *
     * @param on true to return the per-row log-sum-exp
     * @return a copy of this instance with the setting changed; this instance is unchanged
     */
    public LinearCrossEntropy withLogSumExp(boolean on) {
        return new LinearCrossEntropy(reduction, weight, ignoreIndex, labelSmoothing, zLoss, softcap, zeroWhenAllIgnored,
                on, blockRows, backend);
    }

    /**
     * Rows of logits held at once; 0 (the default) takes about 64 MiB of them. Fewer rows hold
     * less memory; the GEMMs are fastest with at least a few hundred.
     *
     * @param rows rows per block, &ge; 1, or 0 for the default
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if rows is negative
     */
    public LinearCrossEntropy withBlockRows(long rows) {
        if (rows < 0) throw new IllegalArgumentException("blockRows: " + rows + " must be >= 1, or 0 for the default");
        return new LinearCrossEntropy(reduction, weight, ignoreIndex, labelSmoothing, zLoss, softcap, zeroWhenAllIgnored,
                logSumExp, rows, backend);
    }

    /**
     * The rows per block a call with N rows and V classes sweeps: the rows set by
     * {@link #withBlockRows}, else as many as fit in about 64 MiB of logits (twice that with a
     * soft-cap, whose gradient needs its own block), rounded down to a multiple of 64 where that
     * leaves some; at most N. The added memory of a call is this many rows of V floats (two with a
     * soft-cap) beside its outputs.
     *
     * <p>Why the rounding: OpenBLAS's GEMM kernels work on panels of 8 and 16 rows and K-blocks of a
     * few hundred; at (4096, 1024, 32000) on a 2-core Haswell-kernel machine the three GEMMs ran
     * about 4% faster in blocks of 512 rows than of the 524 that fill 64 MiB.
     *
     * @param n rows of hidden, &ge; 0
     * @param v classes, &ge; 1
     * @return the rows of logits held at once, &ge; 1 (0 when N is 0)
     * @throws IllegalArgumentException if n is negative or v is not positive
     */
    public long blockRows(long n, long v) {
        if (n < 0 || v < 1) throw new IllegalArgumentException("blockRows: N = " + n + " must be >= 0 and V = " + v + " >= 1");
        if (blockRows > 0) return Math.min(n, blockRows);
        long fit = Math.max(1, BLOCK_BYTES / ((softcap > 0f ? 2 : 1) * 4 * v));
        return Math.min(n, fit >= 64 ? fit - fit % 64 : fit);
    }

    /**
     * The same loss pinned to a backend.
     *
     * @param backend the backend every call runs on; not null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if backend is null
     */
    public LinearCrossEntropy withBackend(Backend backend) {
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        return new LinearCrossEntropy(reduction, weight, ignoreIndex, labelSmoothing, zLoss, softcap, zeroWhenAllIgnored,
                logSumExp, blockRows, backend);
    }

    /**
     * The reduction in use.
     *
     * @return the reduction
     */
    public Reduction reduction() {
        return reduction;
    }

    /**
     * The backend this loss is pinned to, else {@link Backends#current()}.
     *
     * @return the pinned backend, or the current host backend when not pinned
     */
    public Backend backend() {
        return Backends.orCurrent(backend);
    }

    /**
     * The loss alone (no gradient GEMMs: one third of the flops).
     *
     * @param hidden the layer's input (N, D) float32, N &ge; 1
     * @param classifier the layer's weight (V, D) float32, V &ge; 2 classes
     * @param bias (V) float32, or null for none
     * @param targets (N) int32 or int64 class indices in [0, V) or the ignore index
     * @return the loss in a new tensor: shape () for MEAN and SUM, (N) for NONE
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, or a target
     *   or class weight is out of range (the message names the argument)
     * @throws IllegalStateException if a tensor is closed or belongs to another thread's confined arena
     * @throws UnsupportedOperationException on the cuda backend
     */
    public Tensor forward(Tensor hidden, Tensor classifier, Tensor bias, Tensor targets) {
        Kernels k = kernels(hidden, classifier, bias, targets, null, null, null, null, null);
        long n = check(k, hidden, classifier, bias, targets);
        Tensor loss = Contrastive.newLoss(k, reduction, n);
        try {
            run(k, hidden, classifier, bias, targets, loss, null, null, null, null);
            return loss;
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, loss);
        }
    }

    /**
     * The loss and the gradients of hidden, classifier and bias, in new tensors.
     *
     * @param hidden the layer's input (N, D) float32, N &ge; 1
     * @param classifier the layer's weight (V, D) float32, V &ge; 2 classes
     * @param bias (V) float32, or null for none (then {@link Result#gradBias()} is null)
     * @param targets (N) int32 or int64 class indices in [0, V) or the ignore index
     * @return the loss, the three gradients and, if asked, the log-sum-exp; close it (or use a
     *   {@link dev.jnce.TensorScope})
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, or a target
     *   or class weight is out of range (the message names the argument)
     * @throws IllegalStateException if a tensor is closed or belongs to another thread's confined arena
     * @throws UnsupportedOperationException on the cuda backend
     */
    public Result forwardBackward(Tensor hidden, Tensor classifier, Tensor bias, Tensor targets) {
        Kernels k = kernels(hidden, classifier, bias, targets, null, null, null, null, null);
        long n = check(k, hidden, classifier, bias, targets);
        Tensor loss = null, dh = null, dw = null, db = null, lse = null;
        try {
            loss = Contrastive.newLoss(k, reduction, n);
            dh = Contrastive.output(k, hidden.shape());
            dw = Contrastive.output(k, classifier.shape());
            db = bias == null ? null : Contrastive.output(k, bias.shape());
            lse = logSumExp ? Contrastive.output(k, n) : null;
            run(k, hidden, classifier, bias, targets, loss, dh, dw, db, lse);
            return new Result(loss, dh, dw, db, lse);
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, loss, dh, dw, db, lse);
        }
    }

    /**
     * The loss and gradients written into the caller's tensors, so that a training step allocates
     * nothing but its scratch block. Outputs must not share memory with any input or each other.
     *
     * @param hidden the layer's input (N, D) float32, N &ge; 1
     * @param classifier the layer's weight (V, D) float32, V &ge; 2 classes
     * @param bias (V) float32, or null for none
     * @param targets (N) int32 or int64 class indices in [0, V) or the ignore index
     * @param loss (N) float32 for NONE, else one element of shape () or (1)
     * @param gradHidden (N, D) float32, or null to skip every gradient
     * @param gradClassifier (V, D) float32; null exactly when gradHidden is
     * @param gradBias (V) float32 when bias is given and gradients are asked, else null
     * @param lse (N) float32 for the log-sum-exp, or null
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value is
     *   out of range, or an output shares memory with another argument (the message names it)
     * @throws IllegalStateException if a tensor is closed or belongs to another thread's confined arena
     * @throws UnsupportedOperationException on the cuda backend
     */
    public void forwardBackward(Tensor hidden, Tensor classifier, Tensor bias, Tensor targets, Tensor loss,
                                Tensor gradHidden, Tensor gradClassifier, Tensor gradBias, Tensor lse) {
        Kernels k = kernels(hidden, classifier, bias, targets, loss, gradHidden, gradClassifier, gradBias, lse);
        long n = check(k, hidden, classifier, bias, targets);
        Checks.lossBuffer("loss", loss, k, reduction == Reduction.NONE, n, reduction);
        if ((gradHidden == null) != (gradClassifier == null)) {
            throw new IllegalArgumentException((gradHidden == null ? "gradHidden" : "gradClassifier")
                    + ": null while the other gradient is given; give both, or neither for the loss alone");
        }
        if (gradHidden != null) {
            Checks.output("gradHidden", gradHidden, k, "(N, D) of hidden", hidden.shape());
            Checks.output("gradClassifier", gradClassifier, k, "(V, D) of classifier", classifier.shape());
            if (bias != null && gradBias == null) {
                throw new IllegalArgumentException("gradBias: null while bias is given and gradients are asked");
            }
        }
        if (gradBias != null) {
            if (bias == null) throw new IllegalArgumentException("gradBias: given while bias is null");
            if (gradHidden == null) throw new IllegalArgumentException("gradBias: given without gradHidden and gradClassifier");
            Checks.output("gradBias", gradBias, k, "(V) of bias", bias.shape());
        }
        if (lse != null) Checks.output("lse", lse, k, "(N)", n);
        run(k, hidden, classifier, bias, targets, loss, gradHidden, gradClassifier, gradBias, lse);
    }

    /**
     * A loss and its gradients; closing closes all.
     *
     * @param loss the loss: shape () for MEAN and SUM, (N) for NONE
     * @param gradHidden d loss / d hidden, (N, D)
     * @param gradClassifier d loss / d classifier, (V, D)
     * @param gradBias d loss / d bias, (V); null when there is no bias
     * @param lse the per-row log-sum-exp of the (capped) logits, (N); null unless asked
     */
    public record Result(Tensor loss, Tensor gradHidden, Tensor gradClassifier, Tensor gradBias, Tensor lse)
            implements AutoCloseable {
        @Override
        public void close() {
            loss.close();
            gradHidden.close();
            gradClassifier.close();
            if (gradBias != null) gradBias.close();
            if (lse != null) lse.close();
        }
    }

    // ---- the sweep -------------------------------------------------------------------------------

    private Kernels kernels(Tensor hidden, Tensor classifier, Tensor bias, Tensor targets, Tensor loss, Tensor dh,
                            Tensor dw, Tensor db, Tensor lse) {
        Kernels k = Kernels.forCall(backend, "hidden", hidden, "classifier", classifier, "bias", bias, "targets", targets,
                "weight", weight, Kernels.OUTPUTS, "loss", loss, "gradHidden", dh, "gradClassifier", dw, "gradBias", db,
                "lse", lse);
        if (!k.device().equals(Device.HOST)) {
            throw new UnsupportedOperationException("linear cross-entropy is not on " + k.name()
                    + " yet; use the cpu or java backend");
        }
        return k;
    }

    /** Shapes, dtypes, and the class weights' values; returns N. Targets are checked with the denominators. */
    private long check(Kernels k, Tensor hidden, Tensor classifier, Tensor bias, Tensor targets) {
        long[] h = Checks.matrix("hidden", hidden, k, "(N, D)");
        long[] w = Checks.matrix("classifier", classifier, k, "(V, D)");
        Checks.sameFeatures("hidden", hidden, "classifier", classifier);
        if (w[0] < 2) {
            throw new IllegalArgumentException("classifier: shape " + Tensor.formatShape(w) + " has V = " + w[0]
                    + " class; cross-entropy needs (V, D) with V >= 2");
        }
        if (bias != null) {
            Checks.usable("bias", bias, k);
            Checks.dtype("bias", bias, DType.FLOAT32);
            Checks.shape("bias", bias, "(V) of classifier", w[0]);
        }
        Checks.usable("targets", targets, k);
        Checks.dtype("targets", targets, DType.INT32, DType.INT64);
        Checks.shape("targets", targets, "(N) of hidden", h[0]);
        if (weight != null) {
            Checks.usable("weight", weight, k);
            Checks.shape("weight", weight, "(V) of classifier", w[0]);
            Checks.finite(k, "weight", weight);
        }
        return h[0];
    }

    private void run(Kernels k, Tensor hidden, Tensor classifier, Tensor bias, Tensor targets, Tensor loss,
                     Tensor dh, Tensor dw, Tensor db, Tensor lse) {
        SimilarityKernels sim = k.similarity();
        long n = hidden.size(0), v = classifier.size(0);
        boolean gradients = dh != null;
        double[] cd = k.crossEntropy().classTargetTotals(targets, weight, ignoreIndex, v); // checks every target
        double counted = cd[0], denom = cd[1];
        boolean mean = reduction == Reduction.MEAN;
        boolean empty = mean && counted == 0;
        // Each block's cross-entropy runs as a SUM (a NONE keeps its rows); a MEAN divides by the whole
        // batch's denominators: the GEMMs' alpha takes 1/denom, and the z-loss, which a MEAN averages
        // over counted rows instead, is weighted denom/counted so that alpha turns it into 1/counted.
        double scale = !mean ? 1.0 : empty ? 0.0 : 1.0 / denom;
        float z = mean && !empty && zLoss > 0f ? (float) (zLoss * denom / counted) : zLoss;
        Reduction blockReduction = reduction == Reduction.NONE ? Reduction.NONE : Reduction.SUM;
        long block = blockRows(n, v);
        Tensor blockLoss = null, ones = null, capGrad = null;
        double total = 0;
        try (Workspace.Lease lease = Workspace.borrow(k, block, v)) {
            Tensor s = lease.logits();
            if (blockReduction == Reduction.SUM) blockLoss = Contrastive.scratch(k);
            if (bias != null) {
                ones = Contrastive.scratch(k, block);
                sim.fill(1f, ones);
            }
            if (softcap > 0f && gradients) capGrad = Contrastive.scratch(k, block, v);
            for (long r0 = 0; r0 < n; r0 += block) {
                long rows = Math.min(block, n - r0);
                Tensor sb = rows == block ? s : s.rows(0, rows), hb = hidden.rows(r0, rows);
                if (bias != null) sim.gemm(false, false, 1f, column(ones, rows), bias.reshape(1, v), 0f, sb); // S = 1 b
                sim.gemm(false, true, 1f, hb, classifier, bias == null ? 0f : 1f, sb);          // S = h W^T + b
                if (softcap > 0f) k.crossEntropy().softcap(sb, softcap);
                Tensor gb = !gradients ? null : capGrad == null ? sb : rows == block ? capGrad : capGrad.rows(0, rows);
                k.crossEntropy().crossEntropy(new CrossEntropyCall(sb, targets.rows(r0, rows), null, null, weight,
                        ignoreIndex, labelSmoothing, z, blockReduction, false,
                        blockLoss != null ? blockLoss : loss.rows(r0, rows), gb, lse == null ? null : lse.rows(r0, rows)));
                if (blockLoss != null) total += blockLoss.item();
                if (!gradients) continue;
                if (capGrad != null) k.crossEntropy().softcapBackward(sb, gb, softcap);
                float alpha = (float) scale;
                sim.gemm(false, false, alpha, gb, classifier, 0f, dh.rows(r0, rows));          // dH_B = a G W
                sim.gemm(true, false, alpha, gb, hb, r0 == 0 ? 0f : 1f, dw);                   // dW += a G^T h_B
                if (db != null) {
                    sim.gemm(true, false, alpha, column(ones, rows), gb, r0 == 0 ? 0f : 1f, db.reshape(1, v)); // db += a 1^T G
                }
            }
        } finally {
            if (blockLoss != null) blockLoss.close();
            if (ones != null) ones.close();
            if (capGrad != null) capGrad.close();
        }
        if (reduction != Reduction.NONE) {
            float value = reduction == Reduction.SUM ? (float) total
                    : empty ? (zeroWhenAllIgnored ? 0f : Float.NaN) : (float) (total / denom);
            k.similarity().fill(value, loss);
        }
    }

    /** The first rows of a vector of ones as a (rows, 1) column. */
    private static Tensor column(Tensor ones, long rows) {
        return ones.rows(0, rows).reshape(rows, 1);
    }
}
