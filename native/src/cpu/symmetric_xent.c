/*
 * symmetric_xent.c - cross-entropy over the rows of a symmetric logit matrix given by its lower
 * triangle, forward and backward: the one-tensor InfoNCE forms (positives on the diagonal,
 * loss_i = -log softmax_j(f_i . f_j / tau)_i; NT-Xent, Chen et al. 2020; SupCon's labels, Khosla
 * et al. 2020), whose logits S = f fᵀ / tau are symmetric.
 *
 * Why a kernel of its own: jnce_ssyrk computes only the lower triangle of S (half the flops of
 * a GEMM), and d loss / d f = (G + Gᵀ) f / tau is one GEMM instead of two once G + Gᵀ is formed.
 * This kernel never mirrors S: every entry below the diagonal belongs to two rows' softmax, its
 * own row's and (mirrored) its column's row.
 *
 *   pass 1  per row i over its candidates j (all j, less j = i when exclude_self, less p(i) when
 *           decoupled): m_i = max S_ij, s_i = sum exp(S_ij - m_i), s in double. Rows are swept
 *           CHUNK at a time: each row's own part S[i, 0..i] is contiguous; the chunk's entries
 *           also update the running column statistics of every column left of it (one set per
 *           thread, merged at the end). lse_i = m_i + log s_i.
 *   loss    loss_i = lse_i - S_{i,p(i)} with p(i) = (i + offset) mod N; with labels (SupCon),
 *           lse_i - mean of S_ij over i's positives P(i) (the other rows with i's label).
 *   pass 2  H = G + Gᵀ, G_ij = w (softmax_i(j) - [j = p(i)]), w = 1/N (MEAN) or 1, softmax_i(j)
 *           = exp(S_ij - m_i) / s_i (not exp(S_ij - lse_i): a float lse near 15 would cost every
 *           probability 5e-7 of relative error), 0 off row i's candidates. TILE x TILE tiles of
 *           the lower triangle each write themselves and their mirror tile, so G may be S (only
 *           the lower triangle is read, each tile before it is written). The gradient entry
 *           points (jnce_symmetric_xent_grad) mirror only the tiles within PANEL x PANEL blocks
 *           along the diagonal and take df = alpha H f from H's lower part by block products
 *           (symmetric_product): the mirror tiles' transposes and stores (64 rows a tile, in
 *           column strips) took more than the rest of the pass together, about 50 of 80 ms at
 *           N = 16384 on two cores. There, where one shift c serves every row (the row maxima
 *           within FACTOR_RANGE of each other), the tiles cover only the diagonal blocks and
 *           the rest goes row by row, in place (pass2_rows): a tile's 64 rows, 4 ld bytes
 *           apart, share a few cache sets, a row is one stream. Where the CPU also has
 *           AVX-512, that rest is formed tile by tile in the cache and multiplied there
 *           (pass2_fused), never written back.
 * The few entries where a pair is not a candidate of both rows, or is a target (the diagonal,
 * (i, p(i)) and (p(j), j)), are recomputed exactly after the vector pass; label targets are
 * subtracted after it, group by group (H_ij -= 2 w / |P(i)| for i != j with one label).
 * A row that meets a NaN or +Inf logit gets loss NaN, and its row and column of H are NaN.
 *
 * Build and check alone: see native/CMakeLists.txt; native/test/test_symmetric_xent.c is the check.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "softmax_tiles.h"
#include "tile_product.h"

typedef struct {
    const float *S;
    float *G;
    int64_t N, ld, offset, tiles;
    int exclude_self, decoupled, avx2;
    int single;           /* one target per row, p(i); 0: label targets (then exclude_self, not decoupled) */
    const unsigned char *skipped; /* label targets: rows without positive, left out (or NULL) */
    float *max;           /* pass 1: (N) row maxima and sums of exp(x - max) over the lower part of */
    double *sum;          /*   each row, then (merged) over all its candidates */
    unsigned char *bad;   /*   and whether the row met NaN or +Inf */
    float *cmax;          /* pass 1: [slices][N] the same over the part of each row above the */
    double *csum;         /*   diagonal, read as the column below it, one set per slice */
    unsigned char *cbad;
    const float *rmax;    /* pass 2: (N) row maxima */
    const float *coef;    /* pass 2: (N) w / s_i, so that w softmax_i(j) = exp(S_ij - m_i) coef_i */
    const double *lse;    /* pass 2: (N) */
    int64_t panel_tiles;  /* pass 2: mirror a tile only within the diagonal blocks of this many tiles a side (0: every tile) */
    int diagonal_blocks;  /* pass 2: tiles numbered within the diagonal blocks only (the rest goes by rows) */
    const float *a;       /* pass2_rows: (N) coef_i exp(c - m_i) */
    const int64_t *order; /* pass2_rows, label targets: the rows by label, and each row's group in it as */
    const int64_t *group; /*   [from, to) = group[2 i], group[2 i + 1] (NULL: one target a row) */
    float c;              /* pass2_rows: the one shift of every row */
    int64_t first_row;    /* pass2_rows: rows [first_row, N) have entries left of their diagonal block */
    double w;             /* pass 2: d loss / d loss_i */
    const float *f;       /* pass2_fused: f (N, D); df (N, D) takes the rows' own products, dfT [slices][N][D] */
    int64_t D;            /*   what each slice's tiles owe the rows above them, tile [slices] the tiles */
    float *df, *dfT, *tile;
    int64_t *fused_reach; /* a slice's rows of dfT written so far: [0, reach) */
    int64_t fused_blocks; /* pass2_fused: row blocks of FUSED_ROWS from row PANEL on */
    int32_t fused_slices; /*   slices of dfT */
    float alpha;          /*   df = alpha H f */
    int fused_done;       /* pass2_fused ran: the products left of the diagonal blocks are in df */
    float shift;          /* pass1_shared: the largest diagonal entry */
    float shared_hi[JNCE_MAX_THREADS]; /* pass1_shared, per slice: the largest entry read */
    unsigned char shared_nan[JNCE_MAX_THREADS]; /*   and whether one was NaN */
} sym_job;

static inline int64_t target_of(const sym_job *j, int64_t i) {
    /* (i + offset) mod N for 0 <= i, offset < N, without a division: pass 2 asks it for every row and column of a tile */
    const int64_t p = i + j->offset;
    return p >= j->N ? p - j->N : p;
}

/* Is column c one of row r's softmax candidates? */
static inline int candidate(const sym_job *j, int64_t r, int64_t c) {
    return !(j->exclude_self && r == c) && !(j->decoupled && c == target_of(j, r));
}

/* Lower-triangle tile number t -> (I, J), J <= I, numbered row by row. */
static void tile_of(int64_t t, int64_t *I, int64_t *J) {
    int64_t i = (int64_t)((sqrt(8.0 * (double)t + 1.0) - 1.0) / 2.0);
    while (i * (i + 1) / 2 > t) i--;
    while ((i + 1) * (i + 2) / 2 <= t) i++;
    *I = i;
    *J = t - i * (i + 1) / 2;
}

/*
 * Pass 2's tile t -> (I, J): the lower triangle row by row, or (diagonal_blocks) the lower
 * triangles of the diagonal blocks of panel_tiles tiles a side, block after block, where the
 * last block's tiles past N's edge give 0 (nothing to do).
 */
static int pass2_tile(const sym_job *j, int64_t t, int64_t *I, int64_t *J) {
    if (!j->diagonal_blocks) {
        tile_of(t, I, J);
        return 1;
    }
    const int64_t pt = j->panel_tiles, per_block = pt * (pt + 1) / 2, block = t / per_block;
    tile_of(t - block * per_block, I, J);
    *I += block * pt, *J += block * pt;
    return *I * TILE < j->N;
}

/* Asks for tile t's logits ahead of use. */
static void prefetch_tile(const sym_job *j, int64_t t) {
    if (t >= j->tiles) return;
    int64_t I, J;
    if (!pass2_tile(j, t, &I, &J)) return;
    const int64_t i0 = I * TILE, j0 = J * TILE;
    tile_prefetch(j->S, j->ld, i0, j0, j->N - i0 < TILE ? j->N - i0 : TILE, j->N - j0 < TILE ? j->N - j0 : TILE);
}

#define CHUNK 16 /* rows per step of pass 1: 16 sequential streams, 16 exps per rescale */

/* Row i's own part: softmax statistics of S[i, 0..i] (contiguous), in pieces around its non-candidates. */
static void lower_row_stats(sym_job *j, int64_t i) {
    const float *x = j->S + i * j->ld;
    const int64_t p = target_of(j, i);
    int64_t cut[2];
    int cuts = 0;
    if (j->exclude_self) cut[cuts++] = i;
    if (j->decoupled && p <= i && !(cuts == 1 && cut[0] == p)) cut[cuts++] = p;
    if (cuts == 2 && cut[1] < cut[0]) cut[0] = p, cut[1] = i;
    j->max[i] = -FLT_MAX, j->sum[i] = 0.0, j->bad[i] = 0;
    int64_t from = 0;
    for (int c = 0; c <= cuts; c++) {
        const int64_t to = c < cuts ? cut[c] : i + 1;
        if (to > from) {
            jnce_row_stats st = jnce_softmax_row_stats(x + from, to - from);
            j->bad[i] |= st.bad;
            merge(j->max, j->sum, i, st.max, st.sum);
        }
        from = to + 1;
    }
}

/*
 * Pass 1 over chunks of CHUNK rows, paired (chunk k with the last but k) so that slices get
 * equal work. Each row's own part (S[i, 0..i]) goes to the row's statistics; every entry below
 * the diagonal, S[i][j] with j < i, also belongs to row j's softmax and goes to this slice's
 * column statistics of j, CHUNK rows at a time.
 */
static void pass1(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    sym_job *j = ctx;
    const int64_t N = j->N, chunks = (N + CHUNK - 1) / CHUNK;
    float *M = j->cmax + (int64_t)slice * N;
    double *sum = j->csum + (int64_t)slice * N;
    unsigned char *bad = j->cbad + (int64_t)slice * N;
    const float *x[CHUNK];
    for (int64_t k = begin; k < end; k++) {
        for (int half = 0; half < 2; half++) {
            const int64_t chunk = half == 0 ? k : chunks - 1 - k;
            if (half == 1 && chunk == k) break;
            const int64_t i0 = chunk * CHUNK, rows = N - i0 < CHUNK ? N - i0 : CHUNK;
            for (int64_t r = 0; r < rows; r++) {
                lower_row_stats(j, i0 + r);
                x[r] = j->S + (i0 + r) * j->ld;
            }
            /* columns left of the chunk: whole vectors, except where a row is a column's excluded target */
            int64_t from = 0;
            for (int64_t r = 0; j->decoupled && r <= rows; r++) {
                /* the columns whose target is one of the chunk's rows, in increasing order of column */
                int64_t col = r < rows ? ((i0 + r - j->offset) % N + N) % N : i0;
                if (col >= i0) continue;
                if (j->avx2) column_add_avx2(x, rows, from, col, M, sum, bad);
                else for (int64_t c = from; c < col; c++) column_add_scalar(x, rows, c, -1, M, sum, bad);
                column_add_scalar(x, rows, col, r, M, sum, bad);
                from = col + 1;
            }
            if (j->avx2) column_add_avx2(x, rows, from, i0, M, sum, bad);
            else for (int64_t c = from; c < i0; c++) column_add_scalar(x, rows, c, -1, M, sum, bad);
            /* the chunk's own triangle: column i0 + c over rows i0 + c + 1 .. (less its target row) */
            for (int64_t c = 0; c + 1 < rows; c++) {
                const int64_t col = i0 + c, skip = j->decoupled ? target_of(j, col) - (col + 1) : -1;
                column_add_scalar(x + c + 1, rows - c - 1, col, skip, M, sum, bad);
            }
        }
    }
}

#ifdef JNCE_HAVE_AVX512
/*
 * Pass 1 with one shift b for every row (AVX-512): b = the largest diagonal entry. For a Gram
 * matrix, S = f fᵀ / tau as the one-tensor forms give, |S_ij| <= sqrt(S_ii S_jj) <= b
 * (Cauchy-Schwarz), so exp(S_ij - b) <= 1 serves row i and column j alike: one exp per entry
 * of the lower triangle instead of two, and no rescaling. S_ij - b is taken exactly (its
 * rounding error, by TwoSum, multiplies the exp as 1 + err), so a row far below b keeps its
 * digits. The row and column maxima are kept beside the sums, and each row's statistics are
 * then brought to its own maximum, as pass1 leaves them. Used only where it held
 * (shared_pass1_holds): no entry above b, no NaN or +Inf, and every row's sum of exp(S_ij - b)
 * at least SHIFT_FLOOR = e^-50, so that the terms below float's range (e^-87) are under 1e-12
 * of it; otherwise pass1 runs. Columns: j->cmax and j->csum per slice; rows: j->max and j->sum.
 */
JNCE_TARGET_AVX512 static void pass1_shared(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    sym_job *j = ctx;
    const int64_t N = j->N, chunks = (N + CHUNK - 1) / CHUNK;
    const float b = j->shift;
    const __m512 vb = _mm512_set1_ps(b), nb = _mm512_set1_ps(-b), ninf = _mm512_set1_ps(-INFINITY);
    double *col = j->csum + (int64_t)slice * N;
    float *colmax = j->cmax + (int64_t)slice * N;
    __m512 hi = ninf;
    __mmask16 nan = 0;
    const float *x[CHUNK];
    __m512 racc[CHUNK], rmax[CHUNK];
    double rsum[CHUNK];
    for (int64_t k = begin; k < end; k++) {
        for (int half = 0; half < 2; half++) {
            const int64_t chunk = half == 0 ? k : chunks - 1 - k;
            if (half == 1 && chunk == k) break;
            const int64_t i0 = chunk * CHUNK, rows = N - i0 < CHUNK ? N - i0 : CHUNK;
            for (int64_t r = 0; r < rows; r++) {
                x[r] = j->S + (i0 + r) * j->ld;
                racc[r] = _mm512_setzero_ps();
                rmax[r] = ninf;
                rsum[r] = 0.0;
            }
            /* columns left of the chunk, 16 at a time (the last ones masked: -inf gives 0); the
             * rows' float sums go to double every 8 vectors */
            for (int64_t c = 0, step = 0; c < i0; c += 16, step++) {
                const __mmask16 m = i0 - c >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (i0 - c)) - 1u);
                __m512 cacc = _mm512_setzero_ps(), cm = ninf;
                for (int64_t r = 0; r < rows; r++) {
                    /* four lines ahead in each of the 16 streams, more than the hardware
                     * prefetchers keep up with (16384 x 128 on two cores: 31-32 -> 26-28 ms) */
                    _mm_prefetch(jnce_ahead(x[r], c + 64), _MM_HINT_T0);
                    __m512 v = _mm512_mask_loadu_ps(ninf, m, x[r] + c);
                    nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
                    cm = _mm512_max_ps(v, cm);
                    rmax[r] = _mm512_max_ps(v, rmax[r]);
                    __m512 e = exp_shifted_avx512(v, vb, nb);
                    cacc = _mm512_add_ps(cacc, e);
                    racc[r] = _mm512_add_ps(racc[r], e);
                }
                hi = _mm512_max_ps(cm, hi);
                column_block_add_avx512(col + c, colmax + c, m, cacc, cm);
                if ((step & 7) == 7 || c + 16 >= i0) row_sums_flush_avx512(rsum, racc, rows);
            }
            /* the chunk's own triangle (CHUNK = 16 columns: one masked vector a row), and the
             * diagonal unless excluded; entries left of the diagonal also go to their column */
            for (int64_t r = 0; r < rows; r++) {
                const int64_t i = i0 + r, width = j->exclude_self ? r : r + 1;
                float row_hi = _mm512_reduce_max_ps(rmax[r]);
                if (width > 0) {
                    const __mmask16 m = (__mmask16)((1u << width) - 1u), mc = (__mmask16)((1u << r) - 1u);
                    const __m512 v = _mm512_mask_loadu_ps(ninf, m, x[r] + i0);
                    nan |= _mm512_mask_cmp_ps_mask(m, v, v, _CMP_UNORD_Q);
                    hi = _mm512_max_ps(v, hi);
                    row_hi = fmaxf(row_hi, _mm512_reduce_max_ps(v));
                    const __m512 e = _mm512_maskz_mov_ps(m, exp_shifted_avx512(v, vb, nb)); /* -inf lanes: NaN otherwise */
                    rsum[r] += hsum512_ps_pd(e);
                    if (mc != 0) column_block_add_avx512(col + i0, colmax + i0, mc, e, v);
                }
                j->max[i] = row_hi;
                j->sum[i] = rsum[r];
            }
        }
    }
    j->shared_hi[slice] = _mm512_reduce_max_ps(hi);
    j->shared_nan[slice] = (unsigned char)(nan != 0);
}

/*
 * After pass1_shared: whether it held (see above). If so, each row's statistics become (its
 * largest candidate m_i, sum of exp(S_ij - m_i)), as pass1 gives them; if not, the column
 * statistics are cleared for pass1.
 */
static int shared_pass1_holds(sym_job *j, int32_t slices) {
    const int64_t N = j->N;
    int holds = 1;
    for (int32_t sl = 0; sl < slices; sl++)
        if (j->shared_nan[sl] || !(j->shared_hi[sl] <= j->shift)) holds = 0;
    for (int64_t i = 0; holds && i < N; i++) {
        double total = j->sum[i];
        float m = j->max[i];
        for (int32_t sl = 0; sl < slices; sl++) total += j->csum[sl * N + i], m = fmaxf(m, j->cmax[sl * N + i]);
        if (!(total >= SHIFT_FLOOR) || !(total < INFINITY)) holds = 0;
        j->sum[i] = total * exp((double)j->shift - (double)m);
        j->max[i] = m;
        j->bad[i] = 0;
    }
    if (!holds) column_stats_clear(j->csum, j->cmax, slices, N);
    return holds;
}
#endif

/* H[r][c] of the pair (row, col) with logit x, exactly: for the entries the vector pass gets wrong. */
static float pair_gradient(const sym_job *j, int64_t row, int64_t col, float x) {
    double w = j->w;
    double a = (candidate(j, row, col) ? w * exp((double)x - j->lse[row]) : 0.0) -
               (j->single && col == target_of(j, row) ? w : 0.0);
    if (row == col) return (float)(2.0 * a);
    double b = (candidate(j, col, row) ? w * exp((double)x - j->lse[col]) : 0.0) -
               (j->single && row == target_of(j, col) ? w : 0.0);
    return (float)(a + b);
}

JNCE_TARGET_AVX2 static void transpose_tile_avx2(const float *H, float *T) {
    for (int64_t r = 0; r < TILE; r += 8)
        for (int64_t c = 0; c < TILE; c += 8) {
            __m256 v[8], u[8];
            for (int k = 0; k < 8; k++) v[k] = _mm256_loadu_ps(H + (r + k) * TILE + c);
            for (int k = 0; k < 8; k += 2) {
                u[k] = _mm256_unpacklo_ps(v[k], v[k + 1]);
                u[k + 1] = _mm256_unpackhi_ps(v[k], v[k + 1]);
            }
            for (int k = 0; k < 8; k += 4) {
                v[k] = _mm256_shuffle_ps(u[k], u[k + 2], _MM_SHUFFLE(1, 0, 1, 0));
                v[k + 1] = _mm256_shuffle_ps(u[k], u[k + 2], _MM_SHUFFLE(3, 2, 3, 2));
                v[k + 2] = _mm256_shuffle_ps(u[k + 1], u[k + 3], _MM_SHUFFLE(1, 0, 1, 0));
                v[k + 3] = _mm256_shuffle_ps(u[k + 1], u[k + 3], _MM_SHUFFLE(3, 2, 3, 2));
            }
            for (int k = 0; k < 4; k++) {
                _mm256_storeu_ps(T + (c + k) * TILE + r, _mm256_permute2f128_ps(v[k], v[k + 4], 0x20));
                _mm256_storeu_ps(T + (c + k + 4) * TILE + r, _mm256_permute2f128_ps(v[k], v[k + 4], 0x31));
            }
        }
}

/* Pass 2 over tiles [begin, end): H of the tile into G at the tile and at its mirror. */
static void pass2(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    sym_job *j = ctx;
    const int64_t N = j->N, ld = j->ld;
    float T[TILE * TILE], H[TILE * TILE];
    for (int64_t t = begin; t < end; t++) {
        int64_t I, J;
        if (!pass2_tile(j, t, &I, &J)) continue;
        const int64_t i0 = I * TILE, j0 = J * TILE;
        const int64_t rows = N - i0 < TILE ? N - i0 : TILE, cols = N - j0 < TILE ? N - j0 : TILE;
        const int diagonal = I == J;
        if (t + 2 < end) prefetch_tile(j, t + 2);
        tile_load(j->S, ld, i0, j0, rows, cols, diagonal, T);
        tile_gradient(j->avx2, T, rows, cols, j->rmax + i0, j->coef + i0, j->rmax + j0, j->coef + j0, H);

        /* the diagonal, (i, p(i)) and (p(j), j): not a candidate of both rows, or a target */
        for (int64_t r = 0; r < rows; r++) {
            const int64_t row = i0 + r;
            if (diagonal) H[r * TILE + r] = pair_gradient(j, row, row, T[r * TILE + r]);
            int64_t p = target_of(j, row) - j0;
            if (j->single && p >= 0 && p < cols && j0 + p <= row) H[r * TILE + p] = pair_gradient(j, row, j0 + p, T[r * TILE + p]);
        }
        for (int64_t c = 0; c < cols; c++) {
            int64_t p = target_of(j, j0 + c) - i0;
            /* (unless the row loop took it already: a pair of mutual targets, as NT-Xent's i and i + N) */
            if (j->single && p >= 0 && p < rows && i0 + p >= j0 + c && target_of(j, i0 + p) != j0 + c)
                H[p * TILE + c] = pair_gradient(j, i0 + p, j0 + c, T[p * TILE + c]);
        }

        float *G = j->G;
        if (diagonal) {
            for (int64_t r = 0; r < rows; r++)
                for (int64_t c = 0; c < rows; c++)
                    G[(i0 + r) * ld + j0 + c] = c <= r ? H[r * TILE + c] : H[c * TILE + r];
        } else if (j->panel_tiles > 0 && I / j->panel_tiles != J / j->panel_tiles) {
            write_tile(j->avx2, G == j->S, G, ld, i0, j0, H, rows, cols); /* no mirror */
        } else {
            write_tile(j->avx2, 0, G, ld, i0, j0, H, rows, cols);
            /* the mirror: transpose in the cache first, then whole rows (T is free by now) */
            if (j->avx2) {
                transpose_tile_avx2(H, T);
            } else {
                for (int64_t r = 0; r < TILE; r++)
                    for (int64_t c = 0; c < TILE; c++) T[c * TILE + r] = H[r * TILE + c];
            }
            for (int64_t c = 0; c < cols; c++) write_row(j->avx2, G + (j0 + c) * ld + i0, T + c * TILE, rows);
        }
    }
    if (j->avx2) _mm_sfence(); /* the streaming stores are visible before the GEMM reads G */
}

/*
 * Pass 2 by rows where one shift c serves every row (each row maximum m_i within
 * FACTOR_RANGE / 2 of c, as an embedding batch's rows usually are): H_ij = exp(S_ij - c)
 * (a_i + a_j) with a_i = coef_i exp(c - m_i), the tiles' factored form with one c for all,
 * in place over each row's entries left of its diagonal block (the part the gradient entry
 * points keep unmirrored). A row's entries are one contiguous stream, where a tile's 64 rows,
 * 4 ld bytes apart, fall into the same few cache sets. The pairs the vector pass gets wrong,
 * (i, p(i)) and (i, q) with p(q) = i, are recomputed from their logits, read before it; with
 * label targets, row i's positives left of its block take their -2 w / |P(i)| here, in cache,
 * where run's correction after the pass reached each at random in S (1.4-1.9 ms at N = 8192,
 * 2.3-5.1 ms at 16384 on one thread, ad-hoc), and those right of the block, which nothing
 * reads, none at all.
 */
JNCE_TARGET_AVX2 static void row_gradient_avx2(float *x, int64_t n, float ai, const float *a, float c, const float *next) {
    const __m256 vc = _mm256_set1_ps(c), va = _mm256_set1_ps(ai);
    for (int64_t k = 0; k < n; k += 8) {
        if ((k & 15) == 0) _mm_prefetch(row_ahead(x, k, n, next, ROW_AHEAD), _MM_HINT_T0);
        __m256 e = exp_nonpos_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + k), vc));
        _mm256_storeu_ps(x + k, _mm256_mul_ps(e, _mm256_add_ps(va, _mm256_loadu_ps(a + k))));
    }
}

#ifdef JNCE_HAVE_AVX512
JNCE_TARGET_AVX512 static void row_gradient_avx512(float *x, int64_t n, float ai, const float *a, float c, const float *next) {
    const __m512 vc = _mm512_set1_ps(c), va = _mm512_set1_ps(ai);
    for (int64_t k = 0; k < n; k += 16) {
        _mm_prefetch(row_ahead(x, k, n, next, ROW_AHEAD), _MM_HINT_T0);
        __m512 e = exp_nonpos_avx512(_mm512_sub_ps(_mm512_loadu_ps(x + k), vc));
        _mm512_storeu_ps(x + k, _mm512_mul_ps(e, _mm512_add_ps(va, _mm512_loadu_ps(a + k))));
    }
}
#endif

/* Row i's entries left of its diagonal block (a multiple of TILE: whole vectors); next: the row swept after it, or -1. */
static void pass2_row(const sym_job *j, int64_t i, int64_t next) {
    const int64_t panel = j->panel_tiles * TILE, width = i / panel * panel;
    if (width == 0) return;
    float *x = j->G + i * j->ld;
    int64_t col[2];
    float value[2];
    int fixes = 0;
    if (j->single) {
        const int64_t p = target_of(j, i), q = i >= j->offset ? i - j->offset : i - j->offset + j->N;
        if (p < width) col[fixes] = p, value[fixes++] = pair_gradient(j, i, p, x[p]);
        if (q < width && q != p) col[fixes] = q, value[fixes++] = pair_gradient(j, i, q, x[q]);
    }
    const float *after = next >= 0 ? j->G + next * j->ld : x + width;
#ifdef JNCE_HAVE_AVX512
    if (jnce_use_avx512()) row_gradient_avx512(x, width, j->a[i], j->a, j->c, after);
    else
#endif
        row_gradient_avx2(x, width, j->a[i], j->a, j->c, after);
    for (int f = 0; f < fixes; f++) x[col[f]] = value[f];
    if (j->group != NULL && j->group[2 * i + 1] - j->group[2 * i] >= 2) {
        /* label targets left of the block: H_ij -= 2 w / |P(i)|, as run does for the rest */
        const int64_t from = j->group[2 * i], to = j->group[2 * i + 1];
        const double step = 2.0 * j->w / (double)(to - from - 1);
        for (int64_t b = from; b < to; b++) {
            const int64_t c = j->order[b];
            if (c < width) x[c] = (float)((double)x[c] - step);
        }
    }
}

/* Pass 2 by rows over row pairs [begin, end): pair k is rows first_row + k and N - 1 - k (equal work a pair). */
static void pass2_rows(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const sym_job *j = ctx;
    for (int64_t k = begin; k < end; k++) {
        const int64_t lo = j->first_row + k, hi = j->N - 1 - k;
        pass2_row(j, lo, hi != lo ? hi : k + 1 < end ? lo + 1 : -1);
        if (hi != lo) pass2_row(j, hi, k + 1 < end ? lo + 1 : -1);
    }
}

/*
 * The gradient entry points' pass 2 and product in one, where the CPU has AVX-512 (pass2_fused):
 * the entries left of the diagonal blocks, H_ij = exp(S_ij - c) (a_i + a_j) as pass2_rows forms
 * them (the same bits, the same fixes), go tile by tile, FUSED_ROWS x FUSED_COLS, into a scratch
 * tile in the cache, and both products that need them read it there:
 *   df[i]  += sum_j H_ij f[j]  (the tile's rows)      dfT[j] += sum_i H_ij f[i]  (its columns)
 * with dfT one buffer a slice, summed into df after the pass; the products over the diagonal
 * blocks stay with OpenBLAS. Against pass2_rows + symmetric_product this reads the logits left
 * of the blocks once and writes nothing there, where pass2_rows read and wrote them and the two
 * block products read them twice more: at N = 16384, D = 128 on two Xeon cores (C probe,
 * ad-hoc) 295-335 ms against 29 + 370 ms, the tiles' own exponentials 37 of them. The tiles'
 * products run on 16-lane accumulators, six rows of the output and 64 of its columns at a time,
 * each H entry broadcast, over TILE_PRODUCT_DEPTH rows of f copied together (tile_product.h); a tile (256 KiB), its rows
 * of f and its rows of df and dfT stay in a core's L2.
 */
#define FUSED_ROWS 256 /* divides PANEL: a row block's rows share their width */
#define FUSED_COLS 256 /* a multiple of 16, so that every width (a multiple of PANEL) splits into whole vectors */
#define PANEL 1024 /* a multiple of TILE and of FUSED_ROWS: the gradient entry points' diagonal blocks */

#ifdef JNCE_HAVE_AVX512
/*
 * Row i's H over columns [k0, k0 + n) (n a multiple of 16, k0 + n at most the start of i's
 * diagonal block) into dst, S left as it is: pass2_row's arithmetic and fixes on a window of
 * the row. ahead: where the row's next window starts (asked for into L2), or NULL.
 */
JNCE_TARGET_AVX512 static void fused_row(const sym_job *j, int64_t i, int64_t k0, int64_t n, float *dst, const float *ahead) {
    const float *x = j->S + i * j->ld + k0;
    const __m512 vc = _mm512_set1_ps(j->c), va = _mm512_set1_ps(j->a[i]);
    for (int64_t k = 0; k < n; k += 16) {
        const __m512 e = exp_nonpos_avx512(_mm512_sub_ps(_mm512_loadu_ps(x + k), vc));
        _mm512_storeu_ps(dst + k, _mm512_mul_ps(e, _mm512_add_ps(va, _mm512_loadu_ps(j->a + k0 + k))));
    }
    if (ahead != NULL)
        for (int64_t k = 0; k < n; k += 16) _mm_prefetch((const char *)(ahead + k), _MM_HINT_T1);
    if (j->single) {
        const int64_t p = target_of(j, i), q = i >= j->offset ? i - j->offset : i - j->offset + j->N;
        if (p >= k0 && p < k0 + n) dst[p - k0] = pair_gradient(j, i, p, x[p - k0]);
        if (q >= k0 && q < k0 + n && q != p) dst[q - k0] = pair_gradient(j, i, q, x[q - k0]);
    } else if (j->group != NULL && j->group[2 * i + 1] - j->group[2 * i] >= 2) {
        /* label targets in the window: the group's rows lie in order by index, so the first at or after k0 by bisection */
        int64_t lo = j->group[2 * i], hi = j->group[2 * i + 1];
        const double step = 2.0 * j->w / (double)(hi - lo - 1);
        const int64_t to = hi;
        while (lo < hi) {
            const int64_t mid = lo + (hi - lo) / 2;
            if (j->order[mid] < k0) lo = mid + 1;
            else hi = mid;
        }
        for (int64_t b = lo; b < to && j->order[b] < k0 + n; b++) {
            float *e = dst + (j->order[b] - k0);
            *e = (float)((double)*e - step);
        }
    }
}

/*
 * One row block from row r0: its tiles, each formed (fused_row) and multiplied where it lies
 * (jnce_tile_product). Neither df nor dfT is zeroed first: the block's first tile overwrites its
 * rows of df (no other block writes them), and its columns overwrite the rows of the slice's dfT
 * at or past *reach, the rows the slice has written so far (always a prefix: a block's columns
 * start at 0), which then grows to the block's width.
 */
JNCE_TARGET_AVX512 static void fused_block(const sym_job *j, int64_t r0, float *X, float *dfT, int64_t *reach) {
    const int64_t N = j->N, D = j->D, ld = j->ld, rows = N - r0 < FUSED_ROWS ? N - r0 : FUSED_ROWS;
    const int64_t width = r0 / PANEL * PANEL;
    for (int64_t k0 = 0; k0 < width; k0 += FUSED_COLS) {
        const int64_t n = width - k0 < FUSED_COLS ? width - k0 : FUSED_COLS;
        for (int64_t r = 0; r < rows || r < n; r++) {
            if (r < rows) fused_row(j, r0 + r, k0, n, X + r * FUSED_COLS, k0 + n < width ? j->S + (r0 + r) * ld + k0 + n : NULL);
            /* the tile's columns' rows of f and dfT into L2 while it forms: the products would wait on them */
            if (r < n) jnce_tile_rows_ahead(j->f + (k0 + r) * D, dfT + (k0 + r) * D, D);
        }
        jnce_tile_product(j->df + r0 * D, rows, X, FUSED_COLS, 1, j->f + k0 * D, D, n, k0 > 0); /* the tile's rows */
        jnce_tile_product(dfT + k0 * D, n, X, 1, FUSED_COLS, j->f + r0 * D, D, rows, k0 < *reach); /* its columns */
    }
    if (width > *reach) *reach = width;
}

/* Row blocks in pairs [begin, end): pair k is block k and the last but k (equal work a pair, as pass2_rows'). */
JNCE_TARGET_AVX512 static void pass2_fused(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    const sym_job *j = ctx;
    float *X = j->tile + (size_t)slice * FUSED_ROWS * FUSED_COLS, *dfT = j->dfT + (size_t)slice * (size_t)(j->N * j->D);
    int64_t *reach = j->fused_reach + slice;
    for (int64_t k = begin; k < end; k++) {
        const int64_t lo = k, hi = j->fused_blocks - 1 - k;
        fused_block(j, PANEL + lo * FUSED_ROWS, X, dfT, reach);
        if (hi != lo) fused_block(j, PANEL + hi * FUSED_ROWS, X, dfT, reach);
    }
}

/* df = alpha (df + the slices' dfT), rows [begin, end): df's rows above the first block and each
 * slice's dfT rows past its reach were never written and count as zeros */
static void fused_sum(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const sym_job *j = ctx;
    const int64_t D = j->D;
    const size_t plane = (size_t)(j->N * D);
    for (int64_t i = begin; i < end; i++) {
        float *out = j->df + i * D;
        for (int64_t d = 0; d < D; d++) {
            const size_t k = (size_t)(i * D + d);
            float v = i >= PANEL ? out[d] : 0.0f;
            for (int32_t s = 0; s < j->fused_slices; s++)
                if (i < j->fused_reach[s]) v += j->dfT[(size_t)s * plane + k];
            out[d] = j->alpha * v;
        }
    }
}
#endif

/*
 * For pass2_rows: a_i = coef_i exp(c - m_i) with c the middle of the row maxima, or NULL where
 * they spread over more than FACTOR_RANGE (or out of memory): the tiles then take their own c.
 */
static float *shared_coefficients(sym_job *j, const float *coef, float *c) {
    const int64_t N = j->N;
    float lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < N; i++) lo = fminf(lo, j->rmax[i]), hi = fmaxf(hi, j->rmax[i]);
    if (!(hi - lo <= FACTOR_RANGE)) return NULL; /* also Inf and NaN */
    float *a = malloc(sizeof(float) * (size_t)N);
    if (a == NULL) return NULL;
    *c = 0.5f * (lo + hi);
    for (int64_t i = 0; i < N; i++) a[i] = (float)((double)coef[i] * exp((double)*c - (double)j->rmax[i]));
    return a;
}

/*
 * pass2_fused over every row block right of the first diagonal block, then df = alpha (df + dfT):
 * 1 if it ran, 0 where it cannot (no product asked for, no AVX-512, out of memory), and then
 * pass2_rows and symmetric_product do the same work.
 */
static int run_fused(sym_job *job) {
#ifdef JNCE_HAVE_AVX512
    if (job->f == NULL || !jnce_use_avx512() || job->panel_tiles * TILE != PANEL || job->N <= PANEL) return 0;
    const int32_t slices = jnce_threads();
    const size_t plane = (size_t)job->N * (size_t)job->D;
    /* neither dfT nor df is zeroed (fused_block): calloc and a memset of df zeroed 3 planes on the
     * calling thread, 2-4 ms of the 130 ms backward at N = 8192, D = 256 */
    float *dfT = malloc(sizeof(float) * (size_t)slices * plane);
    float *tile = aligned_alloc(64, sizeof(float) * (size_t)slices * FUSED_ROWS * FUSED_COLS);
    int64_t *reach = calloc((size_t)slices, sizeof(int64_t));
    if (dfT == NULL || tile == NULL || reach == NULL) {
        free(dfT), free(tile), free(reach);
        return 0;
    }
    job->dfT = dfT, job->tile = tile, job->fused_reach = reach, job->fused_slices = slices;
    job->fused_blocks = (job->N - PANEL + FUSED_ROWS - 1) / FUSED_ROWS;
    jnce_parallel_for_at_most((job->fused_blocks + 1) / 2, 1, slices, pass2_fused, job);
    jnce_parallel_for(job->N, 64, fused_sum, job);
    free(dfT), free(tile), free(reach);
    job->fused_done = 1;
    return 1;
#else
    (void)job;
    return 0;
#endif
}

/*
 * Both entry points: pass 1, the loss (positive_logit(i) gives the target part of row i's loss),
 * pass 2. groups (label mode): rows ordered by label with group_end[k] the end of k's group.
 */
static int32_t run(sym_job *job, int32_t reduction, const int64_t *order, const int64_t *group_end, float *loss) {
    const int64_t N = job->N, ld = job->ld, side = (N + TILE - 1) / TILE;
    const float *S = job->S;
    float *G = job->G;
    job->tiles = side * (side + 1) / 2;
    job->avx2 = jnce_use_avx2();
    const int32_t slices = jnce_threads();
    const size_t cells = (size_t)(slices + 1) * (size_t)N; /* the rows' own, then one column set per slice */
    job->max = malloc(sizeof(float) * cells);
    job->sum = calloc(cells, sizeof(double));
    job->bad = calloc(cells, 1);
    double *lse = malloc(sizeof(double) * (size_t)N), *target_part = calloc((size_t)N, sizeof(double));
    float *coef = malloc(sizeof(float) * (size_t)N);
    if (job->max == NULL || job->sum == NULL || job->bad == NULL || lse == NULL || target_part == NULL || coef == NULL) {
        free(job->max), free(job->sum), free(job->bad), free(lse), free(target_part), free(coef);
        return jnce_fail(JNCE_ERR_OUT_OF_MEMORY, "xent_symmetric: out of memory for N=%lld", (long long)N);
    }
    job->cmax = job->max + N, job->csum = job->sum + N, job->cbad = job->bad + N;
    for (size_t k = (size_t)N; k < cells; k++) job->max[k] = -INFINITY;
    const int64_t chunks = (N + CHUNK - 1) / CHUNK;
    int shared = 0;
#ifdef JNCE_HAVE_AVX512
    if (jnce_use_avx512() && !job->decoupled) {
        float b = -INFINITY;
        for (int64_t i = 0; i < N; i++) b = fmaxf(b, S[i * ld + i]); /* NaN: the check below fails */
        if (b > -INFINITY && b < INFINITY) {
            job->shift = b;
            for (int32_t sl = 0; sl < slices; sl++) job->shared_hi[sl] = -INFINITY, job->shared_nan[sl] = 0;
            jnce_parallel_for_at_most((chunks + 1) / 2, 4, slices, pass1_shared, job);
            shared = shared_pass1_holds(job, slices);
        }
    }
#endif
    if (!shared) {
        jnce_parallel_for_at_most((chunks + 1) / 2, 4, slices, pass1, job);
        for (int32_t sl = 0; sl < slices; sl++)
            for (int64_t i = 0; i < N; i++) {
                merge(job->max, job->sum, i, job->cmax[sl * N + i], job->csum[sl * N + i]);
                job->bad[i] |= job->cbad[sl * N + i];
            }
    }

    /* the target part of each row's loss: S_{i,p(i)}, or the mean of S_ij over i's positives */
    if (job->single) {
        for (int64_t i = 0; i < N; i++) {
            int64_t p = target_of(job, i);
            target_part[i] = S[(i > p ? i : p) * ld + (i > p ? p : i)];
        }
    } else {
        for (int64_t g = 0, from = 0; from < N; from = group_end[g++])
            for (int64_t a = from; a < group_end[g]; a++)
                for (int64_t b = from; b < group_end[g]; b++) {
                    int64_t r = order[a], c = order[b];
                    if (r == c) continue;
                    target_part[r] += (double)S[(r > c ? r : c) * ld + (r > c ? c : r)] / (double)(group_end[g] - from - 1);
                }
    }
    /* a skipped row (no positive): loss 0, coefficient 0 (its row of g vanishes), no NaN marking */
    int64_t counted = N;
    for (int64_t i = 0; job->skipped != NULL && i < N; i++) counted -= job->skipped[i];
    double total = 0.0;
    int any_bad = 0;
    const double w = reduction == JNCE_REDUCTION_MEAN ? 1.0 / (double)(counted > 0 ? counted : 1) : 1.0;
    for (int64_t i = 0; i < N; i++) {
        const int skip = job->skipped != NULL && job->skipped[i];
        if (skip) job->bad[i] = 0;
        double l = (double)job->max[i] + log(job->sum[i]);
        lse[i] = l;
        coef[i] = skip ? 0.0f : (float)(w / job->sum[i]);
        double li = skip ? 0.0 : job->bad[i] ? NAN : l - target_part[i];
        any_bad |= job->bad[i];
        if (reduction == JNCE_REDUCTION_NONE) loss[i] = (float)li;
        total += li;
    }
    if (reduction == JNCE_REDUCTION_SUM) loss[0] = (float)total;
    if (reduction == JNCE_REDUCTION_MEAN) loss[0] = counted > 0 ? (float)(total / (double)counted) : NAN;

    if (G != NULL) {
        job->rmax = job->max;
        job->coef = coef;
        job->lse = lse;
        job->w = w;
        const int64_t pt = job->panel_tiles;
        float *a = NULL;
        if (G == S && pt > 0 && N > pt * TILE && job->avx2 && !any_bad) a = shared_coefficients(job, coef, &job->c);
        int64_t *group = NULL;
        if (a != NULL && !job->single) { /* each row's group, for the label targets of its row pass */
            group = malloc(sizeof(int64_t) * 2 * (size_t)N);
            if (group == NULL) free(a), a = NULL;
            for (int64_t g = 0, from = 0; group != NULL && from < N; from = group_end[g++])
                for (int64_t b = from; b < group_end[g]; b++) group[2 * order[b]] = from, group[2 * order[b] + 1] = group_end[g];
        }
        const int64_t block = pt * TILE;
        const int by_rows = a != NULL;
        if (a != NULL) { /* the diagonal blocks' tiles (mirrored), then the rows left of them */
            job->a = a;
            job->order = order, job->group = group;
            job->diagonal_blocks = 1;
            job->tiles = (side + pt - 1) / pt * (pt * (pt + 1) / 2);
            jnce_parallel_for(job->tiles, 4, pass2, job);
            job->first_row = block;
            if (!run_fused(job)) jnce_parallel_for((N - job->first_row + 1) / 2, 1, pass2_rows, job);
            free(a), free(group);
        } else {
            jnce_parallel_for(job->tiles, 4, pass2, job);
        }
        /* label targets: g_ij -= w / |P(i)| for each positive j of i, so H_ij -= w (1/|P(i)| + 1/|P(j)|);
         * after the row pass only those in the diagonal blocks are left (the row pass took the ones
         * left of them, and nothing reads the ones right of them) */
        for (int64_t g = 0, from = 0; !job->single && from < N; from = group_end[g++]) {
            const double k = (double)(group_end[g] - from - 1);
            for (int64_t a2 = from; a2 < group_end[g]; a2++)
                for (int64_t b = from; b < group_end[g]; b++) {
                    const int64_t r = order[a2], c = order[b];
                    if (a2 == b || (by_rows && r / block != c / block)) continue;
                    G[r * ld + c] = (float)((double)G[r * ld + c] - 2.0 * w / k);
                }
        }
        for (int64_t b = 0; any_bad && b < N; b++)
            if (job->bad[b])
                for (int64_t k = 0; k < N; k++) G[b * ld + k] = G[k * ld + b] = NAN;
    }
    free(job->max), free(job->sum), free(job->bad), free(lse), free(target_part), free(coef);
    return JNCE_OK;
}

static int32_t check_common(const float *S, int64_t N, int64_t ld, int32_t reduction, const float *loss) {
    if (S == NULL || loss == NULL) return jnce_fail(JNCE_ERR_INVALID_ARG, "xent_symmetric: null S or loss");
    if (N < 1 || ld < N) return jnce_fail(JNCE_ERR_INVALID_ARG, "xent_symmetric: N=%lld ld=%lld, need 1 <= N <= ld",
                                          (long long)N, (long long)ld);
    if (reduction != JNCE_REDUCTION_NONE && reduction != JNCE_REDUCTION_MEAN && reduction != JNCE_REDUCTION_SUM)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "xent_symmetric: reduction %d", reduction);
    return JNCE_OK;
}

/* The gradient entry points' product df = alpha H f; done: pass2_fused formed the part left of the diagonal blocks. */
typedef struct {
    float alpha;
    const float *f;
    int64_t D;
    float *df;
    int done;
} sym_product;

static void set_product(sym_job *job, const sym_product *prod) {
    if (prod != NULL) job->alpha = prod->alpha, job->f = prod->f, job->D = prod->D, job->df = prod->df;
}

/* Row i's target p(i) = (i + offset) mod N: the arguments checked, then run with G laid out as panel_tiles says. */
static int32_t single_run(const float *S, int64_t N, int64_t ld, int64_t offset, int32_t exclude_self, int32_t decoupled,
                          int32_t reduction, float *loss, float *G, int64_t panel_tiles, sym_product *prod) {
    int32_t status = check_common(S, N, ld, reduction, loss);
    if (status != JNCE_OK) return status;
    if (offset < 0 || offset >= N) return jnce_fail(JNCE_ERR_INVALID_ARG, "xent_symmetric: offset %lld not in [0, %lld)",
                                                    (long long)offset, (long long)N);
    if (exclude_self && offset == 0)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "xent_symmetric: exclude_self with offset 0 excludes every target");
    if (N - (exclude_self != 0) - (decoupled != 0) < 1)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "xent_symmetric: N=%lld leaves a row no candidate", (long long)N);
    sym_job job = {.S = S, .G = G, .N = N, .ld = ld, .offset = offset, .exclude_self = exclude_self != 0,
                   .decoupled = decoupled != 0, .single = 1, .panel_tiles = panel_tiles};
    set_product(&job, prod);
    status = run(&job, reduction, NULL, NULL, loss);
    if (prod != NULL) prod->done = job.fused_done;
    return status;
}

/* Label targets: the arguments checked, rows grouped by label, then run with G laid out as panel_tiles says. */
static int32_t labels_run(const float *S, int64_t N, int64_t ld, const void *labels, int32_t labels_dtype, int32_t skip_empty,
                          int32_t reduction, float *loss, float *G, int64_t panel_tiles, sym_product *prod) {
    int32_t status = check_common(S, N, ld, reduction, loss);
    if (status != JNCE_OK) return status;
    if (labels == NULL) return jnce_fail(JNCE_ERR_INVALID_ARG, "xent_symmetric_labels: null labels");
    if (labels_dtype != JNCE_DTYPE_INT32 && labels_dtype != JNCE_DTYPE_INT64)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "xent_symmetric_labels: labels_dtype %d is not int32 or int64", labels_dtype);
    int64_t *order = malloc(sizeof(int64_t) * (size_t)N), *group_end = malloc(sizeof(int64_t) * (size_t)N);
    jnce_labelled *rows = malloc(sizeof(jnce_labelled) * (size_t)N);
    unsigned char *skipped = calloc((size_t)N, 1);
    if (order == NULL || group_end == NULL || rows == NULL || skipped == NULL) {
        free(order), free(group_end), free(rows), free(skipped);
        return jnce_fail(JNCE_ERR_OUT_OF_MEMORY, "xent_symmetric_labels: out of memory for N=%lld", (long long)N);
    }
    for (int64_t i = 0; i < N; i++) rows[i] = (jnce_labelled){jnce_target_at(labels, labels_dtype, i), i};
    qsort(rows, (size_t)N, sizeof(jnce_labelled), jnce_by_label);
    int64_t groups = 0;
    for (int64_t a = 0; a < N; a++) {
        order[a] = rows[a].index;
        if (a + 1 == N || rows[a + 1].label != rows[a].label) group_end[groups++] = a + 1;
    }
    free(rows);
    for (int64_t g = 0, from = 0; g < groups; from = group_end[g++]) {
        if (group_end[g] - from >= 2) continue;
        const int64_t row = order[from];
        if (skip_empty) {
            skipped[row] = 1;
            continue;
        }
        free(order), free(group_end), free(skipped);
        return jnce_fail(JNCE_ERR_INVALID_ARG, "xent_symmetric_labels: row %lld has no positive (label %lld on no other row)",
                         (long long)row, (long long)jnce_target_at(labels, labels_dtype, row));
    }
    sym_job job = {.S = S, .G = G, .N = N, .ld = ld, .offset = 0, .exclude_self = 1, .decoupled = 0, .single = 0,
                   .skipped = skipped, .panel_tiles = panel_tiles};
    set_product(&job, prod);
    status = run(&job, reduction, order, group_end, loss);
    if (prod != NULL) prod->done = job.fused_done;
    free(order), free(group_end), free(skipped);
    return status;
}

int32_t jnce_symmetric_xent_fwd_bwd(const float *S, int64_t N, int64_t ld, int64_t offset, int32_t exclude_self,
                            int32_t decoupled, int32_t reduction, float *loss, float *G) {
    return single_run(S, N, ld, offset, exclude_self, decoupled, reduction, loss, G, 0, NULL);
}

int32_t jnce_symmetric_xent_labels_fwd_bwd(const float *S, int64_t N, int64_t ld, const void *labels, int32_t labels_dtype,
                                   int32_t skip_empty, int32_t reduction, float *loss, float *G) {
    return labels_run(S, N, ld, labels, labels_dtype, skip_empty, reduction, loss, G, 0, NULL);
}

/*
 * The gradient entry points: H = g + gᵀ over S in PANEL x PANEL blocks along the diagonal and
 * below it (pass 2 writes nothing else above the diagonal; the label and NaN corrections may,
 * and nothing reads it), then
 * df = alpha H f panel by panel, rows [a, b):
 *   df[a:b]  = alpha H[a:b, 0:b] f[0:b]       (the block's own rows: below it and the full block)
 *   df[0:a] += alpha H[a:b, 0:a]ᵀ f[a:b]      (what the block's rows owe the rows above them)
 * Each panel's first product starts its rows of df; the second adds into rows that earlier
 * panels started. The two products read H's lower part once each, as one GEMM over the whole of
 * H would read all of it once, at the same speed (OpenBLAS, N = 16384, D = 128: 427-450 ms
 * for blocks of 512-4096 rows against 452-465 for the one GEMM, ad-hoc), and pass 2 no longer writes
 * the mirrored half. Where pass2_fused ran, only the diagonal blocks' products are left:
 *   df[a:b] += alpha H[a:b, a:b] f[a:b]
 * and S holds H in those blocks alone (left of them it still holds the logits).
 */

static int32_t check_product(const float *f, int64_t D, const float *df) {
    if (f == NULL || df == NULL) return jnce_fail(JNCE_ERR_INVALID_ARG, "xent_symmetric_grad: null f or df");
    if (D < 1) return jnce_fail(JNCE_ERR_INVALID_ARG, "xent_symmetric_grad: D=%lld, need D >= 1", (long long)D);
    return JNCE_OK;
}

static int32_t symmetric_product(const float *H, int64_t N, int64_t ld, float alpha, const float *f, int64_t D, float *df,
                                 int fused) {
    for (int64_t a = 0; a < N; a += PANEL) {
        const int64_t b = N - a < PANEL ? N : a + PANEL;
        if (fused) { /* pass2_fused added the rest: the diagonal block's own product */
            int32_t status = jnce_sgemm(0, 0, b - a, D, b - a, alpha, H + a * ld + a, ld, f + a * D, D, 1.0f, df + a * D, D);
            if (status != JNCE_OK) return status;
            continue;
        }
        int32_t status = jnce_sgemm(0, 0, b - a, D, b, alpha, H + a * ld, ld, f, D, 0.0f, df + a * D, D);
        if (status == JNCE_OK && a > 0) status = jnce_sgemm(1, 0, a, D, b - a, alpha, H + a * ld, ld, f + a * D, D, 1.0f, df, D);
        if (status != JNCE_OK) return status;
    }
    return JNCE_OK;
}

int32_t jnce_symmetric_xent_grad(float *S, int64_t N, int64_t ld, int64_t offset, int32_t exclude_self, int32_t decoupled,
                                 int32_t reduction, float *loss, float alpha, const float *f, int64_t D, float *df) {
    int32_t status = check_product(f, D, df);
    sym_product prod = {alpha, f, D, df, 0};
    if (status == JNCE_OK) status = single_run(S, N, ld, offset, exclude_self, decoupled, reduction, loss, S, PANEL / TILE, &prod);
    return status == JNCE_OK ? symmetric_product(S, N, ld, alpha, f, D, df, prod.done) : status;
}

int32_t jnce_symmetric_xent_labels_grad(float *S, int64_t N, int64_t ld, const void *labels, int32_t labels_dtype,
                                        int32_t skip_empty, int32_t reduction, float *loss, float alpha, const float *f,
                                        int64_t D, float *df) {
    int32_t status = check_product(f, D, df);
    sym_product prod = {alpha, f, D, df, 0};
    if (status == JNCE_OK) status = labels_run(S, N, ld, labels, labels_dtype, skip_empty, reduction, loss, S, PANEL / TILE, &prod);
    return status == JNCE_OK ? symmetric_product(S, N, ld, alpha, f, D, df, prod.done) : status;
}
