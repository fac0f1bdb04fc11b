package dev.jnce.loss;

import dev.jnce.internal.Checks;
import dev.jnce.Reduction;
import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.PairKernels;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.SimilarityKernels;
import dev.jnce.internal.SimilarityChecks;

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
 * For NONE the gradient is that of the sum of the row losses. Shapes: (N,D) for all three,
 * N, D &ge; 1. Immutable and thread-safe.
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

    /** margin 1, p 2, eps 1e-6, no swap, pairwise distance, MEAN, on {@link Backends#current()}. */
    public static TripletMarginLoss create() {
        return new TripletMarginLoss(1.0, 2.0, null, false, Distance.PAIRWISE, Reduction.MEAN, null);
    }

    /** Finite; for {@link Distance#COSINE} also &gt; 0, as PyTorch requires. */
    public TripletMarginLoss withMargin(double margin) {
        checkMargin(margin, distance);
        return new TripletMarginLoss(margin, p, eps, swap, distance, reduction, backend);
    }

    /** The norm degree of the pairwise distance: finite and &gt; 0. */
    public TripletMarginLoss withP(double p) {
        if (!(p > 0) || Double.isInfinite(p)) throw new IllegalArgumentException("p: must be finite and > 0, got " + p);
        return new TripletMarginLoss(margin, p, eps, swap, distance, reduction, backend);
    }

    /** The eps of the distance (finite, &ge; 0); default 1e-6 pairwise, 1e-8 cosine. */
    public TripletMarginLoss withEps(double eps) {
        SimilarityChecks.eps(eps);
        return new TripletMarginLoss(margin, p, eps, swap, distance, reduction, backend);
    }

    public TripletMarginLoss withSwap(boolean swap) {
        return new TripletMarginLoss(margin, p, eps, swap, distance, reduction, backend);
    }

    public TripletMarginLoss withDistance(Distance distance) {
        if (distance == null) throw new IllegalArgumentException("distance: must not be null");
        checkMargin(margin, distance);
        return new TripletMarginLoss(margin, p, eps, swap, distance, reduction, backend);
    }

    public TripletMarginLoss withReduction(Reduction reduction) {
        Checks.reduction(reduction);
        return new TripletMarginLoss(margin, p, eps, swap, distance, reduction, backend);
    }

    public TripletMarginLoss withBackend(Backend backend) {
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        return new TripletMarginLoss(margin, p, eps, swap, distance, reduction, backend);
    }

    public double margin() {
        return margin;
    }

    public double p() {
        return p;
    }

    /** The eps in use: the one set, or the distance's default. */
    public double eps() {
        return eps != null ? eps : distance == Distance.COSINE ? 1e-8 : 1e-6;
    }

    public boolean swap() {
        return swap;
    }

    public Distance distance() {
        return distance;
    }

    public Reduction reduction() {
        return reduction;
    }

    public Backend backend() {
        return backend != null ? backend : Backends.current();
    }

    /** The loss alone: shape () for MEAN and SUM, (N) for NONE. */
    public Tensor forward(Tensor anchor, Tensor positive, Tensor negative) {
        Kernels k = (Kernels) backend();
        long n = check(k, anchor, positive, negative);
        Tensor loss = reduction == Reduction.NONE ? Tensor.zeros(DType.FLOAT32, n) : Tensor.zeros(DType.FLOAT32);
        k.pair().tripletMargin(anchor, positive, negative, options(), loss, null, null, null);
        return loss;
    }

    /** The loss and its gradients with respect to anchor, positive and negative, in new tensors. */
    public Result forwardBackward(Tensor anchor, Tensor positive, Tensor negative) {
        Kernels k = (Kernels) backend();
        long n = check(k, anchor, positive, negative);
        Tensor loss = reduction == Reduction.NONE ? Tensor.zeros(DType.FLOAT32, n) : Tensor.zeros(DType.FLOAT32);
        long[] shape = anchor.shape();
        Tensor ga = Tensor.zeros(DType.FLOAT32, shape), gp = Tensor.zeros(DType.FLOAT32, shape);
        Tensor gn = Tensor.zeros(DType.FLOAT32, shape);
        k.pair().tripletMargin(anchor, positive, negative, options(), loss, ga, gp, gn);
        return new Result(loss, ga, gp, gn);
    }

    /** A loss and its three gradients; closing it closes all four. */
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

    private PairKernels.Triplet options() {
        return new PairKernels.Triplet(distance == Distance.COSINE, (float) margin, (float) p, (float) eps(),
                swap, reduction);
    }

    private static void checkMargin(double margin, Distance distance) {
        if (!Double.isFinite(margin)) throw new IllegalArgumentException("margin: must be finite, got " + margin);
        if (distance == Distance.COSINE && !(margin > 0)) {
            throw new IllegalArgumentException("margin: must be > 0 with the cosine distance "
                    + "(as TripletMarginWithDistanceLoss requires), got " + margin);
        }
    }

    /** All three (N,D) float32 of one shape; returns N. */
    private static long check(Kernels k, Tensor anchor, Tensor positive, Tensor negative) {
        long[] shape = SimilarityChecks.matrix("anchor", anchor, k, "(N, D)");
        SimilarityChecks.matrix("positive", positive, k, "(N, D)");
        SimilarityChecks.matrix("negative", negative, k, "(N, D)");
        SimilarityChecks.sameFeatures("anchor", anchor, "positive", positive);
        SimilarityChecks.sameFeatures("anchor", anchor, "negative", negative);
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
