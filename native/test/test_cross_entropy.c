/*
 * test_cross_entropy.c - checks jnce_cross_entropy_fwd_bwd against a plain double-precision reference
 * written from jnce.h's definition: every option (weights, ignore_index, label smoothing,
 * probability targets, row mask, z-loss, lse output), every reduction, rows of many lengths
 * (block tails included), in place and not, and the NaN/Inf rules. ctest runs it on the
 * default path (16 lanes where the CPU has AVX-512), with JNCE_SIMD=avx2 and with JNCE_SIMD=scalar.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jnce.h"
#include "check.h"

/* One call's arguments, in jnce_cross_entropy_fwd_bwd's order, so that cases read as one line. */
typedef struct {
    int64_t N, C;
    const float *logits;
    const void *targets;
    int32_t target_dtype;
    const float *probs;
    const int32_t *row_mask;
    const float *weight;
    int64_t ignore_index;
    float label_smoothing, z_loss;
    int32_t reduction, zero_if_empty;
    float *loss, *grad, *lse;
} xent_case;

static int32_t xent(const xent_case *a) {
    return jnce_cross_entropy_fwd_bwd(a->N, a->C, a->logits, a->targets, a->target_dtype, a->probs, a->row_mask,
                                      a->weight, a->ignore_index, a->label_smoothing, a->z_loss, a->reduction,
                                      a->zero_if_empty, a->loss, a->grad, a->lse);
}


/* Reference: loss (N or 1 values) and grad, in double, from the formulas in jnce.h. */
static void reference(const xent_case *a, const int64_t *y, double *loss, double *grad) {
    int64_t N = a->N, C = a->C;
    double eps = a->label_smoothing, denom = 0, counted = 0, ce = 0, z = 0, wsum = 0;
    for (int64_t c = 0; c < C; c++) wsum += a->weight ? a->weight[c] : 1.0;
    int *keep = calloc(N, sizeof(int));
    for (int64_t i = 0; i < N; i++) {
        keep[i] = (!a->row_mask || a->row_mask[i]) && (a->probs || y[i] != a->ignore_index);
        if (keep[i]) {
            counted++;
            denom += !a->probs && a->weight ? a->weight[y[i]] : 1.0;
        }
    }
    double scale = a->reduction == JNCE_REDUCTION_MEAN ? 1.0 / denom : 1.0;
    double zscale = a->reduction == JNCE_REDUCTION_MEAN ? 1.0 / counted : 1.0;
    double *q = malloc(sizeof(double) * C);
    for (int64_t i = 0; i < N; i++) {
        const float *x = a->logits + i * C;
        double m = -INFINITY, s = 0, qs = 0, li = 0;
        for (int64_t c = 0; c < C; c++) m = fmax(m, x[c]);
        for (int64_t c = 0; c < C; c++) s += exp(x[c] - m);
        double lse = m + log(s);
        for (int64_t c = 0; c < C; c++) {
            double w = a->weight ? a->weight[c] : 1.0;
            q[c] = a->probs ? w * ((1 - eps) * a->probs[i * C + c] + eps / C)
                            : (c == y[i] ? (1 - eps) * w : 0.0) + eps / C * w;
            qs += q[c];
            li += q[c] * (lse - x[c]);
        }
        if (!keep[i]) li = 0;
        if (a->reduction == JNCE_REDUCTION_NONE) loss[i] = li + (keep[i] ? a->z_loss * lse * lse : 0);
        ce += li;
        if (keep[i]) z += lse * lse;
        for (int64_t c = 0; c < C; c++) {
            double p = exp(x[c] - lse);
            grad[i * C + c] = keep[i] ? scale * (p * qs - q[c]) + zscale * 2 * a->z_loss * lse * p : 0.0;
        }
    }
    if (a->reduction == JNCE_REDUCTION_SUM) loss[0] = ce + a->z_loss * z;
    if (a->reduction == JNCE_REDUCTION_MEAN) loss[0] = ce / denom + (a->z_loss > 0 ? a->z_loss * z / counted : 0);
    free(q);
    free(keep);
}

static float uniform(void) { return (float)rand() / (float)RAND_MAX; }

enum { WEIGHTS = 1, SMOOTH = 2, IGNORE = 4, PROBS = 8, MASK = 16, ZLOSS = 32, IN_PLACE = 64 };

static void random_case(int64_t N, int64_t C, float spread, int options, int32_t reduction) {
    float *x = malloc(sizeof(float) * N * C), *g = malloc(sizeof(float) * N * C);
    float *x0 = malloc(sizeof(float) * N * C), *w = malloc(sizeof(float) * C), *t = malloc(sizeof(float) * N * C);
    double *ref_g = malloc(sizeof(double) * N * C), *ref_loss = malloc(sizeof(double) * N);
    int64_t *y = malloc(sizeof(int64_t) * N);
    int32_t *mask = malloc(sizeof(int32_t) * N);
    float *loss = malloc(sizeof(float) * N), *lse = malloc(sizeof(float) * N);
    for (int64_t k = 0; k < N * C; k++) x0[k] = x[k] = (uniform() * 2.0f - 1.0f) * spread;
    for (int64_t c = 0; c < C; c++) w[c] = 0.25f + uniform() * 2.0f;
    for (int64_t i = 0; i < N; i++) {
        y[i] = rand() % C;
        mask[i] = i % 3 != 1;
        double row = 0;
        for (int64_t c = 0; c < C; c++) row += t[i * C + c] = uniform();
        for (int64_t c = 0; c < C; c++) t[i * C + c] = (float)(t[i * C + c] / row);
    }
    if (options & IGNORE) y[N / 2] = 0, y[0] = 0; /* ignore_index 0: a valid class is ignored */
    xent_case a = {N, C, x, options & PROBS ? NULL : y, JNCE_DTYPE_INT64, options & PROBS ? t : NULL,
                        options & MASK ? mask : NULL, options & WEIGHTS ? w : NULL,
                        options & IGNORE ? 0 : -100, options & SMOOTH ? 0.1f : 0.0f,
                        options & ZLOSS ? 1e-3f : 0.0f, reduction, 0, loss,
                        options & IN_PLACE ? x : g, lse};
    xent_case ref_args = a;
    ref_args.logits = x0;
    reference(&ref_args, y, ref_loss, ref_g);
    int32_t rc = xent(&a);
    CHECK(rc == JNCE_OK, "status %d", rc);
    int64_t n_loss = reduction == JNCE_REDUCTION_NONE ? N : 1;
    for (int64_t i = 0; i < n_loss; i++)
        CHECK((isnan(loss[i]) && isnan(ref_loss[i])) || fabs(loss[i] - ref_loss[i]) <= 2e-6 * fmax(1.0, fabs(ref_loss[i])),
              "N=%lld C=%lld options=%d reduction=%d loss[%lld] %.9g ref %.9g", (long long)N, (long long)C,
              options, reduction, (long long)i, loss[i], ref_loss[i]);
    float *out = options & IN_PLACE ? x : g;
    double worst = 0.0;
    for (int64_t k = 0; k < N * C; k++)
        if (!(isnan(out[k]) && isnan(ref_g[k]))) worst = fmax(worst, isnan(out[k]) ? INFINITY : fabs(out[k] - ref_g[k]));
    CHECK(worst <= 2e-6, "N=%lld C=%lld options=%d reduction=%d grad error %.3g", (long long)N, (long long)C,
          options, reduction, worst);
    for (int64_t i = 0; i < N; i++) {
        double m = -INFINITY, s = 0;
        for (int64_t c = 0; c < C; c++) m = fmax(m, x0[i * C + c]);
        for (int64_t c = 0; c < C; c++) s += exp(x0[i * C + c] - m);
        CHECK(fabs(lse[i] - (m + log(s))) <= 1e-6 * fmax(1.0, fabs(m)), "lse[%lld]", (long long)i);
    }
    free(x); free(g); free(x0); free(w); free(t); free(ref_g); free(ref_loss); free(y); free(mask); free(loss); free(lse);
}

static void non_finite_rules(void) {
    float x[4 * 3] = {1.0f, NAN, 0.0f,   1.0f, INFINITY, 0.0f,
                      -INFINITY, 2.0f, 1.0f,   -INFINITY, -INFINITY, -INFINITY};
    int32_t t[4] = {0, 0, 1, 0};
    float loss[4], g[12];
    xent_case a = {4, 3, x, t, JNCE_DTYPE_INT32, NULL, NULL, NULL, -100, 0, 0, JNCE_REDUCTION_NONE, 0, loss, g, NULL};
    CHECK(xent(&a) == JNCE_OK, "status");
    CHECK(isnan(loss[0]) && isnan(g[0]), "NaN row must give NaN");
    CHECK(isnan(loss[1]) && isnan(g[4]), "+Inf row must give NaN");
    double want = log(1.0 + exp(-1.0)); /* lse of {2,1} minus x_t = 2 */
    CHECK(fabs(loss[2] - want) < 1e-6 && g[6] == 0.0f, "-Inf entry: loss %g want %g, grad %g", loss[2], want, g[6]);
    CHECK(isnan(loss[3]), "all -Inf row must give NaN");
    /* lse follows torch.logsumexp: NaN with a NaN, +Inf with +Inf and no NaN, -Inf when all are -Inf */
    float both[3] = {INFINITY, NAN, 0.0f}, x5[5 * 3], lse[5], loss5[5], g5[15];
    memcpy(x5, x, sizeof x);
    memcpy(x5 + 12, both, sizeof both);
    int32_t t5[5] = {0, 0, 1, 0, 2};
    xent_case b = {5, 3, x5, t5, JNCE_DTYPE_INT32, NULL, NULL, NULL, -100, 0, 0, JNCE_REDUCTION_NONE, 0, loss5, g5, lse};
    CHECK(xent(&b) == JNCE_OK, "status");
    CHECK(isnan(lse[0]) && lse[1] == INFINITY && fabs(lse[2] - (2.0 + log(1.0 + exp(-1.0)))) < 1e-6 &&
              lse[3] == -INFINITY && isnan(lse[4]),
          "lse %g %g %g %g %g", lse[0], lse[1], lse[2], lse[3], lse[4]);
    memcpy(x5, x, sizeof x); /* the same in place: lse is read before the gradient overwrites the row */
    memcpy(x5 + 12, both, sizeof both);
    b.grad = x5;
    CHECK(xent(&b) == JNCE_OK, "status");
    CHECK(isnan(lse[0]) && lse[1] == INFINITY && lse[3] == -INFINITY && isnan(lse[4]), "in place: lse %g %g %g %g",
          lse[0], lse[1], lse[3], lse[4]);
}

static void empty_mean(void) {
    float x[2 * 3] = {1, 2, 3, 4, 5, 6}, loss, g[6];
    int64_t y[2] = {-100, -100};
    xent_case a = {2, 3, x, y, JNCE_DTYPE_INT64, NULL, NULL, NULL, -100, 0, 0, JNCE_REDUCTION_MEAN, 0, &loss, g, NULL};
    CHECK(xent(&a) == JNCE_OK && isnan(loss), "all ignored: NaN mean by default");
    a.zero_if_empty = 1;
    CHECK(xent(&a) == JNCE_OK && loss == 0.0f && g[0] == 0.0f && g[5] == 0.0f, "zero_if_empty");
}

static void rejects_bad_arguments(void) {
    float x[2] = {0, 0}, loss;
    int64_t bad_target[1] = {2};
    xent_case a = {1, 2, x, bad_target, JNCE_DTYPE_INT64, NULL, NULL, NULL, -100, 0, 0, JNCE_REDUCTION_MEAN, 0, &loss, NULL, NULL};
    CHECK(xent(&a) == JNCE_ERR_INVALID_ARG, "target out of range must fail");
    char msg[256];
    jnce_last_error(msg, sizeof msg);
    CHECK(strcmp(msg, "targets[0] = 2 is outside [0, 2) for logits of shape (1, 2) and is not the ignore index -100")
              == 0, "message names the target: %s", msg);
    int32_t masked_out[1] = {0}; /* a masked row's target is checked too: it is never read out of bounds */
    a.row_mask = masked_out;
    CHECK(xent(&a) == JNCE_ERR_INVALID_ARG, "a masked row's target out of range must fail");
    a.row_mask = NULL;
    int32_t huge[3] = {0, -100, 1 << 30};
    float x3[3 * 2] = {0}, g3[6], loss3[3];
    xent_case c = {3, 2, x3, huge, JNCE_DTYPE_INT32, NULL, NULL, NULL, -100, 0, 0, JNCE_REDUCTION_NONE, 0, loss3, g3, NULL};
    for (int k = 0; k < 6; k++) g3[k] = 7.0f;
    CHECK(xent(&c) == JNCE_ERR_INVALID_ARG, "int32 target 2^30 must fail");
    jnce_last_error(msg, sizeof msg);
    CHECK(strstr(msg, "targets[2] = 1073741824 is outside [0, 2) for logits of shape (3, 2)") != NULL, "%s", msg);
    CHECK(g3[0] == 7.0f && g3[5] == 7.0f, "nothing is written when a target is out of range");
    float bad_w[2] = {1.0f, NAN};
    int64_t good[1] = {0};
    xent_case d = {1, 2, x, good, JNCE_DTYPE_INT64, NULL, NULL, bad_w, -100, 0, 0, JNCE_REDUCTION_MEAN, 0, &loss, NULL, NULL};
    CHECK(xent(&d) == JNCE_ERR_INVALID_ARG, "a NaN weight must fail");
    jnce_last_error(msg, sizeof msg);
    CHECK(strcmp(msg, "weight[1] = NaN is not finite") == 0, "message names the weight: %s", msg);
    bad_w[1] = -INFINITY;
    CHECK(xent(&d) == JNCE_ERR_INVALID_ARG, "an infinite weight must fail");
    jnce_last_error(msg, sizeof msg);
    CHECK(strcmp(msg, "weight[1] = -Infinity is not finite") == 0, "message names the weight: %s", msg);
    a.N = 0;
    CHECK(xent(&a) == JNCE_ERR_INVALID_ARG, "N=0 must fail");
    float probs[2] = {0.7f, 0.7f};
    xent_case b = {1, 2, x, NULL, 0, probs, NULL, NULL, -100, 0, 0, JNCE_REDUCTION_MEAN, 0, &loss, NULL, NULL};
    CHECK(xent(&b) == JNCE_ERR_INVALID_ARG, "probs not a distribution must fail");
    jnce_last_error(msg, sizeof msg);
    CHECK(strstr(msg, "targets: row 0 is not a probability distribution") != NULL, "message names the row: %s", msg);
    float x4[4 * 2] = {0}, probs4[4 * 2] = {0.5f, 0.5f, 1.0f, 0.0f, 0.9f, 0.0f, -0.5f, 1.5f}, loss4;
    xent_case e = {4, 2, x4, NULL, 0, probs4, NULL, NULL, -100, 0, 0, JNCE_REDUCTION_SUM, 0, &loss4, NULL, NULL};
    CHECK(xent(&e) == JNCE_ERR_INVALID_ARG, "rows 2 and 3 are not distributions");
    jnce_last_error(msg, sizeof msg);
    CHECK(strstr(msg, "targets: row 2 ") != NULL && strstr(msg, "for logits of shape (4, 2)") != NULL,
          "message names the first bad row: %s", msg);
    CHECK(jnce_cross_entropy_fwd_bwd(1, 2, NULL, good, JNCE_DTYPE_INT64, NULL, NULL, NULL, -100, 0, 0,
                                     JNCE_REDUCTION_MEAN, 0, &loss, NULL, NULL) == JNCE_ERR_INVALID_ARG,
          "null logits must fail");
    CHECK(jnce_cross_entropy_fwd_bwd(1, 2, x, good, JNCE_DTYPE_INT64, probs, NULL, NULL, -100, 0, 0,
                                     JNCE_REDUCTION_MEAN, 0, &loss, NULL, NULL) == JNCE_ERR_INVALID_ARG,
          "class targets and target_probs together must fail");
}

static void perplexity_of_a_mean(void) {
    float mean = 0.75f, ppl = 0.0f, g[3] = {0.5f, -1.0f, 0.0f};
    CHECK(jnce_cross_entropy_perplexity_fwd_bwd(&mean, 3, &ppl, g) == JNCE_OK, "perplexity");
    float e = (float)exp(0.75);
    CHECK(ppl == e && g[0] == 0.5f * e && g[1] == -e && g[2] == 0.0f, "ppl %g, grad %g %g %g", ppl, g[0], g[1], g[2]);
    float in_place = 0.0f;
    CHECK(jnce_cross_entropy_perplexity_fwd_bwd(&in_place, 0, &in_place, NULL) == JNCE_OK && in_place == 1.0f,
          "ppl may alias the mean: exp(0) = 1, got %g", in_place);
    float nan_mean = NAN;
    CHECK(jnce_cross_entropy_perplexity_fwd_bwd(&nan_mean, 0, &ppl, NULL) == JNCE_OK && isnan(ppl), "exp(NaN) is NaN");
    CHECK(jnce_cross_entropy_perplexity_fwd_bwd(NULL, 0, &ppl, NULL) == JNCE_ERR_INVALID_ARG, "null mean must fail");
}

/*
 * jnce_cross_entropy_strided_fwd_bwd: rows ld floats apart (NaN between C and ld) give the same
 * bits as the contiguous call, into a separate gradient (whose padding stays as it was) and in
 * place; ld < C is refused.
 */
static void strided_rows_match_contiguous(void) {
    int64_t lengths[] = {7, 64, 130, 1000, 3000, 4099, 32000, 65536, 65537};
    int option_sets[] = {0, WEIGHTS | SMOOTH, PROBS, ZLOSS | IGNORE, IN_PLACE, IN_PLACE | WEIGHTS | SMOOTH};
    for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
        for (size_t o = 0; o < sizeof option_sets / sizeof option_sets[0]; o++) {
            for (int pad = 3; pad <= 16; pad += 13) {
                int64_t N = k == 3 ? 300 : 5, C = lengths[k], ld = C + pad;
                int options = option_sets[o];
                float *x = malloc(sizeof(float) * N * C), *g = malloc(sizeof(float) * N * C);
                float *xs = malloc(sizeof(float) * N * ld), *gs = malloc(sizeof(float) * N * ld);
                float *w = malloc(sizeof(float) * C), *t = malloc(sizeof(float) * N * C);
                float loss[300], loss_s[300], lse[300], lse_s[300];
                int64_t y[300];
                for (int64_t i = 0; i < N; i++) {
                    y[i] = rand() % C;
                    double row = 0;
                    for (int64_t c = 0; c < C; c++) row += t[i * C + c] = uniform();
                    for (int64_t c = 0; c < C; c++) t[i * C + c] = (float)(t[i * C + c] / row);
                    for (int64_t c = 0; c < ld; c++) {
                        xs[i * ld + c] = c < C ? (x[i * C + c] = (uniform() * 2.0f - 1.0f) * 8.0f) : NAN;
                        gs[i * ld + c] = 12345.0f;
                    }
                }
                for (int64_t c = 0; c < C; c++) w[c] = 0.25f + uniform() * 2.0f;
                if (options & IGNORE) y[0] = 0;
                int32_t red = JNCE_REDUCTION_NONE;
                const void *tg = options & PROBS ? NULL : y;
                const float *tp = options & PROBS ? t : NULL, *wt = options & WEIGHTS ? w : NULL;
                int64_t ignore = options & IGNORE ? 0 : -100;
                float eps = options & SMOOTH ? 0.1f : 0.0f, zl = options & ZLOSS ? 1e-3f : 0.0f;
                int32_t rc = jnce_cross_entropy_fwd_bwd(N, C, x, tg, JNCE_DTYPE_INT64, tp, NULL, wt, ignore, eps, zl, red, 0,
                                                        loss, options & IN_PLACE ? x : g, lse);
                int32_t rs = jnce_cross_entropy_strided_fwd_bwd(N, C, ld, xs, tg, JNCE_DTYPE_INT64, tp, NULL, wt, ignore, eps,
                                                                zl, red, 0, loss_s, options & IN_PLACE ? xs : gs, lse_s);
                CHECK(rc == JNCE_OK && rs == JNCE_OK, "C=%lld ld=%lld options=%d: status %d, strided %d", (long long)C,
                      (long long)ld, options, rc, rs);
                const float *out = options & IN_PLACE ? x : g, *out_s = options & IN_PLACE ? xs : gs;
                int64_t differ = 0, touched = 0;
                for (int64_t i = 0; i < N; i++) {
                    if (memcmp(&loss[i], &loss_s[i], sizeof(float)) || memcmp(&lse[i], &lse_s[i], sizeof(float))) differ++;
                    if (memcmp(out + i * C, out_s + i * ld, sizeof(float) * C)) differ++;
                    for (int64_t c = C; c < ld; c++) {
                        float v = out_s[i * ld + c];
                        if (options & IN_PLACE ? !isnan(v) : v != 12345.0f) touched++;
                    }
                }
                CHECK(differ == 0, "C=%lld ld=%lld options=%d: %lld rows differ from the contiguous call", (long long)C,
                      (long long)ld, options, (long long)differ);
                CHECK(touched == 0, "C=%lld ld=%lld options=%d: %lld padding floats written", (long long)C, (long long)ld,
                      options, (long long)touched);
                free(x); free(g); free(xs); free(gs); free(w); free(t);
            }
        }
    }
    float x[8] = {0}, loss[2];
    int64_t y[2] = {0, 1};
    CHECK(jnce_cross_entropy_strided_fwd_bwd(2, 4, 3, x, y, JNCE_DTYPE_INT64, NULL, NULL, NULL, -100, 0.0f, 0.0f,
                                             JNCE_REDUCTION_MEAN, 0, loss, NULL, NULL) == JNCE_ERR_INVALID_ARG,
          "ld < C is refused");
}

int main(void) {
    srand(7);
    /* up to SHORT_ROW (65536) the three-pass path, beyond it the online one */
    int64_t lengths[] = {2, 3, 7, 8, 63, 64, 65, 130, 1000, 4099, 65536, 65537, 70001};
    int32_t reductions[] = {JNCE_REDUCTION_NONE, JNCE_REDUCTION_MEAN, JNCE_REDUCTION_SUM};
    int option_sets[] = {0, WEIGHTS, SMOOTH, WEIGHTS | SMOOTH, IGNORE, WEIGHTS | SMOOTH | IGNORE, PROBS,
                         PROBS | WEIGHTS | SMOOTH, PROBS | MASK, MASK | IGNORE | SMOOTH, ZLOSS, ZLOSS | WEIGHTS | IGNORE,
                         IN_PLACE | WEIGHTS | SMOOTH, IN_PLACE | PROBS};
    for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++)
        for (size_t o = 0; o < sizeof option_sets / sizeof option_sets[0]; o++)
            for (int r = 0; r < 3; r++) random_case(6, lengths[k], k % 2 ? 30.0f : 4.0f, option_sets[o], reductions[r]);
    random_case(300, 2048, 8.0f, WEIGHTS | SMOOTH | IGNORE, JNCE_REDUCTION_MEAN); /* on the thread pool */
    strided_rows_match_contiguous();
    non_finite_rules();
    empty_mean();
    rejects_bad_arguments();
    perplexity_of_a_mean();
    char info[512];
    jnce_build_info(info, sizeof info);
    printf("%s\n%s\n", info, failures ? "FAILED" : "all checks passed");
    return failures != 0;
}
