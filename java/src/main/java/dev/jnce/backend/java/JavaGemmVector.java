package dev.jnce.backend.java;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The SIMD {@link JavaGemm.Block}s. With sixteen float lanes (AVX-512): tiles of 6 rows by 4
 * vectors of C (64 columns, one packed panel) in 24 accumulators across the whole depth of the
 * block (then one tile of 4 rows where 4 or 5 are left), one FMA per B vector and A value, four B
 * vectors and six broadcasts a step: ten loads a 24 FMAs. On one Xeon core at 4096 x 4096 x 256
 * the 6 x 4 tiles run at 0.80 of OpenBLAS's rate, 4 x 4 tiles (eight loads a 16 FMAs) at 0.70
 * and 6 x 2 tiles (eight a twelve) at 0.62 (paired, ad-hoc). With other widths ({@link #GENERIC}): tiles of 6 or 4 rows
 * by 2 vectors (twelve or eight accumulators, within AVX2's sixteen registers), panels of 2
 * vectors. Columns past the last whole vector go through {@link JavaGemm#scalarRange}, rows past
 * the last tile through single-row loops. Loaded only when the Vector API is present.
 */
final class JavaGemmVector {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private static final VectorSpecies<Float> S8 = FloatVector.SPECIES_256, S16 = FloatVector.SPECIES_512;

    /** Tiles of 6 or 4 rows by 2 vectors of the preferred width, in panels of 2 vectors. */
    static final JavaGemm.Block GENERIC = new JavaGemm.Block() {
        @Override
        public int panel() {
            return 2 * S.length();
        }

        @Override
        public void multiply(float[] ap, float[] bp, float[] cb, int mb, int nb, int kb, int cols) {
            JavaGemmVector.multiply(ap, bp, cb, mb, nb, kb, cols);
        }
    };

    /** Tiles of 6 (or 4) rows by 4 vectors of sixteen lanes, in panels of 64 columns (any machine runs it; AVX-512 fast). */
    static final JavaGemm.Block WIDE = new JavaGemm.Block() {
        @Override
        public int panel() {
            return WIDE_PANEL;
        }

        @Override
        public boolean overwrites() {
            return true;
        }

        @Override
        public void multiply(float[] ap, float[] bp, float[] cb, int mb, int nb, int kb, int cols) {
            multiplyWide(ap, bp, cb, mb, nb, kb, cols);
        }
    };

    private static final int WIDE_PANEL = 64, WIDE_DEPTH = 128, GENERIC_DEPTH = 256;

    static final JavaGemm.Block BLOCK = S.length() == 16 ? WIDE : GENERIC;

    /**
     * Index vectors of the transposes' steps, for d = lanes/2, lanes/4, ..., 1: of a pair of rows
     * (a, b) d apart, lane l of the new a takes a[l], or b[l - d] where l has bit d set, and lane l
     * of the new b takes a[l + d], or b[l] where l has bit d set (indices from lanes on select b).
     */
    private static final FloatVector[] LOW8 = swaps(S8, false), HIGH8 = swaps(S8, true);
    private static final FloatVector[] LOW16 = swaps(S16, false), HIGH16 = swaps(S16, true);

    private static FloatVector[] swaps(VectorSpecies<Float> species, boolean high) {
        int lanes = species.length();
        java.util.List<FloatVector> out = new java.util.ArrayList<>();
        for (int d = lanes / 2; d >= 1; d /= 2) {
            float[] index = new float[lanes];
            for (int l = 0; l < lanes; l++) {
                boolean upper = (l & d) != 0;
                index[l] = high ? (upper ? lanes + l : l + d) : (upper ? lanes + l - d : l);
            }
            out.add(FloatVector.fromArray(species, index, 0));
        }
        return out.toArray(new FloatVector[0]);
    }

    /**
     * Packs a transposed operand a block of lanes x lanes at a time, transposed in registers (the
     * scalar packing's eight columns at a time took 1.5 µs for the 128 x 32 kᵀ of a small q kᵀ,
     * this 0.6 including the bulk read); rows past the last whole block one value at a time.
     * Sixteen lanes with AVX-512, eight with AVX2; other widths take the scalar packing.
     * {@link #block16} and {@link #block8} are the same swaps written out for each width, every
     * row in a local: held in an array, the rows went through memory (9.5 µs against 0.6).
     */
    static final JavaGemm.Transposer TRANSPOSER = S.length() == 16 || S.length() == 8 ? transposer(S.length())
            : JavaGemm.SCALAR_TRANSPOSER;

    /** The register-block transposer of 16 or 8 lanes (either runs anywhere; the other width is for tests). */
    static JavaGemm.Transposer transposer(int lanes) {
        if (lanes != 16 && lanes != 8) throw new IllegalArgumentException("lanes: 16 or 8, not " + lanes);
        return new JavaGemm.Transposer() {
            @Override
            public int width() {
                return lanes;
            }

            @Override
            public void transpose(float[] group, int rows, float[] out, int cols, int cc) {
                int r = 0;
                for (; r + lanes <= rows; r += lanes) {
                    if (lanes == 16) block16(group, r, rows, out, r * cols + cc, cols);
                    else block8(group, r, rows, out, r * cols + cc, cols);
                }
                for (; r < rows; r++) {
                    for (int t = 0; t < lanes; t++) out[r * cols + cc + t] = group[t * rows + r];
                }
            }
        };
    }

    private JavaGemmVector() {
    }

    static void multiply(float[] ap, float[] bp, float[] cb, int mb, int nb, int kb, int cols) {
        final int lanes = S.length(), panel = 2 * lanes;
        // six-row tiles, then four-row ones, then single rows, whose one accumulator chain a column
        // vector waits on each multiply-add's latency: 32 rows as 4 x 6 + 2 x 4 rather than 5 x 6 + 2 x 1
        int sixes = mb / 6, rest = mb % 6;
        if ((rest == 2 || rest == 3) && sixes > 0) sixes--;
        for (int j = 0; j < cols; j += panel) {
            int w = Math.min(panel, nb - j), cw = Math.min(w, cols - j), bo = j * kb;
            if (cw < panel) { // the last, narrower panel: rows of vectors, then scalar columns
                for (int r = 0; r < mb; r++) row(ap, bp, cb, r, nb, kb, j, bo, w, cw);
                continue;
            }
            // the depth in steps, so that the part of the panel the rows sweep stays in L1
            for (int p0 = 0; p0 < kb; p0 += GENERIC_DEPTH) {
                int p1 = Math.min(kb, p0 + GENERIC_DEPTH), r = 0;
                for (; r < 6 * sixes; r += 6) tile6(ap, bp, cb, r, bo, r * nb + j, nb, kb, lanes, p0, p1);
                for (; r + 4 <= mb; r += 4) tile4(ap, bp, cb, r, bo, r * nb + j, nb, kb, lanes, p0, p1);
            }
            int r = 6 * sixes + (mb - 6 * sixes) / 4 * 4;
            for (; r < mb; r++) row(ap, bp, cb, r, nb, kb, j, bo, w, cw);
        }
    }

    /** 6 rows by 2 vectors over depths [p0, p1): twelve accumulators, two B vectors and one broadcast, within AVX2's sixteen registers. */
    private static void tile6(float[] ap, float[] bp, float[] cb, int r, int bo, int c0, int nb, int kb, int lanes, int p0,
                              int p1) {
        final int panel = 2 * lanes;
        int c1 = c0 + nb, c2 = c1 + nb, c3 = c2 + nb, c4 = c3 + nb, c5 = c4 + nb;
        FloatVector s00 = FloatVector.fromArray(S, cb, c0), s01 = FloatVector.fromArray(S, cb, c0 + lanes);
        FloatVector s10 = FloatVector.fromArray(S, cb, c1), s11 = FloatVector.fromArray(S, cb, c1 + lanes);
        FloatVector s20 = FloatVector.fromArray(S, cb, c2), s21 = FloatVector.fromArray(S, cb, c2 + lanes);
        FloatVector s30 = FloatVector.fromArray(S, cb, c3), s31 = FloatVector.fromArray(S, cb, c3 + lanes);
        FloatVector s40 = FloatVector.fromArray(S, cb, c4), s41 = FloatVector.fromArray(S, cb, c4 + lanes);
        FloatVector s50 = FloatVector.fromArray(S, cb, c5), s51 = FloatVector.fromArray(S, cb, c5 + lanes);
        int a0 = r * kb, a1 = a0 + kb, a2 = a1 + kb, a3 = a2 + kb, a4 = a3 + kb, a5 = a4 + kb;
        for (int p = p0; p < p1; p++) {
            int b = bo + p * panel;
            FloatVector b0 = FloatVector.fromArray(S, bp, b);
            FloatVector b1 = FloatVector.fromArray(S, bp, b + lanes);
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

    private static void tile4(float[] ap, float[] bp, float[] cb, int r, int bo, int c0, int nb, int kb, int lanes, int p0,
                              int p1) {
        final int panel = 2 * lanes;
        int c1 = c0 + nb, c2 = c1 + nb, c3 = c2 + nb;
        FloatVector s00 = FloatVector.fromArray(S, cb, c0), s01 = FloatVector.fromArray(S, cb, c0 + lanes);
        FloatVector s10 = FloatVector.fromArray(S, cb, c1), s11 = FloatVector.fromArray(S, cb, c1 + lanes);
        FloatVector s20 = FloatVector.fromArray(S, cb, c2), s21 = FloatVector.fromArray(S, cb, c2 + lanes);
        FloatVector s30 = FloatVector.fromArray(S, cb, c3), s31 = FloatVector.fromArray(S, cb, c3 + lanes);
        int a0 = r * kb, a1 = a0 + kb, a2 = a1 + kb, a3 = a2 + kb;
        for (int p = p0; p < p1; p++) {
            int b = bo + p * panel;
            FloatVector b0 = FloatVector.fromArray(S, bp, b);
            FloatVector b1 = FloatVector.fromArray(S, bp, b + lanes);
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

    /** Row r of C over the first cw columns of the panel from column j (packed from bo, rows w apart): vectors, then scalar. */
    private static void row(float[] ap, float[] bp, float[] cb, int r, int nb, int kb, int j, int bo, int w, int cw) {
        int lanes = S.length(), c = r * nb + j, o = 0;
        for (; o + lanes <= cw; o += lanes) {
            FloatVector s = FloatVector.fromArray(S, cb, c + o);
            for (int p = 0; p < kb; p++) {
                s = FloatVector.fromArray(S, bp, bo + p * w + o).fma(FloatVector.broadcast(S, ap[r * kb + p]), s);
            }
            s.intoArray(cb, c + o);
        }
        if (o < cw) JavaGemm.scalarRange(ap, bp, cb, r, r + 1, j + o, j + cw, nb, kb, 2 * lanes);
    }

    static void multiplyWide(float[] ap, float[] bp, float[] cb, int mb, int nb, int kb, int cols) {
        for (int j = 0; j < cols; j += WIDE_PANEL) {
            int w = Math.min(WIDE_PANEL, nb - j), cw = Math.min(w, cols - j), bo = j * kb;
            int o = 0;
            if (cw == WIDE_PANEL) {
                // the depth in steps of 128, so that the part of the panel the rows sweep (32 KiB) stays
                // in L1; the first step's accumulators start from zero (C's block is not read)
                for (int p0 = 0; p0 < kb; p0 += WIDE_DEPTH) {
                    int p1 = Math.min(kb, p0 + WIDE_DEPTH), r = 0;
                    for (; r + 6 <= mb; r += 6) tile6x4(ap, bp, cb, r, bo, r * nb + j, nb, kb, p0, p1);
                    if (r + 4 <= mb) tile4x4(ap, bp, cb, r, bo, r * nb + j, nb, kb, p0, p1);
                }
                for (int r = mb / 6 * 6 + (mb % 6 >= 4 ? 4 : 0); r < mb; r++) {
                    java.util.Arrays.fill(cb, r * nb + j, r * nb + j + WIDE_PANEL, 0f);
                    rowWide(ap, bp, cb, r, nb, kb, j, bo, w, 0, WIDE_PANEL);
                }
                continue;
            }
            for (int r = 0; r < mb; r++) java.util.Arrays.fill(cb, r * nb + j, r * nb + j + cw, 0f);
            // the last, narrower panel (or the columns a lower triangle reaches): 4 rows by 2 vectors, by 1
            for (; o + 32 <= cw; o += 32) {
                int r = 0;
                for (; r + 4 <= mb; r += 4) tile4x2(ap, bp, cb, r, bo + o, r * nb + j + o, nb, kb, w);
                for (; r < mb; r++) rowWide(ap, bp, cb, r, nb, kb, j, bo, w, o, o + 32);
            }
            for (; o + 16 <= cw; o += 16) {
                int r = 0;
                for (; r + 4 <= mb; r += 4) tile4x1(ap, bp, cb, r, bo + o, r * nb + j + o, nb, kb, w);
                for (; r < mb; r++) rowWide(ap, bp, cb, r, nb, kb, j, bo, w, o, o + 16);
            }
            if (o < cw) JavaGemm.scalarRange(ap, bp, cb, 0, mb, j + o, j + cw, nb, kb, WIDE_PANEL);
        }
    }

    /**
     * 6 rows by 4 vectors of sixteen lanes over depths [p0, p1): 24 accumulators, four B vectors and one broadcast, 29 of AVX-512's
     * 32 registers; a step's four B loads and six broadcasts serve 24 FMAs (16 for {@link #tile4x4}'s eight).
     */
    private static void tile6x4(float[] ap, float[] bp, float[] cb, int r, int bo, int c0, int nb, int kb, int p0, int p1) {
        int c1 = c0 + nb, c2 = c1 + nb, c3 = c2 + nb, c4 = c3 + nb, c5 = c4 + nb;
        FloatVector s00, s01, s02, s03, s10, s11, s12, s13, s20, s21, s22, s23, s30, s31, s32, s33, s40, s41, s42, s43, s50, s51, s52, s53;
        if (p0 == 0) {
            s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = s20 = s21 = s22 = s23 = s30 = s31 = s32 = s33 = s40 = s41 = s42 = s43 = s50 = s51 = s52 = s53 = FloatVector.zero(S16);
        } else {
            s00 = FloatVector.fromArray(S16, cb, c0);
            s01 = FloatVector.fromArray(S16, cb, c0 + 16);
            s02 = FloatVector.fromArray(S16, cb, c0 + 32);
            s03 = FloatVector.fromArray(S16, cb, c0 + 48);
            s10 = FloatVector.fromArray(S16, cb, c1);
            s11 = FloatVector.fromArray(S16, cb, c1 + 16);
            s12 = FloatVector.fromArray(S16, cb, c1 + 32);
            s13 = FloatVector.fromArray(S16, cb, c1 + 48);
            s20 = FloatVector.fromArray(S16, cb, c2);
            s21 = FloatVector.fromArray(S16, cb, c2 + 16);
            s22 = FloatVector.fromArray(S16, cb, c2 + 32);
            s23 = FloatVector.fromArray(S16, cb, c2 + 48);
            s30 = FloatVector.fromArray(S16, cb, c3);
            s31 = FloatVector.fromArray(S16, cb, c3 + 16);
            s32 = FloatVector.fromArray(S16, cb, c3 + 32);
            s33 = FloatVector.fromArray(S16, cb, c3 + 48);
            s40 = FloatVector.fromArray(S16, cb, c4);
            s41 = FloatVector.fromArray(S16, cb, c4 + 16);
            s42 = FloatVector.fromArray(S16, cb, c4 + 32);
            s43 = FloatVector.fromArray(S16, cb, c4 + 48);
            s50 = FloatVector.fromArray(S16, cb, c5);
            s51 = FloatVector.fromArray(S16, cb, c5 + 16);
            s52 = FloatVector.fromArray(S16, cb, c5 + 32);
            s53 = FloatVector.fromArray(S16, cb, c5 + 48);
        }
        int a0 = r * kb, a1 = a0 + kb, a2 = a1 + kb, a3 = a2 + kb, a4 = a3 + kb, a5 = a4 + kb;
        for (int p = p0; p < p1; p++) {
            int b = bo + p * WIDE_PANEL;
            FloatVector b0 = FloatVector.fromArray(S16, bp, b), b1 = FloatVector.fromArray(S16, bp, b + 16);
            FloatVector b2 = FloatVector.fromArray(S16, bp, b + 32), b3 = FloatVector.fromArray(S16, bp, b + 48);
            FloatVector a = FloatVector.broadcast(S16, ap[a0 + p]);
            s00 = b0.fma(a, s00);
            s01 = b1.fma(a, s01);
            s02 = b2.fma(a, s02);
            s03 = b3.fma(a, s03);
            a = FloatVector.broadcast(S16, ap[a1 + p]);
            s10 = b0.fma(a, s10);
            s11 = b1.fma(a, s11);
            s12 = b2.fma(a, s12);
            s13 = b3.fma(a, s13);
            a = FloatVector.broadcast(S16, ap[a2 + p]);
            s20 = b0.fma(a, s20);
            s21 = b1.fma(a, s21);
            s22 = b2.fma(a, s22);
            s23 = b3.fma(a, s23);
            a = FloatVector.broadcast(S16, ap[a3 + p]);
            s30 = b0.fma(a, s30);
            s31 = b1.fma(a, s31);
            s32 = b2.fma(a, s32);
            s33 = b3.fma(a, s33);
            a = FloatVector.broadcast(S16, ap[a4 + p]);
            s40 = b0.fma(a, s40);
            s41 = b1.fma(a, s41);
            s42 = b2.fma(a, s42);
            s43 = b3.fma(a, s43);
            a = FloatVector.broadcast(S16, ap[a5 + p]);
            s50 = b0.fma(a, s50);
            s51 = b1.fma(a, s51);
            s52 = b2.fma(a, s52);
            s53 = b3.fma(a, s53);
        }
        s00.intoArray(cb, c0);
        s01.intoArray(cb, c0 + 16);
        s02.intoArray(cb, c0 + 32);
        s03.intoArray(cb, c0 + 48);
        s10.intoArray(cb, c1);
        s11.intoArray(cb, c1 + 16);
        s12.intoArray(cb, c1 + 32);
        s13.intoArray(cb, c1 + 48);
        s20.intoArray(cb, c2);
        s21.intoArray(cb, c2 + 16);
        s22.intoArray(cb, c2 + 32);
        s23.intoArray(cb, c2 + 48);
        s30.intoArray(cb, c3);
        s31.intoArray(cb, c3 + 16);
        s32.intoArray(cb, c3 + 32);
        s33.intoArray(cb, c3 + 48);
        s40.intoArray(cb, c4);
        s41.intoArray(cb, c4 + 16);
        s42.intoArray(cb, c4 + 32);
        s43.intoArray(cb, c4 + 48);
        s50.intoArray(cb, c5);
        s51.intoArray(cb, c5 + 16);
        s52.intoArray(cb, c5 + 32);
        s53.intoArray(cb, c5 + 48);
    }

    /** 4 rows by 4 vectors of sixteen lanes over depths [p0, p1): sixteen accumulators, four B vectors and one broadcast of AVX-512's 32 registers. */
    private static void tile4x4(float[] ap, float[] bp, float[] cb, int r, int bo, int c0, int nb, int kb, int p0, int p1) {
        int c1 = c0 + nb, c2 = c1 + nb, c3 = c2 + nb;
        FloatVector s00, s01, s02, s03, s10, s11, s12, s13, s20, s21, s22, s23, s30, s31, s32, s33;
        if (p0 == 0) {
            s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = s20 = s21 = s22 = s23 = s30 = s31 = s32 = s33 = FloatVector.zero(S16);
        } else {
            s00 = FloatVector.fromArray(S16, cb, c0);
            s01 = FloatVector.fromArray(S16, cb, c0 + 16);
            s02 = FloatVector.fromArray(S16, cb, c0 + 32);
            s03 = FloatVector.fromArray(S16, cb, c0 + 48);
            s10 = FloatVector.fromArray(S16, cb, c1);
            s11 = FloatVector.fromArray(S16, cb, c1 + 16);
            s12 = FloatVector.fromArray(S16, cb, c1 + 32);
            s13 = FloatVector.fromArray(S16, cb, c1 + 48);
            s20 = FloatVector.fromArray(S16, cb, c2);
            s21 = FloatVector.fromArray(S16, cb, c2 + 16);
            s22 = FloatVector.fromArray(S16, cb, c2 + 32);
            s23 = FloatVector.fromArray(S16, cb, c2 + 48);
            s30 = FloatVector.fromArray(S16, cb, c3);
            s31 = FloatVector.fromArray(S16, cb, c3 + 16);
            s32 = FloatVector.fromArray(S16, cb, c3 + 32);
            s33 = FloatVector.fromArray(S16, cb, c3 + 48);
        }
        int a0 = r * kb, a1 = a0 + kb, a2 = a1 + kb, a3 = a2 + kb;
        for (int p = p0; p < p1; p++) {
            int b = bo + p * WIDE_PANEL;
            FloatVector b0 = FloatVector.fromArray(S16, bp, b), b1 = FloatVector.fromArray(S16, bp, b + 16);
            FloatVector b2 = FloatVector.fromArray(S16, bp, b + 32), b3 = FloatVector.fromArray(S16, bp, b + 48);
            FloatVector a = FloatVector.broadcast(S16, ap[a0 + p]);
            s00 = b0.fma(a, s00);
            s01 = b1.fma(a, s01);
            s02 = b2.fma(a, s02);
            s03 = b3.fma(a, s03);
            a = FloatVector.broadcast(S16, ap[a1 + p]);
            s10 = b0.fma(a, s10);
            s11 = b1.fma(a, s11);
            s12 = b2.fma(a, s12);
            s13 = b3.fma(a, s13);
            a = FloatVector.broadcast(S16, ap[a2 + p]);
            s20 = b0.fma(a, s20);
            s21 = b1.fma(a, s21);
            s22 = b2.fma(a, s22);
            s23 = b3.fma(a, s23);
            a = FloatVector.broadcast(S16, ap[a3 + p]);
            s30 = b0.fma(a, s30);
            s31 = b1.fma(a, s31);
            s32 = b2.fma(a, s32);
            s33 = b3.fma(a, s33);
        }
        s00.intoArray(cb, c0);
        s01.intoArray(cb, c0 + 16);
        s02.intoArray(cb, c0 + 32);
        s03.intoArray(cb, c0 + 48);
        s10.intoArray(cb, c1);
        s11.intoArray(cb, c1 + 16);
        s12.intoArray(cb, c1 + 32);
        s13.intoArray(cb, c1 + 48);
        s20.intoArray(cb, c2);
        s21.intoArray(cb, c2 + 16);
        s22.intoArray(cb, c2 + 32);
        s23.intoArray(cb, c2 + 48);
        s30.intoArray(cb, c3);
        s31.intoArray(cb, c3 + 16);
        s32.intoArray(cb, c3 + 32);
        s33.intoArray(cb, c3 + 48);
    }

    /** 4 rows by 2 vectors of sixteen lanes from packed index bo, rows of the panel w floats apart. */
    private static void tile4x2(float[] ap, float[] bp, float[] cb, int r, int bo, int c0, int nb, int kb, int w) {
        int c1 = c0 + nb, c2 = c1 + nb, c3 = c2 + nb;
        FloatVector s00 = FloatVector.fromArray(S16, cb, c0), s01 = FloatVector.fromArray(S16, cb, c0 + 16);
        FloatVector s10 = FloatVector.fromArray(S16, cb, c1), s11 = FloatVector.fromArray(S16, cb, c1 + 16);
        FloatVector s20 = FloatVector.fromArray(S16, cb, c2), s21 = FloatVector.fromArray(S16, cb, c2 + 16);
        FloatVector s30 = FloatVector.fromArray(S16, cb, c3), s31 = FloatVector.fromArray(S16, cb, c3 + 16);
        int a0 = r * kb, a1 = a0 + kb, a2 = a1 + kb, a3 = a2 + kb;
        for (int p = 0; p < kb; p++) {
            int b = bo + p * w;
            FloatVector b0 = FloatVector.fromArray(S16, bp, b), b1 = FloatVector.fromArray(S16, bp, b + 16);
            FloatVector a = FloatVector.broadcast(S16, ap[a0 + p]);
            s00 = b0.fma(a, s00);
            s01 = b1.fma(a, s01);
            a = FloatVector.broadcast(S16, ap[a1 + p]);
            s10 = b0.fma(a, s10);
            s11 = b1.fma(a, s11);
            a = FloatVector.broadcast(S16, ap[a2 + p]);
            s20 = b0.fma(a, s20);
            s21 = b1.fma(a, s21);
            a = FloatVector.broadcast(S16, ap[a3 + p]);
            s30 = b0.fma(a, s30);
            s31 = b1.fma(a, s31);
        }
        s00.intoArray(cb, c0);
        s01.intoArray(cb, c0 + 16);
        s10.intoArray(cb, c1);
        s11.intoArray(cb, c1 + 16);
        s20.intoArray(cb, c2);
        s21.intoArray(cb, c2 + 16);
        s30.intoArray(cb, c3);
        s31.intoArray(cb, c3 + 16);
    }

    /** 4 rows by 1 vector of sixteen lanes, as {@link #tile4x2}. */
    private static void tile4x1(float[] ap, float[] bp, float[] cb, int r, int bo, int c0, int nb, int kb, int w) {
        int c1 = c0 + nb, c2 = c1 + nb, c3 = c2 + nb;
        FloatVector s0 = FloatVector.fromArray(S16, cb, c0), s1 = FloatVector.fromArray(S16, cb, c1);
        FloatVector s2 = FloatVector.fromArray(S16, cb, c2), s3 = FloatVector.fromArray(S16, cb, c3);
        int a0 = r * kb, a1 = a0 + kb, a2 = a1 + kb, a3 = a2 + kb;
        for (int p = 0; p < kb; p++) {
            FloatVector b = FloatVector.fromArray(S16, bp, bo + p * w);
            s0 = b.fma(FloatVector.broadcast(S16, ap[a0 + p]), s0);
            s1 = b.fma(FloatVector.broadcast(S16, ap[a1 + p]), s1);
            s2 = b.fma(FloatVector.broadcast(S16, ap[a2 + p]), s2);
            s3 = b.fma(FloatVector.broadcast(S16, ap[a3 + p]), s3);
        }
        s0.intoArray(cb, c0);
        s1.intoArray(cb, c1);
        s2.intoArray(cb, c2);
        s3.intoArray(cb, c3);
    }

    /** Row r of C, columns [j + o0, j + o1) of the panel from column j (whole vectors of sixteen lanes). */
    private static void rowWide(float[] ap, float[] bp, float[] cb, int r, int nb, int kb, int j, int bo, int w, int o0, int o1) {
        int c = r * nb + j;
        for (int o = o0; o < o1; o += 16) {
            FloatVector s = FloatVector.fromArray(S16, cb, c + o);
            for (int p = 0; p < kb; p++) {
                s = FloatVector.fromArray(S16, bp, bo + p * w + o).fma(FloatVector.broadcast(S16, ap[r * kb + p]), s);
            }
            s.intoArray(cb, c + o);
        }
    }

    /** A 16 x 16 block: out[oo + t * ocols + l] = group[so + l * ld + t], by swapping off-diagonal sub-blocks of 8, ..., 1 lanes in registers. */
    private static void block16(float[] group, int so, int ld, float[] out, int oo, int ocols) {
        FloatVector v0 = FloatVector.fromArray(S16, group, so), v1 = FloatVector.fromArray(S16, group, so + 1 * ld), v2 = FloatVector.fromArray(S16, group, so + 2 * ld), v3 = FloatVector.fromArray(S16, group, so + 3 * ld);
        FloatVector v4 = FloatVector.fromArray(S16, group, so + 4 * ld), v5 = FloatVector.fromArray(S16, group, so + 5 * ld), v6 = FloatVector.fromArray(S16, group, so + 6 * ld), v7 = FloatVector.fromArray(S16, group, so + 7 * ld);
        FloatVector v8 = FloatVector.fromArray(S16, group, so + 8 * ld), v9 = FloatVector.fromArray(S16, group, so + 9 * ld), v10 = FloatVector.fromArray(S16, group, so + 10 * ld), v11 = FloatVector.fromArray(S16, group, so + 11 * ld);
        FloatVector v12 = FloatVector.fromArray(S16, group, so + 12 * ld), v13 = FloatVector.fromArray(S16, group, so + 13 * ld), v14 = FloatVector.fromArray(S16, group, so + 14 * ld), v15 = FloatVector.fromArray(S16, group, so + 15 * ld);
        FloatVector a, b, lo, hi;
        lo = LOW16[0];
        hi = HIGH16[0];
        a = v0; b = v8; v0 = lo.selectFrom(a, b); v8 = hi.selectFrom(a, b);
        a = v1; b = v9; v1 = lo.selectFrom(a, b); v9 = hi.selectFrom(a, b);
        a = v2; b = v10; v2 = lo.selectFrom(a, b); v10 = hi.selectFrom(a, b);
        a = v3; b = v11; v3 = lo.selectFrom(a, b); v11 = hi.selectFrom(a, b);
        a = v4; b = v12; v4 = lo.selectFrom(a, b); v12 = hi.selectFrom(a, b);
        a = v5; b = v13; v5 = lo.selectFrom(a, b); v13 = hi.selectFrom(a, b);
        a = v6; b = v14; v6 = lo.selectFrom(a, b); v14 = hi.selectFrom(a, b);
        a = v7; b = v15; v7 = lo.selectFrom(a, b); v15 = hi.selectFrom(a, b);
        lo = LOW16[1];
        hi = HIGH16[1];
        a = v0; b = v4; v0 = lo.selectFrom(a, b); v4 = hi.selectFrom(a, b);
        a = v1; b = v5; v1 = lo.selectFrom(a, b); v5 = hi.selectFrom(a, b);
        a = v2; b = v6; v2 = lo.selectFrom(a, b); v6 = hi.selectFrom(a, b);
        a = v3; b = v7; v3 = lo.selectFrom(a, b); v7 = hi.selectFrom(a, b);
        a = v8; b = v12; v8 = lo.selectFrom(a, b); v12 = hi.selectFrom(a, b);
        a = v9; b = v13; v9 = lo.selectFrom(a, b); v13 = hi.selectFrom(a, b);
        a = v10; b = v14; v10 = lo.selectFrom(a, b); v14 = hi.selectFrom(a, b);
        a = v11; b = v15; v11 = lo.selectFrom(a, b); v15 = hi.selectFrom(a, b);
        lo = LOW16[2];
        hi = HIGH16[2];
        a = v0; b = v2; v0 = lo.selectFrom(a, b); v2 = hi.selectFrom(a, b);
        a = v1; b = v3; v1 = lo.selectFrom(a, b); v3 = hi.selectFrom(a, b);
        a = v4; b = v6; v4 = lo.selectFrom(a, b); v6 = hi.selectFrom(a, b);
        a = v5; b = v7; v5 = lo.selectFrom(a, b); v7 = hi.selectFrom(a, b);
        a = v8; b = v10; v8 = lo.selectFrom(a, b); v10 = hi.selectFrom(a, b);
        a = v9; b = v11; v9 = lo.selectFrom(a, b); v11 = hi.selectFrom(a, b);
        a = v12; b = v14; v12 = lo.selectFrom(a, b); v14 = hi.selectFrom(a, b);
        a = v13; b = v15; v13 = lo.selectFrom(a, b); v15 = hi.selectFrom(a, b);
        lo = LOW16[3];
        hi = HIGH16[3];
        a = v0; b = v1; v0 = lo.selectFrom(a, b); v1 = hi.selectFrom(a, b);
        a = v2; b = v3; v2 = lo.selectFrom(a, b); v3 = hi.selectFrom(a, b);
        a = v4; b = v5; v4 = lo.selectFrom(a, b); v5 = hi.selectFrom(a, b);
        a = v6; b = v7; v6 = lo.selectFrom(a, b); v7 = hi.selectFrom(a, b);
        a = v8; b = v9; v8 = lo.selectFrom(a, b); v9 = hi.selectFrom(a, b);
        a = v10; b = v11; v10 = lo.selectFrom(a, b); v11 = hi.selectFrom(a, b);
        a = v12; b = v13; v12 = lo.selectFrom(a, b); v13 = hi.selectFrom(a, b);
        a = v14; b = v15; v14 = lo.selectFrom(a, b); v15 = hi.selectFrom(a, b);
        v0.intoArray(out, oo);
        v1.intoArray(out, oo + 1 * ocols);
        v2.intoArray(out, oo + 2 * ocols);
        v3.intoArray(out, oo + 3 * ocols);
        v4.intoArray(out, oo + 4 * ocols);
        v5.intoArray(out, oo + 5 * ocols);
        v6.intoArray(out, oo + 6 * ocols);
        v7.intoArray(out, oo + 7 * ocols);
        v8.intoArray(out, oo + 8 * ocols);
        v9.intoArray(out, oo + 9 * ocols);
        v10.intoArray(out, oo + 10 * ocols);
        v11.intoArray(out, oo + 11 * ocols);
        v12.intoArray(out, oo + 12 * ocols);
        v13.intoArray(out, oo + 13 * ocols);
        v14.intoArray(out, oo + 14 * ocols);
        v15.intoArray(out, oo + 15 * ocols);
    }

    /** An 8 x 8 block: out[oo + t * ocols + l] = group[so + l * ld + t], by swapping off-diagonal sub-blocks of 4, ..., 1 lanes in registers. */
    private static void block8(float[] group, int so, int ld, float[] out, int oo, int ocols) {
        FloatVector v0 = FloatVector.fromArray(S8, group, so), v1 = FloatVector.fromArray(S8, group, so + 1 * ld), v2 = FloatVector.fromArray(S8, group, so + 2 * ld), v3 = FloatVector.fromArray(S8, group, so + 3 * ld);
        FloatVector v4 = FloatVector.fromArray(S8, group, so + 4 * ld), v5 = FloatVector.fromArray(S8, group, so + 5 * ld), v6 = FloatVector.fromArray(S8, group, so + 6 * ld), v7 = FloatVector.fromArray(S8, group, so + 7 * ld);
        FloatVector a, b, lo, hi;
        lo = LOW8[0];
        hi = HIGH8[0];
        a = v0; b = v4; v0 = lo.selectFrom(a, b); v4 = hi.selectFrom(a, b);
        a = v1; b = v5; v1 = lo.selectFrom(a, b); v5 = hi.selectFrom(a, b);
        a = v2; b = v6; v2 = lo.selectFrom(a, b); v6 = hi.selectFrom(a, b);
        a = v3; b = v7; v3 = lo.selectFrom(a, b); v7 = hi.selectFrom(a, b);
        lo = LOW8[1];
        hi = HIGH8[1];
        a = v0; b = v2; v0 = lo.selectFrom(a, b); v2 = hi.selectFrom(a, b);
        a = v1; b = v3; v1 = lo.selectFrom(a, b); v3 = hi.selectFrom(a, b);
        a = v4; b = v6; v4 = lo.selectFrom(a, b); v6 = hi.selectFrom(a, b);
        a = v5; b = v7; v5 = lo.selectFrom(a, b); v7 = hi.selectFrom(a, b);
        lo = LOW8[2];
        hi = HIGH8[2];
        a = v0; b = v1; v0 = lo.selectFrom(a, b); v1 = hi.selectFrom(a, b);
        a = v2; b = v3; v2 = lo.selectFrom(a, b); v3 = hi.selectFrom(a, b);
        a = v4; b = v5; v4 = lo.selectFrom(a, b); v5 = hi.selectFrom(a, b);
        a = v6; b = v7; v6 = lo.selectFrom(a, b); v7 = hi.selectFrom(a, b);
        v0.intoArray(out, oo);
        v1.intoArray(out, oo + 1 * ocols);
        v2.intoArray(out, oo + 2 * ocols);
        v3.intoArray(out, oo + 3 * ocols);
        v4.intoArray(out, oo + 4 * ocols);
        v5.intoArray(out, oo + 5 * ocols);
        v6.intoArray(out, oo + 6 * ocols);
        v7.intoArray(out, oo + 7 * ocols);
    }
}
