package dev.jnce.loss;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.SimilarityKernels;
import dev.jnce.internal.Checks;
import dev.jnce.internal.ValueScan;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * What the contrastive losses share: argument checks, the optional L2 normalisation of
 * embeddings with its backward, logit matrices on the backend's GEMM, and the reductions that
 * give the gradients of temperatures and scales. Package-private.
 */
final class Contrastive {
    /** F.normalize's eps. */
    static final float NORM_EPS = 1e-12f;
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    private Contrastive() {
    }

    /** An (rows, D) float32 embedding matrix with rows >= minRows and finite values; returns D. */
    static long embeddings(String argument, Tensor t, Kernels k, long minRows, String why) {
        Checks.usable(argument, t, k);
        Checks.dtype(argument, t, DType.FLOAT32);
        if (t.rank() != 2 || t.size(1) < 1) {
            throw new IllegalArgumentException(argument + ": expected shape (N, D) with D >= 1, got "
                    + Tensor.formatShape(t.shape()));
        }
        if (t.size(0) < minRows) {
            throw new IllegalArgumentException(argument + ": shape " + Tensor.formatShape(t.shape()) + " has " + t.size(0)
                    + " rows; " + why);
        }
        finite(argument, t);
        return t.size(1);
    }

    /** Every value is finite; names the first that is not by its index without the last dimension. */
    static void finite(String argument, Tensor t) {
        long i = ValueScan.firstBreaking(t.segment(), t.numel(), ValueScan.Rule.FINITE);
        if (i >= 0) {
            float v = t.segment().getAtIndex(F, i);
            long row = i / t.size(-1);
            String where = t.rank() == 3 ? "[" + row / t.size(1) + ", " + row % t.size(1) + "]" : ": row " + row;
            throw new IllegalArgumentException(argument + where + " holds " + v + " (shape "
                    + Tensor.formatShape(t.shape()) + "); embeddings must be finite");
        }
    }

    static void sameWidth(String argument, Tensor t, String otherName, long d) {
        if (t.size(-1) != d) {
            throw new IllegalArgumentException(argument + ": shape " + Tensor.formatShape(t.shape())
                    + " has D = " + t.size(-1) + ", but " + otherName + " has D = " + d);
        }
    }

    static float positive(String argument, float v) {
        if (!(v > 0) || Float.isInfinite(v)) {
            throw new IllegalArgumentException(argument + ": " + v + " must be finite and > 0");
        }
        return v;
    }

    static float finiteValue(String argument, float v) {
        if (!Float.isFinite(v)) throw new IllegalArgumentException(argument + ": " + v + " must be finite");
        return v;
    }

    /** The calling thread's logit buffer, kept between calls (see {@link InfoNce#releaseWorkspace()}). */
    private static final ThreadLocal<Tensor> WORKSPACE = new ThreadLocal<>();

    /**
     * An (n, m) float32 view of the calling thread's workspace, grown when too small. Allocating
     * and zero-filling a fresh N×N buffer per call cost a quarter of InfoNCE's time at N = 16384
     * (page faults, memset, unmap); the buffer is overwritten by the GEMM anyway. Do not close
     * the view; it is valid until the next call on this thread.
     */
    static Tensor workspace(long n, long m) {
        long need = Math.multiplyExact(n, m);
        Tensor w = WORKSPACE.get();
        if (w == null || w.isClosed() || w.numel() < need) {
            if (w != null) w.close();
            w = Tensor.zerosUnscoped(DType.FLOAT32, need);
            WORKSPACE.set(w);
        }
        return Tensor.wrap(w.segment().asSlice(0, need * 4), DType.FLOAT32, n, m);
    }

    /** Frees the calling thread's workspace. */
    static void releaseWorkspace() {
        Tensor w = WORKSPACE.get();
        if (w != null) w.close();
        WORKSPACE.remove();
    }

    /** A scratch buffer the caller closes (not registered with any open TensorScope). */
    static Tensor scratch(long... shape) {
        return Tensor.zerosUnscoped(DType.FLOAT32, shape);
    }

    /** The embeddings as the similarity sees them: an L2-normalised copy, or x itself. */
    static Tensor prepared(SimilarityKernels s, Tensor x, boolean normalize) {
        if (!normalize) return x;
        Tensor y = scratch(x.shape());
        s.normalize(x, NORM_EPS, y);
        return y;
    }

    /** Turns d(loss)/d(prepared x) in {@code d} into d(loss)/d(x), in place. */
    static void backThroughNormalize(SimilarityKernels s, Tensor x, Tensor d, boolean normalize) {
        if (normalize) s.normalizeBackward(x, d, NORM_EPS, d);
    }

    /** Closes a prepared copy (not the caller's tensor). */
    static void release(Tensor prepared, Tensor original) {
        if (prepared != original) prepared.close();
    }

    /** sum of a * b over all elements, in double. */
    static double dot(Tensor a, Tensor b) {
        MemorySegment x = a.segment(), y = b.segment();
        double s = 0;
        for (long i = 0, n = a.numel(); i < n; i++) s += (double) x.getAtIndex(F, i) * y.getAtIndex(F, i);
        return s;
    }

    /** Sets m[i, j] for an (R,C) matrix. */
    static void set(Tensor m, long i, long j, float v) {
        m.segment().setAtIndex(F, i * m.size(1) + j, v);
    }

    static float get(Tensor m, long i, long j) {
        return m.segment().getAtIndex(F, i * m.size(1) + j);
    }

    /** Rows [from, from + rows) of t (its first dimension) as a view of the same memory: no copy, not to be closed. */
    static Tensor rowsOf(Tensor t, long from, long rows) {
        long[] shape = t.shape().clone();
        long rowBytes = t.numel() / shape[0] * t.dtype().byteSize();
        shape[0] = rows;
        return Tensor.wrap(t.segment().asSlice(from * rowBytes, rows * rowBytes), t.dtype(), shape);
    }

    /** a += b, in place (same shapes). */
    static void add(Tensor a, Tensor b) {
        MemorySegment x = a.segment(), y = b.segment();
        for (long i = 0, n = a.numel(); i < n; i++) x.setAtIndex(F, i, x.getAtIndex(F, i) + y.getAtIndex(F, i));
    }

    /** t *= factor, in place. */
    static void scale(Tensor t, float factor) {
        MemorySegment x = t.segment();
        for (long i = 0, n = t.numel(); i < n; i++) x.setAtIndex(F, i, x.getAtIndex(F, i) * factor);
    }

    /** Copies rows [from, from + rows) of src into a new (rows, D) tensor of the caller. */
    static Tensor rows(Tensor src, long from, long rows) {
        long d = src.size(1);
        Tensor out = Tensor.zeros(DType.FLOAT32, rows, d);
        MemorySegment.copy(src.segment(), from * d * 4, out.segment(), 0, rows * d * 4);
        return out;
    }

    /** Stacks a (N,D) and b (M,D) into a new scratch (N+M, D). */
    static Tensor stack(Tensor a, Tensor b) {
        long d = a.size(1);
        Tensor out = scratch(a.size(0) + b.size(0), d);
        MemorySegment.copy(a.segment(), 0, out.segment(), 0, a.numel() * 4);
        MemorySegment.copy(b.segment(), 0, out.segment(), a.numel() * 4, b.numel() * 4);
        return out;
    }

    /** Class indices 0..n-1 shifted by offset modulo modulus, as int64 (a diagonal of targets). */
    static Tensor diagonalTargets(long n, long offset, long modulus) {
        Tensor t = Tensor.zerosUnscoped(DType.INT64, n);
        MemorySegment s = t.segment();
        for (long i = 0; i < n; i++) s.setAtIndex(ValueLayout.JAVA_LONG, i, (i + offset) % modulus);
        return t;
    }
}
