/*
 * bpr.c - Bayesian Personalised Ranking (Rendle et al. 2009) with K explicit negatives a row,
 * loss and gradients in one call: the row's scores, its pairs' softplus, the reduction and the
 * three gradients, with no logit matrix in between.
 *
 *   Q, P   (N,D) float32: queries and their positives       Nk  (N,K,D) float32: the negatives
 *   s_i0 = q_i . p_i,  s_ik = q_i . n_ik      (summed in double, rounded to float: jnce_dot_row)
 *   x_ik = s_ik - s_i0 (float),  row_i = (1/K) sum_k softplus(x_ik) = -(1/K) sum_k log sigmoid(-x_ik)
 *   loss   (N) rows for NONE; else one value: their sum, or the sum / N for MEAN (in double, in
 *          row order, so it does not depend on the thread count)
 *   with w = 1/N for MEAN, else 1 (NONE: the gradients of the rows' sum) and
 *   g_ik = w sigmoid(x_ik) / K,  g_i0 = -sum_k g_ik  (in double, rounded once):
 *   dQ, dP (N,D), dN (N,K,D), all overwritten:
 *          dq_i = g_i0 p_i + sum_k g_ik n_ik,  dp_i = g_i0 q_i,  dn_ik = g_ik q_i
 * The pairs' softplus and sigmoid run on float lanes (jnce_bce_logits16 / 8 with target 0, the
 * element-wise BCE with logits' terms); the scalar path in double (jnce_bce_logits_terms). Rows
 * are spread over threads in slices of at least 64K values of Nk, as negatives.c spreads them (a
 * small call stays on the calling thread). The pairs go in chunks of 32 (whole rows or parts
 * of one): the chunk's negatives are read for the scores, then for the gradients while still in
 * cache.
 *
 * Build and check alone: see native/CMakeLists.txt; native/test/test_bpr.c is the check.
 */
#include <stdlib.h>

#include "binary_cross_entropy.h"
#include "internal.h"
#include "similarity.h"

#define BPR_CHUNK 32

typedef struct {
    const float *Q, *P, *Nk;
    int64_t K, D;
    double scale; /* w / K */
    int avx2, avx512;
    float *row_loss, *dQ, *dP, *dN;
} bpr_job;

/* softplus(x[t]) and sigmoid(x[t]) for t < m, in double (the reference of the lane forms). */
static void pairs_scalar(const float *x, int64_t m, float *sp, float *sig) {
    for (int64_t t = 0; t < m; t++) {
        jnce_binary_terms b = jnce_bce_logits_terms((double)x[t], 0.0, 1.0);
        sp[t] = (float)b.loss, sig[t] = (float)b.d_input;
    }
}

/* The same on 8 float lanes; a last part of fewer than 8 is padded with zeros. */
JNCE_TARGET_AVX2 static void pairs_avx2(const float *x, int64_t m, float *sp, float *sig) {
    const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
    for (int64_t t = 0; t < m; t += 8) {
        float in[8] = {0}, out_sp[8], out_sig[8];
        const int64_t n = m - t < 8 ? m - t : 8;
        for (int64_t u = 0; u < n; u++) in[u] = x[t + u];
        jnce_bce8 b = jnce_bce_logits8(_mm256_loadu_ps(in), zero, one);
        _mm256_storeu_ps(out_sp, b.loss);
        _mm256_storeu_ps(out_sig, b.dx);
        for (int64_t u = 0; u < n; u++) sp[t + u] = out_sp[u], sig[t + u] = out_sig[u];
    }
}

#ifdef JNCE_HAVE_AVX512
/* The same on 16 float lanes, the last part under a mask. */
JNCE_TARGET_AVX512 static void pairs_avx512(const float *x, int64_t m, float *sp, float *sig) {
    const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
    for (int64_t t = 0; t < m; t += 16) {
        const __mmask16 live = m - t >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (m - t)) - 1);
        jnce_bce16 b = jnce_bce_logits16(_mm512_maskz_loadu_ps(live, x + t), zero, one);
        _mm512_mask_storeu_ps(sp + t, live, b.loss);
        _mm512_mask_storeu_ps(sig + t, live, b.dx);
    }
}
#endif

/*
 * The gradients of one row's pairs [t0, t1) of a chunk, m = t1 - t0, with g their coefficients:
 * dn_t = g_t q, and dq (0 at the row's first piece, else the sum so far) += sum_t g_t n_t; at the
 * row's last piece also dq += g0 p and dp = g0 q. One block of dq stays in registers across the
 * pairs (n_t, dn_t are D apart).
 */
typedef struct {
    const float *q, *p, *n; /* n: the piece's first negative */
    float *dq, *dp, *dn;    /* dn: the piece's first negative's gradient */
    const float *g;
    int64_t m, D;
    int first, last;
    float g0;
} bpr_piece;

/* Columns [c0, D) of a piece. */
static void piece_scalar(const bpr_piece *b, int64_t c0) {
    for (int64_t c = c0; c < b->D; c++) {
        float acc = b->first ? 0.0f : b->dq[c];
        const float qc = b->q[c];
        for (int64_t t = 0; t < b->m; t++) {
            acc += b->g[t] * b->n[t * b->D + c];
            b->dn[t * b->D + c] = b->g[t] * qc;
        }
        if (b->last) acc += b->g0 * b->p[c], b->dp[c] = b->g0 * qc;
        b->dq[c] = acc;
    }
}

/* piece_avx512's form on 8 lanes: the fields in locals, four blocks of 8 columns side by side,
 * the columns past the last multiple of 8 by piece_scalar (the same bits). */
JNCE_TARGET_AVX2 static void piece_avx2(const bpr_piece *b) {
    const int64_t D = b->D, m = b->m, whole = D & ~(int64_t)7;
    const float *restrict q = b->q, *restrict p = b->p, *restrict n = b->n, *restrict gs = b->g;
    float *restrict dq = b->dq, *restrict dp = b->dp, *restrict dn = b->dn;
    const int first = b->first, last = b->last;
    const __m256 g0 = _mm256_set1_ps(b->g0);
    int64_t c = 0;
    for (; c < whole;) {
        const int w = whole - c >= 32 ? 4 : 1; /* blocks of 8 this step */
        __m256 acc[4], qc[4];
        for (int u = 0; u < w; u++) {
            acc[u] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(dq + c + 8 * u);
            qc[u] = _mm256_loadu_ps(q + c + 8 * u);
        }
        for (int64_t t = 0; t < m; t++) {
            const __m256 g = _mm256_set1_ps(gs[t]);
            const float *nt = n + t * D + c;
            float *dnt = dn + t * D + c;
            for (int u = 0; u < w; u++) {
                acc[u] = _mm256_fmadd_ps(g, _mm256_loadu_ps(nt + 8 * u), acc[u]);
                _mm256_storeu_ps(dnt + 8 * u, _mm256_mul_ps(g, qc[u]));
            }
        }
        for (int u = 0; u < w; u++) {
            if (last) {
                acc[u] = _mm256_fmadd_ps(g0, _mm256_loadu_ps(p + c + 8 * u), acc[u]);
                _mm256_storeu_ps(dp + c + 8 * u, _mm256_mul_ps(g0, qc[u]));
            }
            _mm256_storeu_ps(dq + c + 8 * u, acc[u]);
        }
        c += 8 * w;
    }
    piece_scalar(b, whole);
}

#ifdef JNCE_HAVE_AVX512
/* Each column's sum in piece_scalar's order (the same bits). The piece's fields are read into
 * locals first: through b, every store to dn could change them for the compiler, which then
 * reloaded g, n and dn at each step. Four blocks of 16 columns go side by side (four independent
 * chains of multiply-adds), the last columns under a mask. */
JNCE_TARGET_AVX512 static void piece_avx512(const bpr_piece *b) {
    const int64_t D = b->D, m = b->m;
    const float *restrict q = b->q, *restrict p = b->p, *restrict n = b->n, *restrict gs = b->g;
    float *restrict dq = b->dq, *restrict dp = b->dp, *restrict dn = b->dn;
    const int first = b->first, last = b->last;
    const __m512 g0 = _mm512_set1_ps(b->g0);
    int64_t c = 0;
    for (; c + 64 <= D; c += 64) {
        __m512 acc[4], qc[4];
        for (int u = 0; u < 4; u++) {
            acc[u] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(dq + c + 16 * u);
            qc[u] = _mm512_loadu_ps(q + c + 16 * u);
        }
        for (int64_t t = 0; t < m; t++) {
            const __m512 g = _mm512_set1_ps(gs[t]);
            const float *nt = n + t * D + c;
            float *dnt = dn + t * D + c;
            for (int u = 0; u < 4; u++) {
                acc[u] = _mm512_fmadd_ps(g, _mm512_loadu_ps(nt + 16 * u), acc[u]);
                _mm512_storeu_ps(dnt + 16 * u, _mm512_mul_ps(g, qc[u]));
            }
        }
        for (int u = 0; u < 4; u++) {
            if (last) {
                acc[u] = _mm512_fmadd_ps(g0, _mm512_loadu_ps(p + c + 16 * u), acc[u]);
                _mm512_storeu_ps(dp + c + 16 * u, _mm512_mul_ps(g0, qc[u]));
            }
            _mm512_storeu_ps(dq + c + 16 * u, acc[u]);
        }
    }
    for (; c < D; c += 16) {
        const __mmask16 live = D - c >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (D - c)) - 1);
        __m512 acc = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(live, dq + c);
        const __m512 qc = _mm512_maskz_loadu_ps(live, q + c);
        for (int64_t t = 0; t < m; t++) {
            const __m512 g = _mm512_set1_ps(gs[t]);
            acc = _mm512_fmadd_ps(g, _mm512_maskz_loadu_ps(live, n + t * D + c), acc);
            _mm512_mask_storeu_ps(dn + t * D + c, live, _mm512_mul_ps(g, qc));
        }
        if (last) {
            acc = _mm512_fmadd_ps(g0, _mm512_maskz_loadu_ps(live, p + c), acc);
            _mm512_mask_storeu_ps(dp + c, live, _mm512_mul_ps(g0, qc));
        }
        _mm512_mask_storeu_ps(dq + c, live, acc);
    }
}
#endif

/*
 * Rows [begin, end): their K pairs each, taken in chunks of BPR_CHUNK pairs that may start and
 * end inside a row (K = 4: 8 rows a chunk, whose negatives stay in L1 from their scores to their
 * gradients; two vectors of 16 pairs). A chunk's scores first (a row's positive and negatives
 * against its query side by side, jnce_dot_query), then
 * its pairs' softplus and sigmoid on lanes, then each row piece's gradients; a row is finished
 * (dq += g_i0 p_i, dp_i, its loss) with its last piece.
 */
static void rows(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const bpr_job *j = ctx;
    const int64_t K = j->K, D = j->D, last = end * K;
    float x[BPR_CHUNK], sp[BPR_CHUNK], sig[BPR_CHUNK], g[BPR_CHUNK];
    const float *rs[BPR_CHUNK + 1];
    double dots[BPR_CHUNK + 1];
    int64_t si = begin, sk = 0; /* the next pair to score: row si, negative sk */
    int64_t gi = begin, gk = 0; /* the next pair to take the gradient of */
    float pos = 0.0f;
    double loss = 0.0, g0 = 0.0;
    for (int64_t a = begin * K; a < last; a += BPR_CHUNK) {
        const int64_t m = last - a < BPR_CHUNK ? last - a : BPR_CHUNK;
        for (int64_t t = 0; t < m;) { /* a row's pairs in the chunk, with its positive at the row's start */
            const int64_t cnt = K - sk < m - t ? K - sk : m - t;
            int64_t e = 0;
            if (sk == 0) rs[e++] = j->P + si * D;
            for (int64_t u = 0; u < cnt; u++) rs[e++] = j->Nk + (si * K + sk + u) * D;
            jnce_dot_query(j->Q + si * D, rs, e, D, dots);
            if (sk == 0) pos = (float)dots[0];
            for (int64_t u = 0; u < cnt; u++) x[t + u] = (float)dots[e - cnt + u] - pos;
            t += cnt, sk += cnt;
            if (sk == K) sk = 0, si++;
        }
#ifdef JNCE_HAVE_AVX512
        if (j->avx512) pairs_avx512(x, m, sp, sig);
        else
#endif
        if (j->avx2) pairs_avx2(x, m, sp, sig);
        else pairs_scalar(x, m, sp, sig);
        for (int64_t t0 = 0; t0 < m;) {
            const int64_t t1 = t0 + (K - gk < m - t0 ? K - gk : m - t0); /* this row's pairs in the chunk */
            for (int64_t t = t0; t < t1; t++) {
                const double gd = (double)sig[t] * j->scale;
                g[t] = (float)gd;
                loss += sp[t];
                g0 -= gd;
            }
            const int row_done = gk + (t1 - t0) == K;
            bpr_piece b = {.q = j->Q + gi * D, .p = j->P + gi * D, .n = j->Nk + (gi * K + gk) * D, .dq = j->dQ + gi * D,
                           .dp = j->dP + gi * D, .dn = j->dN + (gi * K + gk) * D, .g = g + t0, .m = t1 - t0, .D = D,
                           .first = gk == 0, .last = row_done, .g0 = (float)g0};
#ifdef JNCE_HAVE_AVX512
            if (j->avx512) piece_avx512(&b);
            else
#endif
            if (j->avx2) piece_avx2(&b);
            else piece_scalar(&b, 0);
            if (row_done) {
                j->row_loss[gi] = (float)(loss / (double)K);
                loss = 0.0, g0 = 0.0, gk = 0, gi++;
            } else {
                gk += t1 - t0;
            }
            t0 = t1;
        }
    }
}

/* Rows a slice: about 64K values of (K + 1) D each, at least 1 (as negatives.c). */
static int64_t grain(int64_t K, int64_t D) {
    const int64_t per_row = (K + 1) * D;
    return per_row >= 65536 ? 1 : 65536 / per_row;
}

int32_t jnce_bpr_fwd_bwd(const float *Q, const float *P, const float *Nk, int64_t N, int64_t K, int64_t D, int32_t reduction,
                         float *loss, float *dQ, float *dP, float *dN) {
    if (Q == NULL || P == NULL || Nk == NULL || loss == NULL || dQ == NULL || dP == NULL || dN == NULL)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "bpr: null Q, P, Nk, loss, dQ, dP or dN");
    if (N < 1 || K < 1 || D < 1)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "bpr: N=%lld K=%lld D=%lld, each must be >= 1", (long long)N, (long long)K,
                         (long long)D);
    if (reduction != JNCE_REDUCTION_NONE && reduction != JNCE_REDUCTION_MEAN && reduction != JNCE_REDUCTION_SUM)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "bpr: reduction %d is not NONE, MEAN or SUM", (int)reduction);
    float *rows_out = loss;
    if (reduction != JNCE_REDUCTION_NONE) {
        rows_out = malloc(sizeof(float) * (size_t)N);
        if (rows_out == NULL) return jnce_fail(JNCE_ERR_OUT_OF_MEMORY, "bpr: out of memory for N=%lld", (long long)N);
    }
    const double w = reduction == JNCE_REDUCTION_MEAN ? 1.0 / (double)N : 1.0;
    bpr_job job = {.Q = Q, .P = P, .Nk = Nk, .K = K, .D = D, .scale = w / (double)K, .avx2 = jnce_use_avx2(),
                   .avx512 = jnce_use_avx512(), .row_loss = rows_out, .dQ = dQ, .dP = dP, .dN = dN};
    /* rows are independent (each row's loss and gradients, then their sum in order): any split
     * gives the same values; about 8k values a thread where the pool's workers still spin */
    const int64_t per_row = (K + 1) * D;
    jnce_parallel_for_small(N, grain(K, D), per_row >= 8192 ? 1 : 8192 / per_row, rows, &job);
    if (reduction != JNCE_REDUCTION_NONE) {
        double total = jnce_rows_total(rows_out, N);
        loss[0] = (float)(reduction == JNCE_REDUCTION_MEAN ? total / (double)N : total);
        free(rows_out);
    }
    return JNCE_OK;
}
