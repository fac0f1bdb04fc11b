/*
 * similarity.c - L2 normalisation of rows (F.normalize, p=2, dim=-1) and row-wise cosine
 * similarity (F.cosine_similarity, dim=1), forward and backward, PyTorch 1.13 semantics.
 *
 *   x, y, dy, dx   (N,D) float32         normalize: y = x / max(||x||, eps)
 *   x1, x2, dx*    (N,D) float32         cosine:    out = x1/c1 . x2/c2, c = max(||x||, eps)
 *   out, dout      (N)   float32
 *
 * The two clamp differently in their gradients, as PyTorch does: F.normalize's clamp_min cuts
 * the norm's gradient below eps (dx = dy / eps), while cosine_similarity clamps the saved norm
 * in place, so its gradient keeps the norm term with c = eps. Norms and dots are summed in
 * double; rows are spread over threads. The similarity matrix itself is a GEMM (gemm.c).
 * Checked against a double reference by native/test/test_similarity.c.
 */
#include <math.h>
#include <string.h>

#include "internal.h"
#include "similarity.h"

/* max(norm, eps) that keeps a NaN norm, as torch's clamp_min does (fmax would drop it). */
static inline double clamp_norm(double norm, double eps) {
    return isnan(norm) ? norm : fmax(norm, eps);
}

/* Four partial sums: independent chains, and the same order on every path. */
double jnce_dot_row(const float *a, const float *b, int64_t D) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t j = 0;
    for (; j + 4 <= D; j += 4) {
        s0 += (double)a[j] * b[j];
        s1 += (double)a[j + 1] * b[j + 1];
        s2 += (double)a[j + 2] * b[j + 2];
        s3 += (double)a[j + 3] * b[j + 3];
    }
    for (; j < D; j++) s0 += (double)a[j] * b[j];
    return (s0 + s1) + (s2 + s3);
}

double jnce_cosine_row(const float *x1, const float *x2, int64_t D, double eps, double *c1, double *c2) {
    *c1 = clamp_norm(sqrt(jnce_dot_row(x1, x1, D)), eps);
    *c2 = clamp_norm(sqrt(jnce_dot_row(x2, x2, D)), eps);
    return jnce_dot_row(x1, x2, D) / (*c1 * *c2);
}

void jnce_cosine_row_grad_add(const float *x1, const float *x2, int64_t D, double cos, double c1,
                              double c2, double u, float *dx1, float *dx2) {
    double a1 = u / (c1 * c2), b1 = u * cos / (c1 * c1);
    double a2 = u / (c1 * c2), b2 = u * cos / (c2 * c2);
    for (int64_t j = 0; j < D; j++) {
        if (dx1 != NULL) dx1[j] += (float)(a1 * x2[j] - b1 * x1[j]);
        if (dx2 != NULL) dx2[j] += (float)(a2 * x1[j] - b2 * x2[j]);
    }
}

typedef struct {
    const float *x, *x2, *dy;
    float *y, *dx, *dx2;
    int64_t D;
    double eps;
} rows_job;

static int32_t check_rows(const char *op, const void *a, const void *b, int64_t N, int64_t D, float eps) {
    if (a == NULL || b == NULL) return jnce_fail(JNCE_ERR_INVALID_ARG, "%s: null buffer", op);
    if (N <= 0 || D <= 0)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "%s: N=%lld and D=%lld must be positive", op, (long long)N,
                         (long long)D);
    if (!(eps >= 0.0f) || isinf(eps)) return jnce_fail(JNCE_ERR_INVALID_ARG, "%s: eps=%g must be finite and >= 0", op, eps);
    return JNCE_OK;
}

/* Rows per thread: about 32k values each. */
static int64_t rows_per_thread(int64_t D) {
    return D >= 32768 ? 1 : 32768 / D;
}

static void normalize_rows(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const rows_job *job = ctx;
    for (int64_t i = begin; i < end; i++) {
        const float *x = job->x + i * job->D;
        float inv = (float)(1.0 / clamp_norm(sqrt(jnce_dot_row(x, x, job->D)), job->eps));
        float *y = job->y + i * job->D;
        for (int64_t j = 0; j < job->D; j++) y[j] = x[j] * inv;
    }
}

int32_t jnce_l2_normalize_fwd(const float *x, int64_t N, int64_t D, float eps, float *y) {
    int32_t rc = check_rows("l2_normalize_fwd", x, y, N, D, eps);
    if (rc != JNCE_OK) return rc;
    rows_job job = {.x = x, .y = y, .D = D, .eps = eps};
    jnce_parallel_for(N, rows_per_thread(D), normalize_rows, &job);
    return JNCE_OK;
}

static void normalize_bwd_rows(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const rows_job *job = ctx;
    const int64_t D = job->D;
    for (int64_t i = begin; i < end; i++) {
        const float *x = job->x + i * D, *dy = job->dy + i * D;
        float *dx = job->dx + i * D;
        double norm = sqrt(jnce_dot_row(x, x, D));
        if (norm < job->eps) { /* clamp_min passes no gradient to the norm */
            float inv = (float)(1.0 / job->eps);
            for (int64_t j = 0; j < D; j++) dx[j] = dy[j] * inv;
            continue;
        }
        /* dx = dy / n - x (x . dy) / n^3 */
        double a = 1.0 / norm, b = jnce_dot_row(x, dy, D) / (norm * norm * norm);
        for (int64_t j = 0; j < D; j++) dx[j] = (float)(a * dy[j] - b * x[j]);
    }
}

int32_t jnce_l2_normalize_bwd(const float *x, const float *dy, int64_t N, int64_t D, float eps, float *dx) {
    int32_t rc = check_rows("l2_normalize_bwd", x, dy, N, D, eps);
    if (rc == JNCE_OK && dx == NULL) rc = jnce_fail(JNCE_ERR_INVALID_ARG, "l2_normalize_bwd: null dx");
    if (rc != JNCE_OK) return rc;
    rows_job job = {.x = x, .dy = dy, .dx = dx, .D = D, .eps = eps};
    jnce_parallel_for(N, rows_per_thread(D), normalize_bwd_rows, &job);
    return JNCE_OK;
}

static void cosine_rows(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const rows_job *job = ctx;
    double c1, c2;
    for (int64_t i = begin; i < end; i++)
        job->y[i] = (float)jnce_cosine_row(job->x + i * job->D, job->x2 + i * job->D, job->D, job->eps, &c1, &c2);
}

int32_t jnce_cosine_similarity_fwd(const float *x1, const float *x2, int64_t N, int64_t D, float eps, float *out) {
    int32_t rc = check_rows("cosine_similarity_fwd", x1, x2, N, D, eps);
    if (rc == JNCE_OK && out == NULL) rc = jnce_fail(JNCE_ERR_INVALID_ARG, "cosine_similarity_fwd: null out");
    if (rc != JNCE_OK) return rc;
    rows_job job = {.x = x1, .x2 = x2, .y = out, .D = D, .eps = eps};
    jnce_parallel_for(N, rows_per_thread(D), cosine_rows, &job);
    return JNCE_OK;
}

static void cosine_bwd_rows(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const rows_job *job = ctx;
    const int64_t D = job->D;
    double c1, c2;
    for (int64_t i = begin; i < end; i++) {
        const float *x1 = job->x + i * D, *x2 = job->x2 + i * D;
        float *dx1 = job->dx == NULL ? NULL : job->dx + i * D;
        float *dx2 = job->dx2 == NULL ? NULL : job->dx2 + i * D;
        if (dx1 != NULL) memset(dx1, 0, (size_t)D * sizeof(float));
        if (dx2 != NULL) memset(dx2, 0, (size_t)D * sizeof(float));
        double cos = jnce_cosine_row(x1, x2, D, job->eps, &c1, &c2);
        jnce_cosine_row_grad_add(x1, x2, D, cos, c1, c2, job->dy[i], dx1, dx2);
    }
}

int32_t jnce_cosine_similarity_bwd(const float *x1, const float *x2, const float *dout, int64_t N, int64_t D,
                                   float eps, float *dx1, float *dx2) {
    int32_t rc = check_rows("cosine_similarity_bwd", x1, x2, N, D, eps);
    if (rc == JNCE_OK && dout == NULL) rc = jnce_fail(JNCE_ERR_INVALID_ARG, "cosine_similarity_bwd: null dout");
    if (rc != JNCE_OK) return rc;
    rows_job job = {.x = x1, .x2 = x2, .dy = dout, .dx = dx1, .dx2 = dx2, .D = D, .eps = eps};
    jnce_parallel_for(N, rows_per_thread(D), cosine_bwd_rows, &job);
    return JNCE_OK;
}
