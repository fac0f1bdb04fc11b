package dev.jnce.backend.cuda;

import dev.jnce.DType;
import dev.jnce.Device;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.backend.DivergenceKernels;
import dev.jnce.bindings.JnceNative;
import dev.jnce.internal.DistributionScan;
import dev.jnce.internal.NativeCodes;

/**
 * KL divergence, the entropy and cross-entropy of distributions, and perplexity on the GPU
 * (native/src/cuda/divergence.cu). The distribution check of the rows copies them to the host and
 * scans them there (one transfer and a wait).
 */
final class CudaDivergence implements DivergenceKernels {
    private final CudaContext context;

    CudaDivergence(CudaContext context) {
        this.context = context;
    }

    @Override
    public void klDiv(Tensor input, Tensor target, long n, long c, boolean logTarget, Reduction reduction, Tensor loss,
                      Tensor gradInput, Tensor gradTarget) {
        int status = JnceNative.jnce_cuda_kl_div_fwd_bwd(context.handle(), input.segment(), target.segment(), n, c,
                logTarget ? 1 : 0, NativeCodes.reduction(reduction), loss.segment(), NativeCodes.segmentOrNull(gradInput),
                NativeCodes.segmentOrNull(gradTarget));
        CudaLibrary.check(status, "kl_div_fwd_bwd", "input", input, "target", target);
    }

    @Override
    public void entropy(Tensor p, Reduction reduction, Tensor loss, Tensor grad) {
        int status = JnceNative.jnce_cuda_entropy_fwd_bwd(context.handle(), p.segment(), p.size(0), p.size(1),
                NativeCodes.reduction(reduction), loss.segment(), NativeCodes.segmentOrNull(grad));
        CudaLibrary.check(status, "entropy_fwd_bwd", "p", p);
    }

    @Override
    public void distributionCrossEntropy(Tensor p, Tensor q, Reduction reduction, Tensor loss, Tensor gradP, Tensor gradQ) {
        int status = JnceNative.jnce_cuda_dist_xent_fwd_bwd(context.handle(), p.segment(), q.segment(), p.size(0), p.size(1),
                NativeCodes.reduction(reduction), loss.segment(), NativeCodes.segmentOrNull(gradP),
                NativeCodes.segmentOrNull(gradQ));
        CudaLibrary.check(status, "dist_xent_fwd_bwd", "p", p, "q", q);
    }

    @Override
    public RowFault firstNonDistribution(Tensor rows, double tolerance) {
        try (Tensor host = rows.to(Device.HOST)) {
            return DistributionScan.firstNonDistribution(host, tolerance);
        }
    }

    @Override
    public void perplexity(Tensor tokenLosses, Tensor keys, long ignoreKey, float allIgnored, Tensor perplexity, Tensor grad) {
        int dtype = keys.dtype() == DType.INT64 ? JnceNative.JNCE_DTYPE_INT64() : JnceNative.JNCE_DTYPE_INT32();
        int status = JnceNative.jnce_cuda_perplexity_fwd_bwd(context.handle(), tokenLosses.segment(), keys.segment(), dtype,
                ignoreKey, tokenLosses.numel(), allIgnored, perplexity.segment(), NativeCodes.segmentOrNull(grad));
        CudaLibrary.check(status, "perplexity_fwd_bwd", "tokenLosses", tokenLosses, "keys", keys);
    }
}
