package dev.jnce.backend;

import dev.jnce.Tensor;
import dev.jnce.Reduction;

/**
 * One checked softmax cross-entropy call: the arguments of jnce.h's {@code jnce_cross_entropy_fwd_bwd}.
 *
 * @param logits         (N,C) float32
 * @param targets        (N) int32/int64 class indices, or null when {@code probs} is given
 * @param probs          (N,C) float32 probability targets, or null
 * @param rowMask        (N) int32, 0 leaves a row out; or null
 * @param weight         (C) float32 class weights, or null
 * @param ignoreIndex    class targets equal to it are left out
 * @param labelSmoothing in [0,1]
 * @param zLoss          lambda >= 0 of lambda * lse^2
 * @param zeroIfEmpty    MEAN over no counted row gives 0 instead of NaN
 * @param loss           (N) for NONE, else one element; written
 * @param grad           (N,C) or null; may be {@code logits}
 * @param lse            (N) per-row log-sum-exp, or null
 */
public record CrossEntropyCall(Tensor logits, Tensor targets, Tensor probs, Tensor rowMask, Tensor weight,
                               long ignoreIndex, float labelSmoothing, float zLoss, Reduction reduction,
                               boolean zeroIfEmpty, Tensor loss, Tensor grad, Tensor lse) {

    public long n() {
        return logits.size(0);
    }

    public long c() {
        return logits.size(1);
    }
}
