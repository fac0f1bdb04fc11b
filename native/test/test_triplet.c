/*
 * test_triplet.c - checks jnce_triplet_margin_fwd_bwd against a plain double reference of the
 * loss (pairwise p = 1, 2, 3 and cosine distance; swap; every reduction) and its gradients
 * against central differences of that reference.
 */
#include <math.h>
#include <string.h>

#include "jnce.h"
#include "check.h"

typedef struct {
    int32_t distance, swap, reduction;
    double margin, p, eps;
} spec;

static double dist_ref(const spec *s, const float *x1, const float *x2, int64_t D) {
    if (s->distance == JNCE_DISTANCE_COSINE) {
        double d = 0, n1 = 0, n2 = 0;
        for (int64_t j = 0; j < D; j++) d += (double)x1[j] * x2[j], n1 += (double)x1[j] * x1[j], n2 += (double)x2[j] * x2[j];
        return 1.0 - d / (fmax(sqrt(n1), s->eps) * fmax(sqrt(n2), s->eps));
    }
    double sum = 0;
    for (int64_t j = 0; j < D; j++) sum += pow(fabs((double)x1[j] - x2[j] + s->eps), s->p);
    return pow(sum, 1.0 / s->p);
}

/* The reduced loss (for NONE: the sum of row losses). */
static double loss_ref(const spec *s, const float *a, const float *p, const float *n, int64_t N, int64_t D) {
    double total = 0;
    for (int64_t i = 0; i < N; i++) {
        double dn = dist_ref(s, a + i * D, n + i * D, D);
        if (s->swap) dn = fmin(dn, dist_ref(s, p + i * D, n + i * D, D));
        total += fmax(s->margin + dist_ref(s, a + i * D, p + i * D, D) - dn, 0.0);
    }
    return s->reduction == JNCE_REDUCTION_MEAN ? total / N : total;
}

static void triplet_case(spec s, int64_t N, int64_t D) {
    float *x[3] = {random_floats(N * D), random_floats(N * D), random_floats(N * D)};
    float *g[3], loss[64];
    for (int w = 0; w < 3; w++) g[w] = malloc(sizeof(float) * N * D);
    int32_t rc = jnce_triplet_margin_fwd_bwd(x[0], x[1], x[2], N, D, s.distance, (float)s.margin, (float)s.p,
                                             (float)s.eps, s.swap, s.reduction, loss, g[0], g[1], g[2]);
    CHECK(rc == JNCE_OK, "status %d", rc);
    double got = loss[0];
    if (s.reduction == JNCE_REDUCTION_NONE)
        for (int64_t i = 1; i < N; i++) got += loss[i];
    double want = loss_ref(&s, x[0], x[1], x[2], N, D);
    CHECK(fabs(got - want) <= 1e-5 * fmax(1.0, fabs(want)), "distance %d p=%g swap=%d loss %.9g want %.9g", s.distance,
          s.p, s.swap, got, want);
    double worst = 0;
    for (int w = 0; w < 3; w++)
        for (int64_t k = 0; k < N * D; k++) {
            float saved = x[w][k];
            x[w][k] = saved + 1e-4f;
            double hp = (double)x[w][k] - saved, up = loss_ref(&s, x[0], x[1], x[2], N, D);
            x[w][k] = saved - 1e-4f;
            double hm = saved - (double)x[w][k], down = loss_ref(&s, x[0], x[1], x[2], N, D);
            x[w][k] = saved;
            worst = worse(worst, fabs(g[w][k] - (up - down) / (hp + hm)));
        }
    CHECK(worst <= 2e-3, "distance %d p=%g swap=%d reduction %d gradient error %g", s.distance, s.p, s.swap,
          s.reduction, worst);
    for (int w = 0; w < 3; w++) free(x[w]), free(g[w]);
}

static void rejects_bad_arguments(void) {
    float a[2] = {0, 0}, loss;
    CHECK(jnce_triplet_margin_fwd_bwd(a, a, a, 1, 2, JNCE_DISTANCE_PAIRWISE, NAN, 2, 1e-6f, 0, JNCE_REDUCTION_MEAN,
                                      &loss, NULL, NULL, NULL) == JNCE_ERR_INVALID_ARG, "NaN margin must fail");
    CHECK(jnce_triplet_margin_fwd_bwd(a, a, a, 1, 2, JNCE_DISTANCE_PAIRWISE, 1, 0, 1e-6f, 0, JNCE_REDUCTION_MEAN,
                                      &loss, NULL, NULL, NULL) == JNCE_ERR_INVALID_ARG, "p=0 must fail");
    CHECK(jnce_triplet_margin_fwd_bwd(a, a, a, 1, 2, JNCE_DISTANCE_PAIRWISE, 1, 2, 1e-6f, 0, JNCE_REDUCTION_MEAN,
                                      &loss, a, NULL, NULL) == JNCE_ERR_INVALID_ARG, "one gradient must fail");
}

/* A NaN in one row: that row's loss is NaN, and so are the gradient rows of the inputs of its NaN distances. */
static void nan_rows_give_nan_gradients(void) {
    const int64_t N = 3, D = 4;
    for (int32_t swap = 0; swap < 2; swap++)
        for (int32_t distance = JNCE_DISTANCE_PAIRWISE; distance <= JNCE_DISTANCE_COSINE; distance++) {
            float *x[3] = {random_floats(N * D), random_floats(N * D), random_floats(N * D)};
            float g[3][12], loss[3];
            x[2][1 * D + 2] = NAN; /* negative of row 1: d(a,n) (and d(p,n) with swap) is NaN, d(a,p) is not */
            int32_t rc = jnce_triplet_margin_fwd_bwd(x[0], x[1], x[2], N, D, distance, 0.5f, 2.0f, 1e-6f, swap,
                                                     JNCE_REDUCTION_NONE, loss, g[0], g[1], g[2]);
            CHECK(rc == JNCE_OK, "status %d", rc);
            CHECK(isnan(loss[1]) && !isnan(loss[0]) && !isnan(loss[2]), "distance %d swap %d: only row 1's loss is NaN",
                  distance, swap);
            int anchor_nan = 1, negative_nan = 1, positive = 1, others = 1;
            for (int64_t j = 0; j < D; j++) {
                anchor_nan &= isnan(g[0][D + j]) != 0;
                negative_nan &= isnan(g[2][D + j]) != 0;
                positive &= swap ? isnan(g[1][D + j]) != 0 : g[1][D + j] == 0.0f; /* d(a,p) is finite: 0 * its partials */
                for (int w = 0; w < 3; w++) others &= !isnan(g[w][j]) && !isnan(g[w][2 * D + j]);
            }
            CHECK(anchor_nan && negative_nan, "distance %d swap %d: anchor and negative gradient rows must be NaN",
                  distance, swap);
            CHECK(positive, "distance %d swap %d: positive gradient row must be %s", distance, swap, swap ? "NaN" : "0");
            CHECK(others, "distance %d swap %d: the other rows' gradients must not be NaN", distance, swap);
            float mean;
            rc = jnce_triplet_margin_fwd_bwd(x[0], x[1], x[2], N, D, distance, 0.5f, 2.0f, 1e-6f, swap,
                                             JNCE_REDUCTION_MEAN, &mean, g[0], g[1], g[2]);
            CHECK(rc == JNCE_OK && isnan(mean) && isnan(g[0][D]), "distance %d swap %d: MEAN loss and row 1 NaN",
                  distance, swap);
            for (int w = 0; w < 3; w++) free(x[w]);
        }
}

/*
 * The p = 2 pairwise distance (the default, on AVX2 lanes where present) against its gradient in
 * double at every width the lanes split differently (blocks of 16, of 4, a scalar tail): with a
 * margin every row's hinge passes, d loss / d a = s (v_p / d_p - v_n / d_n), d loss / d p =
 * -s v_p / d_p, d loss / d n = s v_n / d_n, v = a - x + eps, s = 1/N (MEAN); to float32's precision.
 */
static void p2_matches_double_at_every_width(void) {
    const int64_t widths[] = {1, 3, 4, 5, 15, 16, 17, 20, 31, 33, 64, 127, 128, 130};
    const int64_t N = 7;
    const double eps = 1e-6;
    for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
        const int64_t D = widths[w];
        float *x[3] = {random_floats(N * D), random_floats(N * D), random_floats(N * D)}, *g[3], loss;
        for (int k = 0; k < 3; k++) g[k] = malloc(sizeof(float) * N * D);
        int32_t rc = jnce_triplet_margin_fwd_bwd(x[0], x[1], x[2], N, D, JNCE_DISTANCE_PAIRWISE, 100.0f, 2.0f, (float)eps, 0,
                                                 JNCE_REDUCTION_MEAN, &loss, g[0], g[1], g[2]);
        CHECK(rc == JNCE_OK, "D=%lld: status %d", (long long)D, rc);
        double total = 0, worst = 0, largest = 0;
        for (int64_t i = 0; i < N; i++) {
            const float *a = x[0] + i * D, *pos = x[1] + i * D, *neg = x[2] + i * D;
            double dp = 0, dn = 0;
            for (int64_t j = 0; j < D; j++) {
                double vp = (double)a[j] - pos[j] + eps, vn = (double)a[j] - neg[j] + eps;
                dp += vp * vp, dn += vn * vn;
            }
            dp = sqrt(dp), dn = sqrt(dn);
            total += 100.0 + dp - dn;
            for (int64_t j = 0; j < D; j++) {
                double vp = ((double)a[j] - pos[j] + eps) / dp / N, vn = ((double)a[j] - neg[j] + eps) / dn / N;
                double want[3] = {vp - vn, -vp, vn};
                for (int k = 0; k < 3; k++) {
                    worst = worse(worst, fabs(g[k][i * D + j] - want[k]));
                    largest = fmax(largest, fabs(want[k]));
                }
            }
        }
        CHECK(fabs(loss - total / N) <= 1e-6 * (total / N), "D=%lld: loss %.9g want %.9g", (long long)D, loss, total / N);
        CHECK(worst <= 1e-6 * largest, "D=%lld: gradient error %g of %g", (long long)D, worst, largest);
        for (int k = 0; k < 3; k++) free(x[k]), free(g[k]);
    }
}

int main(void) {
    srand(5);
    int32_t reductions[] = {JNCE_REDUCTION_NONE, JNCE_REDUCTION_MEAN, JNCE_REDUCTION_SUM};
    double ps[] = {1.0, 2.0, 3.0};
    for (int r = 0; r < 3; r++)
        for (int swap = 0; swap < 2; swap++) {
            for (int k = 0; k < 3; k++)
                triplet_case((spec){JNCE_DISTANCE_PAIRWISE, swap, reductions[r], 1.0, ps[k], 1e-6}, 6, 5);
            triplet_case((spec){JNCE_DISTANCE_COSINE, swap, reductions[r], 0.5, 2.0, 1e-8}, 6, 5);
        }
    triplet_case((spec){JNCE_DISTANCE_PAIRWISE, 0, JNCE_REDUCTION_MEAN, 1.0, 2.0, 1e-6}, 40, 130);
    p2_matches_double_at_every_width();
    rejects_bad_arguments();
    nan_rows_give_nan_gradients();
    return finish("test_triplet");
}
