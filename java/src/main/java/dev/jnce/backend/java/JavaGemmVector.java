package dev.jnce.backend.java;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The SIMD {@link JavaGemm.Block}: tiles of 6 or 4 rows by 2 vectors of C held in twelve or
 * eight accumulators across the whole depth of the block, one FMA per B vector and A value.
 * Columns past the last whole tile go through {@link JavaGemm#scalarRange}, rows past the
 * last tile through {@link #row}. Loaded only when the Vector API is present.
 */
final class JavaGemmVector {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final JavaGemm.Block BLOCK = JavaGemmVector::multiply;

    private JavaGemmVector() {
    }

    static void multiply(float[] ap, float[] bp, float[] cb, int mb, int nb, int kb, int cols) {
        final int lanes = S.length(), tile = 2 * lanes;
        final int jBound = cols - cols % tile;
        // six-row tiles, then four-row ones, then single rows, whose one accumulator chain a column
        // vector waits on each multiply-add's latency: 32 rows as 4 x 6 + 2 x 4 rather than 5 x 6 + 2 x 1
        int sixes = mb / 6, rest = mb % 6;
        if ((rest == 2 || rest == 3) && sixes > 0) sixes--;
        int r = 0;
        for (; r < 6 * sixes; r += 6) {
            for (int j = 0; j < jBound; j += tile) tile6(ap, bp, cb, r, j, nb, kb, lanes);
            JavaGemm.scalarRange(ap, bp, cb, r, r + 6, jBound, cols, nb, kb);
        }
        for (; r + 4 <= mb; r += 4) {
            for (int j = 0; j < jBound; j += tile) tile4(ap, bp, cb, r, j, nb, kb, lanes);
            JavaGemm.scalarRange(ap, bp, cb, r, r + 4, jBound, cols, nb, kb);
        }
        for (; r < mb; r++) row(ap, bp, cb, r, nb, kb, cols);
    }

    /** 6 rows by 2 vectors: twelve accumulators, two B vectors and one broadcast, within AVX2's sixteen registers. */
    private static void tile6(float[] ap, float[] bp, float[] cb, int r, int j, int nb, int kb, int lanes) {
        int c0 = r * nb + j, c1 = c0 + nb, c2 = c1 + nb, c3 = c2 + nb, c4 = c3 + nb, c5 = c4 + nb;
        FloatVector s00 = FloatVector.fromArray(S, cb, c0), s01 = FloatVector.fromArray(S, cb, c0 + lanes);
        FloatVector s10 = FloatVector.fromArray(S, cb, c1), s11 = FloatVector.fromArray(S, cb, c1 + lanes);
        FloatVector s20 = FloatVector.fromArray(S, cb, c2), s21 = FloatVector.fromArray(S, cb, c2 + lanes);
        FloatVector s30 = FloatVector.fromArray(S, cb, c3), s31 = FloatVector.fromArray(S, cb, c3 + lanes);
        FloatVector s40 = FloatVector.fromArray(S, cb, c4), s41 = FloatVector.fromArray(S, cb, c4 + lanes);
        FloatVector s50 = FloatVector.fromArray(S, cb, c5), s51 = FloatVector.fromArray(S, cb, c5 + lanes);
        int a0 = r * kb, a1 = a0 + kb, a2 = a1 + kb, a3 = a2 + kb, a4 = a3 + kb, a5 = a4 + kb;
        for (int p = 0; p < kb; p++) {
            FloatVector b0 = FloatVector.fromArray(S, bp, p * nb + j);
            FloatVector b1 = FloatVector.fromArray(S, bp, p * nb + j + lanes);
            FloatVector a = FloatVector.broadcast(S, ap[a0 + p]);
            s00 = b0.fma(a, s00);
            s01 = b1.fma(a, s01);
            a = FloatVector.broadcast(S, ap[a1 + p]);
            s10 = b0.fma(a, s10);
            s11 = b1.fma(a, s11);
            a = FloatVector.broadcast(S, ap[a2 + p]);
            s20 = b0.fma(a, s20);
            s21 = b1.fma(a, s21);
            a = FloatVector.broadcast(S, ap[a3 + p]);
            s30 = b0.fma(a, s30);
            s31 = b1.fma(a, s31);
            a = FloatVector.broadcast(S, ap[a4 + p]);
            s40 = b0.fma(a, s40);
            s41 = b1.fma(a, s41);
            a = FloatVector.broadcast(S, ap[a5 + p]);
            s50 = b0.fma(a, s50);
            s51 = b1.fma(a, s51);
        }
        s00.intoArray(cb, c0);
        s01.intoArray(cb, c0 + lanes);
        s10.intoArray(cb, c1);
        s11.intoArray(cb, c1 + lanes);
        s20.intoArray(cb, c2);
        s21.intoArray(cb, c2 + lanes);
        s30.intoArray(cb, c3);
        s31.intoArray(cb, c3 + lanes);
        s40.intoArray(cb, c4);
        s41.intoArray(cb, c4 + lanes);
        s50.intoArray(cb, c5);
        s51.intoArray(cb, c5 + lanes);
    }

    private static void tile4(float[] ap, float[] bp, float[] cb, int r, int j, int nb, int kb, int lanes) {
        int c0 = r * nb + j, c1 = c0 + nb, c2 = c1 + nb, c3 = c2 + nb;
        FloatVector s00 = FloatVector.fromArray(S, cb, c0), s01 = FloatVector.fromArray(S, cb, c0 + lanes);
        FloatVector s10 = FloatVector.fromArray(S, cb, c1), s11 = FloatVector.fromArray(S, cb, c1 + lanes);
        FloatVector s20 = FloatVector.fromArray(S, cb, c2), s21 = FloatVector.fromArray(S, cb, c2 + lanes);
        FloatVector s30 = FloatVector.fromArray(S, cb, c3), s31 = FloatVector.fromArray(S, cb, c3 + lanes);
        int a0 = r * kb, a1 = a0 + kb, a2 = a1 + kb, a3 = a2 + kb;
        for (int p = 0; p < kb; p++) {
            FloatVector b0 = FloatVector.fromArray(S, bp, p * nb + j);
            FloatVector b1 = FloatVector.fromArray(S, bp, p * nb + j + lanes);
            FloatVector a = FloatVector.broadcast(S, ap[a0 + p]);
            s00 = b0.fma(a, s00);
            s01 = b1.fma(a, s01);
            a = FloatVector.broadcast(S, ap[a1 + p]);
            s10 = b0.fma(a, s10);
            s11 = b1.fma(a, s11);
            a = FloatVector.broadcast(S, ap[a2 + p]);
            s20 = b0.fma(a, s20);
            s21 = b1.fma(a, s21);
            a = FloatVector.broadcast(S, ap[a3 + p]);
            s30 = b0.fma(a, s30);
            s31 = b1.fma(a, s31);
        }
        s00.intoArray(cb, c0);
        s01.intoArray(cb, c0 + lanes);
        s10.intoArray(cb, c1);
        s11.intoArray(cb, c1 + lanes);
        s20.intoArray(cb, c2);
        s21.intoArray(cb, c2 + lanes);
        s30.intoArray(cb, c3);
        s31.intoArray(cb, c3 + lanes);
    }

    /** One row of C: vectors across the columns, scalar tail. */
    private static void row(float[] ap, float[] bp, float[] cb, int r, int nb, int kb, int cols) {
        int bound = S.loopBound(cols), c = r * nb;
        for (int j = 0; j < bound; j += S.length()) {
            FloatVector s = FloatVector.fromArray(S, cb, c + j);
            for (int p = 0; p < kb; p++) {
                s = FloatVector.fromArray(S, bp, p * nb + j).fma(FloatVector.broadcast(S, ap[r * kb + p]), s);
            }
            s.intoArray(cb, c + j);
        }
        JavaGemm.scalarRange(ap, bp, cb, r, r + 1, bound, cols, nb, kb);
    }
}
