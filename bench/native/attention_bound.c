/*
 * attention_bound.c - scaled dot-product attention forward and backward (jnce_attention_fwd/bwd)
 * against its GEMM-flop bound on ONE thread, timed in thread CPU time so that other jobs on a shared
 * machine inflate it less than wall time: 7 products of 2·L²·d flops a batch-head (2 forward, 5
 * backward) at the rate of a 1024³ jnce_sgemm measured in the same process. Best of REPS each.
 *
 *   bench/native/attention_bound.sh [BH L D REPS]      default 1 4096 64 3
 *
 * Prints one line: BH L d, sgemm GFLOP/s, fwd and bwd seconds, each over its bound, and the total.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "jnce.h"

static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static float *filled(size_t n, unsigned *seed) {
    float *x = malloc(n * sizeof(float));
    if (!x) exit(2);
    for (size_t i = 0; i < n; i++) x[i] = (float)rand_r(seed) / RAND_MAX * 2.0f - 1.0f;
    return x;
}

int main(int argc, char **argv) {
    int64_t BH = argc > 1 ? atoll(argv[1]) : 1, L = argc > 2 ? atoll(argv[2]) : 4096, d = argc > 3 ? atoll(argv[3]) : 64;
    int reps = argc > 4 ? atoi(argv[4]) : 3;
    unsigned seed = 7;
    if (jnce_set_num_threads(1) != JNCE_OK) return 1;
    const int64_t n = 1024;
    float *a = filled(n * n, &seed), *b = filled(n * n, &seed), *c = filled(n * n, &seed);
    double gemm = 1e30;
    for (int r = 0; r < 3; r++) {
        double t = cpu_now();
        if (jnce_sgemm(0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n) != JNCE_OK) return 1;
        t = cpu_now() - t;
        gemm = t < gemm ? t : gemm;
    }
    double rate = 2.0 * n * n * n / gemm;
    size_t qs = (size_t)(BH * L * d);
    float *q = filled(qs, &seed), *k = filled(qs, &seed), *v = filled(qs, &seed), *dout = filled(qs, &seed);
    float *out = malloc(qs * 4), *lse = malloc((size_t)(BH * L) * 4), *dq = malloc(qs * 4), *dk = malloc(qs * 4),
          *dv = malloc(qs * 4);
    float scale = 0.125f;
    double fwd = 1e30, bwd = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = cpu_now();
        if (jnce_attention_fwd(BH, 1, L, L, d, d, q, k, v, NULL, NULL, scale, 0, 0, out, lse) != JNCE_OK) return 1;
        double t1 = cpu_now();
        if (jnce_attention_bwd(BH, 1, L, L, d, d, q, k, v, NULL, NULL, scale, 0, 0, out, dout, lse, dq, dk, dv) != JNCE_OK) return 1;
        double t2 = cpu_now();
        fwd = t1 - t0 < fwd ? t1 - t0 : fwd;
        bwd = t2 - t1 < bwd ? t2 - t1 : bwd;
    }
    double unit = 2.0 * L * L * d * BH / rate; /* one product's bound */
    printf("BH=%lld L=%lld d=%lld sgemm %.1f GFLOP/s  fwd %.4f s (%.2fx its 2 GEMMs)  bwd %.4f s (%.2fx its 5)  "
           "total %.4f s = %.2fx the 7-GEMM bound\n",
           (long long)BH, (long long)L, (long long)d, rate / 1e9, fwd, fwd / (2 * unit), bwd, bwd / (5 * unit), fwd + bwd,
           (fwd + bwd) / (7 * unit));
    return 0;
}
