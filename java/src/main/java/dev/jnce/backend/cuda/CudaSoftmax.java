package dev.jnce.backend.cuda;

import dev.jnce.Tensor;
import dev.jnce.backend.SoftmaxKernels;
import dev.jnce.bindings.JnceNative;

import java.util.Locale;

/** Softmax, log_softmax and logsumexp, forward and backward, on the GPU (native/src/cuda/softmax.cu). */
final class CudaSoftmax implements SoftmaxKernels {
    private final CudaContext context;

    CudaSoftmax(CudaContext context) {
        this.context = context;
    }

    @Override
    public void forward(Function function, Tensor x, long n, long c, Tensor out) {
        var ctx = context.handle();
        int status = switch (function) {
            case SOFTMAX -> JnceNative.jnce_cuda_softmax_fwd(ctx, x.segment(), n, c, out.segment());
            case LOG_SOFTMAX -> JnceNative.jnce_cuda_log_softmax_fwd(ctx, x.segment(), n, c, out.segment());
            case LOGSUMEXP -> JnceNative.jnce_cuda_logsumexp_fwd(ctx, x.segment(), n, c, out.segment());
        };
        CudaLibrary.check(status, name(function) + "_fwd", "input", x, "output", out);
    }

    @Override
    public void backward(Function function, Tensor saved, Tensor gradOutput, long n, long c, Tensor gradInput) {
        var ctx = context.handle();
        int status = switch (function) {
            case SOFTMAX -> JnceNative.jnce_cuda_softmax_bwd(ctx, saved.segment(), gradOutput.segment(), n, c,
                    gradInput.segment());
            case LOG_SOFTMAX -> JnceNative.jnce_cuda_log_softmax_bwd(ctx, saved.segment(), gradOutput.segment(), n, c,
                    gradInput.segment());
            case LOGSUMEXP -> JnceNative.jnce_cuda_logsumexp_bwd(ctx, saved.segment(), gradOutput.segment(), n, c,
                    gradInput.segment());
        };
        CudaLibrary.check(status, name(function) + "_bwd", "saved", saved, "gradOutput", gradOutput);
    }

    private static String name(Function function) {
        return function.name().toLowerCase(Locale.ROOT);
    }
}
