package dev.jnce.backend.cpu;

import dev.jnce.Tensor;
import dev.jnce.backend.SoftmaxKernels;
import dev.jnce.backend.SoftmaxKernels.Function;
import dev.jnce.bindings.JnceNative;
import dev.jnce.internal.NativeStatus;

/** Softmax family on the native kernels of softmax.c. */
final class CpuSoftmax implements SoftmaxKernels {
    static final CpuSoftmax INSTANCE = new CpuSoftmax();

    private CpuSoftmax() {
    }

    @Override
    public void forward(Function function, Tensor x, long n, long c, Tensor out) {
        int status = switch (function) {
            case SOFTMAX -> JnceNative.jnce_softmax_fwd(x.segment(), n, c, out.segment());
            case LOG_SOFTMAX -> JnceNative.jnce_log_softmax_fwd(x.segment(), n, c, out.segment());
            case LOGSUMEXP -> JnceNative.jnce_logsumexp_fwd(x.segment(), n, c, out.segment());
        };
        NativeStatus.check(status, name(function) + "_fwd", "input", x, "output", out);
    }

    @Override
    public void backward(Function function, Tensor saved, Tensor gradOutput, long n, long c, Tensor gradInput) {
        int status = switch (function) {
            case SOFTMAX -> JnceNative.jnce_softmax_bwd(saved.segment(), gradOutput.segment(), n, c, gradInput.segment());
            case LOG_SOFTMAX -> JnceNative.jnce_log_softmax_bwd(saved.segment(), gradOutput.segment(), n, c, gradInput.segment());
            case LOGSUMEXP -> JnceNative.jnce_logsumexp_bwd(saved.segment(), gradOutput.segment(), n, c, gradInput.segment());
        };
        NativeStatus.check(status, name(function) + "_bwd", "saved", saved, "gradOutput", gradOutput);
    }

    private static String name(Function function) {
        return function.name().toLowerCase(java.util.Locale.ROOT);
    }
}
