/*
 * test_softmax_xent.c - checks jnce_softmax_xent_fwd_bwd against a plain double-precision
 * reference, for random rows of many lengths (block tails included), in place and not, and
 * the NaN/Inf rules. Run by ctest once with JNCE_SIMD=avx2 (the default path) and once with
 * JNCE_SIMD=scalar.
 */
#include <math.h>
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

/* Reference: loss and grad of the mean-reduced loss, in double. */
static double reference(const float *x, const int64_t *t, int64_t N, int64_t C, double *grad) {
    double total = 0.0;
    for (int64_t i = 0; i < N; i++) {
        double m = -INFINITY, s = 0.0;
        for (int64_t j = 0; j < C; j++) m = fmax(m, x[i * C + j]);
        for (int64_t j = 0; j < C; j++) s += exp(x[i * C + j] - m);
        total += m + log(s) - x[i * C + t[i]];
        for (int64_t j = 0; j < C; j++)
            grad[i * C + j] = (exp(x[i * C + j] - m) / s - (j == t[i])) / (double)N;
    }
    return total / (double)N;
}

static float uniform(void) { return (float)rand() / (float)RAND_MAX; }

static void random_case(int64_t N, int64_t C, float spread, int in_place) {
    float *x = malloc(sizeof(float) * N * C), *g = malloc(sizeof(float) * N * C);
    double *ref_g = malloc(sizeof(double) * N * C);
    int64_t *t = malloc(sizeof(int64_t) * N);
    for (int64_t k = 0; k < N * C; k++) x[k] = (uniform() * 2.0f - 1.0f) * spread;
    for (int64_t i = 0; i < N; i++) t[i] = rand() % C;
    double ref = reference(x, t, N, C, ref_g);
    float loss;
    float *out = in_place ? x : g;
    int32_t rc = jnce_softmax_xent_fwd_bwd(x, t, JNCE_DTYPE_INT64, N, C, JNCE_REDUCTION_MEAN, &loss, out);
    CHECK(rc == JNCE_OK, "status %d", rc);
    CHECK(fabs(loss - ref) <= 1e-5 * fmax(1.0, fabs(ref)), "N=%lld C=%lld loss %.9g ref %.9g",
          (long long)N, (long long)C, loss, ref);
    double worst = 0.0;
    for (int64_t k = 0; k < N * C; k++) worst = fmax(worst, fabs(out[k] - ref_g[k]));
    CHECK(worst <= 1e-6 / N + 1e-7, "N=%lld C=%lld grad error %.3g", (long long)N, (long long)C, worst);
    free(x); free(g); free(ref_g); free(t);
}

static void non_finite_rules(void) {
    float x[4 * 3] = {1.0f, NAN, 0.0f,   1.0f, INFINITY, 0.0f,
                      -INFINITY, 2.0f, 1.0f,   -INFINITY, -INFINITY, -INFINITY};
    int32_t t[4] = {0, 0, 1, 0};
    float loss[4], g[12];
    int32_t rc = jnce_softmax_xent_fwd_bwd(x, t, JNCE_DTYPE_INT32, 4, 3, JNCE_REDUCTION_NONE, loss, g);
    CHECK(rc == JNCE_OK, "status %d", rc);
    CHECK(isnan(loss[0]) && isnan(g[0]), "NaN row must give NaN");
    CHECK(isnan(loss[1]) && isnan(g[4]), "+Inf row must give NaN");
    double want = 2.0 + log(1.0 + exp(-1.0)) - 2.0; /* lse of {2,1} minus x_t = 2 */
    CHECK(fabs(loss[2] - want) < 1e-6 && g[6] == 0.0f, "-Inf entry: loss %g want %g, grad %g", loss[2], want, g[6]);
    CHECK(isnan(loss[3]), "all -Inf row must give NaN");
}

static void rejects_bad_arguments(void) {
    float x[2] = {0, 0}, loss;
    int64_t bad_target[1] = {2};
    CHECK(jnce_softmax_xent_fwd_bwd(x, bad_target, JNCE_DTYPE_INT64, 1, 2, JNCE_REDUCTION_MEAN, &loss, NULL)
              == JNCE_ERR_INVALID_ARG, "target out of range must fail");
    char msg[256];
    jnce_last_error(msg, sizeof msg);
    CHECK(strstr(msg, "targets[0]=2") != NULL, "message names the target: %s", msg);
    CHECK(jnce_softmax_xent_fwd_bwd(x, bad_target, JNCE_DTYPE_INT64, 0, 2, JNCE_REDUCTION_MEAN, &loss, NULL)
              == JNCE_ERR_INVALID_ARG, "N=0 must fail");
}

int main(void) {
    srand(7);
    int64_t lengths[] = {1, 2, 3, 7, 8, 63, 64, 65, 130, 1000, 4099};
    for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
        random_case(5, lengths[k], 4.0f, 0);
        random_case(3, lengths[k], 30.0f, 1);
    }
    random_case(300, 2048, 8.0f, 0); /* enough work to run on the thread pool */
    non_finite_rules();
    rejects_bad_arguments();
    char info[512];
    jnce_build_info(info, sizeof info);
    printf("%s\n%s\n", info, failures ? "FAILED" : "all checks passed");
    return failures != 0;
}
