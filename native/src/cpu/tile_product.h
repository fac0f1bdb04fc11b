/*
 * tile_product.h - internal: the product of a tile of coefficients held in the cache with rows of
 * a float32 matrix, out[r] += sum_t h[r hr + t ht] F[t], on 16-lane accumulators (AVX-512). The
 * fused backward passes form a tile of their gradient matrix and multiply it where it lies,
 * once by its rows and once by its columns (hr and ht swap), instead of writing the gradient
 * matrix out for two GEMMs to read: symmetric_xent.c (the one-tensor InfoNCE forms) and
 * siglip.c (SigLIP's pairwise sigmoid loss). Not part of the API (jnce.h is).
 */
#ifndef JNCE_TILE_PRODUCT_H
#define JNCE_TILE_PRODUCT_H

#include <stdint.h>

#include "simd_exp.h"

#ifdef JNCE_HAVE_AVX512
#define TILE_PRODUCT_NR 6

/* out[r][o0, o0 + 64) += sum_t h[r hr + t ht] P[t][0, 64) for r < nr, P packed 64 floats a row, out's columns masked by m
 * (D's end); for add = 0 the sum overwrites out, which is not read */
JNCE_TARGET_AVX512 __attribute__((always_inline)) static inline void tile_product_rows(float *out, int64_t ldo, const float *h,
                                                                                int64_t hr, int64_t ht, const float *P,
                                                                                int64_t T, const int nr, const __mmask16 *m,
                                                                                int64_t o0, int add) {
    __m512 acc[TILE_PRODUCT_NR][4];
#pragma GCC unroll 6
    for (int i = 0; i < nr; i++)
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) acc[i][k] = _mm512_setzero_ps();
    for (int64_t t = 0; t < T; t++) {
        const float *fp = P + t * 64;
        const __m512 f0 = _mm512_load_ps(fp), f1 = _mm512_load_ps(fp + 16), f2 = _mm512_load_ps(fp + 32),
                     f3 = _mm512_load_ps(fp + 48);
        const float *hp = h + t * ht;
#pragma GCC unroll 6
        for (int i = 0; i < nr; i++) {
            const __m512 b = _mm512_set1_ps(hp[i * hr]);
            acc[i][0] = _mm512_fmadd_ps(b, f0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(b, f1, acc[i][1]);
            acc[i][2] = _mm512_fmadd_ps(b, f2, acc[i][2]);
            acc[i][3] = _mm512_fmadd_ps(b, f3, acc[i][3]);
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < nr; i++)
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            float *o = out + i * ldo + o0 + 16 * k;
            _mm512_mask_storeu_ps(o, m[k], add ? _mm512_add_ps(_mm512_maskz_loadu_ps(m[k], o), acc[i][k]) : acc[i][k]);
        }
}

/*
 * out[r][0, D) += sum_t h[r hr + t ht] F[t][0, D), r < rows, t < T (out's row stride D), or for
 * add = 0 out[r][0, D) = that sum, out not read (a buffer's first product needs no zeroing): 64
 * columns of F and TILE_PRODUCT_DEPTH of its rows at a time, copied together first (32 KiB, so that
 * they stay in L1 while every row of out passes over them; F's rows D floats apart would
 * spread them over a few cache sets).
 */
#define TILE_PRODUCT_DEPTH 128
JNCE_TARGET_AVX512 static inline void jnce_tile_product(float *out, int64_t rows, const float *h, int64_t hr, int64_t ht,
                                             const float *F, int64_t D, int64_t T, int add) {
    float packed[TILE_PRODUCT_DEPTH * 64] __attribute__((aligned(64)));
    for (int64_t d0 = 0; d0 < D; d0 += 64) {
        __mmask16 m[4];
        for (int k = 0; k < 4; k++) {
            const int64_t left = D - d0 - 16 * k;
            m[k] = left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1u);
        }
        for (int64_t t0 = 0; t0 < T; t0 += TILE_PRODUCT_DEPTH) {
            const int64_t depth = T - t0 < TILE_PRODUCT_DEPTH ? T - t0 : TILE_PRODUCT_DEPTH;
            for (int64_t t = 0; t < depth; t++)
                for (int k = 0; k < 4; k++)
                    _mm512_store_ps(packed + t * 64 + 16 * k, _mm512_maskz_loadu_ps(m[k], F + (t0 + t) * D + d0 + 16 * k));
            const float *ht0 = h + t0 * ht;
            const int a = add || t0 > 0;
            int64_t r = 0;
            for (; r + TILE_PRODUCT_NR <= rows; r += TILE_PRODUCT_NR)
                tile_product_rows(out + r * D, D, ht0 + r * hr, hr, ht, packed, depth, TILE_PRODUCT_NR, m, d0, a);
            float *o = out + r * D;
            const float *hr0 = ht0 + r * hr;
            switch (rows - r) {
            case 5: tile_product_rows(o, D, hr0, hr, ht, packed, depth, 5, m, d0, a); break;
            case 4: tile_product_rows(o, D, hr0, hr, ht, packed, depth, 4, m, d0, a); break;
            case 3: tile_product_rows(o, D, hr0, hr, ht, packed, depth, 3, m, d0, a); break;
            case 2: tile_product_rows(o, D, hr0, hr, ht, packed, depth, 2, m, d0, a); break;
            case 1: tile_product_rows(o, D, hr0, hr, ht, packed, depth, 1, m, d0, a); break;
            default: break;
            }
        }
    }
}

#endif

/*
 * The towers' gradients of a loss over logits S = scale A Bᵀ (or a block of its rows) from
 * G = d loss / d S formed a tile at a time and never written out (tile_backward.c):
 *   dA (N,D) = alpha G B               (overwritten)
 *   dB (M,D) = alpha Gᵀ A + beta dB    (dB not read for beta = 0)
 * A thread takes bands of at most TILE_BACKWARD_ROWS rows (every thread as many); for each band
 * [r0, r0 + rows), band_begin (when given), then
 * its tiles from left to right: form writes G's rows [r0, r0 + rows) x columns [k0, k0 + n) into
 * X (row stride TILE_BACKWARD_COLS; k0 a multiple of it), and the tile is multiplied where it
 * lies, dA[I] += X B[J] and dBT[J] += Xᵀ A[I] (one dBT a thread, summed in the threads' order
 * after the pass); then band_end (when given). slice: the thread's index, for per-thread state.
 * Against a pass writing G and two GEMMs reading it, the logits are read once and G never
 * leaves the cache: a tile (256 KiB), its rows of A and B and of dA and dBT stay in a core's L2.
 */
#define TILE_BACKWARD_ROWS 256
#define TILE_BACKWARD_COLS 256 /* a multiple of 128 (siglip.c's row sums go by 128 columns) */

typedef struct jnce_tile_backward jnce_tile_backward;
struct jnce_tile_backward {
    int64_t N, M, D;
    const float *A, *B;
    float alpha, beta;
    float *dA, *dB;
    void (*band_begin)(const jnce_tile_backward *t, int64_t r0, int64_t rows, int32_t slice);
    void (*form)(const jnce_tile_backward *t, int64_t r0, int64_t rows, int64_t k0, int64_t n, float *X, int32_t slice);
    void (*band_end)(const jnce_tile_backward *t, int64_t r0, int64_t rows, int32_t slice);
    void *ctx;      /* the caller's */
    int32_t slices; /* threads at most (jnce_threads(), read once by the caller, which sizes its per-thread state by it) */
    float *dBT;     /* set by the driver for the callbacks' view of t: the slices' dB accumulators (M D floats each) */
};

/* A row of D floats that a tile's product will read, and one it will write, asked for into L2. */
__attribute__((always_inline)) static inline void jnce_tile_rows_ahead(const float *read, float *write, int64_t D) {
    for (int64_t d = 0; d < D; d += 16) __builtin_prefetch(read + d, 0, 2), __builtin_prefetch(write + d, 1, 2);
}

/*
 * For form, after it has formed row r of the tile at columns [k0, k0 + n): asks for row k0 + r of
 * B and of the slice's dB accumulator into L2 (the driver does the rows past the band's last), so
 * that the tile's products find the rows they read and write there rather than in L3 or memory:
 * the exponentials of forming a row hide the fetches, where a burst before the products would not.
 */
__attribute__((always_inline)) static inline void jnce_tile_backward_ahead(const jnce_tile_backward *t, int64_t k0, int64_t n,
                                                                           int64_t r, int32_t slice) {
    if (r >= n) return;
    jnce_tile_rows_ahead(t->B + (k0 + r) * t->D, t->dBT + (size_t)slice * (size_t)(t->M * t->D) + (size_t)((k0 + r) * t->D), t->D);
}

/* Whether t's tiles would run: the CPU has AVX-512 and N >= 8 slices D (the per-thread dB
 * accumulators weigh little against the logits). */
int jnce_tile_backward_fits(const jnce_tile_backward *t);

/* Runs t where it fits and memory suffices: 1; else 0, having written nothing. */
int jnce_tile_backward_run(const jnce_tile_backward *t);

#endif
