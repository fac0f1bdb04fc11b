/*
 * test_gather_rows.c - checks jnce_gather_rows_fwd (out[r] = src[indices[r]]) and
 * jnce_gather_rows_bwd (dst[indices[r]] += grad[r]) against plain loops in double, with int32
 * and int64 indices, repeated indices, R = 0, and indices out of range (rejected, nothing written).
 */
#include <string.h>

#include "jnce.h"
#include "check.h"

static void gather_case(int64_t M, int64_t D, int64_t R, int32_t dtype) {
    float *src = random_floats(M * D), *out = random_floats(R * D), *grad = random_floats(R * D);
    float *dst = random_floats(M * D);
    int32_t *i32 = malloc(sizeof(int32_t) * (size_t)(R > 0 ? R : 1));
    int64_t *i64 = malloc(sizeof(int64_t) * (size_t)(R > 0 ? R : 1));
    for (int64_t r = 0; r < R; r++) i32[r] = (int32_t)(i64[r] = (r * 7 + r / 3) % M); /* repeats when R > M */
    const void *idx = dtype == JNCE_DTYPE_INT32 ? (const void *)i32 : (const void *)i64;

    CHECK(jnce_gather_rows_fwd(src, M, D, idx, dtype, R, out) == JNCE_OK, "fwd status");
    int same = 1;
    for (int64_t r = 0; r < R; r++) same &= memcmp(out + r * D, src + i64[r] * D, sizeof(float) * (size_t)D) == 0;
    CHECK(same, "M=%lld D=%lld R=%lld dtype %d: gathered rows differ", (long long)M, (long long)D, (long long)R, dtype);

    double *want = malloc(sizeof(double) * (size_t)(M * D));
    float *acc = malloc(sizeof(float) * (size_t)(M * D));
    memcpy(acc, dst, sizeof(float) * (size_t)(M * D));
    for (int64_t r = 0; r < R; r++) /* the same float32 additions in the same order */
        for (int64_t j = 0; j < D; j++) acc[i64[r] * D + j] += grad[r * D + j];
    for (int64_t k = 0; k < M * D; k++) want[k] = acc[k];
    CHECK(jnce_gather_rows_bwd(grad, idx, dtype, R, M, D, dst) == JNCE_OK, "bwd status");
    CHECK(max_error(dst, want, M * D) == 0.0, "M=%lld D=%lld R=%lld dtype %d: scatter-add differs by %g", (long long)M,
          (long long)D, (long long)R, dtype, max_error(dst, want, M * D));
    free(src), free(out), free(grad), free(dst), free(i32), free(i64), free(want), free(acc);
}

static void rejects_indices_out_of_range(void) {
    float src[6] = {1, 2, 3, 4, 5, 6}, out[6] = {0}, dst[6] = {0}, grad[6] = {1, 1, 1, 1, 1, 1};
    int64_t idx[3] = {2, 0, 3};
    int32_t neg[3] = {0, -1, 1};
    char msg[256];
    CHECK(jnce_gather_rows_fwd(src, 3, 2, idx, JNCE_DTYPE_INT64, 3, out) == JNCE_ERR_INVALID_ARG, "index 3 of M=3 must fail");
    jnce_last_error(msg, sizeof msg);
    CHECK(strstr(msg, "indices[2] = 3") && strstr(msg, "[0, 3)"), "message names the index: %s", msg);
    CHECK(out[0] == 0 && out[1] == 0, "nothing written on failure");
    CHECK(jnce_gather_rows_bwd(grad, neg, JNCE_DTYPE_INT32, 3, 3, 2, dst) == JNCE_ERR_INVALID_ARG, "index -1 must fail");
    jnce_last_error(msg, sizeof msg);
    CHECK(strstr(msg, "indices[1] = -1"), "message names the index: %s", msg);
    CHECK(dst[0] == 0 && dst[1] == 0, "nothing added on failure");
    CHECK(jnce_gather_rows_fwd(src, 3, 2, idx, 7, 3, out) == JNCE_ERR_INVALID_ARG, "unknown index type must fail");
}

int main(void) {
    srand(11);
    int64_t shapes[][3] = {{1, 1, 1}, {5, 3, 0}, {9, 4, 30}, {40, 33, 64}, {300, 128, 2000}, {50, 1000, 400}};
    for (int k = 0; k < 6; k++) {
        gather_case(shapes[k][0], shapes[k][1], shapes[k][2], JNCE_DTYPE_INT32);
        gather_case(shapes[k][0], shapes[k][1], shapes[k][2], JNCE_DTYPE_INT64);
    }
    rejects_indices_out_of_range();
    return finish("test_gather_rows");
}
