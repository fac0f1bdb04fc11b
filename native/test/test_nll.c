/*
 * test_nll.c - checks jnce_nll_fwd_bwd against a plain double-precision reference: weights,
 * ignore_index (also a valid class), every reduction, in place, probabilities with the -100
 * clamp, the all-ignored mean (NaN, or 0 with the flag) and argument checks. Run by ctest
 * once on the default path and once with JNCE_SIMD=scalar.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "jnce.h"

/* Reference: the reduced loss and its gradient, in double. */
static double reference(const float *x, const int64_t *t, const float *w, int64_t N, int64_t C, int64_t ignore,
                        int32_t reduction, int probs, double *grad) {
    double total = 0.0, weights = 0.0;
    for (int64_t i = 0; i < N; i++) {
        if (t[i] == ignore) continue;
        weights += w != NULL ? w[t[i]] : 1.0;
    }
    double scale = reduction == JNCE_REDUCTION_MEAN ? 1.0 / weights : 1.0;
    memset(grad, 0, sizeof(double) * N * C);
    for (int64_t i = 0; i < N; i++) {
        if (t[i] == ignore) continue;
        double wi = w != NULL ? w[t[i]] : 1.0, p = x[i * C + t[i]];
        double v = probs ? fmax(log(p), -100.0) : p, dv = probs ? (log(p) < -100.0 ? 0.0 : 1.0 / p) : 1.0;
        total += -wi * v;
        grad[i * C + t[i]] = -wi * scale * dv;
    }
    return total * scale;
}

static void random_case(int64_t N, int64_t C, int weighted, int32_t reduction, int probs, int in_place) {
    float *x = malloc(sizeof(float) * N * C), *g = malloc(sizeof(float) * N * C), w[64];
    double *want = malloc(sizeof(double) * N * C);
    int64_t *t = malloc(sizeof(int64_t) * N);
    for (int64_t k = 0; k < N * C; k++) x[k] = probs ? (float)rand() / (float)RAND_MAX : -(float)rand() / (float)RAND_MAX * 5;
    for (int64_t j = 0; j < C && j < 64; j++) w[j] = (float)rand() / (float)RAND_MAX * 2;
    for (int64_t i = 0; i < N; i++) t[i] = rand() % (C + 1) == C ? -100 : rand() % C; /* some ignored */
    t[0] = 1 % C;
    if (probs && C > 1) x[0 * C + t[0]] = 0.0f; /* clamped: loss 100 w, gradient 0 */
    double ref = reference(x, t, weighted ? w : NULL, N, C, -100, reduction, probs, want);
    float *loss = malloc(sizeof(float) * N);
    float *out = in_place ? x : g;
    int32_t rc = jnce_nll_fwd_bwd(x, t, JNCE_DTYPE_INT64, weighted ? w : NULL, N, C, -100, reduction,
                                  probs ? JNCE_NLL_FROM_PROBS : 0, loss, out);
    CHECK(rc == JNCE_OK, "status %d", rc);
    double got = loss[0];
    if (reduction == JNCE_REDUCTION_NONE)
        for (int64_t i = 1; i < N; i++) got += loss[i]; /* the reference gives their sum */
    CHECK(fabs(got - ref) <= 1e-6 * fmax(1.0, fabs(ref)), "N=%lld C=%lld loss %.9g ref %.9g",
              (long long)N, (long long)C, got, ref);
    double worst = 0.0;
    for (int64_t k = 0; k < N * C; k++) worst = worse(worst, fabs(out[k] - want[k]) / fmax(1.0, fabs(want[k])));
    CHECK(worst <= 1e-6, "N=%lld C=%lld grad error %.3g", (long long)N, (long long)C, worst);
    free(x); free(g); free(want); free(t); free(loss);
}

static void ignore_rules(void) {
    float x[3 * 2] = {-1.0f, -2.0f, -0.5f, -0.25f, -3.0f, -4.0f}, w[2] = {2.0f, 5.0f}, loss[3], g[6];
    int32_t all_ignored[3] = {-100, -100, -100};
    CHECK(jnce_nll_fwd_bwd(x, all_ignored, JNCE_DTYPE_INT32, NULL, 3, 2, -100, JNCE_REDUCTION_MEAN, 0, loss, g) == JNCE_OK, "ok");
    CHECK(isnan(loss[0]) && g[0] == 0.0f && g[5] == 0.0f, "all ignored: NaN mean, zero gradient");
    jnce_nll_fwd_bwd(x, all_ignored, JNCE_DTYPE_INT32, NULL, 3, 2, -100, JNCE_REDUCTION_MEAN, JNCE_NLL_ZERO_IF_NO_WEIGHT, loss, g);
    CHECK(loss[0] == 0.0f && g[0] == 0.0f, "all ignored with the flag: 0");
    jnce_nll_fwd_bwd(x, all_ignored, JNCE_DTYPE_INT32, NULL, 3, 2, -100, JNCE_REDUCTION_SUM, 0, loss, g);
    CHECK(loss[0] == 0.0f, "all ignored sum is 0");
    int32_t t[3] = {1, 0, 1}; /* class 1 is ignored: a valid class index */
    jnce_nll_fwd_bwd(x, t, JNCE_DTYPE_INT32, w, 3, 2, 1, JNCE_REDUCTION_MEAN, 0, loss, g);
    CHECK(loss[0] == 0.5f && g[2] == -1.0f && g[1] == 0.0f && g[5] == 0.0f, "ignored valid class: %g", loss[0]);
    jnce_nll_fwd_bwd(x, t, JNCE_DTYPE_INT32, w, 3, 2, -100, JNCE_REDUCTION_NONE, 0, loss, g);
    CHECK(loss[0] == 10.0f && loss[1] == 1.0f && loss[2] == 20.0f && g[1] == -5.0f, "weighted none");
}

static void rejects_bad_arguments(void) {
    float x[2] = {-1, -1}, loss;
    int64_t bad[1] = {2};
    CHECK(jnce_nll_fwd_bwd(x, bad, JNCE_DTYPE_INT64, NULL, 1, 2, -100, JNCE_REDUCTION_MEAN, 0, &loss, NULL)
              == JNCE_ERR_INVALID_ARG, "target out of range must fail");
    char msg[256];
    jnce_last_error(msg, sizeof msg);
    CHECK(strcmp(msg, "targets[0] = 2 is outside [0, 2) for input of shape (1, 2) and is not the ignore index -100")
              == 0, "message names the target: %s", msg);
    /* From probabilities, input[i, t_i] must be in [0, 1]; its value is written as Java writes a float. */
    float p[4 * 2] = {0.5f, 0.5f, 0.25f, 0.75f, 0.5f, -1.0f, 0.0f, 1.5f}, g[8];
    int32_t t[4] = {0, 1, 1, 1};
    const char *want[][2] = {{"-1.0", "input[2, 1] = -1.0 is not a probability in [0, 1]"}, {"1.5", "input[2, 1] = 1.5"},
                             {"-1.5E-4", "= -1.5E-4 "}, {"1.0000001", "= 1.0000001 "}, {"-1234567.0", "= -1234567.0 "},
                             {"2.5E7", "= 2.5E7 "}, {"-0.00125", "= -0.00125 "}, {"100.0", "= 100.0 "}};
    float values[] = {-1.0f, 1.5f, -1.5e-4f, 1.0000001f, -1234567.0f, 2.5e7f, -0.00125f, 100.0f};
    for (int k = 0; k < 8; k++) {
        p[5] = values[k];
        for (int j = 0; j < 8; j++) g[j] = 3.0f;
        CHECK(jnce_nll_fwd_bwd(p, t, JNCE_DTYPE_INT32, NULL, 4, 2, -100, JNCE_REDUCTION_MEAN, JNCE_NLL_FROM_PROBS, &loss, g)
                  == JNCE_ERR_INVALID_ARG, "probability %s must fail", want[k][0]);
        jnce_last_error(msg, sizeof msg);
        CHECK(strstr(msg, want[k][1]) != NULL, "message '%s' should hold '%s'", msg, want[k][1]);
        CHECK(g[0] == 3.0f && g[7] == 3.0f, "nothing is written when a probability is out of range");
    }
    p[5] = NAN; /* NaN is not rejected: it gives NaN */
    CHECK(jnce_nll_fwd_bwd(p, t, JNCE_DTYPE_INT32, NULL, 4, 2, -100, JNCE_REDUCTION_MEAN, JNCE_NLL_FROM_PROBS, &loss, g)
              == JNCE_ERR_INVALID_ARG, "row 3's 1.5 still fails after a NaN");
    jnce_last_error(msg, sizeof msg);
    CHECK(strstr(msg, "input[3, 1] = 1.5") != NULL, "%s", msg);
    p[7] = 0.5f;
    CHECK(jnce_nll_fwd_bwd(p, t, JNCE_DTYPE_INT32, NULL, 4, 2, -100, JNCE_REDUCTION_MEAN, JNCE_NLL_FROM_PROBS, &loss, g)
              == JNCE_OK && isnan(loss), "a NaN probability gives NaN");
    CHECK(jnce_nll_fwd_bwd(p, t, JNCE_DTYPE_INT32, NULL, 4, 2, -100, JNCE_REDUCTION_MEAN, 0, &loss, g) == JNCE_OK,
          "log-probabilities are not range-checked");
    CHECK(jnce_nll_fwd_bwd(x, bad, JNCE_DTYPE_INT64, NULL, 1, 2, 2, JNCE_REDUCTION_MEAN, 8, &loss, NULL)
              == JNCE_ERR_INVALID_ARG, "unknown flags must fail");
    CHECK(jnce_nll_fwd_bwd(x, bad, JNCE_DTYPE_INT64, NULL, 0, 2, 2, JNCE_REDUCTION_MEAN, 0, &loss, NULL)
              == JNCE_ERR_INVALID_ARG, "N=0 must fail");
}

/* Every class weight must be finite, as in cross_entropy.c: also one no target uses, also when every row is ignored. */
static void rejects_non_finite_weights(void) {
    float x[2 * 3] = {-1, -2, -3, -1, -2, -3}, loss[2], g[6];
    int32_t t[2] = {0, 1}, ignored[2] = {-100, -100};
    float bad[] = {NAN, INFINITY, -INFINITY};
    const char *want[] = {"weight[2] = NaN is not finite", "weight[2] = Infinity is not finite",
                          "weight[2] = -Infinity is not finite"};
    char msg[256];
    for (int k = 0; k < 3; k++) {
        float w[3] = {1.0f, 2.0f, bad[k]};
        for (int j = 0; j < 6; j++) g[j] = 3.0f;
        loss[0] = loss[1] = 3.0f;
        for (int all_ignored = 0; all_ignored <= 1; all_ignored++) {
            CHECK(jnce_nll_fwd_bwd(x, all_ignored ? ignored : t, JNCE_DTYPE_INT32, w, 2, 3, -100, JNCE_REDUCTION_NONE, 0, loss, g)
                      == JNCE_ERR_INVALID_ARG, "weight %s must fail", want[k]);
            jnce_last_error(msg, sizeof msg);
            CHECK(strcmp(msg, want[k]) == 0, "message '%s' should be '%s'", msg, want[k]);
            CHECK(g[0] == 3.0f && g[5] == 3.0f && loss[0] == 3.0f, "nothing is written when a weight is not finite");
        }
    }
}

int main(void) {
    srand(5);
    int64_t shapes[][2] = {{1, 2}, {7, 3}, {33, 10}, {64, 64}, {5000, 40}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        for (int32_t r = JNCE_REDUCTION_NONE; r <= JNCE_REDUCTION_SUM; r++) {
            for (int probs = 0; probs <= 1; probs++) {
                random_case(shapes[k][0], shapes[k][1], 0, r, probs, 0);
                random_case(shapes[k][0], shapes[k][1], 1, r, probs, 1);
            }
        }
    }
    ignore_rules();
    rejects_bad_arguments();
    rejects_non_finite_weights();
    printf("test_nll: %s\n", failures ? "FAILED" : "all checks passed");
    return failures != 0;
}
