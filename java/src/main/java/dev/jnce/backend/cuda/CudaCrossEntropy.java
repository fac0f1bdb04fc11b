package dev.jnce.backend.cuda;

import dev.jnce.backend.CrossEntropyCall;
import dev.jnce.backend.CrossEntropyKernels;
import dev.jnce.bindings.JnceNative;
import dev.jnce.internal.XentArgs;

/**
 * jnce_cuda_cross_entropy: the fused kernel of src/cuda/cross_entropy.cu on device tensors.
 * Class targets queue the work and return; probability targets wait for the stream so that a
 * row that is not a distribution throws here, as the interface promises.
 */
final class CudaCrossEntropy implements CrossEntropyKernels {
    private final CudaContext context;

    CudaCrossEntropy(CudaContext context) {
        this.context = context;
    }

    @Override
    public void crossEntropy(CrossEntropyCall c) {
        int status = JnceNative.jnce_cuda_cross_entropy(context.handle(), XentArgs.of(c));
        CudaLibrary.check(status, "cross_entropy", "logits", c.logits(),
                c.targets() != null ? "targets" : "probs", c.targets() != null ? c.targets() : c.probs());
        if (c.probs() != null) context.synchronize();
    }
}
