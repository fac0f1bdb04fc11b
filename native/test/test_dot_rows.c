/*
 * test_dot_rows.c - the row-dot helpers of similarity.h: jnce_dot_rows (pairs four at a time) and
 * jnce_dot_query (one row against m others, up to eight sums side by side) return exactly
 * jnce_dot_row's bits for every pair, and jnce_dot_row those of the one order every path keeps, at every count of rows (the groups of eight and of four and
 * their remainders) and at lengths with and without a tail past the last 16 columns, on each SIMD
 * path (JNCE_SIMD). The kernels that use them (bpr.c, negatives.c) are checked against float64
 * references in their own tests; this is the exactness those tests rely on. Linked with the
 * library's objects, not libjnce.so (which exports none of similarity.h).
 *
 *   ./test_dot_rows   (returns the number of failed checks != 0)
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "similarity.h"

/* The order every path keeps (similarity.c): element j to partial sum j % 16 in double, then the
 * sums added in one fixed tree. */
static double tree_dot(const float *a, const float *b, int64_t D) {
    double s[16] = {0}, t[8];
    for (int64_t j = 0; j < D; j++) s[j % 16] += (double)a[j] * b[j];
    for (int i = 0; i < 8; i++) t[i] = s[i] + s[i + 8];
    return ((t[0] + t[4]) + (t[2] + t[6])) + ((t[1] + t[5]) + (t[3] + t[7]));
}

/* n floats of magnitudes from 2^-24 to 2^24: sums in double then round, so that any other order of
 * additions shows in the bits (with values of one magnitude every partial sum is exact). */
static float *wide_floats(int64_t n) {
    float *x = random_floats(n);
    for (int64_t k = 0; k < n; k++) x[k] = ldexpf(x[k], rand() % 49 - 24);
    return x;
}

int main(void) {
    srand(11);
    const int64_t lengths[] = {1, 7, 16, 31, 100, 128, 257};
    for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++) {
        const int64_t D = lengths[li];
        for (int64_t m = 1; m <= 21; m++) {
            float *a = wide_floats(D), *rows = wide_floats(m * D);
            const float *b[21], *as[21];
            double got[21], pairs[21];
            for (int64_t t = 0; t < m; t++) {
                b[t] = rows + t * D;
                as[t] = a;
            }
            jnce_dot_query(a, b, m, D, got);
            jnce_dot_rows(as, b, m, D, pairs);
            for (int64_t t = 0; t < m; t++) {
                const double want = jnce_dot_row(a, b[t], D), tree = tree_dot(a, b[t], D);
                CHECK(memcmp(&tree, &want, sizeof want) == 0, "dot_row D=%lld m=%lld row %lld: %.17g, the tree's order %.17g",
                      (long long)D, (long long)m, (long long)t, want, tree);
                CHECK(memcmp(&got[t], &want, sizeof want) == 0, "dot_query D=%lld m=%lld row %lld: %.17g, dot_row %.17g",
                      (long long)D, (long long)m, (long long)t, got[t], want);
                CHECK(memcmp(&pairs[t], &want, sizeof want) == 0, "dot_rows D=%lld m=%lld row %lld: %.17g, dot_row %.17g",
                      (long long)D, (long long)m, (long long)t, pairs[t], want);
            }
            /* a different first row each pair: jnce_dot_rows' general case */
            for (int64_t t = 0; t < m; t++) as[t] = rows + ((t + 1) % m) * D;
            jnce_dot_rows(as, b, m, D, pairs);
            for (int64_t t = 0; t < m; t++) {
                const double want = jnce_dot_row(as[t], b[t], D);
                CHECK(memcmp(&pairs[t], &want, sizeof want) == 0, "dot_rows (mixed) D=%lld m=%lld row %lld", (long long)D,
                      (long long)m, (long long)t);
            }
            free(a);
            free(rows);
        }
    }
    return finish("test_dot_rows");
}
