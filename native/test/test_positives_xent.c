/*
 * test_positives_xent.c - checks jnce_positives_xent_fwd_bwd against a plain double cross-entropy with a
 * uniform target over each row's positives: labels and mask, a self column (whole matrix and a
 * block of rows), skipped rows, the three
 * reductions, in place and not, padded rows (ld > M), int32 labels (and one array of each type),
 * a wide range of logits, a non-finite logit, and the errors (a row without positive names it before anything is written).
 */
#include <math.h>
#include <string.h>

#include "jnce.h"
#include "check.h"

typedef struct {
    int64_t N, M, ld;
    int use_mask;
    int64_t self_offset; /* -1: none */
    int skip_empty, reduction, in_place;
    float scale;
} pos_case;

static int is_self(const pos_case *c, int64_t i, int64_t j) {
    return c->self_offset >= 0 && j == i + c->self_offset;
}

static int positive(const int64_t *ql, const int64_t *kl, const int32_t *mask, int64_t M, int64_t i, int64_t j) {
    return mask != NULL ? mask[i * M + j] != 0 : ql[i] == kl[j];
}

/* loss per row and g (N,M) in double; returns the number of rows counted, *first_empty the first row without positive. */
static int64_t reference(const float *S, const pos_case *c, const int64_t *ql, const int64_t *kl, const int32_t *mask,
                         double *rows, double *g, int64_t *first_empty) {
    const int64_t N = c->N, M = c->M;
    int64_t counted = 0, *count = calloc((size_t)N, sizeof(int64_t));
    *first_empty = -1;
    for (int64_t i = 0; i < N; i++) {
        for (int64_t j = 0; j < M; j++) count[i] += positive(ql, kl, mask, M, i, j) && !is_self(c, i, j);
        counted += count[i] > 0;
        if (count[i] == 0 && *first_empty < 0) *first_empty = i;
    }
    const double w = c->reduction == JNCE_REDUCTION_MEAN ? 1.0 / (double)counted : 1.0;
    for (int64_t i = 0; i < N; i++) {
        const float *x = S + i * c->ld;
        memset(g + i * M, 0, sizeof(double) * (size_t)M);
        rows[i] = 0.0;
        if (count[i] == 0) continue;
        double m = -INFINITY, sum = 0.0, pos = 0.0;
        for (int64_t j = 0; j < M; j++)
            if (!is_self(c, i, j)) m = fmax(m, x[j]);
        for (int64_t j = 0; j < M; j++)
            if (!is_self(c, i, j)) sum += exp(x[j] - m);
        for (int64_t j = 0; j < M; j++)
            if (positive(ql, kl, mask, M, i, j) && !is_self(c, i, j)) pos += x[j];
        const double lse = m + log(sum);
        rows[i] = lse - pos / (double)count[i];
        for (int64_t j = 0; j < M; j++) {
            if (is_self(c, i, j)) continue;
            g[i * M + j] = w * (exp(x[j] - lse) - (positive(ql, kl, mask, M, i, j) ? 1.0 / (double)count[i] : 0.0));
        }
    }
    free(count);
    return counted;
}

static void run_case(pos_case c) {
    const int64_t N = c.N, M = c.M, ld = c.ld;
    float *S = malloc(sizeof(float) * (size_t)(N * ld)), *Gsep = malloc(sizeof(float) * (size_t)(N * ld));
    double *rows = malloc(sizeof(double) * (size_t)N), *g = malloc(sizeof(double) * (size_t)(N * M));
    int64_t *ql = malloc(sizeof(int64_t) * (size_t)N), *kl = malloc(sizeof(int64_t) * (size_t)M);
    int32_t *mask = c.use_mask ? calloc((size_t)(N * M), sizeof(int32_t)) : NULL;
    for (int64_t k = 0; k < N * ld; k++) S[k] = c.scale * uniform_pm1();
    for (int64_t i = 0; i < N; i++) ql[i] = (i * 5) % 7;
    for (int64_t j = 0; j < M; j++) kl[j] = (j * 3) % 7;
    if (c.skip_empty) ql[N - 1] = 99, ql[0] = 98; /* no key carries these */
    if (mask != NULL)
        for (int64_t i = 0; i < N; i++)
            for (int64_t j = 0; j < M; j++) mask[i * M + j] = ((i + 2 * j) % 5 == 0) ? (int32_t)(j + 1) : 0;
    if (mask != NULL && c.skip_empty) memset(mask + (N - 1) * M, 0, sizeof(int32_t) * (size_t)M);
    if (mask != NULL && N > 1 && c.self_offset >= 0 && 1 + c.self_offset < M) { /* row 1's only positive is itself: none left */
        memset(mask + M, 0, sizeof(int32_t) * (size_t)M);
        mask[M + 1 + c.self_offset] = 1;
    }
    int64_t first_empty;
    int64_t counted = reference(S, &c, ql, kl, mask, rows, g, &first_empty);
    float *loss = malloc(sizeof(float) * (size_t)N), *G = c.in_place ? S : Gsep;
    int64_t empty = 7, got_counted = -1;
    int32_t rc = jnce_positives_xent_fwd_bwd(S, N, M, ld, mask ? NULL : ql, JNCE_DTYPE_INT64, mask ? NULL : kl, JNCE_DTYPE_INT64, mask, c.self_offset, c.skip_empty,
                                     c.reduction, loss, G, &empty, &got_counted);
    if (!c.skip_empty && first_empty >= 0) { /* a row without positive, not skipped: named */
        CHECK(rc == JNCE_ERR_INVALID_ARG && empty == first_empty, "xent_positives N=%lld M=%lld: row %lld has no positive, "
              "got status %d naming %lld", (long long)N, (long long)M, (long long)first_empty, rc, (long long)empty);
        goto done;
    }
    CHECK(rc == JNCE_OK && empty == -1, "xent_positives N=%lld M=%lld status %d empty %lld", (long long)N, (long long)M,
          rc, (long long)empty);
    CHECK(got_counted == counted, "xent_positives N=%lld M=%lld counted %lld, want %lld", (long long)N, (long long)M,
          (long long)got_counted, (long long)counted);
    double total = 0.0;
    for (int64_t i = 0; i < N; i++) total += rows[i];
    double worst_loss;
    if (c.reduction == JNCE_REDUCTION_NONE) worst_loss = max_rel_error(loss, rows, N);
    else if (c.reduction == JNCE_REDUCTION_SUM) worst_loss = fabs(loss[0] - total) / fmax(1.0, fabs(total));
    else worst_loss = counted == 0 ? (isnan(loss[0]) ? 0.0 : INFINITY)
                                   : fabs(loss[0] - total / (double)counted) / fmax(1.0, fabs(total / (double)counted));
    double worst_grad = 0.0;
    for (int64_t i = 0; i < N; i++) {
        double e = max_error(G + i * ld, g + i * M, M);
        worst_grad = worse(worst_grad, e);
    }
    const double w = c.reduction == JNCE_REDUCTION_MEAN && counted > 0 ? 1.0 / (double)counted : 1.0;
    CHECK(worst_loss <= 2e-6, "xent_positives N=%lld M=%lld mask=%d self=%d skip=%d red=%d loss error %g", (long long)N,
          (long long)M, c.use_mask, (int)c.self_offset, c.skip_empty, c.reduction, worst_loss);
    CHECK(worst_grad <= 2e-6 * w, "xent_positives N=%lld M=%lld mask=%d self=%d skip=%d red=%d inplace=%d grad error %g",
          (long long)N, (long long)M, c.use_mask, (int)c.self_offset, c.skip_empty, c.reduction, c.in_place, worst_grad);
    if (!c.in_place) { /* the loss alone is the same loss */
        float *again = malloc(sizeof(float) * (size_t)N);
        CHECK(jnce_positives_xent_fwd_bwd(S, N, M, ld, mask ? NULL : ql, JNCE_DTYPE_INT64, mask ? NULL : kl, JNCE_DTYPE_INT64, mask, c.self_offset, c.skip_empty,
                                  c.reduction, again, NULL, NULL, NULL) == JNCE_OK,
              "forward-only status");
        CHECK(memcmp(loss, again, sizeof(float) * (size_t)(c.reduction == JNCE_REDUCTION_NONE ? N : 1)) == 0,
              "forward-only loss differs");
        free(again);
    }
    if (mask == NULL && !c.in_place) { /* int32 labels, and one array of each type, give the same loss and gradient */
        int32_t *ql32 = malloc(sizeof(int32_t) * (size_t)N), *kl32 = malloc(sizeof(int32_t) * (size_t)M);
        for (int64_t i = 0; i < N; i++) ql32[i] = (int32_t)ql[i];
        for (int64_t j = 0; j < M; j++) kl32[j] = (int32_t)kl[j];
        float *again = malloc(sizeof(float) * (size_t)N), *G2 = malloc(sizeof(float) * (size_t)(N * ld));
        for (int mixed = 0; mixed <= 1; mixed++) {
            CHECK(jnce_positives_xent_fwd_bwd(S, N, M, ld, ql32, JNCE_DTYPE_INT32, mixed ? (const void *)kl : (const void *)kl32,
                                      mixed ? JNCE_DTYPE_INT64 : JNCE_DTYPE_INT32, NULL, c.self_offset, c.skip_empty,
                                      c.reduction, again, G2, NULL, NULL) == JNCE_OK, "int32 labels status");
            CHECK(memcmp(loss, again, sizeof(float) * (size_t)(c.reduction == JNCE_REDUCTION_NONE ? N : 1)) == 0,
                  "int32 labels (mixed=%d): loss differs", mixed);
            for (int64_t i = 0; i < N; i++)
                CHECK(memcmp(G + i * ld, G2 + i * ld, sizeof(float) * (size_t)M) == 0, "int32 labels (mixed=%d): gradient row %lld differs",
                      mixed, (long long)i);
        }
        free(ql32), free(kl32), free(again), free(G2);
    }
done:
    free(S), free(Gsep), free(rows), free(g), free(ql), free(kl), free(mask), free(loss);
}

static void errors(void) {
    float S[12], loss[3], G[12];
    for (int k = 0; k < 12; k++) S[k] = uniform_pm1(), G[k] = 42.0f;
    const int64_t ql[3] = {1, 2, 3}, kl[4] = {1, 1, 3, 3};
    int64_t empty = 0;
    CHECK(jnce_positives_xent_fwd_bwd(S, 3, 4, 4, ql, JNCE_DTYPE_INT64, kl, JNCE_DTYPE_INT64, NULL, -1, 0, JNCE_REDUCTION_NONE, loss, G, &empty, NULL) == JNCE_ERR_INVALID_ARG
              && empty == 1, "row 1 has no positive: named (got %lld)", (long long)empty);
    for (int k = 0; k < 12; k++) CHECK(G[k] == 42.0f, "nothing written before the error");
    const int32_t mask[12] = {1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0};
    CHECK(jnce_positives_xent_fwd_bwd(S, 3, 4, 4, NULL, JNCE_DTYPE_INT64, NULL, JNCE_DTYPE_INT64, mask, -1, 0, JNCE_REDUCTION_MEAN, loss, NULL, &empty, NULL) ==
              JNCE_ERR_INVALID_ARG && empty == 2, "mask: row 2 has no positive (got %lld)", (long long)empty);
    const int32_t self_only[9] = {1, 0, 0, 0, 1, 1, 1, 0, 1};
    CHECK(jnce_positives_xent_fwd_bwd(S, 3, 3, 4, NULL, JNCE_DTYPE_INT64, NULL, JNCE_DTYPE_INT64, self_only, 0, 0, JNCE_REDUCTION_MEAN, loss, NULL, &empty, NULL) ==
              JNCE_ERR_INVALID_ARG && empty == 0, "row 0's only positive is itself, excluded (got %lld)", (long long)empty);
    CHECK(jnce_positives_xent_fwd_bwd(S, 3, 4, 4, ql, JNCE_DTYPE_INT64, kl, JNCE_DTYPE_INT64, mask, -1, 0, JNCE_REDUCTION_MEAN, loss, NULL, NULL, NULL) == JNCE_ERR_INVALID_ARG,
          "labels and mask together rejected");
    CHECK(jnce_positives_xent_fwd_bwd(S, 3, 4, 4, ql, JNCE_DTYPE_INT64, NULL, JNCE_DTYPE_INT64, NULL, -1, 0, JNCE_REDUCTION_MEAN, loss, NULL, NULL, NULL) == JNCE_ERR_INVALID_ARG,
          "one label array alone rejected");
    CHECK(jnce_positives_xent_fwd_bwd(S, 3, 4, 3, ql, JNCE_DTYPE_INT64, kl, JNCE_DTYPE_INT64, NULL, -1, 1, JNCE_REDUCTION_MEAN, loss, NULL, NULL, NULL) == JNCE_ERR_INVALID_ARG,
          "ld < M rejected");
    CHECK(jnce_positives_xent_fwd_bwd(S, 1, 1, 1, ql, JNCE_DTYPE_INT64, kl, JNCE_DTYPE_INT64, NULL, 0, 1, JNCE_REDUCTION_MEAN, loss, NULL, NULL, NULL) == JNCE_ERR_INVALID_ARG,
          "a self column with one column rejected");
    CHECK(jnce_positives_xent_fwd_bwd(S, 3, 4, 4, ql, JNCE_DTYPE_INT64, kl, JNCE_DTYPE_INT64, NULL, -2, 1, JNCE_REDUCTION_MEAN, loss, NULL, NULL, NULL) == JNCE_ERR_INVALID_ARG,
          "self_offset -2 rejected");
    CHECK(jnce_positives_xent_fwd_bwd(S, 3, 4, 4, ql, JNCE_DTYPE_INT64, kl, JNCE_DTYPE_INT64, NULL, -1, 1, 7, loss, NULL, NULL, NULL) == JNCE_ERR_INVALID_ARG,
          "unknown reduction rejected");
    CHECK(jnce_positives_xent_fwd_bwd(S, 3, 4, 4, ql, JNCE_DTYPE_INT64, kl, 7, NULL, -1, 1, JNCE_REDUCTION_MEAN, loss, NULL, NULL, NULL) ==
              JNCE_ERR_INVALID_ARG, "unknown label dtype rejected");
}

static void nonfinite(void) {
    const int64_t N = 6, M = 70;
    float *S = malloc(sizeof(float) * N * M), loss[6];
    int64_t ql[6], kl[70];
    for (int64_t k = 0; k < N * M; k++) S[k] = uniform_pm1();
    for (int64_t i = 0; i < N; i++) ql[i] = i % 2;
    for (int64_t j = 0; j < M; j++) kl[j] = j % 2;
    S[3 * M + 65] = INFINITY;
    S[4 * M + 2] = NAN;
    CHECK(jnce_positives_xent_fwd_bwd(S, N, M, M, ql, JNCE_DTYPE_INT64, kl, JNCE_DTYPE_INT64, NULL, -1, 0, JNCE_REDUCTION_NONE, loss, S, NULL, NULL) == JNCE_OK, "nonfinite status");
    CHECK(isnan(loss[3]) && isnan(loss[4]) && !isnan(loss[2]) && !isnan(loss[5]), "nonfinite: loss NaN in rows 3 and 4 only");
    CHECK(isnan(S[3 * M]) && isnan(S[4 * M + 69]) && !isnan(S[2 * M + 65]) && !isnan(S[5 * M + 2]),
          "nonfinite: NaN gradient in rows 3 and 4 only");
    free(S);
}

int main(void) {
    srand(11);
    const int64_t shapes[][2] = {{1, 2}, {5, 7}, {7, 7}, {64, 64}, {65, 130}, {130, 65}, {200, 200}};
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        const int64_t N = shapes[s][0], M = shapes[s][1];
        for (int use_mask = 0; use_mask <= 1; use_mask++)
            /* no self column; the whole matrix's (N <= M); the last block of rows' (N < M) */
            for (int64_t self = -1; self <= (N <= M ? M - N : -1); self = self < 0 ? 0 : self == 0 && N < M ? M - N : M)
                for (int skip = 0; skip <= 1; skip++)
                    for (int red = 0; red <= 2; red++)
                        run_case((pos_case){N, M, M + (int64_t)(s % 2) * 5, use_mask, self, skip, red, red == 1, 1.0f / 0.07f});
    }
    run_case((pos_case){150, 300, 300, 0, -1, 0, JNCE_REDUCTION_MEAN, 1, 50.0f}); /* a wide range of logits */
    run_case((pos_case){300, 300, 300, 1, 0, 1, JNCE_REDUCTION_SUM, 0, 50.0f});
    run_case((pos_case){64, 200, 200, 0, 136, 1, JNCE_REDUCTION_NONE, 1, 1.0f / 0.07f}); /* the last block of rows */
    { /* every row skipped: MEAN NaN, gradient 0 */
        float S[6] = {1, 2, 3, 4, 5, 6}, loss;
        const int64_t ql[2] = {7, 8}, kl[3] = {1, 2, 3};
        CHECK(jnce_positives_xent_fwd_bwd(S, 2, 3, 3, ql, JNCE_DTYPE_INT64, kl, JNCE_DTYPE_INT64, NULL, -1, 1, JNCE_REDUCTION_MEAN, &loss, S, NULL, NULL) == JNCE_OK && isnan(loss),
              "all skipped: MEAN NaN");
        for (int k = 0; k < 6; k++) CHECK(S[k] == 0.0f, "all skipped: gradient 0");
    }
    errors();
    nonfinite();
    return finish("test_positives_xent");
}
