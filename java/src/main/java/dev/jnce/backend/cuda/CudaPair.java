package dev.jnce.backend.cuda;

import dev.jnce.DType;
import dev.jnce.Device;
import dev.jnce.Tensor;
import dev.jnce.backend.PairKernels;
import dev.jnce.bindings.JnceNative;
import dev.jnce.internal.HostScan;
import dev.jnce.internal.NativeCodes;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The pair family on the GPU: the triplet margin loss (native/src/cuda/triplet.cu), hard-negative
 * mining and the gather of mined rows (native/src/cuda/mining.cu). The top-k of the ranking
 * metrics is staged through the host (the scores copied there, the picks back).
 */
final class CudaPair implements PairKernels {
    private final CudaContext context;

    CudaPair(CudaContext context) {
        this.context = context;
    }

    @Override
    public void tripletMargin(Tensor anchor, Tensor positive, Tensor negative, Triplet o, Tensor loss,
                              Tensor gradAnchor, Tensor gradPositive, Tensor gradNegative) {
        int status = JnceNative.jnce_cuda_triplet_margin_fwd_bwd(context.handle(), anchor.segment(), positive.segment(),
                negative.segment(), anchor.size(0), anchor.size(1),
                o.cosine() ? JnceNative.JNCE_DISTANCE_COSINE() : JnceNative.JNCE_DISTANCE_PAIRWISE(),
                o.margin(), o.p(), o.eps(), o.swap() ? 1 : 0, NativeCodes.reduction(o.reduction()), loss.segment(),
                NativeCodes.segmentOrNull(gradAnchor), NativeCodes.segmentOrNull(gradPositive),
                NativeCodes.segmentOrNull(gradNegative));
        CudaLibrary.check(status, "triplet_margin_fwd_bwd", "anchor", anchor, "positive", positive, "negative", negative);
    }

    @Override
    public MiningOutcome hardNegatives(Tensor sim, Tensor queryLabels, Tensor keyLabels, Tensor mask, Tensor indices) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment shortRow = arena.allocate(ValueLayout.JAVA_LONG, 2); // row, its negatives
            int status = JnceNative.jnce_cuda_hard_negatives(context.handle(), sim.segment(), sim.size(0), sim.size(1),
                    indices.size(1), NativeCodes.segmentOrNull(queryLabels), dtype(queryLabels),
                    NativeCodes.segmentOrNull(keyLabels), dtype(keyLabels), NativeCodes.segmentOrNull(mask), dtype(mask),
                    indices.segment(), shortRow);
            CudaLibrary.check(status, "hard_negatives", "sim", sim);
            long row = shortRow.getAtIndex(ValueLayout.JAVA_LONG, 0);
            return row < 0 ? MiningOutcome.COMPLETE : new MiningOutcome(row, shortRow.getAtIndex(ValueLayout.JAVA_LONG, 1));
        }
    }

    @Override
    public long topK(Tensor scores, Tensor excludeOffsets, Tensor excludeItems, Tensor indices, Tensor values) {
        // staged through the host: the scores there, the picks back (two transfers and waits)
        try (Tensor hs = scores.to(Device.HOST); Tensor ho = excludeOffsets == null ? null : excludeOffsets.to(Device.HOST);
             Tensor hi = excludeItems == null ? null : excludeItems.to(Device.HOST);
             Tensor hIdx = Tensor.zeros(Device.HOST, indices.dtype(), indices.shape());
             Tensor hVal = values == null ? null : Tensor.zeros(Device.HOST, values.dtype(), values.shape())) {
            long nanRow = ((dev.jnce.backend.Kernels) dev.jnce.Backends.host()).pair().topK(hs, ho, hi, hIdx, hVal);
            context.fromHost(hIdx.segment(), indices.segment(), hIdx.numel() * hIdx.dtype().byteSize());
            if (values != null) context.fromHost(hVal.segment(), values.segment(), hVal.numel() * hVal.dtype().byteSize());
            return nanRow;
        }
    }

    @Override
    public void gatherRows(Tensor keys, Tensor indices, Tensor out) {
        checkIndices("gather_rows_fwd", indices, keys.size(0));
        CudaLibrary.check(JnceNative.jnce_cuda_gather_rows_fwd(context.handle(), keys.segment(), keys.size(0), keys.size(1),
                indices.segment(), dtype(indices), indices.numel(), out.segment()), "gather_rows_fwd", "keys", keys,
                "indices", indices);
    }

    @Override
    public void gatherRowsBackward(Tensor grad, Tensor indices, Tensor gradKeys) {
        checkIndices("gather_rows_bwd", indices, gradKeys.size(0));
        CudaLibrary.check(JnceNative.jnce_cuda_gather_rows_bwd(context.handle(), grad.segment(), indices.segment(),
                dtype(indices), indices.numel(), gradKeys.size(0), gradKeys.size(1), gradKeys.segment()), "gather_rows_bwd",
                "grad", grad, "indices", indices, "gradKeys", gradKeys);
    }

    /** The indices on a host copy (one transfer and a wait), named as the CPU kernel names them. */
    private static void checkIndices(String op, Tensor indices, long m) {
        if (indices.numel() == 0) return;
        try (Tensor host = indices.to(Device.HOST)) {
            long bad = HostScan.INSTANCE.firstOutside(host, m, Long.MIN_VALUE);
            if (bad >= 0) {
                throw new IllegalArgumentException(op + ": indices[" + bad + "] = " + (long) HostScan.INSTANCE.valueAt(host, bad)
                        + " is outside [0, " + m + ")");
            }
        }
    }

    private static int dtype(Tensor t) {
        return t != null && t.dtype() == DType.INT32 ? JnceNative.JNCE_DTYPE_INT32() : JnceNative.JNCE_DTYPE_INT64();
    }
}
