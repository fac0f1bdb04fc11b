/*
 * attention.c - scaled dot-product attention, forward and backward, tiled with an online softmax
 * (FlashAttention-2's scheme, Dao 2023, on the CPU): softmax(Q Kᵀ * scale + mask) V without the
 * (L, S) matrix. F.scaled_dot_product_attention's meaning.
 *
 *   q (BH, L, d)   k (BH, S, d)   v (BH, S, dv)   float32, BH = batch x heads
 *   key_mask (B, S) int32 or NULL, B = BH / H: key j of batch b takes part where nonzero (the
 *            attention_mask of Hugging Face models); causal: query i sees keys j <= i (PyTorch's
 *            is_causal, the top-left aligned lower triangle)
 *   out (BH, L, dv)   lse (BH, L): per row, log sum_j exp(s_ij) of the unmasked scores
 *
 * Forward, per (bh, block of BR query rows): for each block of BC keys, S = scale Q_b K_bᵀ
 * (cblas_sgemm), masked entries -inf, the running row maximum m and sum l rescaled, P = exp(S - m),
 * acc = acc * exp(m_old - m) + P V_b; finally out = acc / l and lse = m + log l.
 * Backward, per bh (dK, dV rows of one bh belong to it alone), for each key block and each query
 * block: P = exp(S - lse) recomputed, dV_b += Pᵀ dO, dP = dO V_bᵀ, dS = P (dP - D) with
 * D_i = sum_c dO_ic O_ic, dQ += scale dS K_b, dK_b += scale dSᵀ Q_b. Memory: O(BR BC + L) floats a
 * thread; flops: 2 GEMMs forward, 5 backward, halved by a causal mask. Tiles of 256 x 256: each GEMM
 * packs its operands again, and at 64 x 256 the repacking of the 64-wide blocks and the call overhead
 * cost a third more time than the products themselves (measured single-threaded at L = 4096, d = 64).
 *
 * A row whose keys are all masked: PyTorch's softmax gives NaN there (output, and through
 * autograd the gradients of that batch-head's q row and of all its keys and values); jnce does the
 * same by default, or with masked_rows_zero gives output 0 and no gradient from that row.
 * Parallel over bh on jnce's pool, each GEMM single-threaded (jnce_blas_single_threaded for the
 * call: OpenBLAS's per-thread count, openblas_set_num_threads_local, is global in its pthreads
 * build, and concurrent multi-threaded calls queue on its server, 70x slower here).
 *
 * Build and check alone: see native/CMakeLists.txt; native/test/test_attention.c is the check.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "simd_exp.h"

#ifndef BR
#define BR 256 /* query rows a block */
#endif
#ifndef BC
#define BC 256 /* keys a block: a (BR, BC + PAD) tile is 272 KiB, in L2 with its packed copies */
#endif
#ifndef PAD
#define PAD 16 /* a tile row is BC + PAD floats: a stride of 2^k bytes maps columns onto few cache sets */
#endif
#define LDT (BC + PAD)

typedef struct {
    int64_t BH, H, L, S, d, dv;
    const float *q, *k, *v, *out, *dout, *lse_in;
    const int32_t *key_mask;
    float scale;
    int causal, zero_rows;
    float *o, *lse, *dq, *dk, *dvv;
    int failed; /* an allocation failed in some slice */
} attn_job;

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

/* max_j x_j for j < n, NaN skipped (as the scalar loop's x > top); -inf when n = 0 or all -inf. */
JNCE_TARGET_AVX2 static float row_max_avx2(const float *x, int64_t n) {
    __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0;
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) { /* two chains: max_ps has a 4-cycle latency */
        m0 = _mm256_max_ps(_mm256_loadu_ps(x + j), m0);
        m1 = _mm256_max_ps(_mm256_loadu_ps(x + j + 8), m1);
    }
    for (; j + 8 <= n; j += 8) m0 = _mm256_max_ps(_mm256_loadu_ps(x + j), m0);
    float lanes[8], top = -INFINITY;
    _mm256_storeu_ps(lanes, _mm256_max_ps(m0, m1));
    for (int t = 0; t < 8; t++) top = lanes[t] > top ? lanes[t] : top;
    for (; j < n; j++) top = x[j] > top ? x[j] : top;
    return top;
}

static float row_max(const float *x, int64_t n, int avx2) {
    if (avx2) return row_max_avx2(x, n);
    float top = -INFINITY;
    for (int64_t j = 0; j < n; j++) top = x[j] > top ? x[j] : top;
    return top;
}

static double exp_shift_scalar(float *x, int64_t n, float m) {
    double sum = 0;
    for (int64_t j = 0; j < n; j++) {
        x[j] = isinf(x[j]) ? 0.0f : expf(x[j] - m);
        sum += x[j];
    }
    return sum;
}

static double exp_shift(float *x, int64_t n, float m, int avx2) {
    return avx2 ? exp_shift_avx2(x, n, m) : exp_shift_scalar(x, n, m);
}

/* Masks the (rows, cols) tile s (stride LDT) of query rows i0.. and keys j0.. with -inf. */
static void mask_tile(const attn_job *a, int64_t bh, float *s, int64_t i0, int64_t rows, int64_t j0, int64_t cols) {
    const int32_t *km = a->key_mask ? a->key_mask + (bh / a->H) * a->S + j0 : NULL;
    for (int64_t r = 0; r < rows; r++) {
        float *row = s + r * LDT;
        if (km)
            for (int64_t c = 0; c < cols; c++)
                if (km[c] == 0) row[c] = -INFINITY;
        if (a->causal)
            for (int64_t c = (i0 + r) - j0 + 1; c < cols; c++)
                if (c >= 0) row[c] = -INFINITY;
    }
}

static void sgemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                  const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (blasint)M, (blasint)N,
                (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb, beta, C, (blasint)ldc);
}

static void forward_bh(attn_job *a, int64_t bh, float *s, float *acc, float *m, double *l, int avx2) {
    const int64_t L = a->L, S = a->S, d = a->d, dv = a->dv;
    const float *q = a->q + bh * L * d, *k = a->k + bh * S * d, *v = a->v + bh * S * dv;
    for (int64_t i0 = 0; i0 < L; i0 += BR) {
        int64_t rows = L - i0 < BR ? L - i0 : BR;
        for (int64_t r = 0; r < rows; r++) {
            m[r] = -INFINITY;
            l[r] = 0.0;
        }
        memset(acc, 0, (size_t)(rows * dv) * sizeof(float));
        for (int64_t j0 = 0; j0 < S; j0 += BC) {
            if (a->causal && j0 > i0 + rows - 1) break;
            int64_t cols = S - j0 < BC ? S - j0 : BC;
            sgemm(0, 1, rows, cols, d, a->scale, q + i0 * d, d, k + j0 * d, d, 0.0f, s, LDT);
            mask_tile(a, bh, s, i0, rows, j0, cols);
            for (int64_t r = 0; r < rows; r++) {
                float *row = s + r * LDT, top = row_max(row, cols, avx2);
                float next = top > m[r] ? top : m[r];
                if (next == -INFINITY) { /* every key so far masked: nothing to add */
                    memset(row, 0, (size_t)cols * sizeof(float));
                    continue;
                }
                float keep = m[r] == -INFINITY ? 0.0f : expf(m[r] - next);
                l[r] = l[r] * keep + exp_shift(row, cols, next, avx2);
                if (keep != 1.0f)
                    for (int64_t c = 0; c < dv; c++) acc[r * dv + c] *= keep;
                m[r] = next;
            }
            sgemm(0, 0, rows, dv, cols, 1.0f, s, LDT, v + j0 * dv, dv, 1.0f, acc, dv);
        }
        float *o = a->o + (bh * L + i0) * dv, *lse = a->lse + bh * L + i0;
        for (int64_t r = 0; r < rows; r++) {
            if (l[r] > 0.0) {
                float inv = (float)(1.0 / l[r]);
                for (int64_t c = 0; c < dv; c++) o[r * dv + c] = acc[r * dv + c] * inv;
                lse[r] = (float)(m[r] + log(l[r]));
            } else {
                for (int64_t c = 0; c < dv; c++) o[r * dv + c] = a->zero_rows ? 0.0f : NAN;
                lse[r] = -INFINITY;
            }
        }
    }
}

static void backward_bh(attn_job *a, int64_t bh, float *p, float *dp, float *D, int avx2) {
    const int64_t L = a->L, S = a->S, d = a->d, dv = a->dv;
    const float *q = a->q + bh * L * d, *k = a->k + bh * S * d, *v = a->v + bh * S * dv;
    const float *o = a->out + bh * L * dv, *dout = a->dout + bh * L * dv, *lse = a->lse_in + bh * L;
    float *dq = a->dq + bh * L * d, *dk = a->dk + bh * S * d, *dvv = a->dvv + bh * S * dv;
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
        int64_t cols = S - j0 < BC ? S - j0 : BC;
        for (int64_t i0 = 0; i0 < L; i0 += BR) {
            int64_t rows = L - i0 < BR ? L - i0 : BR;
            if (a->causal && j0 > i0 + rows - 1) continue;
            sgemm(0, 1, rows, cols, d, a->scale, q + i0 * d, d, k + j0 * d, d, 0.0f, p, LDT);
            mask_tile(a, bh, p, i0, rows, j0, cols);
            for (int64_t r = 0; r < rows; r++) {
                float *row = p + r * LDT;
                if (lse[i0 + r] == -INFINITY) memset(row, 0, (size_t)cols * sizeof(float));
                else exp_shift(row, cols, lse[i0 + r], avx2);
            }
            sgemm(1, 0, cols, dv, rows, 1.0f, p, LDT, dout + i0 * dv, dv, 1.0f, dvv + j0 * dv, dv); /* dV_b += Pᵀ dO */
            sgemm(0, 1, rows, cols, dv, 1.0f, dout + i0 * dv, dv, v + j0 * dv, dv, 0.0f, dp, LDT);   /* dP = dO V_bᵀ */
            for (int64_t r = 0; r < rows; r++) {
                float *pr = p + r * LDT, *dr = dp + r * LDT, di = D[i0 + r];
                for (int64_t c = 0; c < cols; c++) dr[c] = pr[c] * (dr[c] - di);
            }
            sgemm(0, 0, rows, d, cols, a->scale, dp, LDT, k + j0 * d, d, 1.0f, dq + i0 * d, d); /* dQ += s dS K_b */
            sgemm(1, 0, cols, d, rows, a->scale, dp, LDT, q + i0 * d, d, 1.0f, dk + j0 * d, d); /* dK_b += s dSᵀ Q */
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
    int avx2 = jnce_use_avx2();
    float *t1 = malloc(sizeof(float) * BR * LDT), *t2 = malloc(sizeof(float) * BR * LDT);
    float *acc = malloc(sizeof(float) * (size_t)(BR * a->dv));
    float *m = malloc(sizeof(float) * BR), *D = malloc(sizeof(float) * (size_t)a->L);
    double *l = malloc(sizeof(double) * BR);
    if (!t1 || !t2 || !acc || !m || !D || !l) {
        __atomic_store_n(&a->failed, 1, __ATOMIC_RELAXED);
    } else {
        for (int64_t bh = begin; bh < end; bh++) {
            if (a->dout == NULL) forward_bh(a, bh, t1, acc, m, l, avx2);
            else backward_bh(a, bh, t1, t2, D, avx2);
        }
    }
    free(t1);
    free(t2);
    free(acc);
    free(m);
    free(D);
    free(l);
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
                           const float *k, const float *v, const int32_t *key_mask, float scale, int32_t causal,
                           int32_t masked_rows_zero, float *out, float *lse) {
    int32_t st = check(BH, H, L, S, d, dv, scale);
    if (st != JNCE_OK) return st;
    if (!q || !k || !v || !out || !lse) return jnce_fail(JNCE_ERR_INVALID_ARG, "attention_fwd: null buffer");
    attn_job a = {BH, H, L, S, d, dv, q, k, v, NULL, NULL, NULL, key_mask, scale, causal != 0, masked_rows_zero != 0,
                  out, lse, NULL, NULL, NULL, 0};
    jnce_blas_single_threaded(1);
    jnce_parallel_for(BH, 1, attention_slice, &a);
    jnce_blas_single_threaded(0);
    return a.failed ? jnce_fail(JNCE_ERR_OUT_OF_MEMORY, "attention_fwd: out of memory for the tiles") : JNCE_OK;
}

int32_t jnce_attention_bwd(int64_t BH, int64_t H, int64_t L, int64_t S, int64_t d, int64_t dv, const float *q,
                           const float *k, const float *v, const int32_t *key_mask, float scale, int32_t causal,
                           int32_t masked_rows_zero, const float *out, const float *dout, const float *lse, float *dq,
                           float *dk, float *dv_out) {
    int32_t st = check(BH, H, L, S, d, dv, scale);
    if (st != JNCE_OK) return st;
    if (!q || !k || !v || !out || !dout || !lse || !dq || !dk || !dv_out)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "attention_bwd: null buffer");
    attn_job a = {BH, H, L, S, d, dv, q, k, v, out, dout, lse, key_mask, scale, causal != 0, masked_rows_zero != 0,
                  NULL, NULL, dq, dk, dv_out, 0};
    jnce_blas_single_threaded(1);
    jnce_parallel_for(BH, 1, attention_slice, &a);
    jnce_blas_single_threaded(0);
    return a.failed ? jnce_fail(JNCE_ERR_OUT_OF_MEMORY, "attention_bwd: out of memory for the tiles") : JNCE_OK;
}
