package dev.jnce.backend.cuda;

import dev.jnce.DType;
import dev.jnce.Device;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.backend.BinaryCrossEntropyKernels;
import dev.jnce.backend.FocalKernels;
import dev.jnce.bindings.JnceNative;
import dev.jnce.internal.HostScan;
import dev.jnce.internal.NativeCodes;

/**
 * The element-wise binary losses on the GPU (native/src/cuda/binary_cross_entropy.cu):
 * {@code F.binary_cross_entropy}, {@code F.binary_cross_entropy_with_logits} and torchvision's
 * {@code sigmoid_focal_loss}, each element's terms in double and the reduced loss summed in
 * double; nothing waits for the stream. The multi-class (softmax) focal loss is native/src/cuda/focal.cu.
 */
final class CudaBinaryLosses implements BinaryCrossEntropyKernels, FocalKernels {
    private final CudaContext context;

    CudaBinaryLosses(CudaContext context) {
        this.context = context;
    }

    @Override
    public void binaryCrossEntropy(Tensor input, Tensor target, Tensor weight, Reduction reduction, Tensor loss,
                                   Tensor gradInput, Tensor gradTarget) {
        int status = JnceNative.jnce_cuda_bce_fwd_bwd(context.handle(), input.segment(), target.segment(), input.numel(),
                NativeCodes.segmentOrNull(weight), weight == null ? 0 : weight.numel(), NativeCodes.reduction(reduction),
                loss.segment(), NativeCodes.segmentOrNull(gradInput), NativeCodes.segmentOrNull(gradTarget));
        CudaLibrary.check(status, "bce_fwd_bwd", "input", input, "target", target);
    }

    @Override
    public void binaryCrossEntropyWithLogits(Tensor input, Tensor target, Tensor weight, Tensor posWeight,
                                             Reduction reduction, Tensor loss, Tensor gradInput, Tensor gradTarget) {
        int status = JnceNative.jnce_cuda_bce_logits_fwd_bwd(context.handle(), input.segment(), target.segment(),
                input.numel(), NativeCodes.segmentOrNull(weight), weight == null ? 0 : weight.numel(),
                NativeCodes.segmentOrNull(posWeight), posWeight == null ? 0 : posWeight.numel(),
                NativeCodes.reduction(reduction), loss.segment(), NativeCodes.segmentOrNull(gradInput),
                NativeCodes.segmentOrNull(gradTarget));
        CudaLibrary.check(status, "bce_logits_fwd_bwd", "input", input, "target", target);
    }

    @Override
    public void sigmoidFocal(Tensor input, Tensor target, float alpha, float gamma, Reduction reduction, Tensor loss,
                             Tensor gradInput, Tensor gradTarget) {
        int status = JnceNative.jnce_cuda_sigmoid_focal_fwd_bwd(context.handle(), input.segment(), target.segment(),
                input.numel(), alpha, gamma, NativeCodes.reduction(reduction), loss.segment(),
                NativeCodes.segmentOrNull(gradInput), NativeCodes.segmentOrNull(gradTarget));
        CudaLibrary.check(status, "sigmoid_focal_fwd_bwd", "input", input, "target", target);
    }

    /**
     * The multi-class focal loss (native/src/cuda/focal.cu). Its class indices are checked on a host
     * copy of the targets first (one transfer and a wait), with the CPU kernel's message.
     */
    @Override
    public void softmaxFocal(Tensor logits, Tensor targets, Tensor alpha, float gamma, Reduction reduction, Tensor loss,
                             Tensor grad) {
        long n = logits.size(0), c = logits.size(1);
        try (Tensor host = targets.to(Device.HOST)) {
            long bad = HostScan.INSTANCE.firstOutside(host, c, Long.MIN_VALUE);
            if (bad >= 0) {
                throw new IllegalArgumentException("softmax_focal: targets[" + bad + "]=" + (long) HostScan.INSTANCE.valueAt(host, bad)
                        + " is outside [0," + c + ")");
            }
        }
        int status = JnceNative.jnce_cuda_softmax_focal_fwd_bwd(context.handle(), logits.segment(), targets.segment(),
                targets.dtype() == DType.INT32 ? JnceNative.JNCE_DTYPE_INT32() : JnceNative.JNCE_DTYPE_INT64(), n, c,
                NativeCodes.segmentOrNull(alpha), gamma, NativeCodes.reduction(reduction), loss.segment(),
                NativeCodes.segmentOrNull(grad));
        CudaLibrary.check(status, "softmax_focal_fwd_bwd", "logits", logits, "targets", targets);
    }
}
