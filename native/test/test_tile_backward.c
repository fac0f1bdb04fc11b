/*
 * test_tile_backward.c - the fused backward passes, whose per-thread accumulators are not zeroed
 * (a thread's first tile overwrites what it writes, and the sum skips what no tile wrote): the
 * driver of tile_backward.c (tile_product.h) against a float64 reference, dA = alpha G B and
 * dB = alpha Gᵀ A + beta dB for a G formed tile by tile by a callback, and the one-tensor
 * gradient of symmetric_xent.c, each with every thread taking part and with the pool busy with
 * another job, so that the call runs all its work as one slice and leaves the other slices'
 * accumulators unwritten (the one-tensor gradient: the same values as with the pool free).
 * Under the sanitizers (JnceSanitize.cmake) every malloc'd byte starts as garbage, so a sum that
 * read an unwritten accumulator fails here.
 * Linked with the library's objects, not libjnce.so (which exports none of internal.h).
 *
 *   ./test_tile_backward   (returns the number of failed checks != 0)
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "internal.h"
#include "tile_product.h"

/* G[i][k] = sin(0.37 i + 0.11 k) - 0.2: every entry different, some negative */
static double g_entry(int64_t i, int64_t k) { return sin(0.37 * (double)i + 0.11 * (double)k) - 0.2; }

static void form(const jnce_tile_backward *t, int64_t r0, int64_t rows, int64_t k0, int64_t n, float *X, int32_t slice) {
    (void)t, (void)slice;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < n; c++) X[r * TILE_BACKWARD_COLS + c] = (float)g_entry(r0 + r, k0 + c);
}

static float *values(int64_t n, double step) {
    float *v = malloc(sizeof(float) * (size_t)n);
    for (int64_t k = 0; k < n; k++) v[k] = (float)cos(step * (double)k);
    return v;
}

/* Runs the driver on (N, M, D) and checks dA and dB against float64; returns whether it ran. */
static int check_case(const char *what, int64_t N, int64_t M, int64_t D, float beta) {
    const float alpha = 0.5f;
    float *A = values(N * D, 0.013), *B = values(M * D, 0.029), *dA = malloc(sizeof(float) * (size_t)(N * D));
    float *dB = values(M * D, 0.047);
    float *dB0 = malloc(sizeof(float) * (size_t)(M * D));
    memcpy(dB0, dB, sizeof(float) * (size_t)(M * D));
    for (int64_t k = 0; k < N * D; k++) dA[k] = NAN; /* overwritten whole */
    const jnce_tile_backward t = {.N = N, .M = M, .D = D, .A = A, .B = B, .alpha = alpha, .beta = beta, .dA = dA, .dB = dB,
                                  .form = form, .slices = jnce_threads()};
    const int ran = jnce_tile_backward_run(&t);
    if (ran) {
        double worst_a = 0, worst_b = 0;
        for (int64_t i = 0; i < N; i++)
            for (int64_t d = 0; d < D; d++) {
                double s = 0, scale = 0;
                for (int64_t k = 0; k < M; k++) s += g_entry(i, k) * B[k * D + d], scale += fabs(g_entry(i, k) * B[k * D + d]);
                const double e = fabs((double)dA[i * D + d] - alpha * s) / (alpha * scale + 1e-30);
                if (!(e <= worst_a)) worst_a = e; /* NaN too */
            }
        for (int64_t k = 0; k < M; k++)
            for (int64_t d = 0; d < D; d++) {
                double s = 0, scale = fabs(beta * dB0[k * D + d]);
                for (int64_t i = 0; i < N; i++) s += g_entry(i, k) * A[i * D + d], scale += alpha * fabs(g_entry(i, k) * A[i * D + d]);
                const double want = alpha * s + (beta == 0.0f ? 0.0 : beta * (double)dB0[k * D + d]);
                const double e = fabs((double)dB[k * D + d] - want) / (scale + 1e-30);
                if (!(e <= worst_b)) worst_b = e;
            }
        CHECK(worst_a < 1e-5, "%s (N=%lld, M=%lld, D=%lld): dA off float64 by %g of its terms' size", what, (long long)N,
              (long long)M, (long long)D, worst_a);
        CHECK(worst_b < 1e-5, "%s (N=%lld, M=%lld, D=%lld, beta=%g): dB off float64 by %g of its terms' size", what,
              (long long)N, (long long)M, (long long)D, beta, worst_b);
    }
    free(A), free(B), free(dA), free(dB), free(dB0);
    return ran;
}

/* Holds the pool: a job whose slices wait until released (every slice a thread of the pool). */
static atomic_int release_pool, pool_slices_in;
static void hold(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)ctx, (void)begin, (void)end, (void)slice;
    atomic_fetch_add(&pool_slices_in, 1);
    while (!atomic_load(&release_pool)) {
        struct timespec nap = {0, 100 * 1000};
        nanosleep(&nap, NULL);
    }
}
static void *hold_pool(void *unused) {
    (void)unused;
    jnce_parallel_for_at_most(2, 1, 2, hold, NULL);
    return NULL;
}

/* The one-tensor gradient (NT-Xent's pairing) into df: 1 if it ran. */
static int one_tensor(const float *S0, int64_t N, int64_t D, const float *f, float *df) {
    float *S = malloc(sizeof(float) * (size_t)(N * N)), loss;
    memcpy(S, S0, sizeof(float) * (size_t)(N * N));
    const int ok = jnce_symmetric_xent_grad(S, N, N, N / 2, 1, 0, JNCE_REDUCTION_MEAN, &loss, 2.0f, f, D, df) == JNCE_OK;
    free(S);
    return ok;
}

int main(void) {
    jnce_set_num_threads(2);
    if (!jnce_use_avx512()) {
        /* the driver runs only on AVX-512 (jnce_tile_backward_fits); its callers' tests cover the other paths */
        CHECK(!check_case("no AVX-512", 512, 300, 16, 0.0f), "the driver ran without AVX-512");
        return finish("test_tile_backward");
    }
    /* bands cut by N, tiles cut by M, D past one 64-column step and not a multiple of 16 */
    CHECK(check_case("two threads", 1200, 600, 70, 0.0f), "1200 x 600 x 70 did not run");
    CHECK(check_case("two threads, beta", 520, 300, 16, 0.75f), "520 x 300 x 16 did not run");
    CHECK(check_case("two threads, one band a thread", 256, 900, 16, 0.0f), "256 x 900 x 16 did not run");
    const int64_t N = 2300, D = 16; /* three diagonal blocks, row blocks of several widths */
    float *f = values(N * D, 0.071), *S0 = malloc(sizeof(float) * (size_t)(N * N)), *free_df = malloc(sizeof(float) * (size_t)(N * D));
    float *busy_df = malloc(sizeof(float) * (size_t)(N * D));
    for (int64_t i = 0; i < N; i++) {
        double norm = 0;
        for (int64_t d = 0; d < D; d++) norm += (double)f[i * D + d] * f[i * D + d];
        for (int64_t d = 0; d < D; d++) f[i * D + d] = (float)(f[i * D + d] / sqrt(norm));
    }
    CHECK(jnce_ssyrk(N, D, 2.0f, f, D, S0, N) == JNCE_OK, "ssyrk status");
    CHECK(one_tensor(S0, N, D, f, free_df), "one tensor with the pool free: status");
    /* the pool busy: each call's work all runs as slice 0 on this thread */
    atomic_store(&release_pool, 0), atomic_store(&pool_slices_in, 0);
    pthread_t holder;
    pthread_create(&holder, NULL, hold_pool, NULL);
    while (atomic_load(&pool_slices_in) < 1) {
        struct timespec nap = {0, 100 * 1000};
        nanosleep(&nap, NULL);
    }
    CHECK(check_case("pool busy", 1200, 600, 70, 0.0f), "1200 x 600 x 70 with the pool busy did not run");
    CHECK(check_case("pool busy, beta", 520, 300, 16, 0.75f), "520 x 300 x 16 with the pool busy did not run");
    CHECK(one_tensor(S0, N, D, f, busy_df), "one tensor with the pool busy: status");
    atomic_store(&release_pool, 1);
    pthread_join(holder, NULL);
    double worst = 0, largest = 0;
    for (int64_t k = 0; k < N * D; k++) largest = fmax(largest, fabs((double)free_df[k]));
    for (int64_t k = 0; k < N * D; k++) {
        const double e = fabs((double)busy_df[k] - (double)free_df[k]);
        if (!(e <= worst)) worst = e;
    }
    CHECK(worst <= 1e-5 * largest, "one tensor: the gradient with the pool busy is off the pool-free one by %g (largest entry %g)",
          worst, largest);
    free(f), free(S0), free(free_df), free(busy_df);
    return finish("test_tile_backward");
}
