package dev.jnce.backend.cpu;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.PairKernels;
import dev.jnce.bindings.JnceNative;
import dev.jnce.internal.NativeCodes;
import dev.jnce.internal.NativeStatus;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** The pair family on jnce's C kernels: triplet.c, mining.c, topk.c and gather_rows.c. */
final class CpuPair implements PairKernels {
    static final CpuPair INSTANCE = new CpuPair();

    private CpuPair() {
    }

    @Override
    public void tripletMargin(Tensor anchor, Tensor positive, Tensor negative, Triplet o, Tensor loss,
                              Tensor gradAnchor, Tensor gradPositive, Tensor gradNegative) {
        int status = JnceNative.jnce_triplet_margin_fwd_bwd(anchor.segment(), positive.segment(), negative.segment(),
                anchor.size(0), anchor.size(1),
                o.cosine() ? JnceNative.JNCE_DISTANCE_COSINE() : JnceNative.JNCE_DISTANCE_PAIRWISE(),
                o.margin(), o.p(), o.eps(), o.swap() ? 1 : 0, NativeCodes.reduction(o.reduction()), loss.segment(),
                NativeCodes.segmentOrNull(gradAnchor), NativeCodes.segmentOrNull(gradPositive), NativeCodes.segmentOrNull(gradNegative));
        NativeStatus.check(status, "triplet_margin_fwd_bwd", "anchor", anchor, "positive", positive, "negative", negative);
    }

    @Override
    public MiningOutcome hardNegatives(Tensor sim, Tensor queryLabels, Tensor keyLabels, Tensor mask, Tensor indices) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment shortRow = arena.allocate(ValueLayout.JAVA_LONG, 2); // row, its negatives
            int status = JnceNative.jnce_hard_negatives(sim.segment(), sim.size(0), sim.size(1), indices.size(1),
                    NativeCodes.segmentOrNull(queryLabels), dtype(queryLabels), NativeCodes.segmentOrNull(keyLabels),
                    dtype(keyLabels), NativeCodes.segmentOrNull(mask), dtype(mask), indices.segment(), shortRow);
            NativeStatus.check(status, "hard_negatives", "sim", sim);
            long row = shortRow.getAtIndex(ValueLayout.JAVA_LONG, 0);
            return row < 0 ? MiningOutcome.COMPLETE : new MiningOutcome(row, shortRow.getAtIndex(ValueLayout.JAVA_LONG, 1));
        }
    }

    @Override
    public long topK(Tensor scores, Tensor excludeOffsets, Tensor excludeItems, Tensor indices, Tensor values) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment nanRow = arena.allocate(ValueLayout.JAVA_LONG);
            int status = JnceNative.jnce_topk(scores.segment(), scores.size(0), scores.size(1), indices.size(1),
                    NativeCodes.segmentOrNull(excludeOffsets), NativeCodes.segmentOrNull(excludeItems), indices.segment(),
                    NativeCodes.segmentOrNull(values), nanRow);
            NativeStatus.check(status, "topk", "scores", scores);
            return nanRow.get(ValueLayout.JAVA_LONG, 0);
        }
    }

    @Override
    public void gatherRows(Tensor keys, Tensor indices, Tensor out) {
        NativeStatus.check(JnceNative.jnce_gather_rows_fwd(keys.segment(), keys.size(0), keys.size(1), indices.segment(),
                dtype(indices), indices.numel(), out.segment()), "gather_rows_fwd", "keys", keys, "indices", indices);
    }

    @Override
    public void gatherRowsBackward(Tensor grad, Tensor indices, Tensor gradKeys) {
        NativeStatus.check(JnceNative.jnce_gather_rows_bwd(grad.segment(), indices.segment(), dtype(indices),
                indices.numel(), gradKeys.size(0), gradKeys.size(1), gradKeys.segment()), "gather_rows_bwd", "grad", grad,
                "indices", indices, "gradKeys", gradKeys);
    }

    private static int dtype(Tensor t) {
        return t != null && t.dtype() == DType.INT32 ? JnceNative.JNCE_DTYPE_INT32() : JnceNative.JNCE_DTYPE_INT64();
    }
}
