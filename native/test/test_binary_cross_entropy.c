/*
 * test_binary_cross_entropy.c - checks binary_cross_entropy.c and focal.c (BCE on probabilities
 * and logits, sigmoid and softmax focal loss) against plain double-precision references: losses
 * against the textbook formulas, gradients against central differences of those formulas, for
 * every reduction, with weights and pos_weight, on sizes that cross the block and thread limits.
 * Run by ctest once on the default path and once with JNCE_SIMD=scalar.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jnce.h"
#include "check.h"


static double uniform(void) { return (double)rand() / (double)RAND_MAX; }

/* Textbook element losses (no clamps needed for the moderate values used here). */
static double ref_bce(double p, double y) { return -(y * log(p) + (1 - y) * log(1 - p)); }
static double ref_bce_logits(double x, double y, double pw) {
    return -(pw * y * log(1 / (1 + exp(-x))) + (1 - y) * log(1 - 1 / (1 + exp(-x))));
}
static double ref_sigmoid_focal(double x, double y, double alpha, double gamma) {
    double p = 1 / (1 + exp(-x)), p_t = p * y + (1 - p) * (1 - y);
    double a = alpha >= 0 ? alpha * y + (1 - alpha) * (1 - y) : 1;
    return a * ref_bce_logits(x, y, 1) * pow(1 - p_t, gamma);
}

enum { BCE, LOGITS, SIGMOID_FOCAL };

typedef struct {
    int op;
    const double *w, *pw; /* per class (C) or NULL */
    int64_t C;
    double alpha, gamma;
} elem_case;

static double ref_elem(const elem_case *c, int64_t k, double x, double y) {
    double w = c->w ? c->w[k % c->C] : 1;
    switch (c->op) {
    case BCE: return w * ref_bce(x, y);
    case LOGITS: return w * ref_bce_logits(x, y, c->pw ? c->pw[k % c->C] : 1);
    default: return ref_sigmoid_focal(x, y, c->alpha, c->gamma);
    }
}

static int32_t run_elem(const elem_case *c, const float *x, const float *y, int64_t n, const float *w,
                        const float *pw, int32_t red, float *loss, float *gx, float *gy) {
    switch (c->op) {
    case BCE: return jnce_bce_fwd_bwd(x, y, n, w, c->C, red, loss, gx, gy);
    case LOGITS: return jnce_bce_logits_fwd_bwd(x, y, n, w, c->C, pw, c->C, red, loss, gx, gy);
    default: return jnce_sigmoid_focal_fwd_bwd(x, y, n, (float)c->alpha, (float)c->gamma, red, loss, gx, gy);
    }
}

static void elementwise_case(const elem_case *c, int64_t n, int32_t red) {
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n), *gx = malloc(sizeof(float) * n),
          *gy = malloc(sizeof(float) * n), *loss = malloc(sizeof(float) * n), w[8], pw[8];
    for (int64_t k = 0; k < c->C; k++) {
        w[k] = c->w ? (float)c->w[k] : 0;
        pw[k] = c->pw ? (float)c->pw[k] : 0;
    }
    for (int64_t k = 0; k < n; k++) {
        x[k] = (float)(c->op == BCE ? 0.02 + 0.96 * uniform() : 8 * uniform() - 4);
        y[k] = (float)(k % 3 == 0 ? uniform() : (double)(k % 2)); /* soft and hard targets */
    }
    int32_t rc = run_elem(c, x, y, n, c->w ? w : NULL, c->pw ? pw : NULL, red, loss, gx, gy);
    CHECK(rc == JNCE_OK, "op %d status %d", c->op, rc);
    double total = 0, scale = red == JNCE_REDUCTION_MEAN ? 1.0 / n : 1.0, h = 1e-6, worst = 0;
    for (int64_t k = 0; k < n; k++) {
        double l = ref_elem(c, k, x[k], y[k]);
        total += l;
        if (red == JNCE_REDUCTION_NONE) worst = fmax(worst, fabs(loss[k] - l) / fmax(1, fabs(l)));
        double dx = (ref_elem(c, k, x[k] + h, y[k]) - ref_elem(c, k, x[k] - h, y[k])) / (2 * h) * scale;
        double dy = (ref_elem(c, k, x[k], y[k] + h) - ref_elem(c, k, x[k], y[k] - h)) / (2 * h) * scale;
        worst = fmax(worst, fabs(gx[k] - dx) / fmax(1, fabs(dx)) / (10 * scale));
        worst = fmax(worst, fabs(gy[k] - dy) / fmax(1, fabs(dy)) / (10 * scale));
    }
    if (red != JNCE_REDUCTION_NONE) {
        double want = red == JNCE_REDUCTION_MEAN ? total / n : total;
        worst = fmax(worst, fabs(loss[0] - want) / fmax(1, fabs(want)));
    }
    CHECK(worst <= 1e-6, "op %d n=%lld reduction %d: relative error %.3g", c->op, (long long)n, red, worst);
    free(x); free(y); free(gx); free(gy); free(loss);
}

static double ref_softmax_focal(const double *x, int64_t C, int64_t t, const double *alpha, double gamma) {
    double m = -INFINITY, s = 0;
    for (int64_t j = 0; j < C; j++) m = fmax(m, x[j]);
    for (int64_t j = 0; j < C; j++) s += exp(x[j] - m);
    double p = exp(x[t] - m) / s;
    return -(alpha ? alpha[t] : 1) * pow(1 - p, gamma) * log(p);
}

static void softmax_focal_case(int64_t N, int64_t C, double gamma, int with_alpha, int32_t red) {
    float *x = malloc(sizeof(float) * N * C), *g = malloc(sizeof(float) * N * C), *loss = malloc(sizeof(float) * N);
    float *alpha = malloc(sizeof(float) * C);
    double *xd = malloc(sizeof(double) * C), *ad = malloc(sizeof(double) * C);
    int32_t *t = malloc(sizeof(int32_t) * N);
    for (int64_t j = 0; j < C; j++) ad[j] = alpha[j] = (float)(0.1 + uniform());
    for (int64_t k = 0; k < N * C; k++) x[k] = (float)(6 * uniform() - 3);
    for (int64_t i = 0; i < N; i++) t[i] = rand() % C;
    int32_t rc = jnce_softmax_focal_fwd_bwd(x, t, JNCE_DTYPE_INT32, N, C, with_alpha ? alpha : NULL, (float)gamma,
                                            red, loss, g);
    CHECK(rc == JNCE_OK, "softmax_focal status %d", rc);
    double total = 0, scale = red == JNCE_REDUCTION_MEAN ? 1.0 / N : 1.0, h = 1e-6, worst = 0;
    const double *a = with_alpha ? ad : NULL;
    for (int64_t i = 0; i < N; i++) {
        for (int64_t j = 0; j < C; j++) xd[j] = x[i * C + j];
        double l = ref_softmax_focal(xd, C, t[i], a, gamma);
        total += l;
        if (red == JNCE_REDUCTION_NONE) worst = fmax(worst, fabs(loss[i] - l) / fmax(1, fabs(l)));
        for (int64_t j = 0; j < C; j++) {
            xd[j] += h;
            double up = ref_softmax_focal(xd, C, t[i], a, gamma);
            xd[j] -= 2 * h;
            double down = ref_softmax_focal(xd, C, t[i], a, gamma);
            xd[j] += h;
            double d = (up - down) / (2 * h) * scale;
            worst = fmax(worst, fabs(g[i * C + j] - d) / (10 * scale));
        }
    }
    if (red != JNCE_REDUCTION_NONE) {
        double want = red == JNCE_REDUCTION_MEAN ? total / N : total;
        worst = fmax(worst, fabs(loss[0] - want) / fmax(1, fabs(want)));
    }
    CHECK(worst <= 1e-6, "softmax_focal N=%lld C=%lld gamma=%g reduction %d: error %.3g", (long long)N,
          (long long)C, gamma, red, worst);
    free(x); free(g); free(loss); free(alpha); free(xd); free(ad); free(t);
}

/* Saturated inputs: finite results where the formulas have 0 * Inf, PyTorch's clamps. */
static void edge_cases(void) {
    float p[4] = {0.0f, 1.0f, 0.0f, 1.0f}, y[4] = {0.0f, 1.0f, 1.0f, 0.0f}, loss[4], gx[4], gy[4];
    CHECK(jnce_bce_fwd_bwd(p, y, 4, NULL, 0, JNCE_REDUCTION_NONE, loss, gx, gy) == JNCE_OK, "bce edge status");
    CHECK(loss[0] == 0 && loss[1] == 0 && loss[2] == 100 && loss[3] == 100, "bce clamps: %g %g %g %g",
          loss[0], loss[1], loss[2], loss[3]);
    CHECK(gx[2] == -1e12f && gx[3] == 1e12f && gy[0] == INFINITY && gy[1] == -INFINITY, "bce edge grads");

    float x[4] = {1e4f, -1e4f, 100.0f, -100.0f}, yl[4] = {1, 0, 1, 1};
    CHECK(jnce_bce_logits_fwd_bwd(x, yl, 4, NULL, 0, NULL, 0, JNCE_REDUCTION_NONE, loss, gx, gy) == JNCE_OK, "logits");
    CHECK(loss[0] == 0 && loss[1] == 0 && loss[2] < 1e-40 && fabs(loss[3] - 100) < 1e-5, "logits edge losses");
    CHECK(gx[0] == 0 && gx[3] == -1, "logits edge grads");

    CHECK(jnce_sigmoid_focal_fwd_bwd(x, yl, 4, 0.25f, 0.5f, JNCE_REDUCTION_NONE, loss, gx, gy) == JNCE_OK, "focal");
    for (int k = 0; k < 4; k++) CHECK(isfinite(gx[k]) && isfinite(gy[k]) && isfinite(loss[k]), "focal gamma<1 at %d", k);

    float rows[2 * 3] = {40.0f, 0.0f, -5.0f, 1e4f, -1e4f, 0.0f}, g[6];
    int64_t t[2] = {0, 0};
    CHECK(jnce_softmax_focal_fwd_bwd(rows, t, JNCE_DTYPE_INT64, 2, 3, NULL, 0.3f, JNCE_REDUCTION_NONE, loss, g)
              == JNCE_OK, "softmax focal edge");
    for (int k = 0; k < 6; k++) CHECK(isfinite(g[k]), "softmax focal gamma<1 p_t -> 1: g[%d]=%g", k, g[k]);
    CHECK(loss[1] == 0 && g[3] == 0, "p_t = 1 exactly: loss %g grad %g", loss[1], g[3]);
}

static void rejects_bad_arguments(void) {
    float x[2] = {0.5f, 0.5f}, loss[2];
    char msg[256];
    CHECK(jnce_bce_fwd_bwd(x, x, 2, x, 3, JNCE_REDUCTION_MEAN, loss, NULL, NULL) == JNCE_ERR_INVALID_ARG, "weight_len");
    jnce_last_error(msg, sizeof msg);
    CHECK(strstr(msg, "weight_len=3") != NULL, "message names weight_len: %s", msg);
    CHECK(jnce_bce_logits_fwd_bwd(x, x, 2, NULL, 0, x, 3, JNCE_REDUCTION_MEAN, loss, NULL, NULL)
              == JNCE_ERR_INVALID_ARG, "pos_len");
    CHECK(jnce_sigmoid_focal_fwd_bwd(x, x, 2, 0.25f, -1.0f, JNCE_REDUCTION_MEAN, loss, NULL, NULL)
              == JNCE_ERR_INVALID_ARG, "negative gamma");
    CHECK(jnce_bce_fwd_bwd(x, x, 0, NULL, 0, JNCE_REDUCTION_MEAN, loss, NULL, NULL) == JNCE_ERR_INVALID_ARG, "numel 0");
    int32_t bad_t[1] = {2};
    CHECK(jnce_softmax_focal_fwd_bwd(x, bad_t, JNCE_DTYPE_INT32, 1, 2, NULL, 2.0f, JNCE_REDUCTION_MEAN, loss, NULL)
              == JNCE_ERR_INVALID_ARG, "target out of range");
}

int main(void) {
    srand(11);
    const double w[4] = {0.5, 2.0, 1.0, 0.0}, pw[4] = {3.0, 0.25, 1.0, 0.0};
    const elem_case cases[] = {
        {BCE, NULL, NULL, 1, 0, 0}, {BCE, w, NULL, 4, 0, 0}, {LOGITS, NULL, NULL, 1, 0, 0},
        {LOGITS, w, pw, 4, 0, 0}, {SIGMOID_FOCAL, NULL, NULL, 1, 0.25, 2.0}, {SIGMOID_FOCAL, NULL, NULL, 1, -1, 0.5},
        {SIGMOID_FOCAL, NULL, NULL, 1, 0.75, 0.0},
    };
    const int64_t sizes[] = {1, 7, 4096, 4100, 40000}; /* one element, block edges, the pool */
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
            for (int32_t red = JNCE_REDUCTION_NONE; red <= JNCE_REDUCTION_SUM; red++)
                if (sizes[s] % cases[c].C == 0) elementwise_case(&cases[c], sizes[s], red);
    const double gammas[] = {0.0, 0.5, 2.0};
    for (size_t k = 0; k < 3; k++)
        for (int32_t red = JNCE_REDUCTION_NONE; red <= JNCE_REDUCTION_SUM; red++) {
            softmax_focal_case(5, 7, gammas[k], k == 1, red);
            softmax_focal_case(1, 2, gammas[k], 0, red);
        }
    softmax_focal_case(600, 40, 2.0, 1, JNCE_REDUCTION_MEAN); /* enough rows for the pool */
    edge_cases();
    rejects_bad_arguments();
    printf("%s\n", failures ? "FAILED" : "all checks passed");
    return failures != 0;
}
