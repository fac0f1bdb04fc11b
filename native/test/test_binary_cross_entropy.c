/*
 * test_binary_cross_entropy.c - checks binary_cross_entropy.c (BCE on probabilities and on
 * logits) against plain double-precision references: losses against the textbook formulas,
 * gradients against central differences of those formulas, for every reduction, with weights and
 * pos_weight, on sizes that cross the block and thread limits; gradients written over the input
 * and target. (focal.c, which shares the element-wise driver, is checked by test_focal.c.)
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

enum { BCE, LOGITS };

typedef struct {
    int op;
    const double *w, *pw; /* per class (C) or NULL */
    int64_t C;
} elem_case;

static double ref_elem(const elem_case *c, int64_t k, double x, double y) {
    double w = c->w ? c->w[k % c->C] : 1;
    switch (c->op) {
    case BCE: return w * ref_bce(x, y);
    default: return w * ref_bce_logits(x, y, c->pw ? c->pw[k % c->C] : 1);
    }
}

static int32_t run_elem(const elem_case *c, const float *x, const float *y, int64_t n, const float *w,
                        const float *pw, int32_t red, float *loss, float *gx, float *gy) {
    switch (c->op) {
    case BCE: return jnce_bce_fwd_bwd(x, y, n, w, c->C, red, loss, gx, gy);
    default: return jnce_bce_logits_fwd_bwd(x, y, n, w, c->C, pw, c->C, red, loss, gx, gy);
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
        if (red == JNCE_REDUCTION_NONE) worst = worse(worst, fabs(loss[k] - l) / fmax(1, fabs(l)));
        double dx = (ref_elem(c, k, x[k] + h, y[k]) - ref_elem(c, k, x[k] - h, y[k])) / (2 * h) * scale;
        double dy = (ref_elem(c, k, x[k], y[k] + h) - ref_elem(c, k, x[k], y[k] - h)) / (2 * h) * scale;
        worst = worse(worst, fabs(gx[k] - dx) / fmax(1, fabs(dx)) / (10 * scale));
        worst = worse(worst, fabs(gy[k] - dy) / fmax(1, fabs(dy)) / (10 * scale));
    }
    if (red != JNCE_REDUCTION_NONE) {
        double want = red == JNCE_REDUCTION_MEAN ? total / n : total;
        worst = worse(worst, fabs(loss[0] - want) / fmax(1, fabs(want)));
    }
    CHECK(worst <= 1e-6, "op %d n=%lld reduction %d: relative error %.3g", c->op, (long long)n, red, worst);

    /* the gradients written over the input and the target are the same values */
    float *xs = malloc(sizeof(float) * n), *ys = malloc(sizeof(float) * n);
    memcpy(xs, x, sizeof(float) * n);
    memcpy(ys, y, sizeof(float) * n);
    rc = run_elem(c, xs, ys, n, c->w ? w : NULL, c->pw ? pw : NULL, red, loss, xs, ys);
    CHECK(rc == JNCE_OK && memcmp(xs, gx, sizeof(float) * n) == 0 && memcmp(ys, gy, sizeof(float) * n) == 0,
          "op %d n=%lld: gradients over input and target differ", c->op, (long long)n);
    free(x); free(y); free(gx); free(gy); free(loss); free(xs); free(ys);
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
}

/* got within tol of want relative to max(1, |want|); infinities and NaN must match exactly. */
static int near(double got, double want, double tol) {
    if (isnan(want)) return isnan(got);
    if (isinf(want)) return got == want;
    return fabs(got - want) <= tol * fmax(1.0, fabs(want));
}

/*
 * The values where the 8-lane path takes its special branches, against the stable double
 * formulas: probabilities 0, 1, subnormal, below float's 1 - p resolution and next to 1; logits
 * 0, -0, tiny, past exp's range and saturated; soft and hard targets; pos_weight 1 and not.
 * Three copies of each case: 8-lane blocks and the scalar tail both see them.
 */
static void special_values(void) {
    const float ps[] = {0.0f, 1.0f, 1e-40f, 1e-30f, 3e-8f, 1e-3f, 0.25f, 0.5f, 0.75f, 0.99999994f};
    const float xs[] = {0.0f, -0.0f, 1e-3f, -1e-3f, 15.0f, -15.0f, 88.0f, -88.0f, 100.0f, -100.0f, 1e4f, -1e4f};
    const float ys[] = {0.0f, 1.0f, 0.3f}, pws[] = {1.0f, 3.0f, 0.25f};
    enum { N = 3 * 12 * 3 * 3 };
    float x[N], y[N], pw[N], loss[N], gx[N], gy[N];
    for (int op = BCE; op <= LOGITS; op++) {
        int n = 0;
        for (int copy = 0; copy < 3; copy++)
            for (int i = 0; i < (op == BCE ? 10 : 12); i++)
                for (int j = 0; j < 3; j++)
                    for (int w = 0; w < (op == BCE ? 1 : 3); w++, n++) {
                        x[n] = op == BCE ? ps[i] : xs[i];
                        y[n] = ys[j];
                        pw[n] = pws[w];
                    }
        int32_t rc = op == BCE ? jnce_bce_fwd_bwd(x, y, n, NULL, 0, JNCE_REDUCTION_NONE, loss, gx, gy)
                               : jnce_bce_logits_fwd_bwd(x, y, n, NULL, 0, pw, n, JNCE_REDUCTION_NONE, loss, gx, gy);
        CHECK(rc == JNCE_OK, "special values op %d: status %d", op, rc);
        for (int k = 0; k < n; k++) {
            double v = x[k], t = y[k], l, dx, dy;
            if (op == BCE) {
                double lp = log(v), l1p = log1p(-v);
                l = -(t * fmax(lp, -100.0) + (1 - t) * fmax(l1p, -100.0));
                dx = (v - t) / fmax((1 - v) * v, 1e-12);
                dy = l1p - lp;
            } else {
                double e = exp(-fabs(v)), sp = fmax(-v, 0.0) + log1p(e), sig = v >= 0 ? 1 / (1 + e) : e / (1 + e);
                double lw = 1 + (pw[k] - 1.0) * t;
                l = (1 - t) * v + lw * sp;
                dx = lw * sig - pw[k] * t;
                dy = pw[k] == 1.0f ? -v : -v + (pw[k] - 1.0) * sp;
            }
            CHECK(near(loss[k], l, 1e-6) && near(gx[k], dx, 1e-6) && near(gy[k], dy, 1e-6),
                  "special values op %d at %d: x=%g y=%g pw=%g: loss %.9g want %.9g, d/dx %.9g want %.9g, d/dy %.9g want %.9g",
                  op, k, x[k], y[k], op == LOGITS ? pw[k] : 1.0, loss[k], l, gx[k], dx, gy[k], dy);
        }
    }
}

static void rejects_bad_arguments(void) {
    float x[2] = {0.5f, 0.5f}, loss[2];
    char msg[256];
    CHECK(jnce_bce_fwd_bwd(x, x, 2, x, 3, JNCE_REDUCTION_MEAN, loss, NULL, NULL) == JNCE_ERR_INVALID_ARG, "weight_len");
    jnce_last_error(msg, sizeof msg);
    CHECK(strstr(msg, "weight_len=3") != NULL, "message names weight_len: %s", msg);
    CHECK(jnce_bce_logits_fwd_bwd(x, x, 2, NULL, 0, x, 3, JNCE_REDUCTION_MEAN, loss, NULL, NULL)
              == JNCE_ERR_INVALID_ARG, "pos_len");
    CHECK(jnce_bce_fwd_bwd(x, x, 0, NULL, 0, JNCE_REDUCTION_MEAN, loss, NULL, NULL) == JNCE_ERR_INVALID_ARG, "numel 0");
}

/*
 * Without weights the gradients' scale goes by a float product where the scale is a float (SUM,
 * NONE, MEAN over 2^k elements), else by the weighted route in double: the two give the same bits,
 * checked against a weight of ones (the double route) for 4096 and 4100 elements.
 */
static void unweighted_scale_bits(void) {
    const int64_t sizes[] = {4096, 4100};
    for (int s = 0; s < 2; s++) {
        int64_t n = sizes[s];
        float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n), *ones = malloc(sizeof(float) * n);
        float *g1 = malloc(sizeof(float) * n), *g2 = malloc(sizeof(float) * n), *h1 = malloc(sizeof(float) * n),
              *h2 = malloc(sizeof(float) * n), l1, l2;
        for (int64_t k = 0; k < n; k++) x[k] = (float)rand() / RAND_MAX * 8 - 4, y[k] = (float)rand() / RAND_MAX, ones[k] = 1;
        for (int32_t red = JNCE_REDUCTION_MEAN; red <= JNCE_REDUCTION_SUM; red++) {
            CHECK(jnce_bce_logits_fwd_bwd(x, y, n, NULL, 0, NULL, 0, red, &l1, g1, h1) == JNCE_OK, "logits status");
            CHECK(jnce_bce_logits_fwd_bwd(x, y, n, ones, n, NULL, 0, red, &l2, g2, h2) == JNCE_OK, "logits status");
            CHECK(memcmp(g1, g2, sizeof(float) * n) == 0 && memcmp(h1, h2, sizeof(float) * n) == 0 && l1 == l2,
                  "logits n=%lld reduction %d: unweighted and weight-1 gradients differ", (long long)n, red);
            for (int64_t k = 0; k < n; k++) x[k] = 0.02f + 0.96f * ((float)rand() / RAND_MAX);
            CHECK(jnce_bce_fwd_bwd(x, y, n, NULL, 0, red, &l1, g1, h1) == JNCE_OK, "bce status");
            CHECK(jnce_bce_fwd_bwd(x, y, n, ones, n, red, &l2, g2, h2) == JNCE_OK, "bce status");
            CHECK(memcmp(g1, g2, sizeof(float) * n) == 0 && memcmp(h1, h2, sizeof(float) * n) == 0 && l1 == l2,
                  "bce n=%lld reduction %d: unweighted and weight-1 gradients differ", (long long)n, red);
        }
        free(x); free(y); free(ones); free(g1); free(g2); free(h1); free(h2);
    }
}

int main(void) {
    srand(11);
    const double w[4] = {0.5, 2.0, 1.0, 0.0}, pw[4] = {3.0, 0.25, 1.0, 0.0};
    const elem_case cases[] = {
        {BCE, NULL, NULL, 1}, {BCE, w, NULL, 4}, {LOGITS, NULL, NULL, 1}, {LOGITS, w, pw, 4},
    };
    const int64_t sizes[] = {1, 7, 4096, 4100, 40000}; /* one element, block edges, the pool */
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
            for (int32_t red = JNCE_REDUCTION_NONE; red <= JNCE_REDUCTION_SUM; red++)
                if (sizes[s] % cases[c].C == 0) elementwise_case(&cases[c], sizes[s], red);
    edge_cases();
    special_values();
    rejects_bad_arguments();
    unweighted_scale_bits(); /* last: its draws leave the other cases' data as it was */
    printf("%s\n", failures ? "FAILED" : "all checks passed");
    return failures != 0;
}
