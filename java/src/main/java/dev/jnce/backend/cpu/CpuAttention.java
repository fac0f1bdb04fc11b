package dev.jnce.backend.cpu;

import dev.jnce.Tensor;
import dev.jnce.backend.AttentionKernels;
import dev.jnce.bindings.JnceNative;
import dev.jnce.internal.NativeCodes;
import dev.jnce.internal.NativeStatus;

/** Attention through native/src/cpu/attention.c. */
final class CpuAttention implements AttentionKernels {
    static final CpuAttention INSTANCE = new CpuAttention();

    private CpuAttention() {
    }

    @Override
    public void forward(Tensor q, Tensor k, Tensor v, Tensor keyMask, Tensor bias, long heads, float scale, boolean causal,
                        boolean maskedRowsZero, Tensor out, Tensor lse) {
        NativeStatus.check(JnceNative.jnce_attention_fwd(q.size(0), heads, q.size(1), k.size(1), q.size(2), v.size(2),
                q.segment(), k.segment(), v.segment(), NativeCodes.segmentOrNull(keyMask), NativeCodes.segmentOrNull(bias), scale,
                causal ? 1 : 0, maskedRowsZero ? 1 : 0, out.segment(), lse.segment()), "attention_fwd", "query", q, "key", k, "value", v);
    }

    @Override
    public void backward(Tensor q, Tensor k, Tensor v, Tensor keyMask, Tensor bias, long heads, float scale, boolean causal,
                         boolean maskedRowsZero, Tensor out, Tensor lse, Tensor dOut, Tensor dq, Tensor dk, Tensor dv) {
        NativeStatus.check(JnceNative.jnce_attention_bwd(q.size(0), heads, q.size(1), k.size(1), q.size(2), v.size(2),
                q.segment(), k.segment(), v.segment(), NativeCodes.segmentOrNull(keyMask), NativeCodes.segmentOrNull(bias), scale,
                causal ? 1 : 0, maskedRowsZero ? 1 : 0, out.segment(), dOut.segment(), lse.segment(), dq.segment(), dk.segment(),
                dv.segment()), "attention_bwd", "query", q, "key", k, "value", v);
    }
}
