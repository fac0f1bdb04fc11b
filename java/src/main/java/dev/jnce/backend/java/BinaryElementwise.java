package dev.jnce.backend.java;

import dev.jnce.internal.Parallel;
import dev.jnce.Reduction;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/**
 * The element-wise driver of the binary losses, as jnce_binary_run in
 * native/src/cpu/binary_cross_entropy.c: {@code loss_k = w_k * terms.loss}, gradients
 * {@code scale * w_k * terms.d}, reduced sums taken per block of {@link #BLOCK} elements in double
 * and then over blocks in order (so the result does not depend on the thread count).
 */
final class BinaryElementwise {
    static final int BLOCK = 2048; // as the native JNCE_BINARY_BLOCK: a small call, (32, 128), is two blocks
    /** Ops of {@link RowOps#binaryBlock}. */
    static final int BCE = 0, BCE_LOGITS = 1, SIGMOID_FOCAL = 2;

    /** One element's loss and its derivatives w.r.t. input and target, before weight and scale. */
    @FunctionalInterface
    interface Terms {
        /** Writes {loss, d/d input, d/d target} of element k into out. */
        void at(long k, double x, double y, double[] out);
    }

    private BinaryElementwise() {
    }

    /** weight, gradInput and gradTarget may be null. */
    static void run(MemorySegment input, MemorySegment target, long numel, MemorySegment weight, long weightLen,
                    Terms terms, Reduction reduction, MemorySegment loss, MemorySegment gradInput,
                    MemorySegment gradTarget) {
        run(input, target, numel, weight, weightLen, terms, null, -1, null, reduction, loss, gradInput, gradTarget);
    }

    /**
     * As above; without weight, rows.binaryBlock(op, params, ...) runs first on each block (SIMD
     * lanes where the Vector API is present) and terms finishes what it leaves.
     */
    static void run(MemorySegment input, MemorySegment target, long numel, MemorySegment weight, long weightLen,
                    Terms terms, RowOps rows, int op, float[] params, Reduction reduction, MemorySegment loss,
                    MemorySegment gradInput, MemorySegment gradTarget) {
        double scale = reduction == Reduction.MEAN ? 1.0 / numel : 1.0;
        long blocks = (numel + BLOCK - 1) / BLOCK;
        double[] blockSum = new double[Math.toIntExact(blocks)];
        boolean vector = rows != null && weight == null;
        MemorySegment lossPerElement = reduction == Reduction.NONE ? loss : null;
        // 8 blocks a slice where waking a worker costs more; one (about 2 us of work) when small
        // calls come back to back and the workers still spin, as the native pool
        Parallel.forRangeSmall(blocks, 8, 1, (begin, end) -> {
            double[] t = new double[3], partial = new double[1];
            for (long b = begin; b < end; b++) {
                long from = b * BLOCK, to = Math.min(numel, from + BLOCK);
                partial[0] = 0;
                if (vector) from = rows.binaryBlock(op, params, input, target, from, to, (float) scale, lossPerElement,
                        gradInput, gradTarget, partial);
                double sum = partial[0];
                for (long k = from; k < to; k++) {
                    terms.at(k, input.getAtIndex(JAVA_FLOAT, k), target.getAtIndex(JAVA_FLOAT, k), t);
                    double w = weight == null ? 1.0 : weight.getAtIndex(JAVA_FLOAT, k % weightLen);
                    double l = w * t[0];
                    if (reduction == Reduction.NONE) loss.setAtIndex(JAVA_FLOAT, k, (float) l);
                    else sum += l;
                    if (gradInput != null) gradInput.setAtIndex(JAVA_FLOAT, k, (float) (scale * w * t[1]));
                    if (gradTarget != null) gradTarget.setAtIndex(JAVA_FLOAT, k, (float) (scale * w * t[2]));
                }
                blockSum[(int) b] = sum;
            }
        });
        if (reduction != Reduction.NONE) storeReduced(blockSum, numel, reduction, loss);
    }

    /** Writes the sum of parts (in order, in double), divided by count for MEAN, into loss[0]. */
    static void storeReduced(double[] parts, long count, Reduction reduction, MemorySegment loss) {
        double total = 0;
        for (double s : parts) total += s;
        loss.set(JAVA_FLOAT, 0, (float) (reduction == Reduction.MEAN ? total / count : total));
    }

    /** sigmoid(x) without overflow for any x. */
    static double sigmoid(double x) {
        if (x >= 0) return 1.0 / (1.0 + Math.exp(-x));
        double e = Math.exp(x);
        return e / (1.0 + e);
    }

    /**
     * BCE with logits as PyTorch 1.13 evaluates it (jnce_bce_logits_terms):
     * {@code (1-y)x + lw softplus(-x)}, {@code lw = 1 + (pw-1)y}; d/dx = lw sigmoid(x) - pw y,
     * d/dy = -x + (pw-1) softplus(-x).
     */
    static void bceLogitsTerms(double x, double y, double pw, double[] out) {
        // One exp and one log1p, as in C: e = exp(-|x|) gives log(1 + exp(-x)) and the sigmoid.
        double e = Math.exp(-Math.abs(x));
        double softplusNeg = (x < 0 ? -x : 0.0) + Math.log1p(e);
        double sigmoid = x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
        double lw = 1.0 + (pw - 1.0) * y;
        out[0] = (1.0 - y) * x + lw * softplusNeg;
        out[1] = lw * sigmoid - pw * y;
        out[2] = pw == 1.0 ? -x : -x + (pw - 1.0) * softplusNeg;
    }

    /** The segment of an optional tensor's memory, or null. */
    static MemorySegment segment(dev.jnce.Tensor t) {
        return t == null ? null : t.segment();
    }
}
