package dev.jnce.backend.cpu;

import dev.jnce.internal.HostCrossEntropy;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.CrossEntropyCall;
import dev.jnce.backend.CrossEntropyKernels;
import dev.jnce.bindings.JnceNative;
import dev.jnce.internal.NativeCodes;
import dev.jnce.internal.NativeStatus;

import static dev.jnce.internal.NativeCodes.segmentOrNull;

/**
 * jnce_cross_entropy_strided_fwd_bwd (rows of the logits' width, or padded) through FFM. Every
 * tensor is a segment argument of the downcall, so its memory stays alive (its arena cannot be
 * closed) until the kernel returns.
 */
final class CpuCrossEntropy implements CrossEntropyKernels {

    @Override
    public void crossEntropy(CrossEntropyCall c) {
        crossEntropyRows(c, c.c());
    }

    @Override
    public void crossEntropyRows(CrossEntropyCall c, long classes) {
        int status = JnceNative.jnce_cross_entropy_strided_fwd_bwd(c.n(), classes, c.c(), c.logits().segment(), segmentOrNull(c.targets()),
                targetDtype(c), segmentOrNull(c.probs()), segmentOrNull(c.rowMask()), segmentOrNull(c.weight()),
                c.ignoreIndex(), c.labelSmoothing(), c.zLoss(), NativeCodes.reduction(c.reduction()), c.zeroIfEmpty() ? 1 : 0,
                c.loss().segment(), segmentOrNull(c.grad()), segmentOrNull(c.lse()));
        NativeStatus.checkValues(status, "cross_entropy_fwd_bwd", "logits", c.logits(), "targets",
                c.targets() != null ? c.targets() : c.probs());
    }

    /** The native code of the class targets' type (int64 when the targets are probabilities: unused). */
    static int targetDtype(CrossEntropyCall c) {
        return c.targets() != null && c.targets().dtype() == DType.INT32 ? JnceNative.JNCE_DTYPE_INT32() : JnceNative.JNCE_DTYPE_INT64();
    }

    @Override
    public void perplexity(Tensor meanLoss, Tensor perplexity, Tensor grad) {
        int status = JnceNative.jnce_cross_entropy_perplexity_fwd_bwd(meanLoss.segment(), grad == null ? 0 : grad.numel(),
                perplexity.segment(), segmentOrNull(grad));
        NativeStatus.check(status, "cross_entropy_perplexity_fwd_bwd", "meanLoss", meanLoss);
    }

    @Override
    public double[] classTargetTotals(Tensor targets, Tensor weight, long ignoreIndex, long classes) {
        return HostCrossEntropy.classTargetTotals(targets, weight, ignoreIndex, classes);
    }

    @Override
    public void softcap(Tensor s, float cap) {
        HostCrossEntropy.softcap(s, cap);
    }

    @Override
    public void softcapBackward(Tensor capped, Tensor grad, float cap) {
        HostCrossEntropy.softcapBackward(capped, grad, cap);
    }
}
