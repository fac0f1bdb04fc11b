/*
 * test_divergence.c - checks the kernels of divergence.c (KL divergence, entropy, cross-entropy
 * of distributions, perplexity) against plain double-precision references, on random inputs of
 * several shapes (one long row, many rows, enough work for the thread pool), every reduction,
 * the zero-probability rules and bad arguments. Run by ctest with and without JNCE_SIMD=scalar.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "jnce.h"

static double uniform(void) { return (double)rand() / (double)RAND_MAX; }

/* Random rows of distributions, a few entries exactly 0 when zeros is set. */
static void distributions(float *p, int64_t N, int64_t C, int zeros) {
    for (int64_t i = 0; i < N; i++) {
        double s = 0.0;
        for (int64_t j = 0; j < C; j++) {
            p[i * C + j] = (float)(0.05 + uniform());
            if (zeros && C > 1 && j % 3 == 1) p[i * C + j] = 0.0f;
            s += p[i * C + j];
        }
        for (int64_t j = 0; j < C; j++) p[i * C + j] = (float)(p[i * C + j] / s);
    }
}

static int close_to(double got, double want, double tol) {
    if (isnan(want)) return isnan(got);
    if (isinf(want)) return got == want;
    return fabs(got - want) <= tol * fmax(1.0, fabs(want));
}

static double reduce(const double *v, int64_t count, int32_t reduction, double divisor) {
    double s = 0.0;
    for (int64_t k = 0; k < count; k++) s += v[k];
    return reduction == JNCE_REDUCTION_SUM ? s : s / divisor;
}

static void kl_case(int64_t N, int64_t C, int log_target, int32_t reduction) {
    int64_t M = N * C;
    float *x = malloc(sizeof(float) * M), *t = malloc(sizeof(float) * M);
    float *loss = malloc(sizeof(float) * M), *gx = malloc(sizeof(float) * M), *gt = malloc(sizeof(float) * M);
    double *l = malloc(sizeof(double) * M);
    distributions(x, N, C, 0);
    distributions(t, N, C, !log_target);
    for (int64_t k = 0; k < M; k++) x[k] = logf(x[k]);
    if (log_target)
        for (int64_t k = 0; k < M; k++) t[k] = logf(t[k]);
    double scale = reduction == JNCE_REDUCTION_MEAN ? 1.0 / M : reduction == JNCE_REDUCTION_BATCHMEAN ? 1.0 / N : 1.0;
    int32_t rc = jnce_kl_div_fwd_bwd(x, t, N, C, log_target, reduction, loss, gx, gt);
    CHECK(rc == JNCE_OK, "kl status %d", rc);
    double worst = 0.0;
    for (int64_t k = 0; k < M; k++) {
        double xd = x[k], td = t[k], dx, dt;
        if (log_target) {
            l[k] = exp(td) * (td - xd);
            dx = -exp(td);
            dt = exp(td) * (td - xd + 1.0);
        } else {
            l[k] = (td > 0 ? td * log(td) : 0.0) - td * xd;
            dx = -td;
            dt = td > 0 ? log(td) + 1.0 - xd : NAN;
        }
        if (!close_to(gx[k], dx * scale, 1e-6) || !close_to(gt[k], dt * scale, 2e-6)) worst = 1.0;
        if (reduction == JNCE_REDUCTION_NONE && !close_to(loss[k], l[k], 1e-6)) worst = 1.0;
    }
    CHECK(worst == 0.0, "kl N=%lld C=%lld log_target=%d reduction=%d: a value or gradient is off",
          (long long)N, (long long)C, log_target, reduction);
    if (reduction != JNCE_REDUCTION_NONE) {
        double want = reduce(l, M, reduction, reduction == JNCE_REDUCTION_MEAN ? (double)M : (double)N);
        CHECK(close_to(loss[0], want, 1e-6), "kl N=%lld C=%lld reduction=%d: loss %.9g want %.9g",
              (long long)N, (long long)C, reduction, loss[0], want);
    }
    free(x); free(t); free(loss); free(gx); free(gt); free(l);
}

/* Entropy (q == NULL) or cross-entropy of distributions against the double reference. */
static void dist_case(int64_t N, int64_t C, int cross, int32_t reduction) {
    int64_t M = N * C;
    float *p = malloc(sizeof(float) * M), *q = malloc(sizeof(float) * M);
    float *loss = malloc(sizeof(float) * N), *gp = malloc(sizeof(float) * M), *gq = malloc(sizeof(float) * M);
    double *h = calloc((size_t)N, sizeof(double));
    distributions(p, N, C, 1);
    distributions(q, N, C, 0);
    double scale = reduction == JNCE_REDUCTION_MEAN ? 1.0 / N : 1.0;
    int32_t rc = cross ? jnce_dist_xent_fwd_bwd(p, q, N, C, reduction, loss, gp, gq)
                       : jnce_entropy_fwd_bwd(p, N, C, reduction, loss, gp);
    CHECK(rc == JNCE_OK, "status %d", rc);
    int bad = 0;
    for (int64_t k = 0; k < M; k++) {
        double pd = p[k], qd = cross ? q[k] : p[k];
        if (pd > 0) h[k / C] -= pd * log(qd);
        double want_gp = cross ? -log(qd) : -(log(pd) + 1.0);
        if (!close_to(gp[k], want_gp * scale, 1e-6)) bad = 1;
        if (cross && !close_to(gq[k], (pd > 0 ? -pd / qd : 0.0) * scale, 1e-6)) bad = 1;
    }
    CHECK(!bad, "%s N=%lld C=%lld reduction=%d: a gradient is off", cross ? "xent" : "entropy",
          (long long)N, (long long)C, reduction);
    if (reduction == JNCE_REDUCTION_NONE) {
        for (int64_t i = 0; i < N; i++) bad |= !close_to(loss[i], h[i], 1e-6);
        CHECK(!bad, "row losses are off");
    } else {
        double want = reduce(h, N, reduction, (double)N);
        CHECK(close_to(loss[0], want, 1e-6), "loss %.9g want %.9g", loss[0], want);
    }
    free(p); free(q); free(loss); free(gp); free(gq); free(h);
}

static void perplexity_rules(void) {
    float tl[5] = {1.0f, NAN, 2.0f, 3.0f, 0.5f}, ppl, g[5];
    int64_t targets[5] = {4, -100, 0, 7, -100};
    CHECK(jnce_perplexity_fwd_bwd(tl, targets, JNCE_DTYPE_INT64, -100, 5, NAN, &ppl, g) == JNCE_OK, "status");
    double want = exp(6.0 / 3.0);
    CHECK(close_to(ppl, want, 1e-6), "ppl %.9g want %.9g (a NaN at an ignored token is not read)", ppl, want);
    CHECK(close_to(g[0], want / 3, 1e-6) && g[1] == 0.0f && g[4] == 0.0f, "grad %g %g %g", g[0], g[1], g[4]);
    int32_t mask[5] = {0, 0, 0, 0, 0};
    CHECK(jnce_perplexity_fwd_bwd(tl, mask, JNCE_DTYPE_INT32, 0, 5, 1.0f, &ppl, g) == JNCE_OK, "status");
    CHECK(ppl == 1.0f && g[0] == 0.0f, "all ignored gives the value asked for: %g", ppl);
    CHECK(jnce_perplexity_fwd_bwd(tl, mask, JNCE_DTYPE_INT32, 0, 5, NAN, &ppl, NULL) == JNCE_OK && isnan(ppl),
          "all ignored gives NaN");
}

static void zero_probability_rules(void) {
    float p[3] = {0.0f, 0.25f, 0.75f}, q[3] = {0.0f, 0.5f, 0.5f}, loss, gp[3], gq[3];
    CHECK(jnce_entropy_fwd_bwd(p, 1, 3, JNCE_REDUCTION_SUM, &loss, gp) == JNCE_OK, "status");
    CHECK(gp[0] == INFINITY && isfinite(loss), "entropy: 0 log 0 = 0, gradient +Inf at p = 0");
    CHECK(jnce_dist_xent_fwd_bwd(p, q, 1, 3, JNCE_REDUCTION_SUM, &loss, gp, gq) == JNCE_OK, "status");
    CHECK(isfinite(loss) && gq[0] == 0.0f && gp[0] == INFINITY, "xent: p = q = 0 adds 0, d/dq 0, d/dp +Inf");
    float x[3] = {-1.0f, -2.0f, -0.5f}, t[3] = {0.0f, 0.3f, 0.7f}, gx[3], gt[3];
    CHECK(jnce_kl_div_fwd_bwd(x, t, 1, 3, 0, JNCE_REDUCTION_SUM, &loss, gx, gt) == JNCE_OK, "status");
    CHECK(isnan(gt[0]) && gx[0] == 0.0f && isfinite(loss), "kl: t = 0 adds 0, d/dt NaN (as PyTorch)");
}

/*
 * Special values through the 8-lane path and the scalar tail (a row of 19: two blocks of 8 and 3
 * left over): probabilities 0, subnormal, tiny and 1; log targets past exp's range on both sides.
 * Against the double values rounded to float (some overflow to Inf there).
 */
static void special_values(void) {
    const float ps[] = {0.0f, 1e-40f, 1e-30f, 1e-8f, 0.5f, 1.0f};
    const float lts[] = {-200.0f, -88.0f, -20.0f, -1e-3f, 0.0f, 0.5f, 88.5f, 90.0f};
    enum { C = 19 };
    float p[C], q[C], x[C], loss[C], g1[C], g2[C];
    for (int log_target = 0; log_target <= 1; log_target++) {
        for (int k = 0; k < C; k++) {
            p[k] = log_target ? lts[k % 8] : ps[k % 6];
            x[k] = (float)(-0.5 * (k % 5));
        }
        CHECK(jnce_kl_div_fwd_bwd(x, p, 1, C, log_target, JNCE_REDUCTION_NONE, loss, g1, g2) == JNCE_OK, "kl status");
        for (int k = 0; k < C; k++) {
            double t = p[k], v = x[k], l, dt;
            if (log_target) l = exp(t) * (t - v), dt = exp(t) * (t - v + 1);
            else l = (t == 0 ? 0.0 : t * log(t)) - t * v, dt = t == 0 ? NAN : log(t) + 1 - v;
            double dx = log_target ? -exp(t) : -t;
            CHECK(close_to(loss[k], (float)l, 1e-6) && close_to(g1[k], (float)dx, 1e-6) && close_to(g2[k], (float)dt, 1e-6),
                  "kl special log_target=%d at %d: t=%g x=%g: loss %.9g want %.9g, d/dx %.9g want %.9g, d/dt %.9g want %.9g",
                  log_target, k, t, v, loss[k], l, g1[k], dx, g2[k], dt);
        }
    }
    for (int k = 0; k < C; k++) p[k] = ps[k % 6], q[k] = ps[(k + 2) % 6];
    for (int cross = 0; cross <= 1; cross++) {
        float h;
        int32_t rc = cross ? jnce_dist_xent_fwd_bwd(p, q, 1, C, JNCE_REDUCTION_NONE, &h, g1, g2)
                           : jnce_entropy_fwd_bwd(p, 1, C, JNCE_REDUCTION_NONE, &h, g1);
        CHECK(rc == JNCE_OK, "status");
        double want = 0.0;
        for (int k = 0; k < C; k++) {
            double a = p[k], b = cross ? q[k] : p[k];
            if (a != 0) want -= a * log(b);
            double gp = cross ? -log(b) : -(log(a) + 1), gq = a == 0 ? 0.0 : -a / b;
            CHECK(close_to(g1[k], (float)gp, 1e-6) && (!cross || close_to(g2[k], (float)gq, 1e-6)),
                  "%s special at %d: p=%g q=%g: d/dp %.9g want %.9g, d/dq %.9g want %.9g", cross ? "xent" : "entropy",
                  k, a, b, g1[k], gp, cross ? g2[k] : 0.0, gq);
        }
        CHECK(close_to(h, want, 1e-6), "%s special: loss %.9g want %.9g", cross ? "xent" : "entropy", h, want);
    }
}

static void rejects_bad_arguments(void) {
    float v[2] = {0.5f, 0.5f}, loss;
    char msg[256];
    CHECK(jnce_kl_div_fwd_bwd(v, v, 1, 2, 0, 7, &loss, NULL, NULL) == JNCE_ERR_INVALID_ARG, "reduction 7");
    jnce_last_error(msg, sizeof msg);
    CHECK(strstr(msg, "unknown reduction 7") != NULL, "message: %s", msg);
    CHECK(jnce_entropy_fwd_bwd(v, 0, 2, JNCE_REDUCTION_MEAN, &loss, NULL) == JNCE_ERR_INVALID_ARG, "N=0");
    CHECK(jnce_entropy_fwd_bwd(v, 1, 2, JNCE_REDUCTION_BATCHMEAN, &loss, NULL) == JNCE_ERR_INVALID_ARG,
          "batchmean is KL's alone");
    CHECK(jnce_dist_xent_fwd_bwd(v, NULL, 1, 2, JNCE_REDUCTION_MEAN, &loss, NULL, NULL) == JNCE_ERR_INVALID_ARG, "q");
    int64_t keys[2] = {0, 0};
    CHECK(jnce_perplexity_fwd_bwd(v, keys, 9, -100, 2, NAN, &loss, NULL) == JNCE_ERR_INVALID_ARG, "key dtype");
}

int main(void) {
    srand(11);
    int64_t shapes[][2] = {{1, 2}, {3, 5}, {1, 1000}, {7, 1}, {2, 4099}, {1, 20000}, {64, 3000}};
    int32_t reductions[] = {JNCE_REDUCTION_NONE, JNCE_REDUCTION_MEAN, JNCE_REDUCTION_SUM, JNCE_REDUCTION_BATCHMEAN};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        for (int r = 0; r < 4; r++) {
            kl_case(shapes[s][0], shapes[s][1], 0, reductions[r]);
            kl_case(shapes[s][0], shapes[s][1], 1, reductions[r]);
            if (reductions[r] == JNCE_REDUCTION_BATCHMEAN) continue;
            dist_case(shapes[s][0], shapes[s][1], 0, reductions[r]);
            dist_case(shapes[s][0], shapes[s][1], 1, reductions[r]);
        }
    }
    perplexity_rules();
    zero_probability_rules();
    special_values();
    rejects_bad_arguments();
    printf("%s\n", failures ? "FAILED" : "all divergence checks passed");
    return failures != 0;
}
