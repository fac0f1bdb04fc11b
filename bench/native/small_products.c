/*
 * small_products.c - the products of the small contrastive calls (32 or 64 rows of D = 128), on
 * one thread: jnce_sgemm / jnce_ssyrk (which skip OpenBLAS for products of at most 2^20
 * multiply-adds on AVX-512) against OpenBLAS's cblas_sgemm / cblas_ssyrk at the same shapes,
 * best of 7 rounds of 20000 calls each; then the small calls' other native steps on the same
 * thread: the L2 normalisation of 64 rows of 128 (the two towers' 32 rows each), forward and
 * backward, and the cross-entropy rows of the (32, 32) logits (two towers) and of a (32, 128)
 * CrossEntropy call, forward and backward, reduction NONE. The products alone bound a small call from below: a
 * two-tower InfoNCE at (32, 128) needs the 32x32x128 logits and two 32x128x32 gradient
 * products, NT-Xent over 64 views the 64x64x128 SYRK and one 64x128x64 product.
 *
 *   bench/native/small_products.sh
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "jnce.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
    const char *name;
    int ta, tb, syrk, M, N, K;
} shape;

static void run(const shape *s, int jnce) {
    const int M = s->M, N = s->N, K = s->K;
    float *A = malloc(sizeof(float) * (size_t)M * K * 2), *B = malloc(sizeof(float) * (size_t)N * K * 2),
          *C = malloc(sizeof(float) * (size_t)M * N);
    for (long i = 0; i < (long)M * K * 2; i++) A[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    for (long i = 0; i < (long)N * K * 2; i++) B[i] = (float)((i * 104729) % 1000) / 1000.0f - 0.5f;
    double best = 1e30;
    for (int round = 0; round < 7; round++) {
        const int calls = 20000;
        double t0 = now();
        for (int c = 0; c < calls; c++) {
            if (s->syrk) {
                if (jnce) jnce_ssyrk(M, K, 1.0f, A, K, C, M);
                else cblas_ssyrk(CblasRowMajor, CblasLower, CblasNoTrans, M, K, 1.0f, A, K, 0.0f, C, M);
            } else {
                int lda = s->ta ? M : K, ldb = s->tb ? K : N;
                if (jnce) jnce_sgemm(s->ta, s->tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, N);
                else cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans, M, N, K,
                                 1.0f, A, lda, B, ldb, 0.0f, C, N);
            }
        }
        double us = (now() - t0) / calls * 1e6;
        if (us < best) best = us;
    }
    double macs = s->syrk ? 0.5 * M * (M + 1.0) * K : (double)M * N * K;
    printf("%-6s %-26s %-8s %8.2f us %7.1f GFLOP/s\n", jnce ? "jnce" : "blas", s->name, "", best, 2e-3 * macs / best);
    free(A), free(B), free(C);
}

/* Best of 7 rounds of 20000 calls of one step, in microseconds a call. */
#define TIME_STEP(label, call)                                                                          \
    do {                                                                                               \
        double best = 1e30;                                                                            \
        for (int round = 0; round < 7; round++) {                                                      \
            double t0 = now();                                                                         \
            for (int c = 0; c < 20000; c++) call;                                                      \
            double us = (now() - t0) / 20000 * 1e6;                                                    \
            if (us < best) best = us;                                                                  \
        }                                                                                              \
        printf("%-6s %-35s %8.2f us\n", "jnce", label, best);                                         \
    } while (0)

static void steps(void) {
    float *x = malloc(sizeof(float) * 64 * 128), *y = malloc(sizeof(float) * 64 * 128), *dy = malloc(sizeof(float) * 64 * 128),
          *loss = malloc(sizeof(float) * 32);
    int64_t *t = malloc(sizeof(int64_t) * 32);
    for (long i = 0; i < 64 * 128; i++) {
        x[i] = (float)((i * 7919) % 1000) / 100.0f - 5.0f;
        dy[i] = (float)((i * 104729) % 1000) / 1000.0f - 0.5f;
    }
    for (int i = 0; i < 32; i++) t[i] = (i * 7) % 32;
    TIME_STEP("l2 normalize fwd 64x128", jnce_l2_normalize_fwd(x, 64, 128, 1e-12f, y));
    TIME_STEP("l2 normalize bwd 64x128", jnce_l2_normalize_bwd(x, dy, 64, 128, 1e-12f, y));
    TIME_STEP("cross-entropy fwd+bwd (32, 32)",
              jnce_cross_entropy_fwd_bwd(32, 32, x, t, JNCE_DTYPE_INT64, NULL, NULL, NULL, -100, 0.0f, 0.0f,
                                         JNCE_REDUCTION_NONE, 0, loss, y, NULL));
    TIME_STEP("cross-entropy fwd+bwd (32, 128)",
              jnce_cross_entropy_fwd_bwd(32, 128, x, t, JNCE_DTYPE_INT64, NULL, NULL, NULL, -100, 0.0f, 0.0f,
                                         JNCE_REDUCTION_NONE, 0, loss, y, NULL));
    free(x), free(y), free(dy), free(loss), free(t);
}

int main(void) {
    static const shape shapes[] = {
        {"32x32x128 A Bt (logits)", 0, 1, 0, 32, 32, 128},
        {"32x128x32 A B (G k)", 0, 0, 0, 32, 128, 32},
        {"32x128x32 At B (Gt q)", 1, 0, 0, 32, 128, 32},
        {"64x64x128 SYRK (lower)", 0, 0, 1, 64, 64, 128},
        {"64x128x64 A B (H f)", 0, 0, 0, 64, 128, 64},
    };
    jnce_set_num_threads(1);
    openblas_set_num_threads(1);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        run(&shapes[i], 1);
        run(&shapes[i], 0);
    }
    steps();
    return 0;
}
