/*
 * attention.c - scaled dot-product attention, forward and backward, tiled with an online softmax
 * (FlashAttention-2's scheme, Dao 2023, on the CPU): softmax(Q Kᵀ * scale + mask) V without the
 * (L, S) matrix. F.scaled_dot_product_attention's meaning.
 *
 *   q (BH, L, d)   k (BH, S, d)   v (BH, S, dv)   float32, BH = batch x heads
 *   key_mask (B, S) int32 or NULL, B = BH / H: key j of batch b takes part where nonzero (the
 *            attention_mask of Hugging Face models); causal: query i sees keys j <= i (PyTorch's
 *            is_causal, the top-left aligned lower triangle)
 *   attn_bias (L, S) float32 or NULL: added to the scaled scores of every bh (PyTorch's float
 *            attn_mask), finite or -inf
 *   out (BH, L, dv)   lse (BH, L): per row, log sum_j exp(s_ij) of the unmasked scores
 *
 * Forward, per bh, for each block of BC keys and each block of br query rows: S = scale Q_b K_bᵀ
 * + bias, masked entries -inf, the running row maximum m and sum l rescaled, P = exp(S - m),
 * out_b = out_b * exp(m_old - m) + P V_b; finally out = out / l and lse = m + log l. Key blocks
 * outermost, so that a key block is packed once and the state of the rows is O(L).
 * Backward, per bh (dK, dV rows of one bh belong to it alone), for each key block and each query
 * block: P = exp(S - lse) recomputed, dV_b += Pᵀ dO, dP = dO V_bᵀ, dS = P (dP - D) with
 * D_i = sum_c dO_ic O_ic, dQ += scale dS K_b, dK_b += scale dSᵀ Q_b. Memory: O(br BC + L + BC d)
 * floats a thread besides the outputs; flops: 2 GEMMs forward, 5 backward, halved by a causal mask.
 *
 * A row whose keys are all masked: PyTorch's softmax gives NaN there (output, and through
 * autograd the gradients of that batch-head's q row and of all its keys and values); jnce does the
 * same by default, or with masked_rows_zero gives output 0 and no gradient from that row.
 * Parallel over bh on jnce's pool (fewer bh than threads leave threads idle). The tile products
 * take one of two paths:
 *  - AVX-512 (d and dv multiples of 16, CPU with AVX-512F, JNCE_SIMD neither "scalar" nor "avx2"):
 *    a register-blocked product of 6 rows by 64 columns that reads its operands in place, with
 *    a key block's k and v transposed once into 64-key panels (kt, vt: (BC/64, d, 64), scale
 *    folded into kt). OpenBLAS would pack both operands of every tile again: with d = 64 each packed
 *    float is used only 64-256 times, and packing took a quarter of the time.
 *  - otherwise cblas_sgemm on each tile, single-threaded (jnce_blas_single_threaded for the
 *    call: OpenBLAS's per-thread count, openblas_set_num_threads_local, is global in its pthreads
 *    build, and concurrent multi-threaded calls queue on its server, 70x slower here).
 *
 * Build and check alone: see native/CMakeLists.txt; native/test/test_attention.c is the check.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "simd_exp.h"

#define BC 256 /* keys a block */
#define PAD 16 /* a tile row is BC + PAD floats: a stride of 2^k bytes maps columns onto few cache sets */
#define LDT (BC + PAD)
/* Query rows a block: 64 on the AVX-512 path (a 68 KiB tile); 256 on the OpenBLAS path (272 KiB,
 * in L2 with its packed copies), where each GEMM packs its operands again and at 64 rows the
 * repacking of the 64-wide blocks and the call overhead cost a third more than the products. */
#define BR_AVX512 64
#define BR_BLAS 256
#define NP 64 /* keys a packed panel, columns of the AVX-512 product */

typedef struct {
    int64_t BH, H, L, S, d, dv;
    const float *q, *k, *v, *out, *dout, *lse_in;
    const int32_t *key_mask;
    const float *bias;
    float scale;
    int causal, zero_rows, avx512;
    float *o, *lse, *dq, *dk, *dvv;
    int failed; /* an allocation failed in some slice */
    int64_t br; /* query rows a block, set by run */
} attn_job;

/* A thread's buffers: score and gradient tiles (br, BC) of stride LDT, the running maximum m and sum l of every
 * query row of a batch-head, its D, and on the AVX-512 path a key block's k and v in panels. */
typedef struct {
    float *s, *dp, *m, *D, *kt, *vt;
    double *l;
} attn_work;

/* ---- tile products ---------------------------------------------------------------------- */

#if defined(__x86_64__)
#define MR 6 /* rows a register block: 6 x 4 accumulators, 4 rows of B, 1 broadcast of 32 zmm */

/* C[r][0..16nv) (+)= sum_k A[r rsa + k csa] B[k ldb + 0..16nv) for r < mr; mr, nv constants. */
JNCE_TARGET_AVX512 __attribute__((always_inline)) static inline void rows_avx512(
    const int mr, const int nv, int64_t K, const float *A, int64_t rsa, int64_t csa, const float *B, int64_t ldb,
    float *C, int64_t ldc, int add) {
    __m512 c[MR][4];
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < nv; j++) c[r][j] = add ? _mm512_loadu_ps(C + r * ldc + 16 * j) : _mm512_setzero_ps();
    for (int64_t k = 0; k < K; k++) {
        __m512 b[4];
        for (int j = 0; j < nv; j++) b[j] = _mm512_loadu_ps(B + k * ldb + 16 * j);
        const float *a = A + k * csa;
        for (int r = 0; r < mr; r++) {
            __m512 ar = _mm512_set1_ps(a[r * rsa]);
            for (int j = 0; j < nv; j++) c[r][j] = _mm512_fmadd_ps(ar, b[j], c[r][j]);
        }
    }
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < nv; j++) _mm512_storeu_ps(C + r * ldc + 16 * j, c[r][j]);
}

JNCE_TARGET_AVX512 __attribute__((always_inline)) static inline void panel_avx512(
    const int nv, int64_t M, int64_t K, const float *A, int64_t rsa, int64_t csa, const float *B, int64_t ldb,
    float *C, int64_t ldc, int add) {
    int64_t i = 0;
    for (; i + MR <= M; i += MR) rows_avx512(MR, nv, K, A + i * rsa, rsa, csa, B, ldb, C + i * ldc, ldc, add);
    const float *a = A + i * rsa;
    float *c = C + i * ldc;
    switch (M - i) {
    case 5: rows_avx512(5, nv, K, a, rsa, csa, B, ldb, c, ldc, add); break;
    case 4: rows_avx512(4, nv, K, a, rsa, csa, B, ldb, c, ldc, add); break;
    case 3: rows_avx512(3, nv, K, a, rsa, csa, B, ldb, c, ldc, add); break;
    case 2: rows_avx512(2, nv, K, a, rsa, csa, B, ldb, c, ldc, add); break;
    case 1: rows_avx512(1, nv, K, a, rsa, csa, B, ldb, c, ldc, add); break;
    default: break;
    }
}

/* C (M,N) (+)= op(A) (M,K) B (K,N), op(A)_ik = A[i rsa + k csa], B and C row-major; N % 16 == 0.
 * K in steps of KC, so that the (KC, 64) slice of B every row block reads stays in L1. */
#define KC 128
JNCE_TARGET_AVX512 static void gemm_avx512(int64_t M, int64_t N, int64_t K, const float *A, int64_t rsa, int64_t csa,
                                           const float *B, int64_t ldb, float *C, int64_t ldc, int add) {
    for (int64_t j = 0; j < N; j += NP) {
        for (int64_t k0 = 0; k0 < K; k0 += KC) {
            int64_t kc = K - k0 < KC ? K - k0 : KC;
            const float *a = A + k0 * csa, *b = B + k0 * ldb + j;
            int more = add || k0 > 0;
            switch (N - j >= NP ? 4 : (N - j) / 16) {
            case 4: panel_avx512(4, M, kc, a, rsa, csa, b, ldb, C + j, ldc, more); break;
            case 3: panel_avx512(3, M, kc, a, rsa, csa, b, ldb, C + j, ldc, more); break;
            case 2: panel_avx512(2, M, kc, a, rsa, csa, b, ldb, C + j, ldc, more); break;
            default: panel_avx512(1, M, kc, a, rsa, csa, b, ldb, C + j, ldc, more); break;
            }
        }
    }
}

/* 1 when the AVX-512 tile products may run (jnce_use_avx512). */
static int use_avx512(void) { return jnce_use_avx512(); }
#else
static int use_avx512(void) { return 0; }
static void gemm_avx512(int64_t M, int64_t N, int64_t K, const float *A, int64_t rsa, int64_t csa, const float *B,
                        int64_t ldb, float *C, int64_t ldc, int add) {
    (void)M, (void)N, (void)K, (void)A, (void)rsa, (void)csa, (void)B, (void)ldb, (void)C, (void)ldc, (void)add;
}
#endif

/* x (n, e) -> panels (ceil(n/NP), e, NP): panel p holds alpha xᵀ of rows p NP.., zero past n. */
static void pack_panels(const float *x, int64_t n, int64_t e, float alpha, float *panels) {
    for (int64_t p = 0; p * NP < n; p++) {
        float *dst = panels + p * e * NP;
        int64_t rows = n - p * NP < NP ? n - p * NP : NP;
        for (int64_t t = 0; t < e; t++) {
            for (int64_t r = 0; r < rows; r++) dst[t * NP + r] = alpha * x[(p * NP + r) * e + t];
            for (int64_t r = rows; r < NP; r++) dst[t * NP + r] = 0.0f;
        }
    }
}

/* C (rows, cols) = alpha A Bᵀ, A (rows, e) rows of q or dO, B (cols, e) the key block's rows of k
 * or v; on the AVX-512 path from the block's panels (alpha folded in), writing up to a multiple of
 * NP columns. */
static void tile_abt(const attn_job *a, int64_t rows, int64_t cols, int64_t e, float alpha, const float *A,
                     const float *B, const float *panels, float *C) {
    if (a->avx512) {
        for (int64_t c = 0; c < cols; c += NP)
            gemm_avx512(rows, NP, e, A, e, 1, panels + c / NP * e * NP, NP, C + c, LDT, 0);
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)rows, (blasint)cols, (blasint)e, alpha, A,
                    (blasint)e, B, (blasint)e, 0.0f, C, LDT);
    }
}

/* C (M, N) += op(T) B: op(T) = T (M, K) for trans = 0, Tᵀ with T (K, M) for trans = 1, T a tile
 * of stride LDT; B (K, N) and C row-major. */
static void tile_acc(const attn_job *a, int trans, int64_t M, int64_t N, int64_t K, const float *T, const float *B,
                     int64_t ldb, float *C, int64_t ldc) {
    if (a->avx512) gemm_avx512(M, N, K, T, trans ? 1 : LDT, trans ? LDT : 1, B, ldb, C, ldc, 1);
    else
        cblas_sgemm(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, CblasNoTrans, (blasint)M, (blasint)N, (blasint)K,
                    1.0f, T, LDT, B, (blasint)ldb, 1.0f, C, (blasint)ldc);
}

/* ---- row operations --------------------------------------------------------------------- */

/* x_j = exp(x_j - m) for j < n (x_j = -inf gives 0); returns the sum. */
JNCE_TARGET_AVX2 static double exp_shift_avx2(float *x, int64_t n, float m) {
    const __m256 vm = _mm256_set1_ps(m);
    __m256 acc = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 e = exp_nonpos_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + j), vm));
        _mm256_storeu_ps(x + j, e);
        acc = _mm256_add_ps(acc, e);
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, acc);
    double sum = 0;
    for (int t = 0; t < 8; t++) sum += lanes[t];
    for (; j < n; j++) {
        x[j] = x[j] - m < -87.0f ? 0.0f : expf(x[j] - m);
        sum += x[j];
    }
    return sum;
}

#if defined(__x86_64__)
static __mmask16 lanes_below(int64_t left) { return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1); }

JNCE_TARGET_AVX512 static double exp_shift_avx512(float *x, int64_t n, float m) {
    const __m512 vm = _mm512_set1_ps(m), none = _mm512_set1_ps(-INFINITY);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t j = 0; j < n; j += 16) {
        __mmask16 lanes = lanes_below(n - j);
        __m512 e = exp_nonpos_avx512(_mm512_sub_ps(_mm512_mask_loadu_ps(none, lanes, x + j), vm));
        _mm512_mask_storeu_ps(x + j, lanes, e);
        acc = _mm512_add_ps(acc, e);
    }
    return _mm512_reduce_add_ps(acc);
}

JNCE_TARGET_AVX512 static float row_max_avx512(const float *x, int64_t n) {
    const __m512 none = _mm512_set1_ps(-INFINITY);
    __m512 top = none;
    for (int64_t j = 0; j < n; j += 16) top = _mm512_max_ps(top, _mm512_mask_loadu_ps(none, lanes_below(n - j), x + j));
    return _mm512_reduce_max_ps(top);
}
#else
static double exp_shift_avx512(float *x, int64_t n, float m) { return exp_shift_avx2(x, n, m); }
static float row_max_avx512(const float *x, int64_t n) { (void)x, (void)n; return 0.0f; }
#endif

static double exp_shift_scalar(float *x, int64_t n, float m) {
    double sum = 0;
    for (int64_t j = 0; j < n; j++) {
        x[j] = isinf(x[j]) ? 0.0f : expf(x[j] - m);
        sum += x[j];
    }
    return sum;
}

/* simd: 0 scalar, 1 AVX2, 2 AVX-512 */
static double exp_shift(float *x, int64_t n, float m, int simd) {
    return simd == 2 ? exp_shift_avx512(x, n, m) : simd ? exp_shift_avx2(x, n, m) : exp_shift_scalar(x, n, m);
}

/* max_j x_j for j < n (-inf for n = 0; scores are never NaN for finite inputs). */
JNCE_TARGET_AVX2 static float row_max_avx2(const float *x, int64_t n) {
    __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0;
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) { /* two chains: max_ps has a 4-cycle latency */
        m0 = _mm256_max_ps(_mm256_loadu_ps(x + j), m0);
        m1 = _mm256_max_ps(_mm256_loadu_ps(x + j + 8), m1);
    }
    for (; j + 8 <= n; j += 8) m0 = _mm256_max_ps(_mm256_loadu_ps(x + j), m0);
    float lanes[8], m = -INFINITY;
    _mm256_storeu_ps(lanes, _mm256_max_ps(m0, m1));
    for (int t = 0; t < 8; t++) m = lanes[t] > m ? lanes[t] : m;
    for (; j < n; j++) m = x[j] > m ? x[j] : m;
    return m;
}

static float row_max(const float *x, int64_t n, int simd) {
    if (simd == 2) return row_max_avx512(x, n);
    if (simd) return row_max_avx2(x, n);
    float m = -INFINITY;
    for (int64_t j = 0; j < n; j++) m = x[j] > m ? x[j] : m;
    return m;
}

/* dp_j = scale p_j (dp_j - D) for j < n: dS with the scale of dQ and dK folded in. */
JNCE_TARGET_AVX2 static void softmax_grad_avx2(const float *p, float *dp, int64_t n, float D, float scale) {
    for (int64_t j = 0; j < n; j++) dp[j] = scale * p[j] * (dp[j] - D);
}

static void softmax_grad(const float *p, float *dp, int64_t n, float D, float scale, int simd) {
    if (simd) softmax_grad_avx2(p, dp, n, D, scale);
    else
        for (int64_t j = 0; j < n; j++) dp[j] = scale * p[j] * (dp[j] - D);
}

/* Adds the bias to the (rows, cols) tile s (stride LDT) of query rows i0.. and keys j0.., and masks
 * it with -inf. */
static void mask_tile(const attn_job *a, int64_t bh, float *s, int64_t i0, int64_t rows, int64_t j0, int64_t cols) {
    const int32_t *km = a->key_mask ? a->key_mask + (bh / a->H) * a->S + j0 : NULL;
    const float *bias = a->bias ? a->bias + i0 * a->S + j0 : NULL;
    if (!km && !bias && (!a->causal || j0 + cols - 1 <= i0)) return; /* no key of the tile is masked */
    for (int64_t r = 0; r < rows; r++) {
        float *row = s + r * LDT;
        if (bias)
            for (int64_t c = 0; c < cols; c++) row[c] += bias[r * a->S + c];
        if (km)
            for (int64_t c = 0; c < cols; c++)
                if (km[c] == 0) row[c] = -INFINITY;
        if (a->causal)
            for (int64_t c = (i0 + r) - j0 + 1; c < cols; c++)
                if (c >= 0) row[c] = -INFINITY;
    }
}

/* ---- one batch-head --------------------------------------------------------------------- */

/* Keys of the block at j0 that query rows i0..i0+rows-1 may see: the causal mask hides every key
 * past the last row's diagonal, so the tile products stop there. */
static int64_t live_keys(const attn_job *a, int64_t i0, int64_t rows, int64_t j0) {
    int64_t cols = a->S - j0 < BC ? a->S - j0 : BC;
    if (a->causal && i0 + rows - j0 < cols) cols = i0 + rows - j0;
    return cols;
}

static void forward_bh(attn_job *a, int64_t bh, attn_work *w, int simd) {
    const int64_t L = a->L, S = a->S, d = a->d, dv = a->dv, br = a->br;
    const float *q = a->q + bh * L * d, *k = a->k + bh * S * d, *v = a->v + bh * S * dv;
    float *s = w->s, *m = w->m, *o = a->o + bh * L * dv, *lse = a->lse + bh * L;
    double *l = w->l;
    for (int64_t i = 0; i < L; i++) {
        m[i] = -INFINITY;
        l[i] = 0.0;
    }
    memset(o, 0, (size_t)(L * dv) * sizeof(float)); /* o accumulates P V until the last key block */
    for (int64_t j0 = 0; j0 < S; j0 += BC) {
        if (a->avx512) pack_panels(k + j0 * d, S - j0 < BC ? S - j0 : BC, d, a->scale, w->kt);
        for (int64_t i0 = a->causal ? j0 / br * br : 0; i0 < L; i0 += br) { /* causal: rows before j0 see no key here */
            int64_t rows = L - i0 < br ? L - i0 : br, cols = live_keys(a, i0, rows, j0);
            tile_abt(a, rows, cols, d, a->scale, q + i0 * d, k + j0 * d, w->kt, s);
            mask_tile(a, bh, s, i0, rows, j0, cols);
            for (int64_t r = 0; r < rows; r++) {
                float *row = s + r * LDT, *acc = o + (i0 + r) * dv, top = row_max(row, cols, simd), mr = m[i0 + r];
                float next = top > mr ? top : mr;
                if (next == -INFINITY) { /* every key so far masked: nothing to add */
                    memset(row, 0, (size_t)cols * sizeof(float));
                    continue;
                }
                float keep = mr == -INFINITY ? 0.0f : expf(mr - next);
                l[i0 + r] = l[i0 + r] * keep + exp_shift(row, cols, next, simd);
                if (keep != 1.0f)
                    for (int64_t c = 0; c < dv; c++) acc[c] *= keep;
                m[i0 + r] = next;
            }
            tile_acc(a, 0, rows, dv, cols, s, v + j0 * dv, dv, o + i0 * dv, dv); /* o += P V_b */
        }
    }
    for (int64_t i = 0; i < L; i++) {
        if (l[i] > 0.0) {
            float inv = (float)(1.0 / l[i]);
            for (int64_t c = 0; c < dv; c++) o[i * dv + c] *= inv;
            lse[i] = (float)(m[i] + log(l[i]));
        } else {
            for (int64_t c = 0; c < dv; c++) o[i * dv + c] = a->zero_rows ? 0.0f : NAN;
            lse[i] = -INFINITY;
        }
    }
}

static void backward_bh(attn_job *a, int64_t bh, attn_work *w, int simd) {
    const int64_t L = a->L, S = a->S, d = a->d, dv = a->dv, br = a->br;
    const float *q = a->q + bh * L * d, *k = a->k + bh * S * d, *v = a->v + bh * S * dv;
    const float *o = a->out + bh * L * dv, *dout = a->dout + bh * L * dv, *lse = a->lse_in + bh * L;
    float *dq = a->dq + bh * L * d, *dk = a->dk + bh * S * d, *dvv = a->dvv + bh * S * dv;
    float *p = w->s, *dp = w->dp, *D = w->D;
    int masked_row = 0;
    for (int64_t i = 0; i < L; i++) {
        double t = 0;
        for (int64_t c = 0; c < dv; c++) t += (double)dout[i * dv + c] * o[i * dv + c];
        D[i] = (float)t;
        if (lse[i] == -INFINITY) {
            masked_row = 1;
            D[i] = 0.0f; /* its output was 0 or NaN: the row contributes no gradient here */
        }
    }
    memset(dq, 0, (size_t)(L * d) * sizeof(float));
    memset(dk, 0, (size_t)(S * d) * sizeof(float));
    memset(dvv, 0, (size_t)(S * dv) * sizeof(float));
    for (int64_t j0 = 0; j0 < S; j0 += BC) {
        if (a->avx512) {
            pack_panels(k + j0 * d, S - j0 < BC ? S - j0 : BC, d, a->scale, w->kt);
            pack_panels(v + j0 * dv, S - j0 < BC ? S - j0 : BC, dv, 1.0f, w->vt);
        }
        for (int64_t i0 = a->causal ? j0 / br * br : 0; i0 < L; i0 += br) {
            int64_t rows = L - i0 < br ? L - i0 : br;
            int64_t cols = live_keys(a, i0, rows, j0);
            tile_abt(a, rows, cols, d, a->scale, q + i0 * d, k + j0 * d, w->kt, p);
            mask_tile(a, bh, p, i0, rows, j0, cols);
            for (int64_t r = 0; r < rows; r++) {
                float *row = p + r * LDT;
                if (lse[i0 + r] == -INFINITY) memset(row, 0, (size_t)cols * sizeof(float));
                else exp_shift(row, cols, lse[i0 + r], simd);
            }
            tile_acc(a, 1, cols, dv, rows, p, dout + i0 * dv, dv, dvv + j0 * dv, dv); /* dV_b += Pᵀ dO */
            tile_abt(a, rows, cols, dv, 1.0f, dout + i0 * dv, v + j0 * dv, w->vt, dp); /* dP = dO V_bᵀ */
            for (int64_t r = 0; r < rows; r++) softmax_grad(p + r * LDT, dp + r * LDT, cols, D[i0 + r], a->scale, simd);
            tile_acc(a, 0, rows, d, cols, dp, k + j0 * d, d, dq + i0 * d, d); /* dQ += s dS K_b */
            tile_acc(a, 1, cols, d, rows, dp, q + i0 * d, d, dk + j0 * d, d); /* dK_b += s dSᵀ Q */
        }
    }
    if (masked_row && !a->zero_rows) { /* PyTorch's NaN: that q row, and every key and value */
        for (int64_t i = 0; i < L; i++)
            if (lse[i] == -INFINITY)
                for (int64_t c = 0; c < d; c++) dq[i * d + c] = NAN;
        for (int64_t j = 0; j < S * d; j++) dk[j] = NAN;
        for (int64_t j = 0; j < S * dv; j++) dvv[j] = NAN;
    }
}

static void attention_slice(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    attn_job *a = ctx;
    int simd = a->avx512 ? 2 : jnce_use_avx2();
    int64_t panels = a->avx512 ? BC : 0;
    attn_work w = {malloc(sizeof(float) * (size_t)(a->br * LDT)), malloc(sizeof(float) * (size_t)(a->br * LDT)), malloc(sizeof(float) * (size_t)a->L),
                   malloc(sizeof(float) * (size_t)a->L), malloc(sizeof(float) * (size_t)(panels * a->d + 1)),
                   malloc(sizeof(float) * (size_t)(panels * a->dv + 1)), malloc(sizeof(double) * (size_t)a->L)};
    if (!w.s || !w.dp || !w.m || !w.D || !w.kt || !w.vt || !w.l) {
        __atomic_store_n(&a->failed, 1, __ATOMIC_RELAXED);
    } else {
        for (int64_t bh = begin; bh < end; bh++) {
            if (a->dout == NULL) forward_bh(a, bh, &w, simd);
            else backward_bh(a, bh, &w, simd);
        }
    }
    free(w.s);
    free(w.dp);
    free(w.m);
    free(w.D);
    free(w.kt);
    free(w.vt);
    free(w.l);
}

/* Runs the job over the batch-heads; BLAS single-threaded for the call where its tiles use it. */
static void run(attn_job *a) {
    a->avx512 = use_avx512() && a->d % 16 == 0 && a->dv % 16 == 0;
    a->br = a->avx512 ? BR_AVX512 : BR_BLAS;
    if (!a->avx512) jnce_blas_single_threaded(1);
    jnce_parallel_for(a->BH, 1, attention_slice, a);
    if (!a->avx512) jnce_blas_single_threaded(0);
}

static int32_t check(int64_t BH, int64_t H, int64_t L, int64_t S, int64_t d, int64_t dv, float scale) {
    if (BH < 1 || H < 1 || BH % H != 0 || L < 1 || S < 1 || d < 1 || dv < 1 || d > INT32_MAX || dv > INT32_MAX ||
        L > INT32_MAX || S > INT32_MAX)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "attention: BH=%lld H=%lld L=%lld S=%lld d=%lld dv=%lld (need all >= 1, H dividing BH)",
                         (long long)BH, (long long)H, (long long)L, (long long)S, (long long)d, (long long)dv);
    if (!(scale > 0.0f) || isinf(scale))
        return jnce_fail(JNCE_ERR_INVALID_ARG, "attention: scale %g must be finite and > 0", (double)scale);
    return JNCE_OK;
}

int32_t jnce_attention_fwd(int64_t BH, int64_t H, int64_t L, int64_t S, int64_t d, int64_t dv, const float *q,
                           const float *k, const float *v, const int32_t *key_mask, const float *attn_bias,
                           float scale, int32_t causal, int32_t masked_rows_zero, float *out, float *lse) {
    int32_t st = check(BH, H, L, S, d, dv, scale);
    if (st != JNCE_OK) return st;
    if (!q || !k || !v || !out || !lse) return jnce_fail(JNCE_ERR_INVALID_ARG, "attention_fwd: null buffer");
    attn_job a = {BH, H, L, S, d, dv, q, k, v, NULL, NULL, NULL, key_mask, attn_bias, scale, causal != 0, masked_rows_zero != 0,
                  0, out, lse, NULL, NULL, NULL, 0, 0};
    run(&a);
    return a.failed ? jnce_fail(JNCE_ERR_OUT_OF_MEMORY, "attention_fwd: out of memory for the tiles") : JNCE_OK;
}

int32_t jnce_attention_bwd(int64_t BH, int64_t H, int64_t L, int64_t S, int64_t d, int64_t dv, const float *q,
                           const float *k, const float *v, const int32_t *key_mask, const float *attn_bias,
                           float scale, int32_t causal, int32_t masked_rows_zero, const float *out, const float *dout,
                           const float *lse, float *dq, float *dk, float *dv_out) {
    int32_t st = check(BH, H, L, S, d, dv, scale);
    if (st != JNCE_OK) return st;
    if (!q || !k || !v || !out || !dout || !lse || !dq || !dk || !dv_out)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "attention_bwd: null buffer");
    attn_job a = {BH, H, L, S, d, dv, q, k, v, out, dout, lse, key_mask, attn_bias, scale, causal != 0, masked_rows_zero != 0,
                  0, NULL, NULL, dq, dk, dv_out, 0, 0};
    run(&a);
    return a.failed ? jnce_fail(JNCE_ERR_OUT_OF_MEMORY, "attention_bwd: out of memory for the tiles") : JNCE_OK;
}
