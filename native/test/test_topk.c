/*
 * test_topk.c - checks jnce_topk against a plain reference (K rounds of a full selection by
 * score, ties by index, excluded columns skipped), with ties, exclusions (repeated, unsorted),
 * rows shorter than K, NaN reports and K = 0.
 */
#include <math.h>
#include <string.h>

#include "jnce.h"
#include "check.h"

/* The K best columns of row s that excl does not mark, by repeated selection: O(K M), obviously right. */
static void reference(const float *s, const unsigned char *excl, int64_t M, int64_t K, int64_t *out, float *values) {
    unsigned char *taken = calloc((size_t)M, 1);
    for (int64_t k = 0; k < K; k++) {
        int64_t best = -1;
        for (int64_t j = 0; j < M; j++)
            if (!excl[j] && !taken[j] && (best < 0 || s[j] > s[best])) best = j;
        out[k] = best;
        values[k] = best < 0 ? -INFINITY : s[best];
        if (best >= 0) taken[best] = 1;
    }
    free(taken);
}

static void topk_case(int64_t N, int64_t M, int64_t K, int excluding) {
    float *s = random_floats(N * M);
    for (int64_t k = 0; k < N * M; k += 3) s[k] = roundf(s[k] * 4) / 4; /* ties */
    int64_t *offsets = malloc(sizeof(int64_t) * (size_t)(N + 1));
    int32_t *items = malloc(sizeof(int32_t) * (size_t)(N * 8 + 1));
    unsigned char *excl = calloc((size_t)(N * M), 1);
    offsets[0] = 5; /* positions into items need not start at 0 */
    for (int64_t i = 0; i < N; i++) {
        int64_t count = excluding ? (i * 7) % 9 : 0; /* some rows exclude nothing, some more than M - K leaves */
        if (count > 8) count = 8;
        for (int64_t e = 0; e < count; e++) {
            int32_t j = (int32_t)(rand() % M);
            items[offsets[i] - 5 + e] = j; /* repeats allowed */
            excl[i * M + j] = 1;
        }
        offsets[i + 1] = offsets[i] + count;
    }
    int64_t *got = malloc(sizeof(int64_t) * (size_t)(N * K + 1)), *want = malloc(sizeof(int64_t) * (size_t)(K + 1));
    float *got_v = malloc(sizeof(float) * (size_t)(N * K + 1)), *want_v = malloc(sizeof(float) * (size_t)(K + 1));
    int64_t nan_row = 7;
    int32_t rc = jnce_topk(s, N, M, K, excluding ? offsets : NULL, excluding ? items - 5 : NULL, got, got_v, &nan_row);
    CHECK(rc == JNCE_OK && nan_row == -1, "N=%lld M=%lld K=%lld status %d nan_row %lld", (long long)N, (long long)M,
          (long long)K, rc, (long long)nan_row);
    for (int64_t i = 0; i < N; i++) {
        reference(s + i * M, excl + i * M, M, K, want, want_v);
        CHECK(memcmp(got + i * K, want, sizeof(int64_t) * (size_t)K) == 0 &&
                  memcmp(got_v + i * K, want_v, sizeof(float) * (size_t)K) == 0,
              "excluding %d N=%lld M=%lld K=%lld row %lld differs", excluding, (long long)N, (long long)M, (long long)K,
              (long long)i);
    }
    free(s); free(offsets); free(items); free(excl); free(got); free(want); free(got_v); free(want_v);
}

static void nan_is_reported(void) {
    float *s = random_floats(3 * 200);
    int64_t idx[3 * 4], nan_row = 0;
    s[2 * 200 + 150] = NAN; /* past the first K columns: found by the fast scan */
    CHECK(jnce_topk(s, 3, 200, 4, NULL, NULL, idx, NULL, &nan_row) == JNCE_OK && nan_row == 2,
          "a late NaN is reported in row 2, got %lld", (long long)nan_row);
    s[1 * 200 + 1] = NAN; /* among the first K */
    CHECK(jnce_topk(s, 3, 200, 4, NULL, NULL, idx, NULL, &nan_row) == JNCE_OK && nan_row == 1,
          "the first NaN row is 1, got %lld", (long long)nan_row);
    int64_t offsets[4] = {0, 0, 1, 2};
    int32_t items[2] = {1, 150}; /* excluded NaNs are not looked at */
    CHECK(jnce_topk(s, 3, 200, 4, offsets, items, idx, NULL, &nan_row) == JNCE_OK && nan_row == -1,
          "excluded NaNs are ignored, got row %lld", (long long)nan_row);
    CHECK(jnce_topk(s, 3, 200, 0, NULL, NULL, NULL, NULL, &nan_row) == JNCE_OK && nan_row == -1, "K = 0 is a no-op");
    CHECK(jnce_topk(NULL, 3, 200, 4, NULL, NULL, idx, NULL, &nan_row) == JNCE_ERR_INVALID_ARG, "null scores fail");
    free(s);
}

int main(void) {
    srand(5);
    int64_t shapes[][3] = {{1, 1, 1}, {1, 2, 1}, {5, 9, 3}, {8, 8, 10}, {17, 64, 10}, {300, 500, 40}, {40, 3000, 100}};
    for (int excluding = 0; excluding < 2; excluding++)
        for (int k = 0; k < 7; k++) topk_case(shapes[k][0], shapes[k][1], shapes[k][2], excluding);
    nan_is_reported();
    return finish("test_topk");
}
