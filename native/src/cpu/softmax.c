/*
 * softmax.c - softmax, log_softmax and logsumexp over the last dimension, forward and backward
 * (F.softmax, F.log_softmax and torch.logsumexp with dim=-1).
 *
 *   x, y, dy, dx  (N,C) float32, row-major      out, dout  (N) float32
 *
 * Per row, with m = max_j x_j and s = sum_j exp(x_j - m) (one read, online, s in double,
 * from jnce_softmax_row_stats in cross_entropy.c):
 *   softmax      y_j = exp(x_j - m) / s              backward  dx_j = y_j (dy_j - sum_k dy_k y_k)
 *   log_softmax  y_j = x_j - (m + log s)             backward  dx_j = dy_j - exp(y_j) sum_k dy_k
 *   logsumexp    out = m + log s                     backward  dx_j = dout exp(x_j - m) / s
 * Backward passes take what PyTorch's autograd saves: the output for softmax and log_softmax,
 * the input for logsumexp (recomputing m and s is more exact than exp(x - out) near |x| = 1e4).
 *
 * Non-finite rows follow PyTorch 1.13 (see jnce.h). Every output may alias its (N,C) input.
 * Build and check alone: see native/CMakeLists.txt; native/test/test_softmax.c is the check.
 */
#include <math.h>
#include <stddef.h>

#include "internal.h"
#include "simd_exp.h"

typedef enum { SOFTMAX_FWD, LOG_SOFTMAX_FWD, LOGSUMEXP_FWD, SOFTMAX_BWD, LOG_SOFTMAX_BWD, LOGSUMEXP_BWD } softmax_op;

typedef struct {
    softmax_op op;
    const float *a; /* x for forward and logsumexp backward, y otherwise (N,C) */
    const float *b; /* dy (N,C), dout (N) or NULL */
    float *out;     /* (N,C), or (N) for logsumexp forward */
    int64_t C;
} softmax_job;

static void fill(float *row, int64_t C, float v) {
    for (int64_t j = 0; j < C; j++) row[j] = v;
}

static int has_nan(const float *x, int64_t C) {
    for (int64_t j = 0; j < C; j++)
        if (isnan(x[j])) return 1;
    return 0;
}

/* logsumexp of a row whose stats are known, including the non-finite cases. */
static float row_logsumexp(const float *x, int64_t C, jnce_row_stats st) {
    if (st.bad) return has_nan(x, C) ? NAN : INFINITY;
    if (st.sum == 0.0) return -INFINITY;
    return (float)((double)st.max + log(st.sum));
}

/* dx for a row of logsumexp whose stats say +Inf or NaN or only -Inf. */
static void logsumexp_bwd_nonfinite(const float *x, float dout, float *dx, int64_t C, jnce_row_stats st) {
    if (!st.bad || has_nan(x, C)) {
        fill(dx, C, NAN);
        return;
    }
    /* exp(x - inf): NaN at the +Inf entries, 0 elsewhere, as dout * exp(x - out) in PyTorch */
    for (int64_t j = 0; j < C; j++) dx[j] = x[j] == INFINITY ? NAN : dout * 0.0f;
}

static void forward_row(const softmax_job *job, int64_t i) {
    const int64_t C = job->C;
    const float *x = job->a + i * C;
    jnce_row_stats st = jnce_softmax_row_stats(x, C);
    if (job->op == LOGSUMEXP_FWD) {
        job->out[i] = row_logsumexp(x, C, st);
        return;
    }
    float *y = job->out + i * C;
    if (st.bad || st.sum == 0.0) {
        fill(y, C, NAN);
    } else if (job->op == SOFTMAX_FWD) {
        jnce_softmax_row_exp(x, y, C, st.max, (float)(1.0 / st.sum));
    } else {
        double shift = (double)st.max + log(st.sum);
        for (int64_t j = 0; j < C; j++) y[j] = (float)((double)x[j] - shift);
    }
}

/* dx = dy - exp(y) * s for one row of log_softmax output y <= 0, 8 lanes at a time. */
JNCE_TARGET_AVX2 static void log_softmax_bwd_avx2(const float *y, const float *dy, float *dx,
                                                                   int64_t C, float s) {
    const __m256 vs = _mm256_set1_ps(s);
    int64_t j = 0;
    for (; j + 8 <= C; j += 8) {
        __m256 e = exp_nonpos_avx2(_mm256_loadu_ps(y + j));
        _mm256_storeu_ps(dx + j, _mm256_fnmadd_ps(e, vs, _mm256_loadu_ps(dy + j)));
    }
    for (; j < C; j++) dx[j] = dy[j] - expf(y[j]) * s;
}

static void backward_row(const softmax_job *job, int64_t i) {
    const int64_t C = job->C;
    const float *a = job->a + i * C;
    float *dx = job->out + i * C;
    if (job->op == LOGSUMEXP_BWD) {
        float dout = job->b[i];
        jnce_row_stats st = jnce_softmax_row_stats(a, C);
        if (st.bad || st.sum == 0.0) logsumexp_bwd_nonfinite(a, dout, dx, C, st);
        else jnce_softmax_row_exp(a, dx, C, st.max, (float)((double)dout / st.sum));
        return;
    }
    const float *dy = job->b + i * C;
    double s = 0.0;
    if (job->op == SOFTMAX_BWD) {
        for (int64_t j = 0; j < C; j++) s += (double)dy[j] * a[j];
        for (int64_t j = 0; j < C; j++) dx[j] = (float)(a[j] * ((double)dy[j] - s));
    } else {
        float top = -INFINITY;
        int nan = 0;
        for (int64_t j = 0; j < C; j++) {
            s += dy[j];
            nan |= isnan(a[j]);
            top = a[j] > top ? a[j] : top;
        }
        /* A real log_softmax row is <= 0 and NaN-free: the vector exp applies; anything else keeps
         * the exact double path (NaN propagates, large values are not clamped). */
        if (jnce_use_avx2() && !nan && top <= 0.0f && !isnan(s)) log_softmax_bwd_avx2(a, dy, dx, C, (float)s);
        else for (int64_t j = 0; j < C; j++) dx[j] = (float)((double)dy[j] - exp((double)a[j]) * s);
    }
}

static void softmax_rows(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const softmax_job *job = ctx;
    int forward = job->op <= LOGSUMEXP_FWD;
    for (int64_t i = begin; i < end; i++) {
        if (forward) forward_row(job, i);
        else backward_row(job, i);
    }
}

static int32_t run(const char *name, softmax_op op, const float *a, const float *b, int64_t N, int64_t C, float *out) {
    if (a == NULL || out == NULL || (op >= SOFTMAX_BWD && b == NULL))
        return jnce_fail(JNCE_ERR_INVALID_ARG, "%s: input, upstream gradient and output must be non-null", name);
    if (N <= 0 || C <= 0)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "%s: N=%lld and C=%lld must be positive", name, (long long)N,
                         (long long)C);
    softmax_job job = {op, a, b, out, C};
    /* A row is worth a thread switch only when it is long; ~64k values per thread at least. */
    jnce_parallel_for(N, C >= 65536 ? 1 : 65536 / C, softmax_rows, &job);
    return JNCE_OK;
}

int32_t jnce_softmax_fwd(const float *x, int64_t N, int64_t C, float *y) {
    return run("softmax_fwd", SOFTMAX_FWD, x, NULL, N, C, y);
}

int32_t jnce_log_softmax_fwd(const float *x, int64_t N, int64_t C, float *y) {
    return run("log_softmax_fwd", LOG_SOFTMAX_FWD, x, NULL, N, C, y);
}

int32_t jnce_logsumexp_fwd(const float *x, int64_t N, int64_t C, float *out) {
    return run("logsumexp_fwd", LOGSUMEXP_FWD, x, NULL, N, C, out);
}

int32_t jnce_softmax_bwd(const float *y, const float *dy, int64_t N, int64_t C, float *dx) {
    return run("softmax_bwd", SOFTMAX_BWD, y, dy, N, C, dx);
}

int32_t jnce_log_softmax_bwd(const float *y, const float *dy, int64_t N, int64_t C, float *dx) {
    return run("log_softmax_bwd", LOG_SOFTMAX_BWD, y, dy, N, C, dx);
}

int32_t jnce_logsumexp_bwd(const float *x, const float *dout, int64_t N, int64_t C, float *dx) {
    return run("logsumexp_bwd", LOGSUMEXP_BWD, x, dout, N, C, dx);
}
