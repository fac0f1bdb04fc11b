/*
 * similarity.h - row helpers of the similarity family, shared by similarity.c and triplet.c
 * (not part of the API; jnce.h is). Sums are accumulated in double.
 */
#ifndef JNCE_SIMILARITY_H
#define JNCE_SIMILARITY_H

#include <stdint.h>

/* a . b over D floats, in double. */
double jnce_dot_row(const float *a, const float *b, int64_t D);

/* out[t] = jnce_dot_row(a[t], b[t], D) for t < m, the same bits: four pairs side by side where the
 * CPU has AVX-512 (one pair's sums are a chain of D / 16 dependent multiply-adds). */
void jnce_dot_rows(const float *const *a, const float *const *b, int64_t m, int64_t D, double *out);

/* out[t] = jnce_dot_row(a, b[t], D) for t < m, the same bits: one row against m others (a query
 * against its positive and negatives), up to eight sums side by side on AVX-512 with a read once. */
void jnce_dot_query(const float *a, const float *const *b, int64_t m, int64_t D, double *out);

/* Cosine of two rows of D floats with F.cosine_similarity's eps; writes c = max(||x||, eps). */
double jnce_cosine_row(const float *x1, const float *x2, int64_t D, double eps, double *c1, double *c2);

/*
 * Adds u * d(cos)/dx1 to dx1 and u * d(cos)/dx2 to dx2 (either may be NULL), where cos, c1,
 * c2 come from jnce_cosine_row: d(cos)/dx1 = (x2/c2 - cos * x1/c1) / c1.
 */
void jnce_cosine_row_grad_add(const float *x1, const float *x2, int64_t D, double cos, double c1,
                              double c2, double u, float *dx1, float *dx2);

#endif
