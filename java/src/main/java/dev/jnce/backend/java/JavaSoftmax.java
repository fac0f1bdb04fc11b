package dev.jnce.backend.java;

import dev.jnce.Tensor;
import dev.jnce.backend.SoftmaxKernels;
import dev.jnce.backend.SoftmaxKernels.Function;
import dev.jnce.internal.Parallel;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Softmax, log_softmax and logsumexp in Java, the same algorithm and non-finite rules as
 * native/src/cpu/softmax.c: per row the maximum m (over non-NaN values) and s = sum exp(x - m)
 * summed in double, then the output or the gradient. A finite row's statistics, softmax's output
 * exponentials and log_softmax's backward exponentials go through {@link RowOps} (SIMD lanes with
 * the Vector API, as the C kernels use lanes); a row holding NaN or +Inf takes the scalar path,
 * which applies the rules. Rows are spread over threads like the C kernels.
 */
final class JavaSoftmax implements SoftmaxKernels {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private final RowOps ops;

    JavaSoftmax(RowOps ops) {
        this.ops = ops;
    }

    /** The row's statistics: from the row primitives when it is finite, else the scalar pass with the rules. */
    private Stats stats(MemorySegment x, long at, long c) {
        if (c <= Integer.MAX_VALUE) {
            RowOps.Stats r = ops.stats(x, 4 * at, (int) c);
            if (!r.bad()) return new Stats(r.max(), r.sum(), false, false);
        }
        return Stats.of(x, at, c);
    }

    /** m and s of one row; bad when it holds NaN or +Inf, nan when it holds NaN. */
    private record Stats(float max, double sum, boolean bad, boolean nan) {
        static Stats of(MemorySegment x, long at, long c) {
            float m = -Float.MAX_VALUE;
            boolean nan = false, inf = false;
            for (long j = 0; j < c; j++) {
                float v = x.getAtIndex(F, at + j);
                nan |= Float.isNaN(v);
                inf |= v == Float.POSITIVE_INFINITY;
                if (v > m) m = v;
            }
            double s = 0;
            for (long j = 0; j < c; j++) s += Math.exp((double) x.getAtIndex(F, at + j) - m);
            return new Stats(m, s, nan || inf, nan);
        }

        /** The row is NaN for softmax and log_softmax: NaN, +Inf, or only -Inf. */
        boolean undefined() {
            return bad || sum == 0;
        }
    }

    @Override
    public void forward(Function function, Tensor x, long n, long c, Tensor out) {
        MemorySegment in = x.segment(), o = out.segment();
        rows(n, c, i -> {
            long at = i * c;
            Stats st = stats(in, at, c);
            switch (function) {
                case LOGSUMEXP -> o.setAtIndex(F, i, logsumexp(st));
                case SOFTMAX -> {
                    if (!st.undefined() && c <= Integer.MAX_VALUE) {
                        ops.expScaledMinus(in, 4 * at, (int) c, st.max, (float) (1 / st.sum), 0f, null, o, 4 * at);
                    } else {
                        for (long j = 0; j < c; j++) o.setAtIndex(F, at + j, Float.NaN);
                    }
                }
                case LOG_SOFTMAX -> {
                    double shift = st.max + Math.log(st.sum);
                    for (long j = 0; j < c; j++) {
                        double v = in.getAtIndex(F, at + j) - shift;
                        o.setAtIndex(F, at + j, st.undefined() ? Float.NaN : (float) v);
                    }
                }
            }
        });
    }

    private static float logsumexp(Stats st) {
        if (st.bad) return st.nan ? Float.NaN : Float.POSITIVE_INFINITY;
        if (st.sum == 0) return Float.NEGATIVE_INFINITY;
        return (float) (st.max + Math.log(st.sum));
    }

    @Override
    public void backward(Function function, Tensor saved, Tensor gradOutput, long n, long c, Tensor gradInput) {
        MemorySegment a = saved.segment(), dy = gradOutput.segment(), dx = gradInput.segment();
        rows(n, c, i -> {
            long at = i * c;
            switch (function) {
                case SOFTMAX -> {
                    double s = 0;
                    for (long j = 0; j < c; j++) s += (double) dy.getAtIndex(F, at + j) * a.getAtIndex(F, at + j);
                    for (long j = 0; j < c; j++) {
                        dx.setAtIndex(F, at + j, (float) (a.getAtIndex(F, at + j) * (dy.getAtIndex(F, at + j) - s)));
                    }
                }
                case LOG_SOFTMAX -> {
                    double s = 0;
                    boolean finite = true; // a log_softmax row is <= 0 and NaN-free; anything else keeps the scalar path
                    for (long j = 0; j < c; j++) {
                        s += dy.getAtIndex(F, at + j);
                        finite &= a.getAtIndex(F, at + j) <= 0f;
                    }
                    if (finite && c <= Integer.MAX_VALUE && !Double.isNaN(s)) { // dx = exp(y) (-s) - (-1) dy
                        ops.expScaledMinus(a, 4 * at, (int) c, 0f, (float) -s, -1f, dy.asSlice(4 * at, 4 * c), dx, 4 * at);
                    } else {
                        for (long j = 0; j < c; j++) {
                            dx.setAtIndex(F, at + j, (float) (dy.getAtIndex(F, at + j) - Math.exp(a.getAtIndex(F, at + j)) * s));
                        }
                    }
                }
                case LOGSUMEXP -> logsumexpBackwardRow(a, dy.getAtIndex(F, i), dx, at, c);
            }
        });
    }

    /** dx = dout * softmax(x); for +Inf rows NaN at the +Inf entries and 0 elsewhere (PyTorch). */
    private static void logsumexpBackwardRow(MemorySegment x, float dout, MemorySegment dx, long at, long c) {
        Stats st = Stats.of(x, at, c);
        double scale = dout / st.sum;
        for (long j = 0; j < c; j++) {
            float v = x.getAtIndex(F, at + j);
            float g;
            if (st.nan || (!st.bad && st.sum == 0)) g = Float.NaN;
            else if (st.bad) g = v == Float.POSITIVE_INFINITY ? Float.NaN : dout * 0.0f;
            else g = (float) (Math.exp((double) v - st.max) * scale);
            dx.setAtIndex(F, at + j, g);
        }
    }

    private interface Row {
        void run(long i);
    }

    private static void rows(long n, long c, Row row) {
        Parallel.forRange(n, Math.max(1, 65536 / c), (begin, end) -> {
            for (long i = begin; i < end; i++) row.run(i);
        });
    }
}
