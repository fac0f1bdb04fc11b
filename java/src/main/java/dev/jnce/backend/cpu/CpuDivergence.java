package dev.jnce.backend.cpu;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.DivergenceKernels;
import dev.jnce.internal.DistributionScan;
import dev.jnce.bindings.JnceNative;
import dev.jnce.internal.NativeCodes;
import dev.jnce.internal.NativeStatus;
import dev.jnce.Reduction;

/** {@link DivergenceKernels} on native/src/cpu/divergence.c. */
final class CpuDivergence implements DivergenceKernels {
    static final CpuDivergence INSTANCE = new CpuDivergence();

    private CpuDivergence() {
    }

    @Override
    public void klDiv(Tensor input, Tensor target, long n, long c, boolean logTarget, Reduction reduction,
                      Tensor loss, Tensor gradInput, Tensor gradTarget) {
        int r = NativeCodes.reduction(reduction);
        NativeStatus.check(JnceNative.jnce_kl_div_fwd_bwd(input.segment(), target.segment(), n, c, logTarget ? 1 : 0, r,
                loss.segment(), NativeCodes.segmentOrNull(gradInput), NativeCodes.segmentOrNull(gradTarget)), "kl_div_fwd_bwd", "input", input, "target", target);
    }

    @Override
    public void entropy(Tensor p, Reduction reduction, Tensor loss, Tensor grad) {
        NativeStatus.check(JnceNative.jnce_entropy_fwd_bwd(p.segment(), p.size(0), p.size(1), NativeCodes.reduction(reduction),
                loss.segment(), NativeCodes.segmentOrNull(grad)), "entropy_fwd_bwd", "p", p);
    }

    @Override
    public void distributionCrossEntropy(Tensor p, Tensor q, Reduction reduction, Tensor loss, Tensor gradP, Tensor gradQ) {
        NativeStatus.check(JnceNative.jnce_dist_xent_fwd_bwd(p.segment(), q.segment(), p.size(0), p.size(1),
                NativeCodes.reduction(reduction), loss.segment(), NativeCodes.segmentOrNull(gradP), NativeCodes.segmentOrNull(gradQ)), "dist_xent_fwd_bwd", "p", p, "q", q);
    }

    @Override
    public RowFault firstNonDistribution(Tensor rows, double tolerance) {
        return DistributionScan.firstNonDistribution(rows, tolerance);
    }

    @Override
    public void perplexity(Tensor tokenLosses, Tensor keys, long ignoreKey, float allIgnored, Tensor perplexity, Tensor grad) {
        int dtype = keys.dtype() == DType.INT64 ? JnceNative.JNCE_DTYPE_INT64() : JnceNative.JNCE_DTYPE_INT32();
        NativeStatus.check(JnceNative.jnce_perplexity_fwd_bwd(tokenLosses.segment(), keys.segment(), dtype, ignoreKey,
                tokenLosses.numel(), allIgnored, perplexity.segment(), NativeCodes.segmentOrNull(grad)),
                "perplexity_fwd_bwd", "tokenLosses", tokenLosses, "keys", keys);
    }
}
