/*
 * tile_backward.c - internal: the driver of the fused backward passes (jnce_tile_backward_run,
 * see tile_product.h): bands of rows on jnce's threads, their tiles of G formed by the caller's
 * callback and multiplied in the cache by both towers, one dB accumulator a thread summed after.
 * Used by siglip.c (SigLIP's pairwise sigmoid loss), xent_rows.c (the two-tower cross-entropy
 * rows) and clip_xent.c (CLIP's symmetric cross-entropy).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tile_product.h"

#ifdef JNCE_HAVE_AVX512
typedef struct {
    const jnce_tile_backward *t;
    float *dBT, *tile; /* a plane of dB and a tile a slice */
    unsigned char *wrote; /* a flag a slice: its plane of dBT holds its sums (its first band overwrote it whole) */
    int32_t slices;
    int64_t band;      /* rows a band: TILE_BACKWARD_ROWS at most, fewer where that gives every thread as many bands */
} driver;

JNCE_TARGET_AVX512 static void bands(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    const driver *dr = ctx;
    const jnce_tile_backward *t = dr->t;
    const int64_t M = t->M, D = t->D;
    float *X = dr->tile + (size_t)slice * TILE_BACKWARD_ROWS * TILE_BACKWARD_COLS, *dBT = dr->dBT + (size_t)slice * (size_t)(M * D);
    for (int64_t b = begin; b < end; b++) {
        const int64_t r0 = b * dr->band, rows = t->N - r0 < dr->band ? t->N - r0 : dr->band;
        if (M == 0) memset(t->dA + r0 * D, 0, sizeof(float) * (size_t)(rows * D));
        if (t->band_begin != NULL) t->band_begin(t, r0, rows, slice);
        /* the first tile of a band overwrites its rows of dA, and the slice's first band its dBT
         * (every band spans all M columns): neither buffer is zeroed first */
        const int add_columns = dr->wrote[slice];
        for (int64_t k0 = 0; k0 < M; k0 += TILE_BACKWARD_COLS) {
            const int64_t n = M - k0 < TILE_BACKWARD_COLS ? M - k0 : TILE_BACKWARD_COLS;
            t->form(t, r0, rows, k0, n, X, slice);
            for (int64_t r = rows; r < n; r++) jnce_tile_backward_ahead(t, k0, n, r, slice);
            jnce_tile_product(t->dA + r0 * D, rows, X, TILE_BACKWARD_COLS, 1, t->B + k0 * D, D, n, k0 > 0); /* the tile's rows */
            jnce_tile_product(dBT + k0 * D, n, X, 1, TILE_BACKWARD_COLS, t->A + r0 * D, D, rows, add_columns); /* its columns */
        }
        dr->wrote[slice] = 1;
        if (t->band_end != NULL) t->band_end(t, r0, rows, slice);
    }
}

/* Rows [begin, end) of dA *= alpha, and of dB = alpha (the slices' dBT, in slice order) + beta dB (not read for beta = 0). */
static void sum_slices(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const driver *dr = ctx;
    const jnce_tile_backward *t = dr->t;
    const int64_t D = t->D;
    const size_t plane = (size_t)(t->M * D);
    for (int64_t i = begin; i < end; i++) {
        for (int64_t d = 0; d < D && i < t->M; d++) {
            const size_t k = (size_t)(i * D + d);
            float v = 0.0f;
            for (int32_t s = 0; s < dr->slices; s++)
                if (dr->wrote[s]) v += dr->dBT[(size_t)s * plane + k];
            t->dB[k] = t->beta == 0.0f ? t->alpha * v : t->alpha * v + t->beta * t->dB[k];
        }
        if (i < t->N)
            for (int64_t d = 0; d < D; d++) t->dA[i * D + d] *= t->alpha;
    }
}
#endif

int jnce_tile_backward_fits(const jnce_tile_backward *t) {
#ifdef JNCE_HAVE_AVX512
    /* The per-thread accumulators (slices M D floats, zeroed, then read and summed into dB) must
     * weigh little against the N M logits whose writing and two readings they spare: N >= 8
     * slices D. Fewer rows (the sweeps' small blocks: 256 rows of N = 65536, 64 of N = 262144)
     * keep the pass and two GEMMs: at 16384 x 128 in blocks of 256 rows the tiles took 836-934 ms
     * against their 723 (C probe, ad-hoc), and their memory would outgrow the block's. */
    return jnce_use_avx512() && t->N >= 8 * (int64_t)(t->slices > 0 ? t->slices : 1) * t->D;
#else
    (void)t;
    return 0;
#endif
}

int jnce_tile_backward_run(const jnce_tile_backward *t) {
#ifdef JNCE_HAVE_AVX512
    if (!jnce_tile_backward_fits(t)) return 0;
    jnce_tile_backward run = *t; /* what the callbacks see: t with the accumulators (jnce_tile_backward_ahead) */
    driver dr = {.t = &run, .slices = t->slices > 0 ? t->slices : 1};
    /* as many bands a thread, each TILE_BACKWARD_ROWS rows at most: 700 rows on two threads go in
     * four bands of 175, not 256 + 256 + 188 (one thread would do twice the other's work) */
    const int64_t per = dr.slices * ((t->N + dr.slices * TILE_BACKWARD_ROWS - 1) / (dr.slices * TILE_BACKWARD_ROWS));
    dr.band = (t->N + per - 1) / per;
    /* not zeroed: a slice's first band overwrites its plane (a slice that took no band is skipped
     * in the sum), where calloc zeroed slices M D floats on the calling thread alone */
    dr.dBT = malloc(sizeof(float) * (size_t)dr.slices * (size_t)t->M * (size_t)t->D);
    dr.tile = aligned_alloc(64, sizeof(float) * (size_t)dr.slices * TILE_BACKWARD_ROWS * TILE_BACKWARD_COLS);
    dr.wrote = calloc((size_t)dr.slices, 1);
    run.dBT = dr.dBT;
    const int ran = dr.dBT != NULL && dr.tile != NULL && dr.wrote != NULL;
    if (ran) {
        jnce_parallel_for_at_most((t->N + dr.band - 1) / dr.band, 1, dr.slices, bands, &dr);
        jnce_parallel_for(t->M > t->N ? t->M : t->N, 64, sum_slices, &dr);
    }
    free(dr.dBT), free(dr.tile), free(dr.wrote);
    return ran;
#else
    (void)t;
    return 0;
#endif
}
