package dev.jnce.backend.java;

import dev.jnce.Tensor;
import dev.jnce.backend.SoftmaxKernels;
import dev.jnce.backend.SoftmaxKernels.Function;
import dev.jnce.internal.Parallel;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Softmax, log_softmax and logsumexp in scalar Java, the same algorithm and non-finite rules as
 * native/src/cpu/softmax.c: per row the maximum m (over non-NaN values) and s = sum exp(x - m)
 * in double, then the output or the gradient. Rows are spread over threads like the C kernels.
 */
final class JavaSoftmax implements SoftmaxKernels {
    static final JavaSoftmax INSTANCE = new JavaSoftmax();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    private JavaSoftmax() {
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
            Stats st = Stats.of(in, at, c);
            switch (function) {
                case LOGSUMEXP -> o.setAtIndex(F, i, logsumexp(st));
                case SOFTMAX -> {
                    double inv = 1 / st.sum;
                    for (long j = 0; j < c; j++) {
                        double e = Math.exp((double) in.getAtIndex(F, at + j) - st.max) * inv;
                        o.setAtIndex(F, at + j, st.undefined() ? Float.NaN : (float) e);
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
                    for (long j = 0; j < c; j++) s += dy.getAtIndex(F, at + j);
                    for (long j = 0; j < c; j++) {
                        dx.setAtIndex(F, at + j, (float) (dy.getAtIndex(F, at + j) - Math.exp(a.getAtIndex(F, at + j)) * s));
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
