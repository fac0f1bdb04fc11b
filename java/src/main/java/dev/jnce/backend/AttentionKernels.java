package dev.jnce.backend;

import dev.jnce.Tensor;

/**
 * Scaled dot-product attention on one backend (native/src/cpu/attention.c on {@code cpu}): the
 * arguments are checked by the caller (dev.jnce.ops.ScaledDotProductAttention). Tensors are
 * contiguous float32: q (BH,L,d), k (BH,S,d), v (BH,S,dv), out (BH,L,dv), lse (BH,L); keyMask
 * (B,S) int32 or null, B = BH / heads, key j of batch b taking part where nonzero; bias (L,S)
 * float32 or null, added to every batch-head's scaled scores, finite or -Infinity; causal: query
 * i sees keys j &le; i. A row with every key masked: NaN output (as PyTorch) or 0 with
 * maskedRowsZero, lse -Infinity.
 */
public interface AttentionKernels {
    /** out = softmax(q kᵀ scale + mask) v and lse, the log-sum-exp of each row's scores. */
    void forward(Tensor q, Tensor k, Tensor v, Tensor keyMask, Tensor bias, long heads, float scale, boolean causal,
                 boolean maskedRowsZero, Tensor out, Tensor lse);

    /** dq, dk, dv from the forward's out and lse and dOut (BH,L,dv). */
    void backward(Tensor q, Tensor k, Tensor v, Tensor keyMask, Tensor bias, long heads, float scale, boolean causal,
                  boolean maskedRowsZero, Tensor out, Tensor lse, Tensor dOut, Tensor dq, Tensor dk, Tensor dv);
}
