package dev.jnce.backend.java;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.PairKernels;
import dev.jnce.internal.Parallel;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The pair family in Java: the triplet margin loss ({@link JavaTriplet}), mining
 * ({@link JavaMining}), the top-k of ranking metrics ({@link JavaTopK}), and the row gather and scatter-add of native/src/cpu/gather_rows.c
 * (the same order of float32 additions, so the same bits).
 */
final class JavaPair implements PairKernels {
    private static final JavaPair SCALAR = new JavaPair(RowOps.SCALAR);
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    private final RowOps rows;

    private JavaPair(RowOps rows) {
        this.rows = rows;
    }

    /** Holds the SIMD instance, made only when first asked for. */
    private static final class Vector {
        static final JavaPair INSTANCE = vector();

        private static JavaPair vector() {
            RowOps rows = VectorSupport.rowOps();
            return new JavaPair(rows != null ? rows : RowOps.SCALAR);
        }
    }

    static JavaPair of(boolean vector) {
        return vector ? Vector.INSTANCE : SCALAR;
    }

    @Override
    public void tripletMargin(Tensor anchor, Tensor positive, Tensor negative, Triplet options, Tensor loss,
                              Tensor gradAnchor, Tensor gradPositive, Tensor gradNegative) {
        JavaTriplet.run(rows, anchor, positive, negative, options, loss, gradAnchor, gradPositive, gradNegative);
    }

    @Override
    public MiningOutcome hardNegatives(Tensor sim, Tensor queryLabels, Tensor keyLabels, Tensor mask, Tensor indices) {
        return JavaMining.run(sim, queryLabels, keyLabels, mask, indices);
    }

    @Override
    public long topK(Tensor scores, Tensor excludeOffsets, Tensor excludeItems, Tensor indices, Tensor values) {
        return JavaTopK.run(scores, excludeOffsets, excludeItems, indices, values);
    }

    @Override
    public void gatherRows(Tensor keys, Tensor indices, Tensor out) {
        long d = keys.size(1), bytes = 4 * d;
        MemorySegment src = keys.segment(), dst = out.segment(), idx = indices.segment();
        boolean wide = indices.dtype() == DType.INT64;
        Parallel.forRange(indices.numel(), Math.max(1, 32768 / d), (begin, end) -> {
            for (long r = begin; r < end; r++) MemorySegment.copy(src, index(idx, wide, r) * bytes, dst, r * bytes, bytes);
        });
    }

    @Override
    public void gatherRowsBackward(Tensor grad, Tensor indices, Tensor gradKeys) {
        long d = gradKeys.size(1), rows = indices.numel();
        if (rows == 0) return;
        MemorySegment g = grad.segment(), dst = gradKeys.segment(), idx = indices.segment();
        boolean wide = indices.dtype() == DType.INT64;
        // columns split among threads: every element still gets its additions in increasing r
        Parallel.forRange(d, Math.max(16, 32768 / rows), (begin, end) -> {
            for (long r = 0; r < rows; r++) {
                long to = index(idx, wide, r) * d, from = r * d;
                for (long j = begin; j < end; j++) {
                    dst.setAtIndex(F, to + j, dst.getAtIndex(F, to + j) + g.getAtIndex(F, from + j));
                }
            }
        });
    }

    private static long index(MemorySegment idx, boolean wide, long r) {
        return wide ? idx.getAtIndex(ValueLayout.JAVA_LONG, r) : idx.getAtIndex(ValueLayout.JAVA_INT, r);
    }
}
