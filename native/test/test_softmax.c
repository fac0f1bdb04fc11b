/*
 * test_softmax.c - checks the softmax, log_softmax and logsumexp kernels of softmax.c, forward
 * and backward, against a plain double-precision reference, for random rows of many lengths
 * (block tails included), in place and not, at logits of +-1e4 and on the non-finite rules.
 * Run by ctest once on the default (AVX2 where available) path and once with JNCE_SIMD=scalar.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "jnce.h"

/* Reference for one row: softmax p, log_softmax lp and logsumexp, in double. */
static double ref_row(const float *x, int64_t C, double *p, double *lp) {
    double m = -INFINITY, s = 0.0;
    for (int64_t j = 0; j < C; j++) m = fmax(m, x[j]);
    for (int64_t j = 0; j < C; j++) s += exp(x[j] - m);
    for (int64_t j = 0; j < C; j++) {
        p[j] = exp(x[j] - m) / s;
        lp[j] = x[j] - m - log(s);
    }
    return m + log(s);
}

static float uniform(void) { return (float)rand() / (float)RAND_MAX * 2.0f - 1.0f; }

static double worst_error(const float *got, const double *want, int64_t n) {
    double worst = 0.0;
    for (int64_t k = 0; k < n; k++) worst = worse(worst, fabs(got[k] - want[k]) / fmax(1.0, fabs(want[k])));
    return worst;
}

static void random_case(int64_t N, int64_t C, float spread, int in_place) {
    int64_t n = N * C;
    float *x = malloc(sizeof(float) * n), *dy = malloc(sizeof(float) * n), *out = malloc(sizeof(float) * n);
    float *lse = malloc(sizeof(float) * N), *dlse = malloc(sizeof(float) * N);
    double *p = malloc(sizeof(double) * n), *lp = malloc(sizeof(double) * n), *want = malloc(sizeof(double) * n);
    double *want_lse = malloc(sizeof(double) * N);
    for (int64_t k = 0; k < n; k++) {
        x[k] = uniform() * spread;
        dy[k] = uniform();
    }
    for (int64_t i = 0; i < N; i++) {
        want_lse[i] = ref_row(x + i * C, C, p + i * C, lp + i * C);
        dlse[i] = uniform();
    }
    const char *what = in_place ? "in place" : "apart";

    CHECK(jnce_logsumexp_fwd(x, N, C, lse) == JNCE_OK, "logsumexp status");
    CHECK(worst_error(lse, want_lse, N) <= 2e-7, "logsumexp C=%lld %s", (long long)C, what);

    memcpy(out, x, sizeof(float) * n);
    CHECK(jnce_softmax_fwd(in_place ? out : x, N, C, out) == JNCE_OK, "softmax status");
    CHECK(worst_error(out, p, n) <= 1e-6, "softmax C=%lld %s: %.3g", (long long)C, what, worst_error(out, p, n));
    memcpy(out, x, sizeof(float) * n);
    CHECK(jnce_log_softmax_fwd(in_place ? out : x, N, C, out) == JNCE_OK, "log_softmax status");
    CHECK(worst_error(out, lp, n) <= 2e-7, "log_softmax C=%lld %s", (long long)C, what);

    /* Backward: the saved output is the float32 forward output, as in autograd. */
    float *y = malloc(sizeof(float) * n);
    jnce_softmax_fwd(x, N, C, y);
    for (int64_t i = 0; i < N; i++) {
        double s = 0.0;
        for (int64_t j = 0; j < C; j++) s += (double)dy[i * C + j] * y[i * C + j];
        for (int64_t j = 0; j < C; j++) want[i * C + j] = y[i * C + j] * (dy[i * C + j] - s);
    }
    memcpy(out, dy, sizeof(float) * n);
    CHECK(jnce_softmax_bwd(y, in_place ? out : dy, N, C, out) == JNCE_OK, "softmax_bwd status");
    CHECK(worst_error(out, want, n) <= 1e-7, "softmax_bwd C=%lld %s", (long long)C, what);

    jnce_log_softmax_fwd(x, N, C, y);
    for (int64_t i = 0; i < N; i++) {
        double s = 0.0;
        for (int64_t j = 0; j < C; j++) s += dy[i * C + j];
        for (int64_t j = 0; j < C; j++) want[i * C + j] = dy[i * C + j] - exp(y[i * C + j]) * s;
    }
    memcpy(out, dy, sizeof(float) * n);
    CHECK(jnce_log_softmax_bwd(y, in_place ? out : dy, N, C, out) == JNCE_OK, "log_softmax_bwd status");
    CHECK(worst_error(out, want, n) <= 1e-6, "log_softmax_bwd C=%lld %s", (long long)C, what);

    for (int64_t k = 0; k < n; k++) want[k] = dlse[k / C] * p[k];
    memcpy(out, x, sizeof(float) * n);
    CHECK(jnce_logsumexp_bwd(in_place ? out : x, dlse, N, C, out) == JNCE_OK, "logsumexp_bwd status");
    CHECK(worst_error(out, want, n) <= 1e-6, "logsumexp_bwd C=%lld %s", (long long)C, what);

    free(x); free(dy); free(out); free(lse); free(dlse); free(p); free(lp); free(want); free(want_lse); free(y);
}

static void non_finite_rules(void) {
    const float inf = INFINITY;
    float x[5 * 3] = {-inf, -inf, -inf,   1.0f, -inf, 2.0f,   1e4f, -1e4f, 0.0f,   1.0f, inf, 0.0f,   1.0f, NAN, 0.0f};
    float ones[15], y[15], lse[5], dx[15];
    for (int k = 0; k < 15; k++) ones[k] = 1.0f;
    jnce_softmax_fwd(x, 5, 3, y);
    CHECK(isnan(y[0]) && isnan(y[2]), "softmax of an all -inf row is NaN");
    CHECK(y[4] == 0.0f && fabs(y[5] - 1.0 / (1.0 + exp(-1.0))) < 1e-7, "-inf entry has probability 0");
    CHECK(y[6] == 1.0f && y[7] == 0.0f && y[8] == 0.0f, "1e4 row is one-hot");
    CHECK(isnan(y[9]) && isnan(y[12]), "+inf and NaN rows are NaN");
    jnce_log_softmax_fwd(x, 5, 3, y);
    CHECK(isnan(y[1]) && y[4] == -inf && y[6] == 0.0f && y[7] == -2e4f && y[8] == -1e4f, "log_softmax rules");
    jnce_log_softmax_bwd(y, ones, 5, 3, dx);
    CHECK(isnan(dx[0]) && dx[4] == 1.0f && dx[6] == -2.0f && dx[7] == 1.0f, "log_softmax_bwd rules");
    jnce_logsumexp_fwd(x, 5, 3, lse);
    CHECK(lse[0] == -inf && lse[2] == 1e4f && lse[3] == inf && isnan(lse[4]), "logsumexp rules");
    jnce_logsumexp_bwd(x, ones, 5, 3, dx);
    CHECK(isnan(dx[0]) && dx[4] == 0.0f && dx[6] == 1.0f && dx[7] == 0.0f, "logsumexp_bwd finite rows");
    CHECK(dx[9] == 0.0f && isnan(dx[10]) && dx[11] == 0.0f && isnan(dx[12]), "logsumexp_bwd +inf and NaN rows");
}

static void rejects_bad_arguments(void) {
    float x[2] = {0, 0}, y[2];
    CHECK(jnce_softmax_fwd(x, 0, 2, y) == JNCE_ERR_INVALID_ARG, "N=0 must fail");
    char msg[256];
    jnce_last_error(msg, sizeof msg);
    CHECK(strstr(msg, "softmax_fwd: N=0") != NULL, "message names op and N: %s", msg);
    CHECK(jnce_log_softmax_bwd(x, NULL, 1, 2, y) == JNCE_ERR_INVALID_ARG, "NULL dy must fail");
    CHECK(jnce_logsumexp_fwd(x, 1, -1, y) == JNCE_ERR_INVALID_ARG, "C<0 must fail");
}

int main(void) {
    srand(11);
    int64_t lengths[] = {1, 2, 3, 7, 8, 63, 64, 65, 130, 1000, 4099};
    for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
        random_case(5, lengths[k], 4.0f, 0);
        random_case(3, lengths[k], 30.0f, 1);
    }
    random_case(300, 2048, 8.0f, 0); /* enough work to run on the thread pool */
    non_finite_rules();
    rejects_bad_arguments();
    printf("test_softmax: %s\n", failures ? "FAILED" : "all checks passed");
    return failures != 0;
}
