/* check.h - the CHECK macro of the native tests (counts a failure, prints where and why, goes on) and
 * helpers for random data and error measures. main() returns failures != 0. */
#ifndef JNCE_TEST_CHECK_H
#define JNCE_TEST_CHECK_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jnce.h"

static int failures;

#define CHECK(cond, ...)                                                                \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            failures++;                                                                 \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                        \
            fprintf(stderr, __VA_ARGS__);                                               \
            fprintf(stderr, "\n");                                                      \
        }                                                                               \
    } while (0)

static float uniform_pm1(void) { return 2.0f * (float)rand() / (float)RAND_MAX - 1.0f; }

static float *random_floats(int64_t n) {
    float *x = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    for (int64_t k = 0; k < n; k++) x[k] = uniform_pm1();
    return x;
}

/* max(worst, e), where a NaN sticks: once either is NaN the result stays NaN (the plain
 * "if (!(e <= worst)) worst = e" lets the next finite e replace a NaN). */
static double worse(double worst, double e) {
    if (isnan(worst)) return worst;
    return e <= worst ? worst : e;
}

/* Largest |got - want| over n values; NaN if any is. */
static double max_error(const float *got, const double *want, int64_t n) {
    double worst = 0.0;
    for (int64_t k = 0; k < n; k++) {
        double e = fabs(got[k] - want[k]);
        worst = worse(worst, e);
    }
    return worst;
}

/* Largest |got - want| / max(1, |want|) over n values; NaN if any is. */
static double max_rel_error(const float *got, const double *want, int64_t n) {
    double worst = 0.0;
    for (int64_t k = 0; k < n; k++) {
        double e = fabs(got[k] - want[k]) / fmax(1.0, fabs(want[k]));
        worst = worse(worst, e);
    }
    return worst;
}

/* Whether the library's AVX-512 paths run here (as jnce_use_avx512 decides: the CPU has AVX-512F,
 * AVX2 and FMA, and JNCE_SIMD does not ask for "avx2" or "scalar"). */
static inline int avx512_kernels(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    const char *simd = getenv("JNCE_SIMD");
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           !(simd != NULL && (strcmp(simd, "avx2") == 0 || strcmp(simd, "scalar") == 0));
#else
    return 0;
#endif
}

/* Whether the fused backward's tiles run for N rows of D features (tile_backward.c): AVX-512, and
 * the per-thread accumulators small against the logits, N >= 8 threads D. */
static inline int tiles_run(int64_t N, int64_t D) {
    int32_t threads = 1;
    jnce_get_num_threads(&threads);
    return avx512_kernels() && N >= 8 * (int64_t)threads * D;
}

static int finish(const char *name) {
    printf("%s: %s\n", name, failures ? "FAILED" : "all checks passed");
    return failures != 0;
}

#endif
