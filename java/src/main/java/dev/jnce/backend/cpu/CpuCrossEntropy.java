package dev.jnce.backend.cpu;

import dev.jnce.backend.CrossEntropyCall;
import dev.jnce.backend.CrossEntropyKernels;
import dev.jnce.bindings.JnceNative;
import dev.jnce.internal.NativeStatus;
import dev.jnce.internal.XentArgs;

/** jnce_cross_entropy through FFM. The argument struct is reused per thread: no allocation per call. */
final class CpuCrossEntropy implements CrossEntropyKernels {

    @Override
    public void crossEntropy(CrossEntropyCall c) {
        int status = JnceNative.jnce_cross_entropy(XentArgs.of(c));
        NativeStatus.check(status, "cross_entropy", "logits", c.logits(),
                c.targets() != null ? "targets" : "probs", c.targets() != null ? c.targets() : c.probs());
    }
}
