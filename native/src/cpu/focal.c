/*
 * focal.c - focal losses, forward and backward.
 *
 * Sigmoid focal loss (torchvision.ops.sigmoid_focal_loss), element-wise over any shape:
 *   input, target (numel) float32     loss (numel) or (1)     grad_input, grad_target (numel) or NULL
 *   (grad_input may alias input and grad_target target: binary_cross_entropy.c's element-wise driver)
 *   p = sigmoid(x), q = 1 - p = sigmoid(-x), m = 1 - p_t = p(1-y) + q y, ce = BCE-with-logits(x, y)
 *   loss = a ce m^g,   a = alpha y + (1-alpha)(1-y) (1 when alpha < 0)
 *   d/dx = a ((p - y) m^g + T (1-2y) p q)      d/dy = a' ce m^g + a (-x m^g + T (q - p))
 *   with T = g ce m^(g-1), evaluated as g (ce/m) m^g: ce/m -> 1 where m -> 0, so no 0 * Inf.
 *
 * Softmax focal loss, one row per sample:
 *   logits (N,C) float32   targets (N) int32|int64   alpha (C) or NULL   loss (N) or (1)   grad (N,C) or NULL
 *   (grad may alias logits: a row is read before its gradient is written)
 *   p = softmax(x_i), t = target, m = 1 - p_t = sum_{j != t} p_j (summed apart: no 1 - p_t cancellation)
 *   loss_i = -alpha_t m^g log p_t
 *   d loss_i / d x_j = alpha_t (p_j - [j == t]) F,   F = m^g (1 - g p_t log(p_t) / m)
 *   where log(p_t)/m -> -1 as m -> 0, so F stays finite for every g >= 0 (also g < 1).
 * Rows are computed in double (max pass, exp pass, gradient pass) and spread over the pool; with
 * AVX2 the row's exponentials run on 8 float lanes and the rest in double (focal_row_avx2). The
 * sigmoid focal loss runs on 16 lanes where the CPU has AVX-512, the same operations as on 8; the
 * softmax focal rows there take one exponential an element (focal_row_avx512).
 * A row holding NaN or +Inf is NaN; -Inf entries have probability 0; a -Inf target is +Inf.
 */
#include <math.h>
#include <stdlib.h>

#include "binary_cross_entropy.h"
#include "internal.h"
#include "simd_exp.h"

typedef struct {
    double alpha, gamma;
} sigmoid_focal_params;

/* m^g. The usual gammas 0, 1 and 2 by multiplication (pow() is about as slow as the rest of an
 * element's formulas together): m * m is the correctly rounded square, 1 for g = 0 as pow gives. */
static inline double focal_pow(double m, double g) {
    if (g == 2.0) return m * m;
    if (g == 1.0) return m;
    if (g == 0.0) return 1.0;
    return pow(m, g);
}

/* m^g * ratio where ratio = ce/m, with the limit 1 at m = 0 (ce vanishes as fast as m). */
static double focal_term(double g, double ce, double m, double mg) {
    if (g == 0.0) return 0.0;
    return g * (m > 0.0 ? ce / m : 1.0) * mg;
}

static jnce_binary_terms sigmoid_focal_terms(const void *params, int64_t k, double x, double y) {
    (void)k;
    const sigmoid_focal_params *fp = params;
    jnce_binary_terms ce = jnce_bce_logits_terms(x, y, 1.0);
    double p = jnce_sigmoid(x), q = jnce_sigmoid(-x);
    double m = p * (1.0 - y) + q * y;
    double mg = focal_pow(m, fp->gamma);
    double a = 1.0, da = 0.0;
    if (fp->alpha >= 0) {
        a = fp->alpha * y + (1.0 - fp->alpha) * (1.0 - y);
        da = 2.0 * fp->alpha - 1.0;
    }
    double t = focal_term(fp->gamma, ce.loss, m, mg);
    jnce_binary_terms out = {a * ce.loss * mg, a * (ce.d_input * mg + t * (1.0 - 2.0 * y) * p * q),
                             da * ce.loss * mg + a * (ce.d_target * mg + t * (q - p))};
    return out;
}

/*
 * sigmoid_focal's vector block: sigmoid_focal_terms on 8 float lanes (jnce_bce_logits8 for the
 * BCE terms and both sigmoids), the tail through the scalar block. m^g by multiplication for
 * g = 0, 1, 2, else exp(g log m). The two parts of d/dy, -x m^g and T (q - p), have the same sign,
 * and so have those of d/dx for hard targets.
 */
JNCE_TARGET_AVX2 static double sigmoid_focal_block_avx2(const jnce_binary_job *j, int64_t from, int64_t to) {
    const sigmoid_focal_params *fp = j->params;
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps(), g = _mm256_set1_ps((float)fp->gamma);
    const int with_alpha = fp->alpha >= 0;
    const __m256 alpha = _mm256_set1_ps((float)fp->alpha), alpha_neg = _mm256_set1_ps((float)(1.0 - fp->alpha));
    const __m256 da = _mm256_set1_ps(with_alpha ? (float)(2.0 * fp->alpha - 1.0) : 0.0f);
    __m256d sum = _mm256_setzero_pd();
    int64_t k = from;
    for (; k + 8 <= to; k += 8) {
        __m256 x = _mm256_loadu_ps(j->input + k), y = _mm256_loadu_ps(j->target + k), y_neg = _mm256_sub_ps(one, y);
        jnce_bce8 ce = jnce_bce_logits8(x, y, one);
        __m256 m = _mm256_fmadd_ps(ce.q, y, _mm256_mul_ps(ce.p, y_neg));
        __m256 mg, t;
        if (fp->gamma == 2.0) mg = _mm256_mul_ps(m, m);
        else if (fp->gamma == 1.0) mg = m;
        else if (fp->gamma == 0.0) mg = one;
        else mg = exp_nonpos_avx2(_mm256_mul_ps(g, log_avx2(m)));
        if (fp->gamma == 0.0) {
            t = zero;
        } else if (fp->gamma == 2.0) { /* g (ce/m) m^2 = 2 ce m, no division (0 at m = 0 either way) */
            t = _mm256_mul_ps(_mm256_mul_ps(g, ce.loss), m);
        } else { /* g (ce/m) m^g, with ce/m -> 1 at m = 0 */
            __m256 ratio = _mm256_blendv_ps(one, _mm256_div_ps(ce.loss, m), _mm256_cmp_ps(m, zero, _CMP_GT_OQ));
            t = _mm256_mul_ps(_mm256_mul_ps(g, ratio), mg);
        }
        __m256 a = with_alpha ? _mm256_fmadd_ps(alpha, y, _mm256_mul_ps(alpha_neg, y_neg)) : one;
        __m256 ce_mg = _mm256_mul_ps(ce.loss, mg);
        __m256 dx = _mm256_fmadd_ps(_mm256_mul_ps(t, _mm256_sub_ps(y_neg, y)), _mm256_mul_ps(ce.p, ce.q),
                                    _mm256_mul_ps(ce.dx, mg));
        __m256 dy = _mm256_fmadd_ps(t, _mm256_sub_ps(ce.q, ce.p), _mm256_mul_ps(ce.dy, mg));
        dy = _mm256_fmadd_ps(da, ce_mg, _mm256_mul_ps(a, dy));
        __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
        jnce_binary_put8(j, k, one, _mm256_or_ps(_mm256_mul_ps(a, ce_mg), nan), _mm256_or_ps(_mm256_mul_ps(a, dx), nan),
                         _mm256_or_ps(dy, nan), &sum);
    }
    return jnce_binary_finish(j, sum, k, to);
}

#ifdef JNCE_HAVE_AVX512
/* sigmoid_focal_block_avx2 on 16 lanes (AVX-512F): the same operations; the last < 16 elements through it. */
JNCE_TARGET_AVX512 static double sigmoid_focal_block_avx512(const jnce_binary_job *job, int64_t from, int64_t to) {
    const jnce_binary_job local = *job, *j = &local; /* in registers: the stores cannot alias it */
    const sigmoid_focal_params params = *(const sigmoid_focal_params *)j->params, *fp = &params; /* as j */
    const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps(), g = _mm512_set1_ps((float)fp->gamma);
    const __m512 ones = all_ones_avx512();
    const int with_alpha = fp->alpha >= 0;
    const __m512 alpha = _mm512_set1_ps((float)fp->alpha), alpha_neg = _mm512_set1_ps((float)(1.0 - fp->alpha));
    const __m512 da = _mm512_set1_ps(with_alpha ? (float)(2.0 * fp->alpha - 1.0) : 0.0f);
    __m512d sum = _mm512_setzero_pd();
    int64_t k = from;
    for (; k + 16 <= to; k += 16) {
        __m512 x = _mm512_loadu_ps(j->input + k), y = _mm512_loadu_ps(j->target + k), y_neg = _mm512_sub_ps(one, y);
        jnce_bce16 ce = jnce_bce_logits16(x, y, one);
        __m512 m = _mm512_fmadd_ps(ce.q, y, _mm512_mul_ps(ce.p, y_neg));
        __m512 mg, t;
        if (fp->gamma == 2.0) mg = _mm512_mul_ps(m, m);
        else if (fp->gamma == 1.0) mg = m;
        else if (fp->gamma == 0.0) mg = one;
        else mg = exp_nonpos_avx512(_mm512_mul_ps(g, log_avx512(m)));
        if (fp->gamma == 0.0) {
            t = zero;
        } else if (fp->gamma == 2.0) { /* g (ce/m) m^2 = 2 ce m, no division (0 at m = 0 either way) */
            t = _mm512_mul_ps(_mm512_mul_ps(g, ce.loss), m);
        } else { /* g (ce/m) m^g, with ce/m -> 1 at m = 0 */
            __m512 ratio = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(m, zero, _CMP_GT_OQ), one, _mm512_div_ps(ce.loss, m));
            t = _mm512_mul_ps(_mm512_mul_ps(g, ratio), mg);
        }
        __m512 a = with_alpha ? _mm512_fmadd_ps(alpha, y, _mm512_mul_ps(alpha_neg, y_neg)) : one;
        __m512 ce_mg = _mm512_mul_ps(ce.loss, mg);
        __m512 dx = _mm512_fmadd_ps(_mm512_mul_ps(t, _mm512_sub_ps(y_neg, y)), _mm512_mul_ps(ce.p, ce.q),
                                    _mm512_mul_ps(ce.dx, mg));
        __m512 dy = _mm512_fmadd_ps(t, _mm512_sub_ps(ce.q, ce.p), _mm512_mul_ps(ce.dy, mg));
        dy = _mm512_fmadd_ps(da, ce_mg, _mm512_mul_ps(a, dy));
        __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
        jnce_binary_put16(j, k, one, _mm512_mask_mov_ps(_mm512_mul_ps(a, ce_mg), nan, ones),
                          _mm512_mask_mov_ps(_mm512_mul_ps(a, dx), nan, ones), _mm512_mask_mov_ps(dy, nan, ones), &sum);
    }
    return _mm512_reduce_add_pd(sum) + sigmoid_focal_block_avx2(j, k, to);
}
#endif

static jnce_binary_block_fn sigmoid_focal_block(void) {
#ifdef JNCE_HAVE_AVX512
    if (jnce_use_avx512()) return sigmoid_focal_block_avx512;
#endif
    return jnce_use_avx2() ? sigmoid_focal_block_avx2 : jnce_binary_scalar_block;
}

int32_t jnce_sigmoid_focal_fwd_bwd(const float *input, const float *target, int64_t numel, float alpha,
                                   float gamma, int32_t reduction, float *loss, float *grad_input,
                                   float *grad_target) {
    if (!(gamma >= 0.0f) || isinf(gamma) || isnan(alpha))
        return jnce_fail(JNCE_ERR_INVALID_ARG, "sigmoid_focal: gamma=%g must be finite and >= 0, alpha=%g a number",
                         gamma, alpha);
    sigmoid_focal_params params = {alpha, gamma};
    return jnce_binary_run_blocks("sigmoid_focal", input, target, numel, NULL, 0, sigmoid_focal_terms, &params,
                                  sigmoid_focal_block(), reduction, loss, grad_input, grad_target);
}

typedef struct {
    const float *logits;
    const void *targets;
    int32_t target_dtype;
    int64_t C;
    const float *alpha;
    double gamma, scale;
    double *row_loss; /* (N) */
    float *grad;      /* (N,C) or NULL */
} focal_job;

static int64_t focal_target(const focal_job *job, int64_t i) {
    return jnce_target_at(job->targets, job->target_dtype, i);
}

/*
 * A row's loss from e_t = exp(x_t - max), the others' sum of exp(x_j - max) and d_t = x_t - max;
 * *f = the gradient factor, so that d loss_i / d x_j = f (p_j - [j == t]).
 */
static double focal_loss(const focal_job *job, int64_t t, double e_t, double others, double d_t, double *f) {
    double s = e_t + others, p_t = e_t / s, m = others / s;
    /* log p_t: from the small side of the ratio, so neither p_t -> 1 nor e_t -> 0 loses digits. */
    double log_p = p_t > 0.5 ? -log1p(others / e_t) : d_t - log(s);
    double a = job->alpha != NULL ? job->alpha[t] : 1.0;
    double mg = focal_pow(m, job->gamma);
    double ratio = m > 0.0 ? log_p / m : -1.0;
    double pt_ratio = p_t > 0.0 ? p_t * ratio : 0.0; /* p_t log p_t -> 0 where p_t = 0 */
    *f = job->scale * a * mg * (1.0 - job->gamma * pt_ratio);
    return -a * mg * log_p;
}

/* Loss of one row; writes its gradient row (scaled) when g is non-null. x and g may alias. */
static double focal_row(const focal_job *job, const float *x, int64_t t, float *g) {
    const int64_t C = job->C;
    double max = -INFINITY;
    int bad = 0;
    for (int64_t j = 0; j < C; j++) {
        if (isnan(x[j]) || x[j] == INFINITY) bad = 1;
        else if (x[j] > max) max = x[j];
    }
    if (bad || max == -INFINITY) {
        if (g != NULL)
            for (int64_t j = 0; j < C; j++) g[j] = NAN;
        return NAN;
    }
    double e_t = exp((double)x[t] - max), others = 0.0;
    for (int64_t j = 0; j < C; j++)
        if (j != t) others += exp((double)x[j] - max);
    double s = e_t + others, f;
    double loss = focal_loss(job, t, e_t, others, (double)x[t] - max, &f);
    if (g != NULL) {
        double x_t = x[t]; /* read before g may overwrite x */
        for (int64_t j = 0; j < C; j++) g[j] = (float)(f * exp((double)x[j] - max) / s);
        g[t] = (float)(f * (exp(x_t - max) / s - 1.0));
    }
    return loss;
}

/*
 * focal_row with the row's exponentials on 8 float lanes (simd_exp.h, about 2 ulp each): the
 * maximum and NaN/+Inf check through jnce_softmax_row_stats, the sum of the others' exps in
 * double with the target's lane zeroed (not subtracted: m = others/s keeps its digits as p_t -> 1),
 * the gradient exp(x_j - max) f/s on lanes, the target's entry and the loss in double.
 */
JNCE_TARGET_AVX2 static double focal_row_avx2(const focal_job *job, const float *x, int64_t t, float *g) {
    const int64_t C = job->C;
    jnce_row_stats st = jnce_softmax_row_stats(x, C);
    if (st.bad || st.sum == 0.0) {
        if (g != NULL)
            for (int64_t j = 0; j < C; j++) g[j] = NAN;
        return NAN;
    }
    const float max = st.max;
    const __m256 vmax = _mm256_set1_ps(max);
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    int64_t j = 0;
    for (; j + 8 <= C; j += 8) {
        __m256 e = exp_nonpos_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + j), vmax));
        if (t >= j && t < j + 8) {
            float lanes[8];
            _mm256_storeu_ps(lanes, e);
            lanes[t - j] = 0.0f;
            e = _mm256_loadu_ps(lanes);
        }
        lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    double parts[4];
    _mm256_storeu_pd(parts, _mm256_add_pd(lo, hi));
    double others = (parts[0] + parts[1]) + (parts[2] + parts[3]);
    for (; j < C; j++)
        if (j != t) others += exp((double)x[j] - max);
    double x_t = x[t]; /* read before g may overwrite x */
    double e_t = exp(x_t - max), s = e_t + others, f;
    double loss = focal_loss(job, t, e_t, others, x_t - max, &f);
    if (g != NULL) {
        const __m256 k = _mm256_set1_ps((float)(f / s));
        for (j = 0; j + 8 <= C; j += 8)
            _mm256_storeu_ps(g + j, _mm256_mul_ps(exp_nonpos_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + j), vmax)), k));
        for (; j < C; j++) g[j] = (float)(f * exp((double)x[j] - max) / s);
        g[t] = (float)(f * (e_t / s - 1.0));
    }
    return loss;
}

#ifdef JNCE_HAVE_AVX512
/*
 * focal_row_avx2 on 16 lanes, with one exponential an element where that takes three: a pass for
 * the maximum and the NaN/+Inf check alone (no exp), a pass that sums the others' exp(x_j - max)
 * in double and keeps each exp in the gradient row, and a pass that scales them by f/s. The
 * exponentials are the 8-lane ones' (the same polynomial); the target's entry and the loss are
 * in double as there. A partial last vector goes by masked loads and stores (-inf outside).
 */
JNCE_TARGET_AVX512 static double focal_row_avx512(const focal_job *job, const float *x, int64_t t, float *g) {
    const int64_t C = job->C;
    const __m512 ninf = _mm512_set1_ps(-INFINITY), pinf = _mm512_set1_ps(INFINITY);
    __m512 vmax = ninf;
    __mmask16 bad = 0;
    for (int64_t j = 0; j < C; j += 16) {
        const __mmask16 in = C - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (C - j)) - 1u);
        __m512 v = _mm512_mask_loadu_ps(ninf, in, x + j);
        bad |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(v, pinf, _CMP_EQ_OQ);
        vmax = _mm512_max_ps(vmax, v);
    }
    const float max = _mm512_reduce_max_ps(vmax);
    if (bad || max == -INFINITY) {
        if (g != NULL)
            for (int64_t j = 0; j < C; j++) g[j] = NAN;
        return NAN;
    }
    const double x_t = x[t]; /* read before g may overwrite x */
    const __m512 vm = _mm512_set1_ps(max);
    __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
    for (int64_t j = 0; j < C; j += 16) {
        const __mmask16 in = C - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (C - j)) - 1u);
        __m512 e = exp_nonpos_avx512(_mm512_sub_ps(_mm512_mask_loadu_ps(ninf, in, x + j), vm));
        if (g != NULL) _mm512_mask_storeu_ps(g + j, in, e);
        if (t >= j && t < j + 16) e = _mm512_mask_mov_ps(e, (__mmask16)(1u << (t - j)), _mm512_setzero_ps());
        lo = _mm512_add_pd(lo, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        hi = _mm512_add_pd(hi, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    }
    const double others = _mm512_reduce_add_pd(_mm512_add_pd(lo, hi));
    double e_t = exp(x_t - max), s = e_t + others, f;
    double loss = focal_loss(job, t, e_t, others, x_t - max, &f);
    if (g != NULL) {
        const __m512 k = _mm512_set1_ps((float)(f / s));
        for (int64_t j = 0; j < C; j += 16) {
            const __mmask16 in = C - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (C - j)) - 1u);
            _mm512_mask_storeu_ps(g + j, in, _mm512_mul_ps(_mm512_maskz_loadu_ps(in, g + j), k));
        }
        g[t] = (float)(f * (e_t / s - 1.0));
    }
    return loss;
}
#endif

static void focal_rows(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const focal_job *job = ctx;
    for (int64_t i = begin; i < end; i++) {
        const float *x = job->logits + i * job->C;
        float *g = job->grad != NULL ? job->grad + i * job->C : NULL;
#ifdef JNCE_HAVE_AVX512
        if (jnce_use_avx512()) {
            job->row_loss[i] = focal_row_avx512(job, x, focal_target(job, i), g);
            continue;
        }
#endif
        job->row_loss[i] = jnce_use_avx2() ? focal_row_avx2(job, x, focal_target(job, i), g)
                                           : focal_row(job, x, focal_target(job, i), g);
    }
}

int32_t jnce_softmax_focal_fwd_bwd(const float *logits, const void *targets, int32_t target_dtype, int64_t N,
                                   int64_t C, const float *alpha, float gamma, int32_t reduction, float *loss,
                                   float *grad) {
    if (logits == NULL || targets == NULL || loss == NULL)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "softmax_focal: logits, targets and loss must be non-null");
    if (N <= 0 || C <= 0)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "softmax_focal: N=%lld and C=%lld must be positive",
                         (long long)N, (long long)C);
    if (target_dtype != JNCE_DTYPE_INT32 && target_dtype != JNCE_DTYPE_INT64)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "softmax_focal: target_dtype %d is not int32 or int64", target_dtype);
    if (reduction < JNCE_REDUCTION_NONE || reduction > JNCE_REDUCTION_SUM)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "softmax_focal: unknown reduction %d", reduction);
    if (!(gamma >= 0.0f) || isinf(gamma))
        return jnce_fail(JNCE_ERR_INVALID_ARG, "softmax_focal: gamma=%g must be finite and >= 0", gamma);

    focal_job job = {logits, targets, target_dtype, C, alpha, gamma,
                     reduction == JNCE_REDUCTION_MEAN ? 1.0 / (double)N : 1.0, NULL, grad};
    for (int64_t i = 0; i < N; i++) {
        int64_t t = focal_target(&job, i);
        if (t < 0 || t >= C)
            return jnce_fail(JNCE_ERR_INVALID_ARG, "softmax_focal: targets[%lld]=%lld is outside [0,%lld)",
                             (long long)i, (long long)t, (long long)C);
    }
    job.row_loss = malloc((size_t)N * sizeof(double));
    if (job.row_loss == NULL)
        return jnce_fail(JNCE_ERR_OUT_OF_MEMORY, "softmax_focal: no memory for %lld losses", (long long)N);
    int64_t rows_per_thread = C >= 16384 ? 1 : 16384 / C;
    jnce_parallel_for(N, rows_per_thread, focal_rows, &job);

    double total = 0.0;
    for (int64_t i = 0; i < N; i++) {
        if (reduction == JNCE_REDUCTION_NONE) loss[i] = (float)job.row_loss[i];
        else total += job.row_loss[i];
    }
    if (reduction != JNCE_REDUCTION_NONE) loss[0] = (float)(reduction == JNCE_REDUCTION_MEAN ? total / (double)N : total);
    free(job.row_loss);
    return JNCE_OK;
}
