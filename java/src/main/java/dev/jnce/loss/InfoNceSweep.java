package dev.jnce.loss;

import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.backend.ContrastiveKernels;
import dev.jnce.backend.ContrastiveKernels.PositiveTargets;
import dev.jnce.backend.ContrastiveKernels.PositivesOutcome;
import dev.jnce.backend.ContrastiveKernels.RetrievalTargets;
import dev.jnce.backend.CrossEntropyCall;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.SimilarityKernels;
import dev.jnce.internal.Outputs;

/**
 * The InfoNCE row-block sweep: logits {@code S = q̂ k̂ᵀ / tau} (N,M) a block of query rows at a
 * time, in the shape of Liger-Kernel's fused linear cross-entropy. Per block: one GEMM into the
 * (block, M) buffer borrowed from {@link Workspace}, the O(block) steps that take excluded logits
 * out of the softmax, one cross-entropy kernel that writes the gradient G over the logits, and
 * the block's share of both gradient GEMMs ({@code dq = G k̂ / tau}, {@code dk += Gᵀ q̂ / tau}).
 * Only kernel calls, so the sweep runs wherever its kernels do and holds one block of logits plus
 * O((N+M)·D). The two-tensor forms take it always, the one-tensor forms when asked for blocks
 * smaller than N. Package-private.
 */
final class InfoNceSweep {

    /** Which keys are row i's positives: key (i + offset) mod M, or by labels (N) and (M), or by a mask (N,M). */
    record Positives(long offset, Tensor queryLabels, Tensor keyLabels, Tensor mask) {
        static Positives diagonal(long offset) {
            return new Positives(offset, null, null, null);
        }

        static Positives labels(Tensor queryLabels, Tensor keyLabels) {
            return new Positives(0, queryLabels, keyLabels, null);
        }

        static Positives mask(Tensor mask) {
            return new Positives(0, null, null, mask);
        }

        boolean single() {
            return queryLabels == null && mask == null;
        }
    }

    private InfoNceSweep() {
    }

    /**
     * Runs the sweep; arguments are checked. keys == null is the one-tensor form (the keys are the
     * queries, and the gradient flows through both sides); shared (M',D) are negatives appended to
     * every row's keys. loss is the caller's (N) for NONE, else one element. dq (N,D), dk (keys'
     * shape) and dNeg (shared's shape) receive the gradients; dq == null computes the loss alone.
     * Returns d loss / d tau (NaN for the loss alone).
     */
    static float run(Kernels k, InfoNceOptions o, Tensor q, Tensor keys, Tensor shared, Positives pos,
                     Tensor loss, Tensor dq, Tensor dk, Tensor dNeg) {
        if (keys == null) Contrastive.logitsInRange(k, o.temperature(), o.normalize(), q);
        else if (shared == null) Contrastive.logitsInRange(k, o.temperature(), o.normalize(), q, keys);
        else Contrastive.logitsInRange(k, o.temperature(), o.normalize(), q, keys, shared);
        SimilarityKernels sim = k.similarity();
        ContrastiveKernels con = k.contrastive();
        boolean oneTensor = keys == null, gradients = dq != null, single = pos.single();
        Reduction reduction = o.reduction();
        long n = q.size(0), d = q.size(1);
        Tensor qh = null, kh = null, rowLoss = null, targets = null, lse = null, positives = null, dkAll = null;
        Workspace.Lease workspace = null;
        try {
            qh = Contrastive.prepared(k, q, o.normalize());
            kh = oneTensor ? qh : shared == null ? Contrastive.prepared(k, keys, o.normalize()) : stacked(k, keys, shared, o.normalize());
            long m = kh.size(0);
            // One tensor: a row's similarity to itself is its positive in the diagonal form (offset 0),
            // and takes no part otherwise (NT-Xent's i±N positives, labels).
            boolean selfPairs = oneTensor && (!single || pos.offset() != 0);
            long block = Math.min(n, Contrastive.blockRows(o.blockRows(), m, k));
            // plain rows (one target, nothing taken out or corrected) lie in the backend's logit row
            // stride: longer than m on cpu where m is a multiple of 256, which keeps the GEMMs' rows
            // out of the same cache sets; the other kernels take rows of m
            boolean plain = single && !selfPairs && !o.decoupled() && !o.retrieval().corrected();
            long stride = plain ? con.logitRowStride(m) : m;
            workspace = Workspace.borrow(k, block, stride);
            Tensor s = workspace.logits();
            float inv = 1f / o.temperature();
            // NONE takes the rows' losses straight into the caller's loss; decoupled ones come from lse - positive
            rowLoss = reduction == Reduction.NONE && !o.decoupled() ? loss : Contrastive.scratch(k, n);
            if (single) {
                targets = Contrastive.scratch(k, DType.INT64, n);
                con.diagonalTargets(pos.offset(), m, targets);
                if (o.decoupled()) {
                    lse = Contrastive.scratch(k, n);
                    positives = Contrastive.scratch(k, n);
                }
            }
            if (gradients) dkAll = oneTensor || shared != null ? Contrastive.scratch(k, m, d) : dk;
            // One positive per row: every row counts, so MEAN's 1/N goes into the gradient GEMMs' alpha.
            float gradAlpha = single && reduction == Reduction.MEAN ? inv * (float) (1.0 / n) : inv;
            long counted = single ? n : 0;
            RetrievalOptions ro = o.retrieval();
            boolean corrected = single && ro.corrected();
            double atTargets = 0; // sum of the rows' gradients at their positives, for the margin's share of d loss / d tau
            for (long r0 = 0; r0 < n; r0 += block) {
                long rows = Math.min(block, n - r0);
                Tensor sb = rows == block ? s : s.rows(0, rows), qb = qh.rows(r0, rows), lossB = rowLoss.rows(r0, rows);
                sim.gemm(false, true, inv, qb, kh, 0f, sb);
                if (corrected) {
                    atTargets += con.retrievalCrossEntropy(sb, null, new RetrievalTargets(r0 + pos.offset(), -1, -1,
                            ro.logQ(), ro.logQIsProbability(), ro.keyIds(), ro.inBatchColumns(), ro.margin() * inv,
                            ro.labelSmoothing()), lossB, gradients);
                } else if (plain && gradients) {
                    // the rows' losses and both towers' products in one call (G never written on cpu):
                    // dq's rows = G kh / tau, dkAll += Gᵀ qh / tau
                    con.crossEntropyGradient(k.crossEntropy(), sim, sb, m, targets.rows(r0, rows), lossB, qb, kh, gradAlpha,
                            r0 == 0 ? 0f : 1f, dq.rows(r0, rows), dkAll);
                } else if (single) {
                    if (selfPairs || o.decoupled()) {
                        con.excludeLogits(sb, selfPairs ? r0 : -1, r0 + pos.offset(), 1, o.decoupled() ? positives.rows(r0, rows) : null);
                    }
                    k.crossEntropy().crossEntropyRows(new CrossEntropyCall(sb, targets.rows(r0, rows), null, null, null, -1, 0f,
                            0f, Reduction.NONE, false, lossB, gradients ? sb : null, lse == null ? null : lse.rows(r0, rows)), m);
                } else {
                    PositivesOutcome found = con.positivesCrossEntropy(sb, new PositiveTargets(
                            pos.queryLabels() == null ? null : pos.queryLabels().rows(r0, rows), pos.keyLabels(),
                            pos.mask() == null ? null : pos.mask().rows(r0, rows), selfPairs ? r0 : -1, o.skipEmpty(),
                            Reduction.NONE), lossB, gradients ? sb : null);
                    if (found.rowWithoutPositive() >= 0) {
                        throw noPositive(pos.mask() != null ? "positiveMask" : "queryLabels", r0 + found.rowWithoutPositive(), m, false);
                    }
                    counted += found.counted();
                }
                if (gradients && !plain) { // the plain rows took theirs above
                    sim.gemm(false, false, gradAlpha, sb, kh, 0f, dq.rows(r0, rows));   // G kh / tau
                    sim.gemm(true, false, gradAlpha, sb, qb, r0 == 0 ? 0f : 1f, dkAll); // + Gᵀ qh / tau
                }
            }
            if (o.decoupled()) {
                con.reduceRows(lse, positives, reduction, n, loss); // loss_i = lse_i(without the positive) - s_ip
            } else if (rowLoss != loss) {
                con.reduceRows(rowLoss, null, reduction, counted, loss);
            }
            if (!gradients) return Float.NaN;
            // Several positives: the blocks gave the gradients of the sum of the rows' losses; MEAN divides
            // by the rows counted (with none, every gradient is 0 and stays so).
            if (!single && reduction == Reduction.MEAN && counted > 0) {
                float w = (float) (1.0 / counted);
                sim.scale(w, dq);
                sim.scale(w, dkAll);
            }
            // d loss / d tau = -(1/tau^2) sum G∘(qh khᵀ) = -(1/tau) sum qh∘(G kh / tau)
            // the margin's share: z_ii = (sim_ii - m) / tau adds (m / tau^2) G_ii
            double marginTau = corrected ? ro.margin() * atTargets * (reduction == Reduction.MEAN ? 1.0 / n : 1.0)
                    / ((double) o.temperature() * o.temperature()) : 0;
            float gradTau = (float) (-sim.dot(qh, dq) / o.temperature() + marginTau);
            if (oneTensor) { // both sides of f fᵀ: G kh + Gᵀ qh, then back through the one normalisation
                sim.axpy(1f, dkAll, dq);
            } else if (shared == null) {
                Contrastive.backThroughNormalize(k, keys, dk, o.normalize());
            } else {
                keyPart(k, keys, dkAll.rows(0, keys.size(0)), dk, o.normalize());
                keyPart(k, shared, dkAll.rows(keys.size(0), shared.size(0)), dNeg, o.normalize());
            }
            Contrastive.backThroughNormalize(k, q, dq, o.normalize());
            return gradTau;
        } finally {
            if (workspace != null) workspace.close();
            if (kh != qh) Contrastive.release(kh, keys);
            Contrastive.release(qh, q);
            for (Tensor t : new Tensor[] {targets, lse, positives}) if (t != null) t.close();
            if (rowLoss != null && rowLoss != loss) rowLoss.close();
            if (dkAll != null && dkAll != dk) dkAll.close();
        }
    }

    /** keys (N,D) over shared negatives (M',D) in one (N+M', D) scratch, each part normalised when asked. */
    private static Tensor stacked(Kernels k, Tensor keys, Tensor shared, boolean normalize) {
        long nk = keys.size(0), ns = shared.size(0);
        Tensor out = Contrastive.scratch(k, nk + ns, keys.size(1));
        try {
            if (normalize) {
                k.similarity().normalize(keys, Contrastive.NORM_EPS, out.rows(0, nk));
                k.similarity().normalize(shared, Contrastive.NORM_EPS, out.rows(nk, ns));
            } else {
                k.similarity().copy(keys, out.rows(0, nk));
                k.similarity().copy(shared, out.rows(nk, ns));
            }
            return out;
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, out);
        }
    }

    /** One part of the stacked keys' gradient into its output: through the normalisation of x, or copied. */
    private static void keyPart(Kernels k, Tensor x, Tensor dPart, Tensor out, boolean normalize) {
        if (normalize) k.similarity().normalizeBackward(x, dPart, Contrastive.NORM_EPS, out);
        else k.similarity().copy(dPart, out);
    }

    /** The error for a row without positive, named by its row in the batch. */
    static IllegalArgumentException noPositive(String argument, long row, long keys, boolean selfExcluded) {
        return new IllegalArgumentException(argument + ": row " + row + " has no positive among the " + keys + " keys"
                + (selfExcluded ? " (itself excluded)" : "") + "; give it one, or use withRowsWithoutPositive(SKIP)");
    }
}
