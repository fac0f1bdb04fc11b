package dev.jnce.backend.java;

import dev.jnce.Tensor;
import dev.jnce.backend.BinaryCrossEntropyKernels;
import dev.jnce.Reduction;

import java.lang.foreign.MemorySegment;

import static dev.jnce.backend.java.BinaryElementwise.segment;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/**
 * Binary cross-entropy in Java, the same formulas as native/src/cpu/binary_cross_entropy.c: in
 * double, or, without weight and pos_weight, on SIMD lanes through {@link RowOps#binaryBlock} where
 * the Vector API is present.
 */
final class JavaBinaryCrossEntropy implements BinaryCrossEntropyKernels {
    private final RowOps rows;

    JavaBinaryCrossEntropy(RowOps rows) {
        this.rows = rows;
    }

    @Override
    public void binaryCrossEntropy(Tensor input, Tensor target, Tensor weight, Reduction reduction, Tensor loss,
                                   Tensor gradInput, Tensor gradTarget) {
        BinaryElementwise.run(input.segment(), target.segment(), input.numel(), segment(weight),
                weight == null ? 0 : weight.numel(), JavaBinaryCrossEntropy::bceTerms, rows, BinaryElementwise.BCE, null,
                reduction, loss.segment(), segment(gradInput), segment(gradTarget));
    }

    @Override
    public void binaryCrossEntropyWithLogits(Tensor input, Tensor target, Tensor weight, Tensor posWeight,
                                             Reduction reduction, Tensor loss, Tensor gradInput, Tensor gradTarget) {
        MemorySegment pw = segment(posWeight);
        long pwLen = posWeight == null ? 0 : posWeight.numel();
        BinaryElementwise.run(input.segment(), target.segment(), input.numel(), segment(weight),
                weight == null ? 0 : weight.numel(),
                (k, x, y, out) -> BinaryElementwise.bceLogitsTerms(x, y,
                        pw == null ? 1.0 : pw.getAtIndex(JAVA_FLOAT, k % pwLen), out),
                pw == null ? rows : null, BinaryElementwise.BCE_LOGITS, null, reduction, loss.segment(), segment(gradInput),
                segment(gradTarget));
    }

    /**
     * PyTorch 1.13: loss {@code -(y max(log p, -100) + (1-y) max(log(1-p), -100))}, d/dp
     * {@code (p-y) / max((1-p)p, 1e-12)}, d/dy {@code log(1-p) - log p} (unclamped).
     */
    private static void bceTerms(long k, double p, double y, double[] out) {
        double logP = Math.log(p), log1mP = Math.log(1.0 - p); // 1 - p is exact in double for a float p
        out[0] = -(y * Math.max(logP, -100.0) + (1.0 - y) * Math.max(log1mP, -100.0));
        out[1] = (p - y) / Math.max((1.0 - p) * p, 1e-12);
        out[2] = log1mP - logP;
    }
}
