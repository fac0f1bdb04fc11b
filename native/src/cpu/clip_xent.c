/*
 * clip_xent.c - CLIP's symmetric cross-entropy over a square logit matrix, forward and backward:
 * the mean of the cross-entropy over the rows (a -> b) and over the columns (b -> a), each pair
 * on the diagonal. Both softmaxes are read from S where it lies: no transpose, no second N x N
 * buffer, one gradient matrix for the two gradient GEMMs.
 *
 *   S (N,N) float32, row stride ld >= N;  loss (N) for NONE, else (1);  G (N,N) stride ld or NULL.
 *   pass 1  rows swept CHUNK at a time, each slice its own run of chunks: row i's statistics
 *           (m_i, s_i = sum_j exp(S_ij - m_i)) over its contiguous row, and, from the same rows
 *           while they are in cache, the running statistics (m'_j, s'_j) of every column (one set
 *           per slice, merged at the end). lse_i = m_i + log s_i, lse'_j = m'_j + log s'_j.
 *           On AVX-512, one exp per entry for both (pass1_shared), where that holds.
 *   loss    loss_i = (lse_i + lse'_i) / 2 - S_ii.
 *   pass 2  G_ij = w/2 (exp(S_ij - m_i) / s_i + exp(S_ij - m'_j) / s'_j) - w [i = j], w = 1/N
 *           (MEAN) or 1, TILE x TILE tiles in place (each tile is read before it is written and
 *           by no other tile), one exp per entry where the tile's maxima lie close together.
 * A row that meets NaN or +Inf makes loss_i NaN and row i of G NaN; a column that does makes
 * loss_j NaN and column j of G NaN (the row and column softmaxes they spoil).
 * jnce_clip_xent_grad also takes the towers' products G B and Gᵀ A: where pass 2 would go by rows
 * (AVX-512, one shift), G is formed a tile at a time in the cache and multiplied there
 * (clip_form, tile_backward.c) and never written; elsewhere G goes into S and two GEMMs follow.
 *
 * Build and check alone: see native/CMakeLists.txt; native/test/test_clip_xent.c is the check.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "softmax_tiles.h"
#include "tile_product.h"

#define CHUNK 16 /* rows per step of pass 1: 16 sequential streams, 16 exps per column rescale */
/*
 * Rows per step of pass1_shared: 8 rows' sums and maxima stay in registers (16 rows' spilled to
 * the stack, a load and a store for each of the two per vector): pass 1 at 16384 x 128 on two
 * threads 47-63 -> 40 ms, 8192 x 256 11.6 -> 10.7 ms (ad-hoc, both libraries alternated).
 */
#define SHARED_CHUNK 8

typedef struct {
    const float *S;
    float *G;
    int64_t N, ld, side;
    int avx2;
    float *rmax;          /* (N) row maxima, sums of exp(x - max) and whether the row met NaN/+Inf */
    double *rsum;
    unsigned char *rbad;
    float *cmax;          /* [slices][N] the same for the columns, one set per slice, merged into */
    double *csum;         /*   the first */
    unsigned char *cbad;
    const float *rcoef;   /* pass 2: (N) w / (2 s_i) and w / (2 s'_j) */
    const float *ccoef;
    const double *rlse;   /* pass 2: (N) for the diagonal, computed exactly */
    const double *clse;
    double w;
    const float *arow;    /* pass2_rows: (N) w / (2 s_i) exp(c - m_i) and w / (2 s'_j) exp(c - m'_j), at one shift c */
    const float *bcol;
    float c;
    float shift[JNCE_MAX_THREADS];         /* pass1_shared, per slice: the shift its column sums are taken at */
    unsigned char failed[JNCE_MAX_THREADS]; /*   and whether it met NaN, +Inf or a row below SHIFT_FLOOR */
} clip_job;

static void pass1(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    clip_job *j = ctx;
    const int64_t N = j->N;
    float *M = j->cmax + (int64_t)slice * N;
    double *sum = j->csum + (int64_t)slice * N;
    unsigned char *bad = j->cbad + (int64_t)slice * N;
    const float *x[CHUNK];
    for (int64_t chunk = begin; chunk < end; chunk++) {
        const int64_t i0 = chunk * CHUNK, rows = N - i0 < CHUNK ? N - i0 : CHUNK;
        for (int64_t r = 0; r < rows; r++) {
            x[r] = j->S + (i0 + r) * j->ld;
            jnce_row_stats st = jnce_softmax_row_stats(x[r], N);
            j->rmax[i0 + r] = st.max, j->rsum[i0 + r] = st.sum, j->rbad[i0 + r] = (unsigned char)st.bad;
        }
        if (j->avx2) column_add_avx2(x, rows, 0, N, M, sum, bad);
        else for (int64_t c = 0; c < N; c++) column_add_scalar(x, rows, c, -1, M, sum, bad);
    }
}

#ifdef JNCE_HAVE_AVX512
/*
 * How far an entry may lie above the shift C before C is raised: exp(S_ij - C) <= e^32, so a
 * row's or column's sum of them stays within float's range for any N < 2^31.
 */
#define SHIFT_MARGIN 32.0f

/*
 * Pass 1 with one shift C per slice (AVX-512): exp(S_ij - C) serves row i's sum and column j's
 * alike, one exp per entry instead of two (pass1 takes each row's online statistics, then each
 * column's from the same rows), over chunks of SHARED_CHUNK rows. C is the largest entry of the
 * slice's first block (16 columns of its first chunk's rows), raised to a block's largest entry
 * whenever one lies more than SHIFT_MARGIN above it (rare: the sums so far are then scaled by
 * exp(C_old - C_new)); each block is read from memory once, for its maxima and that test, and then from L1 for
 * its exps. S_ij - C is taken exactly (exp_shifted_avx512). The rows' sums are brought to their
 * own maxima at the chunk's end; the column sums stay at C and are merged across slices by
 * shared_pass1_holds. Fails (failed[slice]) on NaN or +Inf, or a row whose sum at C falls below
 * SHIFT_FLOOR; shared_pass1_holds checks the columns the same way once the slices' sums are
 * merged, and pass1 runs where either fails.
 */
JNCE_TARGET_AVX512 static void pass1_shared(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    clip_job *j = ctx;
    const int64_t N = j->N;
    double *col = j->csum + (int64_t)slice * N;
    float *colmax = j->cmax + (int64_t)slice * N;
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    float C = -INFINITY;
    __m512 vb = ninf, nb = ninf, limit = ninf; /* C, -C, C + SHIFT_MARGIN: every finite entry lies above -inf */
    const float *x[SHARED_CHUNK];
    __m512 racc[SHARED_CHUNK], rmax[SHARED_CHUNK];
    double rsum[SHARED_CHUNK];
    for (int64_t chunk = begin; chunk < end; chunk++) {
        const int64_t i0 = chunk * SHARED_CHUNK, rows = N - i0 < SHARED_CHUNK ? N - i0 : SHARED_CHUNK;
        for (int64_t r = 0; r < rows; r++) {
            x[r] = j->S + (i0 + r) * j->ld;
            racc[r] = _mm512_setzero_ps(), rmax[r] = ninf, rsum[r] = 0.0;
        }
        for (int64_t c = 0, step = 0; c < N; c += 16, step++) {
            const __mmask16 m = N - c >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (N - c)) - 1u);
            __m512 cm = ninf;
            __mmask16 over = 0; /* lanes above C + SHIFT_MARGIN, or NaN */
            for (int64_t r = 0; r < rows; r++) {
                _mm_prefetch(jnce_ahead(x[r], c + 64), _MM_HINT_T0); /* four lines ahead in each stream */
                const __m512 v = _mm512_mask_loadu_ps(ninf, m, x[r] + c);
                over |= _mm512_cmp_ps_mask(v, limit, _CMP_NLE_UQ);
                cm = _mm512_max_ps(v, cm);
                rmax[r] = _mm512_max_ps(v, rmax[r]);
            }
            if (over) { /* NaN or +Inf fails; a finite rise moves C and the sums taken at it */
                const float hi = _mm512_reduce_max_ps(cm);
                __mmask16 nan = 0;
                for (int64_t r = 0; r < rows; r++) {
                    const __m512 v = _mm512_mask_loadu_ps(ninf, m, x[r] + c);
                    nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
                }
                if (nan || !(hi < INFINITY)) {
                    j->failed[slice] = 1;
                    return;
                }
                if (C > -INFINITY) {
                    const double scale = exp((double)C - (double)hi);
                    for (int64_t k = 0; k < N; k++) col[k] *= scale;
                    for (int64_t r = 0; r < rows; r++) {
                        rsum[r] = (rsum[r] + hsum512_ps_pd(racc[r])) * scale;
                        racc[r] = _mm512_setzero_ps();
                    }
                }
                C = hi;
                vb = _mm512_set1_ps(C), nb = _mm512_set1_ps(-C), limit = _mm512_set1_ps(C + SHIFT_MARGIN);
            }
            __m512 cacc = _mm512_setzero_ps();
            for (int64_t r = 0; r < rows; r++) {
                const __m512 e = exp_shifted_avx512(_mm512_mask_loadu_ps(ninf, m, x[r] + c), vb, nb); /* -inf lanes give 0 */
                cacc = _mm512_add_ps(cacc, e);
                racc[r] = _mm512_add_ps(racc[r], e);
            }
            column_block_add_avx512(col + c, colmax + c, m, cacc, cm);
            if ((step & 7) == 7 || c + 16 >= N) row_sums_flush_avx512(rsum, racc, rows);
        }
        for (int64_t r = 0; r < rows; r++) {
            if (!(rsum[r] >= SHIFT_FLOOR)) {
                j->failed[slice] = 1;
                return;
            }
            const float m = _mm512_reduce_max_ps(rmax[r]);
            j->rmax[i0 + r] = m, j->rsum[i0 + r] = rsum[r] * exp((double)C - (double)m), j->rbad[i0 + r] = 0;
        }
    }
    j->shift[slice] = C;
}

/*
 * After pass1_shared: whether it held. If so, the slices' column sums are merged into the first
 * set at each column's own maximum (m'_j, sum of exp(S_ij - m'_j)), as pass1 leaves them; if
 * not, every statistic is cleared for pass1.
 */
static int shared_pass1_holds(clip_job *j, int32_t slices) {
    const int64_t N = j->N;
    int holds = 1;
    float top = -INFINITY;
    for (int32_t sl = 0; sl < slices; sl++) {
        if (j->failed[sl]) holds = 0;
        top = fmaxf(top, j->shift[sl]);
    }
    for (int64_t c = 0; holds && c < N; c++) {
        double total = 0.0;
        float m = -INFINITY;
        for (int32_t sl = 0; sl < slices; sl++) {
            if (j->shift[sl] == -INFINITY) continue; /* a slice that had no chunk */
            total += j->csum[sl * N + c] * exp((double)j->shift[sl] - (double)top);
            m = fmaxf(m, j->cmax[sl * N + c]);
        }
        if (!(total >= SHIFT_FLOOR) || !(total < INFINITY)) holds = 0;
        j->csum[c] = total * exp((double)top - (double)m);
        j->cmax[c] = m;
        j->cbad[c] = 0;
    }
    if (!holds) column_stats_clear(j->csum, j->cmax, slices, N);
    return holds;
}
#endif

/* Pass 2 over tiles [begin, end), numbered row of tiles by row of tiles. */
static void pass2(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    clip_job *j = ctx;
    const int64_t N = j->N, ld = j->ld;
    float T[TILE * TILE], H[TILE * TILE];
    for (int64_t t = begin; t < end; t++) {
        const int64_t i0 = t / j->side * TILE, j0 = t % j->side * TILE;
        const int64_t rows = N - i0 < TILE ? N - i0 : TILE, cols = N - j0 < TILE ? N - j0 : TILE;
        if (t + 2 < end) {
            const int64_t p0 = (t + 2) / j->side * TILE, q0 = (t + 2) % j->side * TILE;
            tile_prefetch(j->S, ld, p0, q0, N - p0 < TILE ? N - p0 : TILE, N - q0 < TILE ? N - q0 : TILE);
        }
        tile_load(j->S, ld, i0, j0, rows, cols, 0, T);
        tile_gradient(j->avx2, T, rows, cols, j->rmax + i0, j->rcoef + i0, j->cmax + j0, j->ccoef + j0, H);
        if (i0 == j0) /* the pairs: their target term, and their probabilities without the factored form's rounding */
            for (int64_t r = 0; r < rows; r++) {
                const double x = T[r * TILE + r];
                H[r * TILE + r] = (float)(0.5 * j->w * (exp(x - j->rlse[i0 + r]) + exp(x - j->clse[i0 + r])) - j->w);
            }
        write_tile(j->avx2, j->G == j->S, j->G, ld, i0, j0, H, rows, cols);
    }
    if (j->avx2) _mm_sfence(); /* the streaming stores are visible before the GEMMs read G */
}

#ifdef JNCE_HAVE_AVX512
/*
 * Pass 2 by rows over [begin, end) where one shift c serves the whole matrix (every row and
 * column maximum within FACTOR_RANGE / 2 of c, no NaN or Inf): G_ij = exp(S_ij - c) (a_i + b_j),
 * the tiles' factored form with the coefficients of every row and column at one c. A row is one
 * sequential stream, read and written in place; 64-row tiles read 64 streams of 256 bytes.
 * The pair (i, i) is taken exactly, as the tiles take it.
 */
JNCE_TARGET_AVX512 static void pass2_rows(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    clip_job *j = ctx;
    const int64_t N = j->N;
    const __m512 vc = _mm512_set1_ps(j->c), ninf = _mm512_set1_ps(-INFINITY);
    for (int64_t i = begin; i < end; i++) {
        const float *x = j->S + i * j->ld;
        float *g = j->G + i * j->ld;
        const double xii = x[i];
        const __m512 ar = _mm512_set1_ps(j->arow[i]);
        const float *after = i + 1 < end ? x + j->ld : x + N;
        int64_t c = 0;
        for (; c + 16 <= N; c += 16) {
            _mm_prefetch(row_ahead(x, c, N, after, ROW_AHEAD), _MM_HINT_T0);
            const __m512 e = exp_nonpos_avx512(_mm512_sub_ps(_mm512_loadu_ps(x + c), vc)); /* S - c <= FACTOR_RANGE / 2 */
            _mm512_storeu_ps(g + c, _mm512_mul_ps(e, _mm512_add_ps(ar, _mm512_loadu_ps(j->bcol + c))));
        }
        if (c < N) {
            const __mmask16 m = (__mmask16)((1u << (N - c)) - 1u);
            const __m512 e = exp_nonpos_avx512(_mm512_sub_ps(_mm512_mask_loadu_ps(ninf, m, x + c), vc));
            _mm512_mask_storeu_ps(g + c, m, _mm512_mul_ps(e, _mm512_add_ps(ar, _mm512_maskz_loadu_ps(m, j->bcol + c))));
        }
        g[i] = (float)(0.5 * j->w * (exp(xii - j->rlse[i]) + exp(xii - j->clse[i])) - j->w);
    }
}
#endif

#ifdef JNCE_HAVE_AVX512
/*
 * jnce_clip_xent_grad's tiles (jnce_tile_backward_run, tile_product.h) where pass2_rows would
 * run: the same G_ij = exp(S_ij - c) (a_i + b_j), the pairs taken exactly, formed a window of a
 * row at a time into the tile instead of over S, and multiplied there by both towers.
 */
JNCE_TARGET_AVX512 static void clip_form(const jnce_tile_backward *t, int64_t r0, int64_t rows, int64_t k0, int64_t n, float *X,
                                         int32_t slice) {
    const clip_job *j = t->ctx;
    const __m512 vc = _mm512_set1_ps(j->c);
    for (int64_t r = 0; r < rows; r++) {
        const int64_t i = r0 + r;
        const float *x = j->S + i * j->ld + k0;
        /* asks for the next row's window, and from the last row the next window's first row */
        const float *ahead = r + 1 < rows ? x + j->ld : j->S + r0 * j->ld + k0 + n;
        float *g = X + r * TILE_BACKWARD_COLS;
        const __m512 ar = _mm512_set1_ps(j->arow[i]);
        for (int64_t k = 0; k < n; k += 16) {
            const __mmask16 m = n - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - k)) - 1u);
            _mm_prefetch(jnce_ahead(ahead, k), _MM_HINT_T0);
            const __m512 e = exp_nonpos_avx512(_mm512_sub_ps(_mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), m, x + k), vc));
            _mm512_mask_storeu_ps(g + k, m, _mm512_mul_ps(e, _mm512_add_ps(ar, _mm512_maskz_loadu_ps(m, j->bcol + k0 + k))));
        }
        if (i >= k0 && i < k0 + n) {
            const double xii = x[i - k0];
            g[i - k0] = (float)(0.5 * j->w * (exp(xii - j->rlse[i]) + exp(xii - j->clse[i])) - j->w);
        }
        jnce_tile_backward_ahead(t, k0, n, r, slice);
    }
}
#endif

/* The towers' products for the gradient entry point: where set, pass 2 by rows gives way to the tiles, which set done. */
typedef struct {
    const float *A, *B;
    int64_t D;
    float alpha;
    float *dA, *dB;
    int done;
} clip_product;

static int32_t run(const float *S, int64_t N, int64_t ld, int32_t reduction, float *loss, float *G, clip_product *prod);

int32_t jnce_clip_xent_fwd_bwd(const float *S, int64_t N, int64_t ld, int32_t reduction, float *loss, float *G) {
    return run(S, N, ld, reduction, loss, G, NULL);
}

int32_t jnce_clip_xent_grad(float *S, int64_t N, int64_t ld, int32_t reduction, float *loss, const float *A, const float *B,
                            int64_t D, float alpha, float *dA, float *dB) {
    if (A == NULL || B == NULL || dA == NULL || dB == NULL) return jnce_fail(JNCE_ERR_INVALID_ARG, "xent_clip_grad: null A, B, dA or dB");
    if (D < 1) return jnce_fail(JNCE_ERR_INVALID_ARG, "xent_clip_grad: D=%lld, need D >= 1", (long long)D);
    clip_product prod = {A, B, D, alpha, dA, dB, 0};
    int32_t status = run(S, N, ld, reduction, loss, S, &prod);
    if (status != JNCE_OK || prod.done) return status;
    status = jnce_sgemm(0, 0, N, D, N, alpha, S, ld, B, D, 0.0f, dA, D); /* G was written into S */
    if (status == JNCE_OK) status = jnce_sgemm(1, 0, N, D, N, alpha, S, ld, A, D, 0.0f, dB, D);
    return status;
}

static int32_t run(const float *S, int64_t N, int64_t ld, int32_t reduction, float *loss, float *G, clip_product *prod) {
    (void)prod; /* read where the CPU may have AVX-512 only */
    if (S == NULL || loss == NULL) return jnce_fail(JNCE_ERR_INVALID_ARG, "xent_clip: null S or loss");
    if (N < 1 || ld < N)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "xent_clip: N=%lld ld=%lld, need 1 <= N <= ld", (long long)N, (long long)ld);
    if (reduction != JNCE_REDUCTION_NONE && reduction != JNCE_REDUCTION_MEAN && reduction != JNCE_REDUCTION_SUM)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "xent_clip: reduction %d", reduction);
    const int32_t slices = jnce_threads();
    const size_t cells = (size_t)(slices + 1) * (size_t)N; /* the rows', then one column set per slice */
    float *max = malloc(sizeof(float) * cells), *coef = malloc(sizeof(float) * 2 * (size_t)N);
    double *sum = calloc(cells, sizeof(double)), *lse = malloc(sizeof(double) * 2 * (size_t)N);
    unsigned char *bad = calloc(cells, 1);
    if (max == NULL || coef == NULL || sum == NULL || lse == NULL || bad == NULL) {
        free(max), free(coef), free(sum), free(lse), free(bad);
        return jnce_fail(JNCE_ERR_OUT_OF_MEMORY, "xent_clip: out of memory for N=%lld", (long long)N);
    }
    clip_job job = {.S = S, .G = G, .N = N, .ld = ld, .side = (N + TILE - 1) / TILE, .avx2 = jnce_use_avx2(),
                    .rmax = max, .rsum = sum, .rbad = bad, .cmax = max + N, .csum = sum + N, .cbad = bad + N};
    for (size_t k = (size_t)N; k < cells; k++) max[k] = -INFINITY;
    int shared = 0;
#ifdef JNCE_HAVE_AVX512
    if (jnce_use_avx512()) {
        for (int32_t sl = 0; sl < slices; sl++) job.shift[sl] = -INFINITY, job.failed[sl] = 0;
        jnce_parallel_for_at_most((N + SHARED_CHUNK - 1) / SHARED_CHUNK, 8, slices, pass1_shared, &job);
        shared = shared_pass1_holds(&job, slices);
    }
#endif
    if (!shared) {
        jnce_parallel_for_at_most((N + CHUNK - 1) / CHUNK, 4, slices, pass1, &job);
        for (int32_t sl = 1; sl < slices; sl++)
            for (int64_t c = 0; c < N; c++) {
                merge(job.cmax, job.csum, c, job.cmax[sl * N + c], job.csum[sl * N + c]);
                job.cbad[c] |= job.cbad[sl * N + c];
            }
    }

    const double w = reduction == JNCE_REDUCTION_MEAN ? 1.0 / (double)N : 1.0;
    double total = 0.0;
    int any_bad = 0;
    for (int64_t i = 0; i < N; i++) {
        lse[i] = (double)job.rmax[i] + log(job.rsum[i]);
        lse[N + i] = (double)job.cmax[i] + log(job.csum[i]);
        coef[i] = (float)(0.5 * w / job.rsum[i]);
        coef[N + i] = (float)(0.5 * w / job.csum[i]);
        const int spoilt = job.rbad[i] || job.cbad[i];
        const double li = spoilt ? NAN : 0.5 * (lse[i] + lse[N + i]) - (double)S[i * ld + i];
        any_bad |= spoilt;
        if (reduction == JNCE_REDUCTION_NONE) loss[i] = (float)li;
        total += li;
    }
    if (reduction == JNCE_REDUCTION_SUM) loss[0] = (float)total;
    if (reduction == JNCE_REDUCTION_MEAN) loss[0] = (float)(total / (double)N);

    if (G != NULL) {
        job.rcoef = coef, job.ccoef = coef + N, job.rlse = lse, job.clse = lse + N, job.w = w;
        int by_rows = 0;
#ifdef JNCE_HAVE_AVX512
        float lo = INFINITY, hi = -INFINITY;
        for (int64_t i = 0; i < 2 * N; i++) lo = fminf(lo, max[i]), hi = fmaxf(hi, max[i]); /* rows' maxima, then columns' */
        float *factors = NULL;
        if (jnce_use_avx512() && !any_bad && hi - lo <= FACTOR_RANGE && (factors = malloc(sizeof(float) * 2 * (size_t)N)) != NULL) {
            const float c = 0.5f * (lo + hi);
            for (int64_t i = 0; i < 2 * N; i++) factors[i] = (float)((double)coef[i] * exp((double)c - (double)max[i]));
            job.arow = factors, job.bcol = factors + N, job.c = c;
            if (prod != NULL) {
                const jnce_tile_backward t = {.N = N, .M = N, .D = prod->D, .A = prod->A, .B = prod->B, .alpha = prod->alpha,
                                              .beta = 0.0f, .dA = prod->dA, .dB = prod->dB, .form = clip_form, .ctx = &job,
                                              .slices = jnce_threads()};
                prod->done = jnce_tile_backward_run(&t);
            }
            if (prod == NULL || !prod->done) jnce_parallel_for(N, 16, pass2_rows, &job);
            by_rows = 1;
        }
        free(factors);
#endif
        if (!by_rows) jnce_parallel_for(job.side * job.side, 4, pass2, &job);
        for (int64_t b = 0; any_bad && b < N; b++) {
            if (job.rbad[b])
                for (int64_t k = 0; k < N; k++) G[b * ld + k] = NAN;
            if (job.cbad[b])
                for (int64_t k = 0; k < N; k++) G[k * ld + b] = NAN;
        }
    }
    free(max), free(coef), free(sum), free(lse), free(bad);
    return JNCE_OK;
}
