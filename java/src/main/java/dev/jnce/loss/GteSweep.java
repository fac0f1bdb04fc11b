package dev.jnce.loss;

import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.backend.ContrastiveKernels.RetrievalTargets;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.SimilarityKernels;
import dev.jnce.internal.Outputs;

/**
 * GTE's bidirectional InfoNCE ({@link InfoNce.Direction#BIDIRECTIONAL_GTE}) as a row-block
 * sweep. With X = [k̂; q̂] and X' = [q̂; k̂] (2N,D), pair i's 4N logits are the rows
 * {@code A_i = q̂_i Xᵀ / tau} (q→k, then q→q with q_i itself out) and
 * {@code B_i = k̂_i X'ᵀ / tau} (k→q, then k→k with k_i itself out), one softmax over both, the
 * target column i of A. Per block: two GEMMs into one borrowed (2·rows, 2N) buffer, one retrieval
 * cross-entropy over both halves, and four gradient GEMMs
 * ({@code dq_rows = G_A X / tau}, {@code dX += G_Aᵀ q̂ / tau}, {@code dk_rows = G_B X' / tau},
 * {@code dX' += G_Bᵀ k̂ / tau}); the column parts of dX and dX' are added to dq and dk at the end.
 * Package-private.
 */
final class GteSweep {
    private GteSweep() {
    }

    /** Arguments checked; dq == null computes the loss alone. Returns d loss / d tau (NaN for the loss alone). */
    static float run(Kernels k, InfoNceOptions o, Tensor q, Tensor keys, Tensor loss, Tensor dq, Tensor dk) {
        Contrastive.logitsInRange(k, o.temperature(), o.normalize(), q, keys);
        SimilarityKernels sim = k.similarity();
        boolean gradients = dq != null;
        long n = q.size(0), d = q.size(1);
        float inv = 1f / o.temperature();
        Reduction reduction = o.reduction();
        Tensor qh = null, kh = null, x = null, x2 = null, rowLoss = null, dx = null, dx2 = null;
        Workspace.Lease workspace = null;
        try {
            qh = Contrastive.prepared(k, q, o.normalize());
            kh = Contrastive.prepared(k, keys, o.normalize());
            x = stack(k, kh, qh);
            x2 = stack(k, qh, kh);
            long block = Math.min(n, Contrastive.blockRows(o.blockRows(), 4 * n, k));
            workspace = Workspace.borrow(k, 2 * block, 2 * n);
            Tensor s = workspace.logits();
            rowLoss = reduction == Reduction.NONE ? loss : Contrastive.scratch(k, n);
            if (gradients) {
                dx = Contrastive.scratch(k, 2 * n, d);
                dx2 = Contrastive.scratch(k, 2 * n, d);
            }
            float alpha = reduction == Reduction.MEAN ? inv * (float) (1.0 / n) : inv;
            RetrievalOptions ro = o.retrieval();
            double atTargets = 0;
            for (long r0 = 0; r0 < n; r0 += block) {
                long rows = Math.min(block, n - r0);
                Tensor a = s.rows(0, rows), b = s.rows(block, rows), qb = qh.rows(r0, rows), kb = kh.rows(r0, rows);
                sim.gemm(false, true, inv, qb, x, 0f, a);
                sim.gemm(false, true, inv, kb, x2, 0f, b);
                atTargets += k.contrastive().retrievalCrossEntropy(a, b, new RetrievalTargets(r0, n + r0, n + r0, null, false,
                        null, 0, ro.margin() * inv, ro.labelSmoothing()), rowLoss.rows(r0, rows), gradients);
                if (gradients) {
                    float beta = r0 == 0 ? 0f : 1f;
                    sim.gemm(false, false, alpha, a, x, 0f, dq.rows(r0, rows));
                    sim.gemm(true, false, alpha, a, qb, beta, dx);
                    sim.gemm(false, false, alpha, b, x2, 0f, dk.rows(r0, rows));
                    sim.gemm(true, false, alpha, b, kb, beta, dx2);
                }
            }
            if (rowLoss != loss) k.contrastive().reduceRows(rowLoss, null, reduction, n, loss);
            if (!gradients) return Float.NaN;
            // d loss / d tau = -(1/tau^2) sum G∘sim over both halves = -(1/tau)(q̂∘dq_rows + k̂∘dk_rows), plus the margin's share
            double w = reduction == Reduction.MEAN ? 1.0 / n : 1.0;
            float gradTau = (float) (-(sim.dot(qh, dq) + sim.dot(kh, dk)) / o.temperature()
                    + ro.margin() * atTargets * w / ((double) o.temperature() * o.temperature()));
            sim.axpy(1f, dx.rows(n, n), dq);   // q̂ as a column of A (q→q)
            sim.axpy(1f, dx2.rows(0, n), dq);  // q̂ as a column of B (k→q)
            sim.axpy(1f, dx.rows(0, n), dk);   // k̂ as a column of A (q→k)
            sim.axpy(1f, dx2.rows(n, n), dk);  // k̂ as a column of B (k→k)
            Contrastive.backThroughNormalize(k, q, dq, o.normalize());
            Contrastive.backThroughNormalize(k, keys, dk, o.normalize());
            return gradTau;
        } finally {
            if (workspace != null) workspace.close();
            Contrastive.release(qh, q);
            Contrastive.release(kh, keys);
            for (Tensor t : new Tensor[] {x, x2, dx, dx2}) if (t != null) t.close();
            if (rowLoss != null && rowLoss != loss) rowLoss.close();
        }
    }

    /** [top; bottom] (2N,D) in a scratch. */
    private static Tensor stack(Kernels k, Tensor top, Tensor bottom) {
        long n = top.size(0);
        Tensor out = Contrastive.scratch(k, 2 * n, top.size(1));
        try {
            k.similarity().copy(top, out.rows(0, n));
            k.similarity().copy(bottom, out.rows(n, n));
            return out;
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, out);
        }
    }
}
