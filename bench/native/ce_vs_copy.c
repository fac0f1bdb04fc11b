/*
 * ce_vs_copy.c - softmax cross-entropy forward+backward (jnce_cross_entropy_fwd_bwd, class targets,
 * MEAN) against its memory limit measured in the same process: copying the same bytes (read the
 * (N,C) logits, write the (N,C) gradient) with memcpy on as many threads. Plain, and with class
 * weights + label smoothing 0.1. Prints the median of REPS of each and the ratios, and beside them
 * two parts of the limit: the forward alone (the maximum's pass and the exponentials' pass, no
 * gradient) and a read of the logits alone (a sum on as many threads): where the forward takes
 * longer than the read, the arithmetic of the exponentials, not memory, sets the pace.
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

/* Reads the floats (eight independent sums, which the compiler keeps on vector lanes) and leaves
 * their sum in the part's first destination float, so the reads are not dead code. */
static void *read_part(void *p) {
    part *c = p;
    float s[8] = {0};
    size_t i = 0;
    for (; i + 8 <= c->n; i += 8)
        for (int k = 0; k < 8; k++) s[k] += c->src[i + k];
    for (; i < c->n; i++) s[0] += c->src[i];
    c->dst[0] = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    return NULL;
}

static double on_threads(void *(*fn)(void *), const float *src, float *dst, size_t total, int threads) {
    pthread_t th[64];
    part parts[64];
    size_t each = total / threads;
    double t0 = now();
    for (int k = 0; k < threads; k++) {
        parts[k] = (part){src + k * each, dst + k * each, k == threads - 1 ? total - k * each : each};
        pthread_create(&th[k], NULL, fn, &parts[k]);
    }
    for (int k = 0; k < threads; k++) pthread_join(th[k], NULL);
    return now() - t0;
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
    double ce[99], ws[99], cp[99], fw[99], rd[99];
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        if (jnce_cross_entropy_fwd_bwd(N, C, x, t, JNCE_DTYPE_INT64, NULL, NULL, NULL, -100, 0.0f, 0.0f, JNCE_REDUCTION_MEAN, 0,
                                       &loss, g, NULL) != JNCE_OK) return 4;
        double t1 = now();
        if (jnce_cross_entropy_fwd_bwd(N, C, x, t, JNCE_DTYPE_INT64, NULL, NULL, w, -100, 0.1f, 0.0f, JNCE_REDUCTION_MEAN, 0,
                                       &loss_ws, g, NULL) != JNCE_OK) return 4;
        double t2 = now();
        size_t total = (size_t)(N * C);
        cp[r] = on_threads(copy_part, x, g, total, threads);
        double t3 = now();
        if (jnce_cross_entropy_fwd_bwd(N, C, x, t, JNCE_DTYPE_INT64, NULL, NULL, NULL, -100, 0.0f, 0.0f, JNCE_REDUCTION_MEAN, 0,
                                       &loss, NULL, NULL) != JNCE_OK) return 4;
        fw[r] = now() - t3;
        rd[r] = on_threads(read_part, x, g, total, threads);
        ce[r] = t1 - t0;
        ws[r] = t2 - t1;
    }
    double mce = median(ce, reps), mws = median(ws, reps), mcp = median(cp, reps), mfw = median(fw, reps), mrd = median(rd, reps);
    printf("N=%lld C=%lld threads=%d reps=%d ce_s=%.5f ce_weighted_smoothed_s=%.5f copy_s=%.5f ce_over_copy=%.2f "
           "weighted_smoothed_over_plain=%.3f loss=%.6f loss_ws=%.6f forward_s=%.5f read_s=%.5f forward_over_read=%.2f\n",
           (long long)N, (long long)C, threads, reps, mce, mws, mcp, mce / mcp, mws / mce, loss, loss_ws, mfw, mrd, mfw / mrd);
    return 0;
}
