/*
 * test_blas1.c - checks jnce_dsdot, jnce_sscal, jnce_saxpy, jnce_scopy and jnce_sfill against
 * plain double loops: lengths 0, 1, around the 32768-value slices and over several of them
 * (spread over threads), the dot product's independence of the thread count, NaN kept by a scale
 * of 0, and the argument errors.
 */
#include <math.h>
#include <string.h>

#include "jnce.h"
#include "check.h"

static void length_case(int64_t n) {
    float *x = random_floats(n), *y = random_floats(n), *z = random_floats(n);
    double want = 0.0, dot = -1.0;
    for (int64_t i = 0; i < n; i++) want += (double)x[i] * y[i];
    CHECK(jnce_dsdot(x, y, n, &dot) == JNCE_OK, "dsdot status n=%lld", (long long)n);
    CHECK(fabs(dot - want) <= 1e-12 * fmax(1.0, (double)n), "dsdot n=%lld: %.17g, want %.17g", (long long)n, dot, want);

    double *w = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    for (int64_t i = 0; i < n; i++) w[i] = (double)z[i] + -0.75 * (double)x[i];
    CHECK(jnce_saxpy(n, -0.75f, x, z) == JNCE_OK, "saxpy status");
    CHECK(max_error(z, w, n) <= 1e-6, "saxpy n=%lld error %g", (long long)n, max_error(z, w, n));

    for (int64_t i = 0; i < n; i++) w[i] = (float)(3.5 * (double)y[i]); /* one rounding, as a float product */
    CHECK(jnce_sscal(n, 3.5f, y) == JNCE_OK, "sscal status");
    CHECK(max_error(y, w, n) <= 0.0, "sscal n=%lld error %g", (long long)n, max_error(y, w, n));

    CHECK(jnce_scopy(n, x, z) == JNCE_OK, "scopy status");
    CHECK(n == 0 || memcmp(x, z, sizeof(float) * (size_t)n) == 0, "scopy n=%lld: copies differ", (long long)n);

    CHECK(jnce_sfill(n, -2.25f, z) == JNCE_OK, "sfill status");
    for (int64_t i = 0; i < n; i++) CHECK(z[i] == -2.25f, "sfill n=%lld at %lld: %g", (long long)n, (long long)i, z[i]);
    free(x), free(y), free(z), free(w);
}

static void threads_case(void) {
    const int64_t n = 5 * 32768 + 17;
    float *x = random_floats(n), *y = random_floats(n);
    double one, many;
    jnce_set_num_threads(1);
    CHECK(jnce_dsdot(x, y, n, &one) == JNCE_OK, "dsdot on one thread");
    jnce_set_num_threads(4);
    CHECK(jnce_dsdot(x, y, n, &many) == JNCE_OK, "dsdot on four threads");
    CHECK(one == many, "dsdot depends on the thread count: %.17g vs %.17g", one, many);
    free(x), free(y);
}

static void special_values(void) {
    float x[3] = {NAN, 1.0f, INFINITY};
    CHECK(jnce_sscal(3, 0.0f, x) == JNCE_OK && isnan(x[0]) && x[1] == 0.0f && isnan(x[2]), "a scale of 0 keeps NaN, 0 * Inf is NaN");
    float a[2] = {1.0f, NAN}, b[2] = {2.0f, 3.0f};
    double dot;
    CHECK(jnce_dsdot(a, b, 2, &dot) == JNCE_OK && isnan(dot), "dsdot with a NaN is NaN");
}

static void errors(void) {
    float x[2] = {0};
    double out = 5.0;
    CHECK(jnce_dsdot(NULL, x, 2, &out) == JNCE_ERR_INVALID_ARG, "dsdot null x");
    CHECK(jnce_dsdot(x, x, -1, &out) == JNCE_ERR_INVALID_ARG, "dsdot n < 0");
    CHECK(jnce_dsdot(x, x, 2, NULL) == JNCE_ERR_INVALID_ARG, "dsdot null out");
    CHECK(jnce_dsdot(NULL, NULL, 0, &out) == JNCE_OK && out == 0.0, "dsdot of nothing is 0");
    CHECK(jnce_sscal(2, 1.0f, NULL) == JNCE_ERR_INVALID_ARG, "sscal null x");
    CHECK(jnce_saxpy(2, 1.0f, x, NULL) == JNCE_ERR_INVALID_ARG, "saxpy null y");
    CHECK(jnce_scopy(-3, x, x) == JNCE_ERR_INVALID_ARG, "scopy n < 0");
    CHECK(jnce_sfill(1, 1.0f, NULL) == JNCE_ERR_INVALID_ARG, "sfill null x");
}

/*
 * The order jnce_dot_row promises on every path (AVX-512, AVX2, scalar: the ctest runs):
 * element j into partial sum j % 16, the 16 sums added in a fixed tree. One slice of dsdot is one
 * such row, so its double result must equal this one bit for bit. The values span eight decades,
 * so that another order gives other bits.
 */
static double dot16(const float *x, const float *y, int64_t n) {
    double s[16] = {0}, t[8];
    for (int64_t j = 0; j < n; j++) s[j % 16] += (double)x[j] * y[j];
    for (int i = 0; i < 8; i++) t[i] = s[i] + s[i + 8];
    return ((t[0] + t[4]) + (t[2] + t[6])) + ((t[1] + t[5]) + (t[3] + t[7]));
}

static void order_case(int64_t n) {
    float *x = random_floats(n), *y = random_floats(n);
    for (int64_t i = 0; i < n; i++) x[i] *= powf(10.0f, (float)(i % 9) - 4.0f);
    double got = NAN, sequential = 0;
    CHECK(jnce_dsdot(x, y, n, &got) == JNCE_OK, "dsdot order n=%lld status", (long long)n);
    CHECK(got == dot16(x, y, n), "dsdot n=%lld: %.17g, the 16-lane order gives %.17g", (long long)n, got, dot16(x, y, n));
    for (int64_t i = 0; i < n; i++) sequential += (double)x[i] * y[i];
    if (n == 32768) CHECK(sequential != got, "the order case's data should tell orders apart");
    free(x); free(y);
}

int main(void) {
    srand(5);
    const int64_t orders[] = {1, 15, 16, 17, 128, 131, 768, 32768};
    for (size_t k = 0; k < sizeof(orders) / sizeof(orders[0]); k++) order_case(orders[k]);
    const int64_t lengths[] = {0, 1, 7, 32767, 32768, 32769, 4 * 32768 + 3, 1000003};
    for (size_t k = 0; k < sizeof(lengths) / sizeof(lengths[0]); k++) length_case(lengths[k]);
    threads_case();
    special_values();
    errors();
    return finish("test_blas1");
}
