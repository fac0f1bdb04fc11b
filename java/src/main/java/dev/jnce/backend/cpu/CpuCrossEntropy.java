package dev.jnce.backend.cpu;

import dev.jnce.Tensor;
import dev.jnce.backend.CrossEntropyCall;
import dev.jnce.backend.CrossEntropyKernels;
import dev.jnce.bindings.JnceNative;
import dev.jnce.internal.NativeCodes;
import dev.jnce.internal.NativeStatus;
import dev.jnce.internal.XentArgs;

/** jnce_cross_entropy_fwd_bwd through FFM. The argument struct is reused per thread: no allocation per call. */
final class CpuCrossEntropy implements CrossEntropyKernels {

    @Override
    public void crossEntropy(CrossEntropyCall c) {
        int status = JnceNative.jnce_cross_entropy_fwd_bwd(XentArgs.of(c));
        NativeStatus.checkValues(status, "cross_entropy_fwd_bwd", "logits", c.logits(),
                c.targets() != null ? "targets" : "probs", c.targets() != null ? c.targets() : c.probs());
    }

    @Override
    public void perplexity(Tensor meanLoss, Tensor perplexity, Tensor grad) {
        int status = JnceNative.jnce_cross_entropy_perplexity_fwd_bwd(meanLoss.segment(), grad == null ? 0 : grad.numel(),
                perplexity.segment(), NativeCodes.segmentOrNull(grad));
        NativeStatus.check(status, "cross_entropy_perplexity_fwd_bwd", "meanLoss", meanLoss);
    }
}
