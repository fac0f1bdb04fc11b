/*
 * test_mining.c - checks jnce_hard_negatives against a plain reference (a full selection by
 * similarity, ties by index) for diagonal, label and mask positives, and its failures and
 * short-row reports.
 */
#include <math.h>
#include <string.h>

#include "jnce.h"
#include "check.h"

/* The K best non-positive keys of row i by repeated selection: O(K M), obviously right. */
static void reference(const float *s, const unsigned char *pos, int64_t M, int64_t K, int64_t *out) {
    unsigned char *taken = calloc((size_t)M, 1);
    for (int64_t k = 0; k < K; k++) {
        int64_t best = -1;
        for (int64_t j = 0; j < M; j++)
            if (!pos[j] && !taken[j] && (best < 0 || s[j] > s[best])) best = j;
        taken[best] = 1;
        out[k] = best;
    }
    free(taken);
}

static void mining_case(int64_t N, int64_t M, int64_t K, int mode) {
    float *sim = random_floats(N * M);
    for (int64_t k = 0; k < N * M; k += 3) sim[k] = roundf(sim[k] * 4) / 4; /* ties */
    int32_t *ql = malloc(sizeof(int32_t) * N);
    int64_t *kl = malloc(sizeof(int64_t) * M), *mask = calloc((size_t)(N * M), sizeof(int64_t));
    unsigned char *pos = calloc((size_t)(N * M), 1);
    for (int64_t i = 0; i < N; i++) ql[i] = (int32_t)(i % 4);
    for (int64_t j = 0; j < M; j++) kl[j] = j % 5;
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < M; j++) {
            if (mode == 0) pos[i * M + j] = i == j;
            if (mode == 1) pos[i * M + j] = ql[i] == kl[j];
            if (mode == 2) mask[i * M + j] = pos[i * M + j] = (rand() % 7 == 0);
        }
    int64_t *got = malloc(sizeof(int64_t) * N * K), *want = malloc(sizeof(int64_t) * K);
    int32_t rc = jnce_hard_negatives(sim, N, M, K, mode == 1 ? ql : NULL, JNCE_DTYPE_INT32, mode == 1 ? kl : NULL,
                                     JNCE_DTYPE_INT64, mode == 2 ? mask : NULL, JNCE_DTYPE_INT64, got, NULL);
    CHECK(rc == JNCE_OK, "mode %d status %d", mode, rc);
    for (int64_t i = 0; i < N; i++) {
        reference(sim + i * M, pos + i * M, M, K, want);
        CHECK(memcmp(got + i * K, want, sizeof(int64_t) * K) == 0, "mode %d N=%lld M=%lld K=%lld row %lld differs", mode,
              (long long)N, (long long)M, (long long)K, (long long)i);
    }
    free(sim); free(ql); free(kl); free(mask); free(pos); free(got); free(want);
}

static void failures_name_the_row(void) {
    float sim[6] = {0.5f, 0.1f, 0.2f, 0.3f, NAN, 0.0f};
    int64_t idx[6];
    char msg[256];
    CHECK(jnce_hard_negatives(sim, 2, 3, 2, NULL, 0, NULL, 0, NULL, 0, idx, NULL) == JNCE_ERR_INVALID_ARG, "NaN must fail");
    jnce_last_error(msg, sizeof msg);
    CHECK(strstr(msg, "row 1") && strstr(msg, "NaN"), "message names the NaN row: %s", msg);
    sim[4] = 0.0f;
    CHECK(jnce_hard_negatives(sim, 2, 3, 3, NULL, 0, NULL, 0, NULL, 0, idx, NULL) == JNCE_ERR_INVALID_ARG, "K > negatives must fail");
    jnce_last_error(msg, sizeof msg);
    CHECK(strstr(msg, "row 0") && strstr(msg, "2 negatives"), "message names the short row: %s", msg);
    CHECK(jnce_hard_negatives(sim, 2, 3, 0, NULL, 0, NULL, 0, NULL, 0, NULL, NULL) == JNCE_OK, "K=0 is a no-op");

    /* a NaN far past the first K keys (the fast scan after the heap is full) */
    float *wide = random_floats(2 * 100);
    int64_t kept[2 * 3];
    wide[100 + 90] = NAN;
    CHECK(jnce_hard_negatives(wide, 2, 100, 3, NULL, 0, NULL, 0, NULL, 0, kept, NULL) == JNCE_ERR_INVALID_ARG, "late NaN must fail");
    jnce_last_error(msg, sizeof msg);
    CHECK(strstr(msg, "row 1") && strstr(msg, "NaN"), "message names the late NaN's row: %s", msg);
    free(wide);
}

/* A row with fewer than K negatives is reported (the first one, with its count), not failed, when asked. */
static void short_rows_are_reported(void) {
    const int64_t N = 6, M = 9, K = 4;
    float *sim = random_floats(N * M);
    int64_t ql[6] = {0, 1, 2, 1, 2, 0}, kl[9] = {0, 1, 2, 2, 2, 2, 2, 1, 0}; /* label 2: 5 keys, 4 negatives */
    int32_t mask[6 * 9] = {0};
    for (int64_t j = 0; j < 7; j++) mask[4 * M + j] = 1, mask[5 * M + j] = j + 1; /* rows 4, 5: 2 negatives */
    int64_t got[6 * 5], want[4], report[2] = {7, 7}, beyond[6 * 11]; /* got: (N,5) for the K = 5 call */
    unsigned char pos[9];
    /* labels: rows 2 and 4 (label 2) have 4 negatives, K = 5 leaves them short; row 0 (label 0) has 7 */
    CHECK(jnce_hard_negatives(sim, N, M, 5, ql, JNCE_DTYPE_INT64, kl, JNCE_DTYPE_INT64, NULL, 0, got, report) == JNCE_OK,
          "a short row with short_row is no failure");
    CHECK(report[0] == 2 && report[1] == 4, "labels: short row %lld with %lld negatives, want row 2 with 4",
          (long long)report[0], (long long)report[1]);
    CHECK(jnce_hard_negatives(sim, N, M, K, NULL, 0, NULL, 0, mask, JNCE_DTYPE_INT32, got, report) == JNCE_OK, "mask status");
    CHECK(report[0] == 4 && report[1] == 2, "mask: short row %lld with %lld negatives, want row 4 with 2",
          (long long)report[0], (long long)report[1]);
    for (int64_t i = 0; i < 4; i++) { /* the rows that have K negatives are mined all the same */
        for (int64_t j = 0; j < M; j++) pos[j] = mask[i * M + j] != 0;
        reference(sim + i * M, pos, M, K, want);
        CHECK(memcmp(got + i * K, want, sizeof want) == 0, "mask row %lld differs beside a short row", (long long)i);
    }
    CHECK(jnce_hard_negatives(sim, N, M, K, NULL, 0, NULL, 0, NULL, 0, got, report) == JNCE_OK, "diagonal status");
    CHECK(report[0] == -1 && report[1] == 0, "no short row: {%lld, %lld}, want {-1, 0}", (long long)report[0],
          (long long)report[1]);
    CHECK(jnce_hard_negatives(sim, N, M, M + 2, NULL, 0, NULL, 0, NULL, 0, beyond, report) == JNCE_OK,
          "K > M status");
    CHECK(report[0] == 0 && report[1] == M - 1, "K > M: short row %lld with %lld negatives, want row 0 with %lld",
          (long long)report[0], (long long)report[1], (long long)(M - 1));
    report[0] = 7;
    CHECK(jnce_hard_negatives(sim, N, M, 0, NULL, 0, NULL, 0, NULL, 0, NULL, report) == JNCE_OK && report[0] == -1,
          "K=0 reports no short row");
    free(sim);
}

/* Each row's positive (the diagonal) is its largest similarity: the fast scan meets it and must pass it over. */
static void positive_above_the_kept(void) {
    const int64_t N = 40, M = 40, K = 5;
    float *sim = random_floats(N * M);
    int64_t got[40 * 5];
    for (int64_t i = 0; i < N; i++) sim[i * M + i] = 10.0f;
    CHECK(jnce_hard_negatives(sim, N, M, K, NULL, 0, NULL, 0, NULL, 0, got, NULL) == JNCE_OK, "status");
    int ok = 1;
    for (int64_t i = 0; i < N; i++)
        for (int64_t k = 0; k < K; k++) {
            ok &= got[i * K + k] != i;
            if (k > 0) ok &= sim[i * M + got[i * K + k]] <= sim[i * M + got[i * K + k - 1]];
        }
    for (int64_t i = 0; i < N; i++) /* the best negative: no other negative beats it */
        for (int64_t j = 0; j < M; j++) ok &= j == i || sim[i * M + j] <= sim[i * M + got[i * K]];
    CHECK(ok, "positives above every negative are never mined, the rest come best first");
    free(sim);
}

int main(void) {
    srand(3);
    int64_t shapes[][3] = {{1, 2, 1}, {5, 9, 3}, {8, 8, 7}, {17, 64, 10}, {300, 500, 40}};
    for (int mode = 0; mode < 3; mode++)
        for (int k = 0; k < 5; k++) {
            int64_t K = shapes[k][2];
            if (mode == 1) K = K * 3 / 5; /* labels mod 5 leave 4/5 of the keys */
            if (mode == 2) K = K / 2;
            if (K > 0) mining_case(shapes[k][0], shapes[k][1], K, mode);
        }
    failures_name_the_row();
    short_rows_are_reported();
    positive_above_the_kept();
    return finish("test_mining");
}
