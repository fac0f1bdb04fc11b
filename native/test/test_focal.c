/*
 * test_focal.c - checks focal.c (sigmoid focal loss, element-wise; softmax focal loss, per row)
 * against plain double-precision references: losses against the textbook formulas, gradients
 * against central differences of those formulas, for every reduction, with and without alpha, on
 * sizes that cross the block and thread limits; the limits p_t -> 1 with gamma < 1; gradients
 * written over the inputs; argument checks. Run by ctest once on the default path and once with
 * JNCE_SIMD=scalar.
 *
 *   sigmoid: input, target (numel)      loss (numel) or (1)     grad_input, grad_target (numel)
 *   softmax: logits (N,C)  targets (N)  alpha (C) or NULL       loss (N) or (1)   grad (N,C)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "jnce.h"

static double uniform(void) { return (double)rand() / (double)RAND_MAX; }

/* torchvision's definition: alpha_t (1 - p_t)^gamma BCE-with-logits(x, y); alpha < 0: alpha_t = 1. */
static double ref_sigmoid_focal(double x, double y, double alpha, double gamma) {
    double p = 1 / (1 + exp(-x)), p_t = p * y + (1 - p) * (1 - y);
    double a = alpha >= 0 ? alpha * y + (1 - alpha) * (1 - y) : 1;
    double ce = -(y * log(p) + (1 - y) * log(1 - p));
    return a * ce * pow(1 - p_t, gamma);
}

static void sigmoid_case(int64_t n, double alpha, double gamma, int32_t red) {
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n), *gx = malloc(sizeof(float) * n),
          *gy = malloc(sizeof(float) * n), *loss = malloc(sizeof(float) * n);
    for (int64_t k = 0; k < n; k++) {
        x[k] = (float)(8 * uniform() - 4);
        y[k] = (float)(k % 3 == 0 ? uniform() : (double)(k % 2)); /* soft and hard targets */
    }
    int32_t rc = jnce_sigmoid_focal_fwd_bwd(x, y, n, (float)alpha, (float)gamma, red, loss, gx, gy);
    CHECK(rc == JNCE_OK, "sigmoid_focal status %d", rc);
    double total = 0, scale = red == JNCE_REDUCTION_MEAN ? 1.0 / n : 1.0, h = 1e-6, worst = 0;
    for (int64_t k = 0; k < n; k++) {
        double l = ref_sigmoid_focal(x[k], y[k], alpha, gamma);
        total += l;
        if (red == JNCE_REDUCTION_NONE) worst = worse(worst, fabs(loss[k] - l) / fmax(1, fabs(l)));
        double dx = (ref_sigmoid_focal(x[k] + h, y[k], alpha, gamma) - ref_sigmoid_focal(x[k] - h, y[k], alpha, gamma))
                    / (2 * h) * scale;
        double dy = (ref_sigmoid_focal(x[k], y[k] + h, alpha, gamma) - ref_sigmoid_focal(x[k], y[k] - h, alpha, gamma))
                    / (2 * h) * scale;
        worst = worse(worst, fabs(gx[k] - dx) / fmax(1, fabs(dx)) / (10 * scale));
        worst = worse(worst, fabs(gy[k] - dy) / fmax(1, fabs(dy)) / (10 * scale));
    }
    if (red != JNCE_REDUCTION_NONE) {
        double want = red == JNCE_REDUCTION_MEAN ? total / n : total;
        worst = worse(worst, fabs(loss[0] - want) / fmax(1, fabs(want)));
    }
    CHECK(worst <= 1e-6, "sigmoid_focal n=%lld alpha=%g gamma=%g reduction %d: relative error %.3g", (long long)n,
          alpha, gamma, red, worst);

    /* the gradients written over the input and the target are the same values */
    float *xs = malloc(sizeof(float) * n), *ys = malloc(sizeof(float) * n);
    memcpy(xs, x, sizeof(float) * n);
    memcpy(ys, y, sizeof(float) * n);
    rc = jnce_sigmoid_focal_fwd_bwd(xs, ys, n, (float)alpha, (float)gamma, red, loss, xs, ys);
    CHECK(rc == JNCE_OK && memcmp(xs, gx, sizeof(float) * n) == 0 && memcmp(ys, gy, sizeof(float) * n) == 0,
          "sigmoid_focal n=%lld: gradients over input and target differ", (long long)n);
    free(x); free(y); free(gx); free(gy); free(loss); free(xs); free(ys);
}

static double ref_softmax_focal(const double *x, int64_t C, int64_t t, const double *alpha, double gamma) {
    double m = -INFINITY, s = 0;
    for (int64_t j = 0; j < C; j++) m = fmax(m, x[j]);
    for (int64_t j = 0; j < C; j++) s += exp(x[j] - m);
    double p = exp(x[t] - m) / s;
    return -(alpha ? alpha[t] : 1) * pow(1 - p, gamma) * log(p);
}

static void softmax_case(int64_t N, int64_t C, double gamma, int with_alpha, int32_t red) {
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
        if (red == JNCE_REDUCTION_NONE) worst = worse(worst, fabs(loss[i] - l) / fmax(1, fabs(l)));
        for (int64_t j = 0; j < C; j++) {
            xd[j] += h;
            double up = ref_softmax_focal(xd, C, t[i], a, gamma);
            xd[j] -= 2 * h;
            double down = ref_softmax_focal(xd, C, t[i], a, gamma);
            xd[j] += h;
            double d = (up - down) / (2 * h) * scale;
            worst = worse(worst, fabs(g[i * C + j] - d) / (10 * scale));
        }
    }
    if (red != JNCE_REDUCTION_NONE) {
        double want = red == JNCE_REDUCTION_MEAN ? total / N : total;
        worst = worse(worst, fabs(loss[0] - want) / fmax(1, fabs(want)));
    }
    CHECK(worst <= 1e-6, "softmax_focal N=%lld C=%lld gamma=%g reduction %d: error %.3g", (long long)N,
          (long long)C, gamma, red, worst);

    /* the gradient written over the logits is the same */
    rc = jnce_softmax_focal_fwd_bwd(x, t, JNCE_DTYPE_INT32, N, C, with_alpha ? alpha : NULL, (float)gamma, red, loss, x);
    CHECK(rc == JNCE_OK && memcmp(x, g, sizeof(float) * N * C) == 0,
          "softmax_focal N=%lld C=%lld: gradient over the logits differs", (long long)N, (long long)C);
    free(x); free(g); free(loss); free(alpha); free(xd); free(ad); free(t);
}

/* got within tol of want relative to max(1, |want|); infinities and NaN must match exactly. */
static int near(double got, double want, double tol) {
    if (isnan(want)) return isnan(got);
    if (isinf(want)) return got == want;
    return fabs(got - want) <= tol * fmax(1.0, fabs(want));
}

/*
 * Saturated and special logits through the 8-lane path and the scalar tail (three copies of each
 * case), for every gamma branch (0, 1, 2 by multiplication, 0.5 and 2.5 through exp and log),
 * against focal.c's header formulas in double.
 */
static void special_values(void) {
    const float xs[] = {0.0f, -0.0f, 1e-3f, -1e-3f, 8.0f, -8.0f, 15.0f, -15.0f, 30.0f, -30.0f, 100.0f, -100.0f};
    const float ys[] = {0.0f, 1.0f, 0.3f}, gammas[] = {0.0f, 0.5f, 1.0f, 2.0f, 2.5f}, alphas[] = {0.25f, -1.0f};
    enum { N = 3 * 12 * 3 };
    float x[N], y[N], loss[N], gx[N], gy[N];
    int n = 0;
    for (int copy = 0; copy < 3; copy++)
        for (int i = 0; i < 12; i++)
            for (int j = 0; j < 3; j++, n++) x[n] = xs[i], y[n] = ys[j];
    for (int gi = 0; gi < 5; gi++)
        for (int ai = 0; ai < 2; ai++) {
            double g = gammas[gi], al = alphas[ai];
            int32_t rc = jnce_sigmoid_focal_fwd_bwd(x, y, n, alphas[ai], gammas[gi], JNCE_REDUCTION_NONE, loss, gx, gy);
            CHECK(rc == JNCE_OK, "special values: status %d", rc);
            for (int k = 0; k < n; k++) {
                double v = x[k], t = y[k], e = exp(-fabs(v));
                double p = v >= 0 ? 1 / (1 + e) : e / (1 + e), q = v >= 0 ? e / (1 + e) : 1 / (1 + e);
                double ce = (1 - t) * v + fmax(-v, 0.0) + log1p(e), m = p * (1 - t) + q * t, mg = pow(m, g);
                double a = al >= 0 ? al * t + (1 - al) * (1 - t) : 1, da = al >= 0 ? 2 * al - 1 : 0;
                double T = g == 0 ? 0 : g * (m > 0 ? ce / m : 1) * mg;
                double l = a * ce * mg, dx = a * ((p - t) * mg + T * (1 - 2 * t) * p * q);
                double dy = da * ce * mg + a * (-v * mg + T * (q - p));
                CHECK(near(loss[k], l, 1e-6) && near(gx[k], dx, 1e-6) && near(gy[k], dy, 1e-6),
                      "special values gamma=%g alpha=%g at %d: x=%g y=%g: loss %.9g want %.9g, d/dx %.9g want %.9g, "
                      "d/dy %.9g want %.9g", g, al, k, x[k], y[k], loss[k], l, gx[k], dx, gy[k], dy);
            }
        }
}

/* Saturated inputs: finite results where the formulas have 0 * Inf (gamma < 1, 1 - p_t = 0). */
static void edge_cases(void) {
    float x[4] = {1e4f, -1e4f, 100.0f, -100.0f}, y[4] = {1, 0, 1, 1}, loss[4], gx[4], gy[4];
    CHECK(jnce_sigmoid_focal_fwd_bwd(x, y, 4, 0.25f, 0.5f, JNCE_REDUCTION_NONE, loss, gx, gy) == JNCE_OK, "focal");
    for (int k = 0; k < 4; k++) CHECK(isfinite(gx[k]) && isfinite(gy[k]) && isfinite(loss[k]), "focal gamma<1 at %d", k);

    float rows[2 * 3] = {40.0f, 0.0f, -5.0f, 1e4f, -1e4f, 0.0f}, g[6];
    int64_t t[2] = {0, 0};
    CHECK(jnce_softmax_focal_fwd_bwd(rows, t, JNCE_DTYPE_INT64, 2, 3, NULL, 0.3f, JNCE_REDUCTION_NONE, loss, g)
              == JNCE_OK, "softmax focal edge");
    for (int k = 0; k < 6; k++) CHECK(isfinite(g[k]), "softmax focal gamma<1 p_t -> 1: g[%d]=%g", k, g[k]);
    CHECK(loss[1] == 0 && g[3] == 0, "p_t = 1 exactly: loss %g grad %g", loss[1], g[3]);

    /* the same rows padded to 19 classes (-1e4: probability 0), so that the 8-lane path sees them */
    enum { W = 19 };
    float wide[2 * W], gw[2 * W];
    for (int k = 0; k < 2 * W; k++) wide[k] = -1e4f;
    for (int k = 0; k < 3; k++) wide[k] = rows[k], wide[W + k] = rows[3 + k];
    CHECK(jnce_softmax_focal_fwd_bwd(wide, t, JNCE_DTYPE_INT64, 2, W, NULL, 0.3f, JNCE_REDUCTION_NONE, loss, gw)
              == JNCE_OK, "softmax focal wide edge");
    for (int k = 0; k < 2 * W; k++) CHECK(isfinite(gw[k]), "softmax focal wide gamma<1: g[%d]=%g", k, gw[k]);
    CHECK(loss[1] == 0 && gw[W] == 0, "wide p_t = 1 exactly: loss %g grad %g", loss[1], gw[W]);
    for (int k = 0; k < 3; k++) CHECK(fabsf(gw[k] - g[k]) <= 1e-6f * fmaxf(1.0f, fabsf(g[k])), "wide row 0 at %d: %g vs %g", k, gw[k], g[k]);
}

/*
 * Rows of 37 classes (two whole 16-lane vectors and a masked tail; four 8-lane ones and a tail):
 * NaN or +Inf in a row makes the row NaN; -Inf entries have probability 0 and gradient 0; a -Inf
 * target gives +Inf; the forward alone (no gradient) gives the same losses.
 */
static void special_rows(void) {
    enum { C = 37, N = 5 };
    float x[N * C], g[N * C], loss[N], loss_only[N];
    int64_t t[N] = {3, 36, 20, 35, 17};
    for (int k = 0; k < N * C; k++) x[k] = (float)((k * 37) % 11) * 0.3f - 1.5f;
    x[0 * C + 33] = NAN;                          /* row 0: NaN in the tail */
    x[1 * C + 5] = INFINITY;                      /* row 1: +Inf */
    x[2 * C + 0] = x[2 * C + 16] = x[2 * C + 36] = -INFINITY; /* row 2: -Inf entries */
    x[3 * C + 35] = -INFINITY;                    /* row 3: the target is -Inf */
    CHECK(jnce_softmax_focal_fwd_bwd(x, t, JNCE_DTYPE_INT64, N, C, NULL, 2.0f, JNCE_REDUCTION_NONE, loss, g) == JNCE_OK,
          "special rows status");
    CHECK(jnce_softmax_focal_fwd_bwd(x, t, JNCE_DTYPE_INT64, N, C, NULL, 2.0f, JNCE_REDUCTION_NONE, loss_only, NULL)
              == JNCE_OK, "special rows forward status");
    for (int i = 0; i < N; i++)
        CHECK(memcmp(&loss[i], &loss_only[i], sizeof(float)) == 0, "row %d: forward alone %g, with gradient %g", i,
              loss_only[i], loss[i]);
    for (int r = 0; r < 2; r++) {
        CHECK(isnan(loss[r]), "row %d with NaN/+Inf: loss %g", r, loss[r]);
        for (int j = 0; j < C; j++) CHECK(isnan(g[r * C + j]), "row %d grad[%d]=%g not NaN", r, j, g[r * C + j]);
    }
    CHECK(isfinite(loss[2]) && g[2 * C + 0] == 0 && g[2 * C + 16] == 0 && g[2 * C + 36] == 0,
          "row 2: loss %g, gradients at -Inf %g %g %g", loss[2], g[2 * C], g[2 * C + 16], g[2 * C + 36]);
    CHECK(loss[3] == INFINITY, "row 3 (-Inf target): loss %g", loss[3]);
    /* row 4: plain, against the double reference */
    double xd[C];
    for (int j = 0; j < C; j++) xd[j] = x[4 * C + j];
    double want = ref_softmax_focal(xd, C, t[4], NULL, 2.0);
    CHECK(fabs(loss[4] - want) <= 1e-6 * fmax(1.0, fabs(want)), "row 4: loss %.9g want %.9g", loss[4], want);
}

static void rejects_bad_arguments(void) {
    float x[2] = {0.5f, 0.5f}, loss[2];
    char msg[256];
    CHECK(jnce_sigmoid_focal_fwd_bwd(x, x, 2, 0.25f, -1.0f, JNCE_REDUCTION_MEAN, loss, NULL, NULL)
              == JNCE_ERR_INVALID_ARG, "negative gamma");
    jnce_last_error(msg, sizeof msg);
    CHECK(strstr(msg, "gamma=-1") != NULL, "message names gamma: %s", msg);
    CHECK(jnce_sigmoid_focal_fwd_bwd(x, x, 2, NAN, 2.0f, JNCE_REDUCTION_MEAN, loss, NULL, NULL)
              == JNCE_ERR_INVALID_ARG, "NaN alpha");
    CHECK(jnce_sigmoid_focal_fwd_bwd(x, x, 0, 0.25f, 2.0f, JNCE_REDUCTION_MEAN, loss, NULL, NULL)
              == JNCE_ERR_INVALID_ARG, "numel 0");
    int32_t bad_t[1] = {2};
    CHECK(jnce_softmax_focal_fwd_bwd(x, bad_t, JNCE_DTYPE_INT32, 1, 2, NULL, 2.0f, JNCE_REDUCTION_MEAN, loss, NULL)
              == JNCE_ERR_INVALID_ARG, "target out of range");
    jnce_last_error(msg, sizeof msg);
    CHECK(strstr(msg, "targets[0]=2") != NULL, "message names the target: %s", msg);
    int32_t t[1] = {0};
    CHECK(jnce_softmax_focal_fwd_bwd(x, t, JNCE_DTYPE_INT32, 1, 2, NULL, INFINITY, JNCE_REDUCTION_MEAN, loss, NULL)
              == JNCE_ERR_INVALID_ARG, "infinite gamma");
}

int main(void) {
    srand(11);
    const double alphas[] = {0.25, -1.0, 0.75}, gammas[] = {2.0, 0.5, 0.0};
    const int64_t sizes[] = {1, 7, 4096, 4100, 40000}; /* one element, block edges, the pool */
    for (size_t a = 0; a < 3; a++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
            for (int32_t red = JNCE_REDUCTION_NONE; red <= JNCE_REDUCTION_SUM; red++)
                sigmoid_case(sizes[s], alphas[a], gammas[a], red);
    for (size_t k = 0; k < 3; k++)
        for (int32_t red = JNCE_REDUCTION_NONE; red <= JNCE_REDUCTION_SUM; red++) {
            softmax_case(5, 7, gammas[k], k == 1, red);
            softmax_case(1, 2, gammas[k], 0, red);
            softmax_case(9, 21, gammas[k], k == 1, red); /* 8-lane blocks and a tail */
        }
    softmax_case(600, 40, 2.0, 1, JNCE_REDUCTION_MEAN); /* enough rows for the pool */
    softmax_case(7, 128, 2.0, 1, JNCE_REDUCTION_MEAN);  /* whole 16-lane vectors only */
    special_rows();
    edge_cases();
    special_values();
    rejects_bad_arguments();
    return finish("test_focal");
}
