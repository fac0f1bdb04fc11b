package dev.jnce.loss;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.PairKernels;
import dev.jnce.internal.Checks;
import dev.jnce.internal.Outputs;

/**
 * Triplet margin loss, {@code F.triplet_margin_loss(anchor, positive, negative, margin=1.0,
 * p=2, eps=1e-6, swap=False, reduction='mean')}, forward and backward in one pass:
 * {@code loss_i = max(margin + d(a_i, p_i) - d(a_i, n_i), 0)} with
 * <ul>
 * <li>{@link Distance#PAIRWISE}: {@code F.pairwise_distance}, {@code ||x1 - x2 + eps||_p};</li>
 * <li>{@link Distance#COSINE}: {@code 1 - F.cosine_similarity(x1, x2, eps)}, what
 *     {@code TripletMarginWithDistanceLoss} gives with that distance function (its eps
 *     defaults to 1e-8, and PyTorch requires margin &gt; 0 there).</li>
 * </ul>
 * With swap (the "distance swap" of Balntas et al.), the negative distance is
 * {@code min(d(a,n), d(p,n))}.
 *
 * <p>Gradients are those autograd gives: a hinge of exactly 0 still passes its gradient
 * ({@code clamp_min}), a swap tie splits it in half, a zero pairwise distance has gradient 0.
 * For NONE the gradient is that of the sum of the row losses. A NaN in a row (or an infinity
 * that makes its hinge NaN) makes that row's loss NaN, and the reduced loss; its gradient rows
 * are NaN for both inputs of each distance that is NaN or infinite (autograd's {@code 0 * NaN}),
 * so a NaN never hides behind a zero gradient. The other rows are unaffected. Shapes: (N,D) for
 * all three, N, D &ge; 1. Calls run on the backend this loss is pinned to, else on the one of
 * the device the tensors are on. Immutable and thread-safe.
 */
public final class TripletMarginLoss {
    /** How far apart two rows are. */
    public enum Distance {
        /** {@code ||x1 - x2 + eps||_p}, F.pairwise_distance. */
        PAIRWISE,
        /** {@code 1 - cos(x1, x2)}, F.cosine_similarity with its eps. */
        COSINE
    }

    private final double margin, p;
    private final Double eps; // null: the distance's default
    private final boolean swap;
    private final Distance distance;
    private final Reduction reduction;
    private final Backend backend;

    private TripletMarginLoss(double margin, double p, Double eps, boolean swap, Distance distance,
                              Reduction reduction, Backend backend) {
        this.margin = margin;
        this.p = p;
        this.eps = eps;
        this.swap = swap;
        this.distance = distance;
        this.reduction = reduction;
        this.backend = backend;
    }

    /**
     * margin 1, p 2, eps 1e-6, no swap, pairwise distance, MEAN; not pinned (calls follow their tensors' device).
     *
     * @return a loss with PyTorch's defaults
     */
    public static TripletMarginLoss create() {
        return new TripletMarginLoss(1.0, 2.0, null, false, Distance.PAIRWISE, Reduction.MEAN, null);
    }

    /**
     * Finite as the float32 the kernel takes (|margin| &le; {@link Float#MAX_VALUE}); for
     * {@link Distance#COSINE} also &gt; 0, as PyTorch requires.
     *
     * @param margin the margin, finite as a float32 (and &gt; 0 for COSINE)
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if margin is not finite as a float32, or not positive for COSINE
     */
    public TripletMarginLoss withMargin(double margin) {
        checkMargin(margin, distance);
        return new TripletMarginLoss(margin, p, eps, swap, distance, reduction, backend);
    }

    /**
     * The norm degree of the pairwise distance: finite and &gt; 0 as the float32 the kernel takes,
     * in [{@link Float#MIN_NORMAL}, {@link Float#MAX_VALUE}].
     *
     * @param p the norm degree, a normal positive float32
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if p is not a normal positive float32
     */
    public TripletMarginLoss withP(double p) {
        Checks.float32Positive("p", p, "the norm's degree, taken as float32");
        return new TripletMarginLoss(margin, p, eps, swap, distance, reduction, backend);
    }

    /**
     * The eps of the distance (finite, &ge; 0, as a float32); default 1e-6 pairwise, 1e-8 cosine.
     *
     * @param eps the eps, finite and &ge; 0
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if eps is negative or not finite
     */
    public TripletMarginLoss withEps(double eps) {
        Checks.float32Eps(eps);
        return new TripletMarginLoss(margin, p, eps, swap, distance, reduction, backend);
    }

    /**
     * Whether the negative distance is min(d(a,n), d(p,n)) (the distance swap of Balntas et al.).
     *
     * @param swap true to swap
     * @return a copy with this setting; this instance is unchanged
     */
    public TripletMarginLoss withSwap(boolean swap) {
        return new TripletMarginLoss(margin, p, eps, swap, distance, reduction, backend);
    }

    /**
     * The distance: PAIRWISE (p-norm, the default) or COSINE (1 - cosine similarity).
     *
     * @param distance the distance; not null
     * @return a copy with this distance (and its default eps unless one was set); this instance is
     *   unchanged
     * @throws IllegalArgumentException if distance is null, or COSINE with a margin &le; 0
     */
    public TripletMarginLoss withDistance(Distance distance) {
        if (distance == null) throw new IllegalArgumentException("distance: must not be null");
        checkMargin(margin, distance);
        return new TripletMarginLoss(margin, p, eps, swap, distance, reduction, backend);
    }

    /**
     * The same loss with another reduction over rows: MEAN (default), SUM or NONE.
     *
     * @param reduction MEAN, SUM or NONE; not null
     * @return a copy with this reduction; this instance is unchanged
     * @throws IllegalArgumentException if reduction is null or BATCHMEAN
     */
    public TripletMarginLoss withReduction(Reduction reduction) {
        Checks.reduction(reduction);
        return new TripletMarginLoss(margin, p, eps, swap, distance, reduction, backend);
    }

    /**
     * The same loss pinned to a backend: every call runs there, whatever device the tensors are on.
     *
     * @param backend the backend; not null
     * @return a copy pinned to {@code backend}; this instance is unchanged
     * @throws IllegalArgumentException if backend is null
     */
    public TripletMarginLoss withBackend(Backend backend) {
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        return new TripletMarginLoss(margin, p, eps, swap, distance, reduction, backend);
    }

    /**
     * The margin.
     *
     * @return the margin
     */
    public double margin() {
        return margin;
    }

    /**
     * The norm degree of the pairwise distance.
     *
     * @return p
     */
    public double p() {
        return p;
    }

    /**
     * The eps in use: the one set, or the distance's default.
     *
     * @return the eps
     */
    public double eps() {
        return eps != null ? eps : distance == Distance.COSINE ? 1e-8 : 1e-6;
    }

    /**
     * Whether the distance swap is on.
     *
     * @return true when on
     */
    public boolean swap() {
        return swap;
    }

    /**
     * The distance in use.
     *
     * @return the distance
     */
    public Distance distance() {
        return distance;
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
     * The backend this loss is pinned to, else {@link Backends#current()}; unpinned calls follow their tensors' device.
     *
     * @return the pinned backend, or the current host backend when not pinned
     */
    public Backend backend() {
        return Backends.orCurrent(backend);
    }

    /**
     * The loss alone: shape () for MEAN and SUM, (N) for NONE, on the inputs' device.
     *
     * @param anchor anchors (N,D) float32, N, D &ge; 1
     * @param positive positives (N,D) float32
     * @param negative negatives (N,D) float32
     * @return the loss in a new tensor: shape () for MEAN and SUM, (N) for NONE
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Tensor forward(Tensor anchor, Tensor positive, Tensor negative) {
        Kernels k = kernels(anchor, positive, negative, null, null, null, null);
        long n = check(k, anchor, positive, negative);
        Tensor loss = newLoss(k, n);
        try {
            k.pair().tripletMargin(anchor, positive, negative, options(), loss, null, null, null);
            return loss;
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, loss);
        }
    }

    /**
     * The loss and its gradients with respect to anchor, positive and negative, in new tensors on the inputs' device.
     *
     * @param anchor anchors (N,D) float32, N, D &ge; 1
     * @param positive positives (N,D) float32
     * @param negative negatives (N,D) float32
     * @return the loss and the three gradients, in new tensors on the call's device; close the result (or
     *   use a {@link dev.jnce.TensorScope})
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Result forwardBackward(Tensor anchor, Tensor positive, Tensor negative) {
        Kernels k = kernels(anchor, positive, negative, null, null, null, null);
        long n = check(k, anchor, positive, negative);
        long[] shape = anchor.shape();
        Tensor loss = null, ga = null, gp = null, gn = null;
        try {
            loss = newLoss(k, n);
            ga = Tensor.zeros(k.device(), DType.FLOAT32, shape);
            gp = Tensor.zeros(k.device(), DType.FLOAT32, shape);
            gn = Tensor.zeros(k.device(), DType.FLOAT32, shape);
            forwardBackward(anchor, positive, negative, loss, ga, gp, gn);
            return new Result(loss, ga, gp, gn);
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, loss, ga, gp, gn);
        }
    }

    /**
     * The loss and its gradients written into the caller's tensors, so that a training loop
     * allocates nothing per call. The outputs must not share memory with the inputs or each
     * other.
     *
     * @param anchor anchors (N,D) float32, N, D &ge; 1
     * @param positive positives (N,D) float32
     * @param negative negatives (N,D) float32
     * @param loss         (N) float32 for NONE, else a one-element float32 tensor of shape () or (1)
     * @param gradAnchor   (N,D) float32
     * @param gradPositive (N,D) float32
     * @param gradNegative (N,D) float32
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public void forwardBackward(Tensor anchor, Tensor positive, Tensor negative, Tensor loss, Tensor gradAnchor,
                                Tensor gradPositive, Tensor gradNegative) {
        Kernels k = kernels(anchor, positive, negative, loss, gradAnchor, gradPositive, gradNegative);
        long n = check(k, anchor, positive, negative);
        Checks.lossBuffer("loss", loss, k, reduction == Reduction.NONE, n, reduction);
        Checks.noOverlap("loss", loss, "anchor", anchor);
        Checks.noOverlap("loss", loss, "positive", positive);
        Checks.noOverlap("loss", loss, "negative", negative);
        String[] names = {"gradAnchor", "gradPositive", "gradNegative"};
        Tensor[] grads = {gradAnchor, gradPositive, gradNegative};
        String[] inputNames = {"anchor", "positive", "negative", "loss"};
        Tensor[] inputs = {anchor, positive, negative, loss};
        for (int g = 0; g < 3; g++) {
            Checks.output(names[g], grads[g], k, "(N, D) of anchor", anchor.shape());
            for (int i = 0; i < inputs.length; i++) Checks.noOverlap(names[g], grads[g], inputNames[i], inputs[i]);
            for (int h = 0; h < g; h++) Checks.noOverlap(names[g], grads[g], names[h], grads[h]);
        }
        k.pair().tripletMargin(anchor, positive, negative, options(), loss, gradAnchor, gradPositive, gradNegative);
    }

    /**
     * A loss and its three gradients; closing it closes all four.
     *
     * @param loss the loss: shape () for MEAN and SUM, (N) for NONE
     * @param gradAnchor d loss / d anchor (N,D)
     * @param gradPositive d loss / d positive (N,D)
     * @param gradNegative d loss / d negative (N,D)
     */
    public record Result(Tensor loss, Tensor gradAnchor, Tensor gradPositive, Tensor gradNegative)
            implements AutoCloseable {
        @Override
        public void close() {
            loss.close();
            gradAnchor.close();
            gradPositive.close();
            gradNegative.close();
        }
    }

    /** The pinned backend, else the one of the tensors' device (every tensor on one device). */
    private Kernels kernels(Tensor anchor, Tensor positive, Tensor negative, Tensor loss, Tensor gradAnchor,
                            Tensor gradPositive, Tensor gradNegative) {
        return Kernels.forCall(backend, "anchor", anchor, "positive", positive, "negative", negative, Kernels.OUTPUTS, "loss", loss,
                "gradAnchor", gradAnchor, "gradPositive", gradPositive, "gradNegative", gradNegative);
    }

    private Tensor newLoss(Kernels k, long n) {
        return Tensor.zeros(k.device(), DType.FLOAT32, reduction == Reduction.NONE ? new long[] {n} : new long[0]);
    }

    private PairKernels.Triplet options() {
        return new PairKernels.Triplet(distance == Distance.COSINE, (float) margin, (float) p, (float) eps(),
                swap, reduction);
    }

    private static void checkMargin(double margin, Distance distance) {
        if (!(Math.abs(margin) <= Float.MAX_VALUE)) {
            throw new IllegalArgumentException("margin: must be finite as the float32 the kernel takes, |margin| <= "
                    + Float.MAX_VALUE + ", got " + margin);
        }
        if (distance == Distance.COSINE && !(margin > 0)) {
            throw new IllegalArgumentException("margin: must be > 0 with the cosine distance "
                    + "(as TripletMarginWithDistanceLoss requires), got " + margin);
        }
    }

    /** All three (N,D) float32 of one shape; returns N. */
    private static long check(Kernels k, Tensor anchor, Tensor positive, Tensor negative) {
        long[] shape = Checks.matrix("anchor", anchor, k, "(N, D)");
        Checks.matrix("positive", positive, k, "(N, D)");
        Checks.matrix("negative", negative, k, "(N, D)");
        Checks.sameFeatures("anchor", anchor, "positive", positive);
        Checks.sameFeatures("anchor", anchor, "negative", negative);
        for (Tensor t : new Tensor[] {positive, negative}) {
            if (t.size(0) != shape[0]) {
                throw new IllegalArgumentException((t == positive ? "positive" : "negative") + ": shape "
                        + Tensor.formatShape(t.shape()) + " does not match anchor " + Tensor.formatShape(shape)
                        + "; expected (N, D) = " + Tensor.formatShape(shape));
            }
        }
        return shape[0];
    }
}
