package dev.jnce.loss;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.ContrastiveKernels;
import dev.jnce.backend.CrossEntropyCall;
import dev.jnce.backend.Kernels;
import dev.jnce.internal.Checks;

/**
 * InfoNCE with explicit per-query negatives (N,K,D): logits (N, K+1) with the positive in column
 * 0, made of batched dot products rather than a GEMM (the backend's negativeLogits, and its
 * backward for the three gradients), then one cross-entropy kernel. Package-private: reached
 * through {@link InfoNce#forwardBackwardNegatives}, which hands down its options.
 */
final class ExplicitNegatives {
    private ExplicitNegatives() {
    }

    /** Checks queries (N,D), positives (N,D) and negatives (N,K,D), K >= 1, all finite; returns D. */
    static long check(Kernels k, Tensor queries, Tensor positives, Tensor negatives) {
        long d = Contrastive.embeddings("queries", queries, k, 1, "expected N >= 1");
        Contrastive.embeddings("positives", positives, k, 1, "expected N >= 1");
        Checks.shape("positives", positives, "(N, D) of queries", queries.shape());
        Checks.usable("negatives", negatives, k);
        Checks.dtype("negatives", negatives, DType.FLOAT32);
        long n = queries.size(0);
        if (negatives.rank() != 3 || negatives.size(0) != n || negatives.size(2) != d) {
            throw new IllegalArgumentException("negatives: expected shape (N, K, D) = (" + n + ", K, " + d + "), got "
                    + Tensor.formatShape(negatives.shape()));
        }
        if (negatives.size(1) < 1) {
            throw new IllegalArgumentException("negatives: shape " + Tensor.formatShape(negatives.shape())
                    + " has K = 0; explicit-negative InfoNCE needs K >= 1 negatives per query");
        }
        Contrastive.finite("negatives", negatives, k);
        return d;
    }

    /**
     * The loss into loss ((N) for NONE, else one element) and the gradients into dq, dp (N,D) and
     * dn (N,K,D); returns d loss / d tau. Arguments are checked.
     */
    static float run(Kernels k, InfoNceOptions o, Tensor queries, Tensor positives, Tensor negatives,
                     Tensor loss, Tensor dq, Tensor dp, Tensor dn) {
        Contrastive.logitsInRange(k, o.temperature(), o.normalize(), queries, positives, negatives);
        ContrastiveKernels con = k.contrastive();
        long n = queries.size(0), kNeg = negatives.size(1), d = queries.size(1);
        float inv = 1f / o.temperature();
        Tensor flatNeg = negatives.reshape(n * kNeg, d);
        Tensor qh = null, ph = null, nh = null, logits = null, targets = null, positive = null, lse = null, ceLoss = null;
        try {
            qh = Contrastive.prepared(k, queries, o.normalize());
            ph = Contrastive.prepared(k, positives, o.normalize());
            nh = Contrastive.prepared(k, flatNeg, o.normalize());
            Tensor nh3 = nh.reshape(n, kNeg, d);
            logits = Contrastive.scratch(k, n, kNeg + 1);
            targets = Contrastive.scratch(k, DType.INT64, n); // zeros: the positive is column 0
            con.negativeLogits(qh, ph, nh3, inv, logits);
            if (o.decoupled()) { // the positive leaves the softmax: loss_i = lse_i(negatives) - s_i0
                positive = Contrastive.scratch(k, n);
                lse = Contrastive.scratch(k, n);
                ceLoss = Contrastive.newLossScratch(k, o.reduction(), n);
                con.excludeLogits(logits, -1, 0, 0, positive);
            }
            k.crossEntropy().crossEntropy(new CrossEntropyCall(logits, targets, null, null, null, -1, 0f, 0f, o.reduction(),
                    false, o.decoupled() ? ceLoss : loss, logits, lse));
            if (o.decoupled()) con.reduceRows(lse, positive, o.reduction(), n, loss);

            // logits now hold G; dq_i = (G_i0 p_i + sum_j G_ij n_ij) / tau, dp_i = G_i0 q_i / tau, dn_ij = G_ij q_i / tau
            con.negativeLogitsBackward(logits, qh, ph, nh3, inv, dq, dp, dn);
            float gradTau = (float) (-k.similarity().dot(qh, dq) / o.temperature());
            Contrastive.backThroughNormalize(k, queries, dq, o.normalize());
            Contrastive.backThroughNormalize(k, positives, dp, o.normalize());
            Contrastive.backThroughNormalize(k, flatNeg, dn.reshape(n * kNeg, d), o.normalize());
            return gradTau;
        } finally {
            Contrastive.release(qh, queries);
            Contrastive.release(ph, positives);
            Contrastive.release(nh, flatNeg);
            for (Tensor t : new Tensor[] {logits, targets, positive, lse, ceLoss}) if (t != null) t.close();
        }
    }
}
