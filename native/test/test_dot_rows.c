/*
 * test_dot_rows.c - the row-dot helpers of similarity.h: jnce_dot_rows (pairs four at a time) and
 * jnce_dot_query (one row against m others, up to eight sums side by side) return exactly
 * jnce_dot_row's bits for every pair, at every count of rows (the groups of eight and of four and
 * their remainders) and at lengths with and without a tail past the last 16 columns, on each SIMD
 * path (JNCE_SIMD). The kernels that use them (bpr.c, negatives.c) are checked against float64
 * references in their own tests; this is the exactness those tests rely on. Linked with the
 * library's objects, not libjnce.so (which exports none of similarity.h).
 *
 *   ./test_dot_rows   (returns the number of failed checks != 0)
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "similarity.h"

int main(void) {
    srand(11);
    const int64_t lengths[] = {1, 7, 16, 31, 100, 128, 257};
    for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++) {
        const int64_t D = lengths[li];
        for (int64_t m = 1; m <= 21; m++) {
            float *a = random_floats(D), *rows = random_floats(m * D);
            const float *b[21], *as[21];
            double got[21], pairs[21];
            for (int64_t t = 0; t < m; t++) {
                b[t] = rows + t * D;
                as[t] = a;
            }
            jnce_dot_query(a, b, m, D, got);
            jnce_dot_rows(as, b, m, D, pairs);
            for (int64_t t = 0; t < m; t++) {
                const double want = jnce_dot_row(a, b[t], D);
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
