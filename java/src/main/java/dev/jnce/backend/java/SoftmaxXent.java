package dev.jnce.backend.java;

import dev.jnce.internal.Parallel;
import dev.jnce.loss.Reduction;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Fused softmax cross-entropy in Java, the same algorithm as native/src/cpu/softmax_xent.c:
 * per row one pass for max and sum together (online softmax, sum in double), one pass writing
 * {@code grad = scale * (exp(x - max) / sum - onehot)}. Rows holding NaN or +Inf are NaN.
 * This class is also the scalar path; {@link SoftmaxXentVector} supplies SIMD rows.
 */
final class SoftmaxXent {
    /** Loss of row i (and its gradient row, if grad is non-null). */
    interface RowKernel {
        /** @return the row's loss; NaN for a bad row, whose gradient row is then NaN */
        double row(MemorySegment x, long offset, int c, int target, MemorySegment grad, float scale);
    }

    static final RowKernel SCALAR = SoftmaxXent::scalarRow;

    private SoftmaxXent() {
    }

    static void run(RowKernel kernel, MemorySegment logits, MemorySegment targets, boolean wideTargets,
                    long n, long c, Reduction reduction, MemorySegment loss, MemorySegment grad) {
        float scale = reduction == Reduction.MEAN ? 1.0f / n : 1.0f;
        double[] rowLoss = new double[Math.toIntExact(n)];
        int cols = Math.toIntExact(c);
        long minRows = Math.max(1, 65536 / c);
        Parallel.forRange(n, minRows, (begin, end) -> {
            for (long i = begin; i < end; i++) {
                int t = (int) (wideTargets ? targets.getAtIndex(ValueLayout.JAVA_LONG, i)
                        : targets.getAtIndex(ValueLayout.JAVA_INT, i));
                rowLoss[(int) i] = kernel.row(logits, i * c * 4, cols, t, grad, scale);
            }
        });
        if (reduction == Reduction.NONE) {
            for (int i = 0; i < rowLoss.length; i++) loss.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rowLoss[i]);
        } else {
            double total = 0;
            for (double l : rowLoss) total += l;
            loss.set(ValueLayout.JAVA_FLOAT, 0, (float) (reduction == Reduction.MEAN ? total / n : total));
        }
    }

    /** Max and sum of one row's tail [from, c), continuing m and sum; returns {max, sum, bad}. */
    static double scalarRow(MemorySegment x, long offset, int c, int target, MemorySegment grad, float scale) {
        float m = -Float.MAX_VALUE;
        double sum = 0;
        boolean bad = false;
        for (int j = 0; j < c; j++) {
            float v = x.getAtIndex(ValueLayout.JAVA_FLOAT, offset / 4 + j);
            bad |= !(v <= Float.MAX_VALUE);
            if (v > m) {
                sum *= Math.exp((double) m - v);
                m = v;
            }
            sum += Math.exp((double) v - m);
        }
        float xt = x.getAtIndex(ValueLayout.JAVA_FLOAT, offset / 4 + target);
        if (bad || sum == 0) return badRow(grad, offset, c);
        if (grad != null) {
            float inv = (float) (scale / sum);
            for (int j = 0; j < c; j++) {
                float v = x.getAtIndex(ValueLayout.JAVA_FLOAT, offset / 4 + j);
                grad.setAtIndex(ValueLayout.JAVA_FLOAT, offset / 4 + j, (float) Math.exp(v - m) * inv);
            }
            subtractTarget(grad, offset, target, scale);
        }
        return (double) m - xt + Math.log(sum);
    }

    /** Writes NaN into the row's gradient; returns NaN as the row's loss. */
    static double badRow(MemorySegment grad, long offset, int c) {
        if (grad != null) grad.asSlice(offset, (long) c * 4).fill((byte) 0xff); // all-ones bits: a NaN
        return Double.NaN;
    }

    static void subtractTarget(MemorySegment grad, long offset, int target, float scale) {
        long at = offset / 4 + target;
        grad.setAtIndex(ValueLayout.JAVA_FLOAT, at, grad.getAtIndex(ValueLayout.JAVA_FLOAT, at) - scale);
    }
}
