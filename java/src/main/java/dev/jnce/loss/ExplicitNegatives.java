package dev.jnce.loss;

import dev.jnce.Reduction;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.SimilarityKernels;
import dev.jnce.internal.Checks;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * InfoNCE with explicit per-query negatives (N,K,D): logits (N, K+1) with the positive in column
 * 0, made of batched dot products rather than a GEMM (the backend's negativeLogits, and its
 * backward for the three gradients). Package-private: reached through
 * {@link InfoNce#forwardBackwardNegatives}.
 */
final class ExplicitNegatives {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private final InfoNce loss;
    private final Kernels k;

    ExplicitNegatives(InfoNce loss, Kernels k) {
        this.loss = loss;
        this.k = k;
    }

    InfoNce.Result run(Tensor queries, Tensor positives, Tensor negatives) {
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
        long kNeg = negatives.size(1);
        if (kNeg < 1) {
            throw new IllegalArgumentException("negatives: shape " + Tensor.formatShape(negatives.shape())
                    + " has K = 0; explicit-negative InfoNCE needs K >= 1 negatives per query");
        }
        Contrastive.finite("negatives", negatives);

        SimilarityKernels sim = k.similarity();
        boolean norm = loss.normalize();
        float tau = loss.temperature(), inv = 1f / tau;
        Tensor flatNeg = Tensor.wrap(negatives.segment(), DType.FLOAT32, n * kNeg, d);
        Tensor qh = Contrastive.prepared(sim, queries, norm);
        Tensor ph = Contrastive.prepared(sim, positives, norm);
        Tensor nh = Contrastive.prepared(sim, flatNeg, norm);
        long c = kNeg + 1;
        Tensor logits = Contrastive.scratch(n, c);
        Tensor targets = Tensor.zerosUnscoped(DType.INT64, n); // the positive is column 0
        Tensor lse = loss.decoupled() ? Contrastive.scratch(n) : null;
        Tensor ceLoss = loss.reduction() == Reduction.NONE ? Contrastive.scratch(n) : Contrastive.scratch();
        Tensor nh3 = Tensor.wrap(nh.segment(), DType.FLOAT32, n, kNeg, d);
        try {
            MemorySegment s = logits.segment();
            k.contrastive().negativeLogits(qh, ph, nh3, inv, logits);
            float[] positiveLogit = null;
            if (loss.decoupled()) {
                positiveLogit = new float[(int) n];
                for (long i = 0; i < n; i++) {
                    positiveLogit[(int) i] = s.getAtIndex(F, i * c);
                    s.setAtIndex(F, i * c, InfoNce.EXCLUDED);
                }
            }
            CrossEntropy.create().withBackend(k).withReduction(loss.reduction()).withIgnoreIndex(-1)
                    .forwardBackward(logits, targets, null, ceLoss, logits, lse);
            Tensor result = loss.decoupled() ? loss.decoupledLossOf(lse, positiveLogit) : copy(ceLoss);

            // logits now hold G; dq_i = (G_i0 p_i + sum_j G_ij n_ij) / tau, dp_i = G_i0 q_i / tau, dn_ij = G_ij q_i / tau
            Tensor dq = Tensor.zeros(DType.FLOAT32, n, d), dp = Tensor.zeros(DType.FLOAT32, n, d);
            Tensor dn = Tensor.zeros(DType.FLOAT32, n, kNeg, d);
            Tensor dnFlat = Tensor.wrap(dn.segment(), DType.FLOAT32, n * kNeg, d);
            k.contrastive().negativeLogitsBackward(logits, qh, ph, nh3, inv, dq, dp, dn);
            float gradTau = (float) (-Contrastive.dot(qh, dq) / tau);
            Contrastive.backThroughNormalize(sim, queries, dq, norm);
            Contrastive.backThroughNormalize(sim, positives, dp, norm);
            Contrastive.backThroughNormalize(sim, flatNeg, dnFlat, norm);
            return new InfoNce.Result(result, dq, dp, dn, gradTau);
        } finally {
            Contrastive.release(qh, queries);
            Contrastive.release(ph, positives);
            Contrastive.release(nh, flatNeg);
            for (Tensor t : new Tensor[] {logits, targets, lse, ceLoss}) if (t != null) t.close();
        }
    }

    private static Tensor copy(Tensor t) {
        Tensor out = Tensor.zeros(DType.FLOAT32, t.shape());
        MemorySegment.copy(t.segment(), 0, out.segment(), 0, t.numel() * 4);
        return out;
    }
}
