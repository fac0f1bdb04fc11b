package dev.jnce.backend.java;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.NllKernels;
import dev.jnce.Reduction;

import dev.jnce.internal.Parallel;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Negative log-likelihood in scalar Java, the same algorithm as native/src/cpu/nll.c: one pass
 * over the weights and the targets for the value checks and the weight sum (the MEAN divisor), then the rows
 * on several threads, each row's loss and its gradient row (input[i,t] is read before grad row i is written,
 * so grad may be input), the losses summed in row order after.
 */
final class JavaNll implements NllKernels {
    static final JavaNll INSTANCE = new JavaNll();
    private static final double LOG_CLAMP = -100; // smallest log-probability used, as PyTorch's BCE

    private JavaNll() {
    }

    @Override
    public void nll(Tensor input, Tensor targets, Tensor weight, long ignoreIndex, Reduction reduction,
                    boolean fromProbabilities, boolean zeroWhenNoWeight, Tensor loss, Tensor grad) {
        long n = input.size(0), c = input.size(1);
        MemorySegment x = input.segment(), t = targets.segment(), l = loss.segment();
        MemorySegment w = weight == null ? null : weight.segment(), g = grad == null ? null : grad.segment();
        boolean wide = targets.dtype() == DType.INT64;

        for (long j = 0; w != null && j < c; j++) { // as nll.c: every class weight finite, used or not
            float wj = w.getAtIndex(ValueLayout.JAVA_FLOAT, j);
            if (!Float.isFinite(wj)) throw new IllegalArgumentException("weight[" + j + "] = " + wj + " is not finite");
        }
        double totalWeight = 0;
        long weightedRows = 0;
        for (long i = 0; i < n; i++) { // the call's value checks, as nll.c's pass 1: nothing is written before
            long ti = target(t, wide, i);
            if (ti == ignoreIndex) continue;
            if (ti < 0 || ti >= c) {
                throw new IllegalArgumentException("targets[" + i + "] = " + ti + " is outside [0, " + c
                        + ") for input of shape (" + n + ", " + c + ") and is not the ignore index " + ignoreIndex);
            }
            float p = fromProbabilities ? x.getAtIndex(ValueLayout.JAVA_FLOAT, i * c + ti) : 0f;
            if (p < 0 || p > 1) { // NaN passes: it gives NaN
                throw new IllegalArgumentException("input[" + i + ", " + ti + "] = " + p + " is not a probability in [0, 1]"
                        + ": NLL from probabilities takes probabilities, not log-probabilities or logits");
            }
            double wi = w == null ? 1 : w.getAtIndex(ValueLayout.JAVA_FLOAT, ti);
            totalWeight += wi;
            if (wi != 0) weightedRows++;
        }
        boolean mean = reduction == Reduction.MEAN;
        boolean zeroMean = mean && weightedRows == 0 && zeroWhenNoWeight;
        double scale = mean ? 1 / totalWeight : 1;

        // the rows in parallel, as nll.c's pass 2: each row's loss, and its gradient row zeroed with the
        // target entry set (input[i,t] is read before row i is written); the losses then summed in row order
        boolean none = reduction == Reduction.NONE;
        try (Arena rowArena = none || n <= Integer.MAX_VALUE - 8 ? null : Arena.ofShared()) {
            MemorySegment rows = none ? l : rowArena == null ? MemorySegment.ofArray(new float[(int) n])
                    : rowArena.allocate(4 * n, 4);
            Parallel.forRange(n, Math.max(1, (1L << 16) / c), (begin, end) -> {
                for (long i = begin; i < end; i++) {
                    long ti = target(t, wide, i);
                    boolean ignored = ti == ignoreIndex;
                    double wi = ignored ? 0 : w == null ? 1 : w.getAtIndex(ValueLayout.JAVA_FLOAT, ti);
                    double xi = ignored ? 0 : x.getAtIndex(ValueLayout.JAVA_FLOAT, i * c + ti);
                    double v = 0, dv = 0; // the target's log-likelihood term and its derivative by input[i, t]
                    if (!ignored && fromProbabilities) {
                        v = Math.log(xi);
                        if (v < LOG_CLAMP) v = LOG_CLAMP; // NaN stays NaN
                        else dv = 1 / xi;
                    } else if (!ignored) {
                        v = xi;
                        dv = 1;
                    }
                    rows.setAtIndex(ValueLayout.JAVA_FLOAT, i, ignored ? 0f : (float) (-wi * v));
                    if (g != null) {
                        g.asSlice(i * c * 4, c * 4).fill((byte) 0);
                        if (!ignored && !zeroMean) g.setAtIndex(ValueLayout.JAVA_FLOAT, i * c + ti, (float) (-wi * scale * dv));
                    }
                }
            });
            if (!none) {
                double total = 0;
                for (long i = 0; i < n; i++) total += rows.getAtIndex(ValueLayout.JAVA_FLOAT, i);
                l.set(ValueLayout.JAVA_FLOAT, 0, (float) (zeroMean ? 0 : mean ? total / totalWeight : total));
            }
        }
    }

    private static long target(MemorySegment t, boolean wide, long i) {
        return wide ? t.getAtIndex(ValueLayout.JAVA_LONG, i) : t.getAtIndex(ValueLayout.JAVA_INT, i);
    }
}
