/*
 * ce_vs_copy.c - softmax cross-entropy forward+backward (jnce_cross_entropy_fwd_bwd, class targets,
 * MEAN) against its memory limit measured in the same process: copying the same bytes (read the
 * (N,C) logits, write the (N,C) gradient) with memcpy on as many threads. Plain, and with class
 * weights + label smoothing 0.1. Prints the median of REPS of each and the ratios.
 *
 *   bench/scripts/ce_vs_copy.sh [N C REPS]        default 8192 32000 9
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jnce.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

typedef struct {
    const float *src;
    float *dst;
    size_t n;
} part;

static void *copy_part(void *p) {
    part *c = p;
    memcpy(c->dst, c->src, c->n * sizeof(float));
    return NULL;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, n, sizeof *v, cmp);
    return v[n / 2];
}

int main(int argc, char **argv) {
    int64_t N = argc > 1 ? atol(argv[1]) : 8192, C = argc > 2 ? atol(argv[2]) : 32000;
    int reps = argc > 3 ? atoi(argv[3]) : 9, threads = getenv("JNCE_NUM_THREADS") ? atoi(getenv("JNCE_NUM_THREADS")) : 2;
    if (threads < 1 || threads > 64 || reps < 1 || reps > 99 || N < 1 || C < 2) return 2;
    float *x = aligned_alloc(64, (size_t)(N * C) * 4), *g = aligned_alloc(64, (size_t)(N * C) * 4), *w = malloc(C * 4);
    int64_t *t = malloc(N * sizeof *t);
    float loss = 0, loss_ws = 0;
    srand(1);
    for (int64_t i = 0; i < N * C; i++) x[i] = (float)rand() / RAND_MAX * 8 - 4;
    for (int64_t i = 0; i < N; i++) t[i] = rand() % C;
    for (int64_t j = 0; j < C; j++) w[j] = 0.5f + (float)rand() / RAND_MAX;
    memset(g, 0, (size_t)(N * C) * 4);
    if (jnce_set_num_threads(threads) != JNCE_OK) return 3;
    double ce[99], ws[99], cp[99];
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        if (jnce_cross_entropy_fwd_bwd(N, C, x, t, JNCE_DTYPE_INT64, NULL, NULL, NULL, -100, 0.0f, 0.0f, JNCE_REDUCTION_MEAN, 0,
                                       &loss, g, NULL) != JNCE_OK) return 4;
        double t1 = now();
        if (jnce_cross_entropy_fwd_bwd(N, C, x, t, JNCE_DTYPE_INT64, NULL, NULL, w, -100, 0.1f, 0.0f, JNCE_REDUCTION_MEAN, 0,
                                       &loss_ws, g, NULL) != JNCE_OK) return 4;
        double t2 = now();
        pthread_t th[64];
        part parts[64];
        size_t total = (size_t)(N * C), each = total / threads;
        for (int k = 0; k < threads; k++) {
            parts[k] = (part){x + k * each, g + k * each, k == threads - 1 ? total - k * each : each};
            pthread_create(&th[k], NULL, copy_part, &parts[k]);
        }
        for (int k = 0; k < threads; k++) pthread_join(th[k], NULL);
        double t3 = now();
        ce[r] = t1 - t0;
        ws[r] = t2 - t1;
        cp[r] = t3 - t2;
    }
    double mce = median(ce, reps), mws = median(ws, reps), mcp = median(cp, reps);
    printf("N=%lld C=%lld threads=%d reps=%d ce_s=%.5f ce_weighted_smoothed_s=%.5f copy_s=%.5f ce_over_copy=%.2f "
           "weighted_smoothed_over_plain=%.3f loss=%.6f loss_ws=%.6f\n",
           (long long)N, (long long)C, threads, reps, mce, mws, mcp, mce / mcp, mws / mce, loss, loss_ws);
    return 0;
}
