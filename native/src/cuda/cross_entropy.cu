/*
 * cross_entropy.cu - fused softmax cross-entropy forward and backward on the GPU, with the
 * meaning jnce.h gives jnce_cross_entropy_fwd_bwd (weights, ignore_index, label smoothing, probability
 * targets, row mask, z-loss, per-row log-sum-exp). Every pointer argument is device memory.
 *
 *   logits  (N,C) float32          targets (N) int32|int64 class indices, or target_probs (N,C)
 *   weight  (C) or NULL            row_mask (N) int32 or NULL
 *   loss    (N) or (1) float32     grad (N,C) float32 or NULL, may alias logits
 *   lse     (N) or NULL            scratch: xent_stats + 2N floats (row CE and lse^2)
 *
 * Three launches on the context's stream, no host synchronisation:
 *   xent_stats_kernel           one block: the mean's denominators from the targets alone
 *   softmax_xent_fwd_bwd_kernel one block per row: pass 1 reads the row once (online max and
 *                               sum of exponentials, the dot products smoothing and soft
 *                               targets need), pass 2 reads it again and writes the gradient;
 *                               12 bytes of traffic per logit with grad
 *                               (on sm_90 with class targets, C % 4 == 0 and 8192 <= C <= 131072,
 *                               xent_cluster_kernel instead: one read, the row in registers across
 *                               a thread block cluster; 8 bytes of traffic per logit)
 *   xent_reduce_kernel          one block: MEAN/SUM of the row losses (double accumulation)
 * Row values are accumulated in float32 per thread and combined by warp shuffles; the row's
 * scalars (lse, the gradient's coefficients) are formed in double. The value checks are the
 * kernels' alone, as on the CPU: a weight that is not finite, a class index out of range (both
 * in xent_stats_kernel, the lowest index named; the other two kernels then write nothing) or a
 * probability row that is not a distribution is written to the context's error record and
 * reported at the next synchronisation (see internal.cuh) in the CPU kernel's words.
 *
 * jnce_cuda_cross_entropy_perplexity_fwd_bwd: exp of a mean cross-entropy, and the gradient scaled by it.
 * Checked against the CPU kernel by java/src/test/.../CudaCrossEntropyTest (tag "cuda").
 */
#include <limits.h>
#include <math.h>

#include <stdlib.h>

#include <cooperative_groups.h>

#include "internal.cuh"
#include "../cpu/xent_call.h"

namespace cg = cooperative_groups;

typedef struct {
    double denom;    /* sum of w_y over counted rows (class targets), or the counted rows */
    double counted;  /* counted rows */
    double w_total;  /* sum of the class weights (C when none) */
    double scale;    /* gradient scale of the CE part: 1/denom for MEAN */
    double zscale;   /* gradient scale of the z-loss part: 1/counted for MEAN */
    int32_t empty_zero;
    int32_t bad;     /* a weight or class target failed its check: the other kernels write nothing */
} xent_stats;

__device__ __forceinline__ int64_t class_target(const xent_call &a, int64_t i) {
    return a.target_dtype == JNCE_DTYPE_INT32 ? (int64_t)((const int32_t *)a.targets)[i]
                                              : ((const int64_t *)a.targets)[i];
}

/* Counted rows: not masked out and (probability targets, or a class index other than ignore_index). */
__device__ __forceinline__ bool row_counted(const xent_call &a, int64_t i) {
    if (a.row_mask != NULL && a.row_mask[i] == 0) return false;
    return a.probs != NULL || class_target(a, i) != a.ignore_index;
}

__device__ __forceinline__ bool target_in_range(const xent_call &a, int64_t y) {
    return y >= 0 && y < a.C;
}

/* Sum over the block in double; shared holds 32 doubles; thread 0 gets the result. */
__device__ double block_sum_double(double v, double *shared) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    __syncthreads();
    if ((threadIdx.x & 31) == 0) shared[threadIdx.x >> 5] = v;
    __syncthreads();
    v = (int)threadIdx.x < (int)(blockDim.x >> 5) ? shared[threadIdx.x] : 0.0;
    if (threadIdx.x < 32)
        for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/*
 * The mean's denominators, and the call's value checks: every weight finite, every class target
 * in [0,C) or ignore_index (masked rows included). The first offending weight, else the first
 * offending target (lowest index, as the CPU kernel names it), goes to the error record.
 */
__global__ void xent_stats_kernel(xent_call a, xent_stats *st, jnce_cuda_error_record *err) {
    __shared__ double shared[32];
    __shared__ unsigned long long bad_weight, bad_target;
    if (threadIdx.x == 0) bad_weight = bad_target = ULLONG_MAX;
    __syncthreads();
    double denom = 0.0, counted = 0.0, w = 0.0;
    for (int64_t c = threadIdx.x; c < a.C; c += blockDim.x) {
        float wc = a.weight ? a.weight[c] : 1.0f;
        if (!isfinite(wc)) atomicMin(&bad_weight, (unsigned long long)c);
        w += wc;
    }
    for (int64_t i = threadIdx.x; i < a.N; i += blockDim.x) {
        int64_t y = a.probs == NULL ? class_target(a, i) : 0;
        if (a.probs == NULL && y != a.ignore_index && !target_in_range(a, y)) {
            atomicMin(&bad_target, (unsigned long long)i);
            continue;
        }
        if (!row_counted(a, i)) continue;
        counted += 1.0;
        denom += a.probs == NULL && a.weight ? a.weight[y] : 1.0f;
    }
    denom = block_sum_double(denom, shared); /* its barriers also publish bad_weight and bad_target */
    counted = block_sum_double(counted, shared);
    w = block_sum_double(w, shared);
    if (threadIdx.x == 0) {
        if (bad_weight != ULLONG_MAX) {
            int64_t c = (int64_t)bad_weight;
            jnce_cuda_report(err, JNCE_CUDA_BAD_WEIGHT, c, __float_as_int(a.weight[c]), a.N, a.C, a.ignore_index);
        } else if (bad_target != ULLONG_MAX) {
            int64_t i = (int64_t)bad_target;
            jnce_cuda_report(err, JNCE_CUDA_BAD_TARGET, i, class_target(a, i), a.N, a.C, a.ignore_index);
        }
        bool mean = a.reduction == JNCE_REDUCTION_MEAN;
        bool empty_zero = mean && a.zero_if_empty && counted == 0.0;
        st->bad = bad_weight != ULLONG_MAX || bad_target != ULLONG_MAX;
        st->denom = denom;
        st->counted = counted;
        st->w_total = w;
        st->scale = empty_zero ? 0.0 : mean ? 1.0 / denom : 1.0;
        st->zscale = empty_zero ? 0.0 : mean ? 1.0 / counted : 1.0;
        st->empty_zero = empty_zero;
    }
}

/* Per-thread state of pass 1. */
typedef struct {
    jnce_softmax_state sm;
    float wx, wtx, wt, tsum;
    int bad, t_bad;
} pass1_state;

__device__ __forceinline__ void pass1_step(pass1_state &s, float x, float w, float t, bool want_wx, bool has_t) {
    if (isnan(x) || x == INFINITY) {
        s.bad = 1;
    } else if (x > s.sm.max) {
        s.sm.sum = s.sm.sum * __expf(s.sm.max - x) + 1.0f;
        s.sm.max = x;
    } else {
        s.sm.sum += __expf(x - s.sm.max);
    }
    if (want_wx) s.wx += w * x;
    if (has_t) {
        if (!(t >= 0.0f)) s.t_bad = 1;
        s.wtx += w * t * x;
        s.wt += w * t;
        s.tsum += t;
    }
}

/* What thread 0 hands the block for pass 2. */
typedef struct {
    float max, scale_e, k1, k2, gy;
    int64_t y;
    int mode; /* 0: write the gradient, 1: write zeros, 2: write NaN, 3: skip */
} row_plan;

__device__ __forceinline__ float grad_value(const row_plan &p, float x, float w, float t, int64_t j) {
    float g = __expf(x - p.max) * p.scale_e - (p.k1 * w + p.k2 * w * t);
    return j == p.y ? g - p.gy : g;
}

__global__ void softmax_xent_fwd_bwd_kernel(xent_call a, const xent_stats *st, float *row_ce, float *row_z,
                                            jnce_cuda_error_record *err, int vec4) {
    __shared__ float shared[64];
    __shared__ row_plan plan;
    const int64_t C = a.C;
    const float eps = a.label_smoothing;
    if (st->bad) return; /* as on the CPU, a bad weight or target leaves every output untouched */
    for (int64_t i = blockIdx.x; i < a.N; i += gridDim.x) {
        const float *x = a.logits + i * C;
        float *g = a.grad ? a.grad + i * C : NULL;
        const bool counted = row_counted(a, i);
        int64_t y = counted && a.probs == NULL ? class_target(a, i) : -1;
        const bool y_ok = y < 0 || target_in_range(a, y); /* out of range: reported by xent_stats_kernel */
        if ((!counted || !y_ok) && a.lse == NULL) {
            if (a.reduction == JNCE_REDUCTION_NONE && threadIdx.x == 0) a.loss[i] = counted ? NAN : 0.0f;
            if (threadIdx.x == 0) row_ce[i] = row_z[i] = counted ? NAN : 0.0f;
            if (g) for (int64_t j = threadIdx.x; j < C; j += blockDim.x) g[j] = counted ? NAN : 0.0f;
            continue;
        }
        const float *w = a.weight;
        const float *t = counted && a.probs ? a.probs + i * C : NULL;
        const bool want_wx = counted && eps > 0.0f, has_t = t != NULL;
        pass1_state s = {{-FLT_MAX, 0.0f}, 0.0f, 0.0f, 0.0f, 0.0f, 0, 0};
        float x_y = 0.0f;
        if (threadIdx.x == 0 && y >= 0 && y_ok) x_y = x[y]; /* read before pass 2 may overwrite it */
        if (vec4) {
            const float4 *x4 = (const float4 *)x;
            for (int64_t q = threadIdx.x; q < C / 4; q += blockDim.x) {
                float4 v = x4[q];
                float w0 = 1.0f, w1 = 1.0f, w2 = 1.0f, w3 = 1.0f, t0 = 0.0f, t1 = 0.0f, t2 = 0.0f, t3 = 0.0f;
                if (w) { float4 u = ((const float4 *)w)[q]; w0 = u.x; w1 = u.y; w2 = u.z; w3 = u.w; }
                if (t) { float4 u = ((const float4 *)t)[q]; t0 = u.x; t1 = u.y; t2 = u.z; t3 = u.w; }
                pass1_step(s, v.x, w0, t0, want_wx, has_t);
                pass1_step(s, v.y, w1, t1, want_wx, has_t);
                pass1_step(s, v.z, w2, t2, want_wx, has_t);
                pass1_step(s, v.w, w3, t3, want_wx, has_t);
            }
        } else {
            for (int64_t j = threadIdx.x; j < C; j += blockDim.x)
                pass1_step(s, x[j], w ? w[j] : 1.0f, t ? t[j] : 0.0f, want_wx, has_t);
        }
        jnce_softmax_state sm = jnce_block_softmax(s.sm, shared);
        int bad = __syncthreads_or(s.bad) || sm.sum == 0.0f;
        int t_bad = has_t ? __syncthreads_or(s.t_bad) : 0;
        float wx = want_wx ? jnce_block_sum(s.wx, shared) : 0.0f;
        float wtx = has_t ? jnce_block_sum(s.wtx, shared) : 0.0f;
        float wt = has_t ? jnce_block_sum(s.wt, shared) : 0.0f;
        float tsum = has_t ? jnce_block_sum(s.tsum, shared) : 0.0f;
        float special_lse = 0.0f; /* torch.logsumexp of a row that could not be summed: NaN, +Inf or -Inf */
        if (bad && a.lse) {
            int nan_seen = 0, inf_seen = 0;
            for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
                float v = x[j];
                nan_seen |= isnan(v);
                inf_seen |= v == INFINITY;
            }
            nan_seen = __syncthreads_or(nan_seen);
            inf_seen = __syncthreads_or(inf_seen);
            special_lse = nan_seen ? NAN : inf_seen ? INFINITY : -INFINITY;
        }
        if (threadIdx.x == 0) {
            double lse = bad ? (double)NAN : (double)sm.max + log((double)sm.sum);
            if (a.lse) a.lse[i] = bad ? special_lse : (float)lse;
            row_plan p = {sm.max, 0.0f, 0.0f, 0.0f, 0.0f, -1, 0};
            double ce = 0.0, z = 0.0;
            if (!counted || !y_ok) {
                p.mode = counted ? 2 : 1;
                ce = z = counted ? NAN : 0.0;
            } else if (has_t && (t_bad || fabs((double)tsum - 1.0) > 1e-3)) {
                jnce_cuda_report(err, JNCE_CUDA_BAD_PROBS, i, 0, a.N, a.C, a.ignore_index);
                p.mode = 3;
            } else if (bad) {
                p.mode = 2;
                ce = z = NAN;
            } else {
                double q_sum, qx, wy = 0.0;
                if (!has_t) {
                    wy = w ? w[y] : 1.0;
                    q_sum = (1.0 - eps) * wy + eps / C * st->w_total;
                    qx = (1.0 - eps) * wy * x_y + (eps > 0.0f ? eps / C * (double)wx : 0.0);
                } else {
                    q_sum = (1.0 - eps) * wt + eps / C * st->w_total;
                    qx = (1.0 - eps) * wtx + (eps > 0.0f ? eps / C * (double)wx : 0.0);
                }
                ce = q_sum * lse - qx;
                z = lse * lse;
                double coef = st->scale * q_sum + st->zscale * 2.0 * a.z_loss * lse;
                p.scale_e = (float)(coef / sm.sum);
                p.k1 = (float)(st->scale * eps / C);
                p.k2 = (float)(st->scale * (1.0 - eps));
                p.gy = (float)(st->scale * (1.0 - eps) * wy);
                p.y = has_t ? -1 : y;
            }
            row_ce[i] = (float)ce;
            row_z[i] = (float)z;
            if (a.reduction == JNCE_REDUCTION_NONE) a.loss[i] = (float)(ce + a.z_loss * z);
            plan = p;
        }
        __syncthreads();
        const row_plan p = plan;
        if (g != NULL && p.mode != 3) {
            if (p.mode != 0) {
                float v = p.mode == 1 ? 0.0f : NAN;
                for (int64_t j = threadIdx.x; j < C; j += blockDim.x) g[j] = v;
            } else if (vec4) {
                const float4 *x4 = (const float4 *)x;
                for (int64_t q = threadIdx.x; q < C / 4; q += blockDim.x) {
                    float4 v = x4[q], o;
                    int64_t j = 4 * q;
                    float4 wv = w ? ((const float4 *)w)[q] : make_float4(1.0f, 1.0f, 1.0f, 1.0f);
                    float4 tv = t ? ((const float4 *)t)[q] : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
                    o.x = grad_value(p, v.x, wv.x, tv.x, j);
                    o.y = grad_value(p, v.y, wv.y, tv.y, j + 1);
                    o.z = grad_value(p, v.z, wv.z, tv.z, j + 2);
                    o.w = grad_value(p, v.w, wv.w, tv.w, j + 3);
                    ((float4 *)g)[q] = o;
                }
            } else {
                for (int64_t j = threadIdx.x; j < C; j += blockDim.x)
                    g[j] = grad_value(p, x[j], w ? w[j] : 1.0f, t ? t[j] : 0.0f, j);
            }
        }
        __syncthreads(); /* plan and shared are rewritten by the next row */
    }
}

/*
 * One row held in registers across a cluster of S blocks (sm_90 thread block clusters): block r
 * of the cluster loads its slice of the row once into registers (XC_VEC float4 a thread), reduces
 * it to a (max, sum of exp) pair, the blocks exchange their pairs through distributed shared
 * memory, and each writes its slice of the gradient from its registers. 8 bytes of traffic per
 * logit instead of the two-pass kernel's 12. Class targets only (no probability rows), rows of
 * 4-aligned length, S <= 8 blocks of 512 threads: up to 131072 classes.
 */

typedef struct {
    float max, sum, wx;
    int nan_seen, inf_seen;
} xc_part;

template <int XC_THREADS, int XC_VEC, int XC_MIN_BLOCKS>
__global__ void __launch_bounds__(XC_THREADS, XC_MIN_BLOCKS)
xent_cluster_kernel(xent_call a, const xent_stats *st, float *row_ce, float *row_z, int per) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    cg::cluster_group cluster = cg::this_cluster();
    const unsigned rank = cluster.block_rank(), S = cluster.num_blocks();
    __shared__ xc_part parts[2];
    __shared__ float shared[64];
    __shared__ row_plan plan;
    if (st->bad) return; /* the same for every block of every cluster */
    const int64_t C = a.C, C4 = C / 4;
    const int64_t q0 = (int64_t)rank * per, q1 = q0 + per < C4 ? q0 + per : C4;
    const int64_t clusters = gridDim.x / S;
    const float eps = a.label_smoothing;
    const float *w = a.weight;
    int parity = 0;
    for (int64_t i = blockIdx.x / S; i < a.N; i += clusters) {
        const float4 *x4 = (const float4 *)(a.logits + i * C);
        float4 *g4 = a.grad ? (float4 *)(a.grad + i * C) : NULL;
        const bool counted = row_counted(a, i);
        const int64_t y = counted ? class_target(a, i) : -1;
        const bool y_ok = y < 0 || target_in_range(a, y);
        if ((!counted || !y_ok) && a.lse == NULL) {
            if (rank == 0 && threadIdx.x == 0) {
                if (a.reduction == JNCE_REDUCTION_NONE) a.loss[i] = counted ? NAN : 0.0f;
                row_ce[i] = row_z[i] = counted ? NAN : 0.0f;
            }
            if (g4) {
                const float v = counted ? NAN : 0.0f;
                for (int64_t q = q0 + threadIdx.x; q < q1; q += XC_THREADS) g4[q] = make_float4(v, v, v, v);
            }
            continue; /* the whole cluster skips the row: no exchange */
        }
        /* one read of the slice into registers */
        float4 v[XC_VEC];
        float m = -FLT_MAX;
        int nan_seen = 0, inf_seen = 0;
#pragma unroll
        for (int k = 0; k < XC_VEC; k++) {
            const int64_t q = q0 + threadIdx.x + (int64_t)k * XC_THREADS;
            v[k] = q < q1 ? x4[q] : make_float4(-INFINITY, -INFINITY, -INFINITY, -INFINITY);
            const float e[4] = {v[k].x, v[k].y, v[k].z, v[k].w};
#pragma unroll
            for (int l = 0; l < 4; l++) {
                nan_seen |= isnan(e[l]);
                inf_seen |= e[l] == INFINITY;
                m = fmaxf(m, e[l]);
            }
        }
        float sum = 0.0f, wx = 0.0f;
        const bool want_wx = counted && eps > 0.0f;
#pragma unroll
        for (int k = 0; k < XC_VEC; k++) {
            const int64_t q = q0 + threadIdx.x + (int64_t)k * XC_THREADS;
            sum += __expf(v[k].x - m) + __expf(v[k].y - m) + __expf(v[k].z - m) + __expf(v[k].w - m);
            if (want_wx && q < q1) {
                const float4 u = w ? ((const float4 *)w)[q] : make_float4(1.0f, 1.0f, 1.0f, 1.0f);
                wx += u.x * v[k].x + u.y * v[k].y + u.z * v[k].z + u.w * v[k].w;
            }
        }
        float x_y = 0.0f;
        if (threadIdx.x == 0 && y >= 0 && y_ok) x_y = a.logits[i * C + y]; /* before any block writes the gradient */
        jnce_softmax_state bs = jnce_block_softmax(jnce_softmax_state{m, sum}, shared);
        const float bwx = want_wx ? jnce_block_sum(wx, shared) : 0.0f;
        nan_seen = __syncthreads_or(nan_seen);
        inf_seen = __syncthreads_or(inf_seen);
        if (threadIdx.x == 0) parts[parity] = xc_part{bs.max, bs.sum, bwx, nan_seen, inf_seen};
        cluster.sync(); /* every block's pair is published */
        if (threadIdx.x == 0) {
            /* the same merge, in rank order, in every block */
            jnce_softmax_state sm = {-FLT_MAX, 0.0f};
            float rwx = 0.0f;
            int rnan = 0, rinf = 0;
            for (unsigned r = 0; r < S; r++) {
                const xc_part pr = *cluster.map_shared_rank(&parts[parity], r);
                sm = jnce_softmax_merge(sm, jnce_softmax_state{pr.max, pr.sum});
                rwx += pr.wx;
                rnan |= pr.nan_seen;
                rinf |= pr.inf_seen;
            }
            const int bad = rnan || rinf || sm.sum == 0.0f;
            const double lse = bad ? (double)NAN : (double)sm.max + log((double)sm.sum);
            if (a.lse && rank == 0) a.lse[i] = bad ? (rnan ? NAN : rinf ? INFINITY : -INFINITY) : (float)lse;
            row_plan p = {sm.max, 0.0f, 0.0f, 0.0f, 0.0f, -1, 0};
            double ce = 0.0, z = 0.0;
            if (!counted || !y_ok) {
                p.mode = counted ? 2 : 1;
                ce = z = counted ? NAN : 0.0;
            } else if (bad) {
                p.mode = 2;
                ce = z = NAN;
            } else {
                const double wy = w ? w[y] : 1.0;
                const double q_sum = (1.0 - eps) * wy + eps / C * st->w_total;
                const double qx = (1.0 - eps) * wy * x_y + (eps > 0.0f ? eps / C * (double)rwx : 0.0);
                ce = q_sum * lse - qx;
                z = lse * lse;
                const double coef = st->scale * q_sum + st->zscale * 2.0 * a.z_loss * lse;
                p.scale_e = (float)(coef / sm.sum);
                p.k1 = (float)(st->scale * eps / C);
                p.gy = (float)(st->scale * (1.0 - eps) * wy);
                p.y = y;
            }
            if (rank == 0) {
                row_ce[i] = (float)ce;
                row_z[i] = (float)z;
                if (a.reduction == JNCE_REDUCTION_NONE) a.loss[i] = (float)(ce + a.z_loss * z);
            }
            plan = p;
        }
        parity ^= 1; /* the next exchange writes the other slot while slow blocks may still read this one */
        __syncthreads();
        const row_plan p = plan;
        if (g4) {
#pragma unroll
            for (int k = 0; k < XC_VEC; k++) {
                const int64_t q = q0 + threadIdx.x + (int64_t)k * XC_THREADS;
                if (q >= q1) continue;
                float4 o;
                if (p.mode != 0) {
                    const float f = p.mode == 1 ? 0.0f : NAN;
                    o = make_float4(f, f, f, f);
                } else {
                    const float4 u = w && p.k1 != 0.0f ? ((const float4 *)w)[q] : make_float4(1.0f, 1.0f, 1.0f, 1.0f);
                    const int64_t j = 4 * q;
                    o.x = __expf(v[k].x - p.max) * p.scale_e - p.k1 * u.x;
                    o.y = __expf(v[k].y - p.max) * p.scale_e - p.k1 * u.y;
                    o.z = __expf(v[k].z - p.max) * p.scale_e - p.k1 * u.z;
                    o.w = __expf(v[k].w - p.max) * p.scale_e - p.k1 * u.w;
                    if (p.y >= j && p.y < j + 4) {
                        const int l = (int)(p.y - j);
                        if (l == 0) o.x -= p.gy;
                        else if (l == 1) o.y -= p.gy;
                        else if (l == 2) o.z -= p.gy;
                        else o.w -= p.gy;
                    }
                }
                g4[q] = o;
            }
        }
        __syncthreads(); /* plan and shared are rewritten by the next row */
    }
    cluster.sync(); /* no block leaves while another may still read its shared memory */
#endif
}

/*
 * The same, pipelined: while a block waits at the cluster barrier for the other blocks' pairs, the
 * next row's slice is already on its way into a second set of registers (the barrier is split
 * into its arrive and wait halves, and the loads are issued between them). HINT 1 marks the
 * logits' loads and the gradient's stores as streaming (read or written once: evict first).
 * Opt-in only (JNCE_CUDA_XENT_CLUSTER=e..i): compiled, not yet run on a GPU; bench/gpu/verify.sh
 * with JNCE_GPU_STEP=xent measures these shapes and runs the cuda tests with the best one.
 */
template <int XC_THREADS, int XC_VEC, int HINT>
__device__ __forceinline__ void xc_load(float4 (&v)[XC_VEC], const float4 *x4, int64_t q0, int64_t q1) {
#pragma unroll
    for (int k = 0; k < XC_VEC; k++) {
        const int64_t q = q0 + threadIdx.x + (int64_t)k * XC_THREADS;
        v[k] = q < q1 ? (HINT ? __ldcs(x4 + q) : x4[q]) : make_float4(-INFINITY, -INFINITY, -INFINITY, -INFINITY);
    }
}

template <int XC_THREADS, int XC_VEC, int XC_MIN_BLOCKS, int HINT>
__global__ void __launch_bounds__(XC_THREADS, XC_MIN_BLOCKS)
xent_cluster_pipe_kernel(xent_call a, const xent_stats *st, float *row_ce, float *row_z, int per) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    cg::cluster_group cluster = cg::this_cluster();
    const unsigned rank = cluster.block_rank(), S = cluster.num_blocks();
    __shared__ xc_part parts[2];
    __shared__ float shared[64];
    __shared__ row_plan plan;
    if (st->bad) return; /* the same for every block of every cluster */
    const int64_t C = a.C, C4 = C / 4;
    const int64_t q0 = (int64_t)rank * per, q1 = q0 + per < C4 ? q0 + per : C4;
    const int64_t clusters = gridDim.x / S;
    const float eps = a.label_smoothing;
    const float *w = a.weight;
    int parity = 0;
    float4 cur[XC_VEC], nxt[XC_VEC];
    const int64_t first = blockIdx.x / S;
    if (first < a.N) xc_load<XC_THREADS, XC_VEC, HINT>(cur, (const float4 *)(a.logits + first * C), q0, q1);
    for (int64_t i = first; i < a.N; i += clusters) {
        const int64_t next = i + clusters;
        float4 *g4 = a.grad ? (float4 *)(a.grad + i * C) : NULL;
        const bool counted = row_counted(a, i);
        const int64_t y = counted ? class_target(a, i) : -1;
        const bool y_ok = y < 0 || target_in_range(a, y);
        if ((!counted || !y_ok) && a.lse == NULL) {
            if (rank == 0 && threadIdx.x == 0) {
                if (a.reduction == JNCE_REDUCTION_NONE) a.loss[i] = counted ? NAN : 0.0f;
                row_ce[i] = row_z[i] = counted ? NAN : 0.0f;
            }
            if (g4) {
                const float v = counted ? NAN : 0.0f;
                for (int64_t q = q0 + threadIdx.x; q < q1; q += XC_THREADS) g4[q] = make_float4(v, v, v, v);
            }
            /* the next row after the fill: with grad over the logits, this row's values are gone */
            if (next < a.N) xc_load<XC_THREADS, XC_VEC, HINT>(cur, (const float4 *)(a.logits + next * C), q0, q1);
            continue; /* the whole cluster skips the row: no exchange */
        }
        float m = -FLT_MAX;
        int nan_seen = 0, inf_seen = 0;
#pragma unroll
        for (int k = 0; k < XC_VEC; k++) {
            const float e[4] = {cur[k].x, cur[k].y, cur[k].z, cur[k].w};
#pragma unroll
            for (int l = 0; l < 4; l++) {
                nan_seen |= isnan(e[l]);
                inf_seen |= e[l] == INFINITY;
                m = fmaxf(m, e[l]);
            }
        }
        float sum = 0.0f, wx = 0.0f;
        const bool want_wx = counted && eps > 0.0f;
#pragma unroll
        for (int k = 0; k < XC_VEC; k++) {
            const int64_t q = q0 + threadIdx.x + (int64_t)k * XC_THREADS;
            sum += __expf(cur[k].x - m) + __expf(cur[k].y - m) + __expf(cur[k].z - m) + __expf(cur[k].w - m);
            if (want_wx && q < q1) {
                const float4 u = w ? ((const float4 *)w)[q] : make_float4(1.0f, 1.0f, 1.0f, 1.0f);
                wx += u.x * cur[k].x + u.y * cur[k].y + u.z * cur[k].z + u.w * cur[k].w;
            }
        }
        float x_y = 0.0f;
        if (threadIdx.x == 0 && y >= 0 && y_ok) x_y = a.logits[i * C + y]; /* before any block writes the gradient */
        jnce_softmax_state bs = jnce_block_softmax(jnce_softmax_state{m, sum}, shared);
        const float bwx = want_wx ? jnce_block_sum(wx, shared) : 0.0f;
        nan_seen = __syncthreads_or(nan_seen);
        inf_seen = __syncthreads_or(inf_seen);
        if (threadIdx.x == 0) parts[parity] = xc_part{bs.max, bs.sum, bwx, nan_seen, inf_seen};
        __cluster_barrier_arrive(); /* release: this block's pair is published */
        if (next < a.N) xc_load<XC_THREADS, XC_VEC, HINT>(nxt, (const float4 *)(a.logits + next * C), q0, q1);
        __cluster_barrier_wait();   /* acquire: every block's pair is readable */
        if (threadIdx.x == 0) {
            jnce_softmax_state sm = {-FLT_MAX, 0.0f};
            float rwx = 0.0f;
            int rnan = 0, rinf = 0;
            for (unsigned r = 0; r < S; r++) {
                const xc_part pr = *cluster.map_shared_rank(&parts[parity], r);
                sm = jnce_softmax_merge(sm, jnce_softmax_state{pr.max, pr.sum});
                rwx += pr.wx;
                rnan |= pr.nan_seen;
                rinf |= pr.inf_seen;
            }
            const int bad = rnan || rinf || sm.sum == 0.0f;
            const double lse = bad ? (double)NAN : (double)sm.max + log((double)sm.sum);
            if (a.lse && rank == 0) a.lse[i] = bad ? (rnan ? NAN : rinf ? INFINITY : -INFINITY) : (float)lse;
            row_plan p = {sm.max, 0.0f, 0.0f, 0.0f, 0.0f, -1, 0};
            double ce = 0.0, z = 0.0;
            if (!counted || !y_ok) {
                p.mode = counted ? 2 : 1;
                ce = z = counted ? NAN : 0.0;
            } else if (bad) {
                p.mode = 2;
                ce = z = NAN;
            } else {
                const double wy = w ? w[y] : 1.0;
                const double q_sum = (1.0 - eps) * wy + eps / C * st->w_total;
                const double qx = (1.0 - eps) * wy * x_y + (eps > 0.0f ? eps / C * (double)rwx : 0.0);
                ce = q_sum * lse - qx;
                z = lse * lse;
                const double coef = st->scale * q_sum + st->zscale * 2.0 * a.z_loss * lse;
                p.scale_e = (float)(coef / sm.sum);
                p.k1 = (float)(st->scale * eps / C);
                p.gy = (float)(st->scale * (1.0 - eps) * wy);
                p.y = y;
            }
            if (rank == 0) {
                row_ce[i] = (float)ce;
                row_z[i] = (float)z;
                if (a.reduction == JNCE_REDUCTION_NONE) a.loss[i] = (float)(ce + a.z_loss * z);
            }
            plan = p;
        }
        parity ^= 1;
        __syncthreads();
        const row_plan p = plan;
        if (g4) {
#pragma unroll
            for (int k = 0; k < XC_VEC; k++) {
                const int64_t q = q0 + threadIdx.x + (int64_t)k * XC_THREADS;
                if (q >= q1) continue;
                float4 o;
                if (p.mode != 0) {
                    const float f = p.mode == 1 ? 0.0f : NAN;
                    o = make_float4(f, f, f, f);
                } else {
                    const float4 u = w && p.k1 != 0.0f ? ((const float4 *)w)[q] : make_float4(1.0f, 1.0f, 1.0f, 1.0f);
                    const int64_t j = 4 * q;
                    o.x = __expf(cur[k].x - p.max) * p.scale_e - p.k1 * u.x;
                    o.y = __expf(cur[k].y - p.max) * p.scale_e - p.k1 * u.y;
                    o.z = __expf(cur[k].z - p.max) * p.scale_e - p.k1 * u.z;
                    o.w = __expf(cur[k].w - p.max) * p.scale_e - p.k1 * u.w;
                    if (p.y >= j && p.y < j + 4) {
                        const int l = (int)(p.y - j);
                        if (l == 0) o.x -= p.gy;
                        else if (l == 1) o.y -= p.gy;
                        else if (l == 2) o.z -= p.gy;
                        else o.w -= p.gy;
                    }
                }
                if (HINT) __stcs(g4 + q, o);
                else g4[q] = o;
            }
        }
        __syncthreads(); /* plan and shared are rewritten by the next row */
#pragma unroll
        for (int k = 0; k < XC_VEC; k++) cur[k] = nxt[k];
    }
    cluster.sync(); /* no block leaves while another may still read its shared memory */
#endif
}

/*
 * Shapes of the cluster kernel (threads a block, float4 a thread): JNCE_CUDA_XENT_CLUSTER picks one
 * ("0" turns the kernel off, for comparisons); the default is the first. Measured on an H200 at
 * (8192,128000) / (32768,32768), fraction of a device copy's bandwidth: a 0.65 / 0.76, b 0.65 / 0.75,
 * c 0.57 / 0.73, d 0.51 / 0.62, the two-pass kernel 0.52 / 0.50 (bench/results/gpu-20261204-1822).
 */
typedef struct {
    char name;
    int threads, vec;
    int max_cluster; /* 8 is portable; 16 needs the device's consent (H100, H200) */
    cudaError_t (*launch)(const cudaLaunchConfig_t *, const xent_call *, const xent_stats *, float *, float *, int, int *);
} xc_shape;

typedef void (*xc_kernel)(xent_call, const xent_stats *, float *, float *, int);

template <xc_kernel K>
static cudaError_t xc_launch(const cudaLaunchConfig_t *base, const xent_call *a, const xent_stats *st, float *row_ce,
                             float *row_z, int per, int *clusters) {
    cudaLaunchConfig_t cfg = *base;
    if (cfg.attrs[0].val.clusterDim.x > 8) {
        cudaError_t e = cudaFuncSetAttribute(K, cudaFuncAttributeNonPortableClusterSizeAllowed, 1);
        if (e != cudaSuccess) return e;
    }
    if (*clusters == 0) {
        cfg.gridDim = dim3(cfg.attrs[0].val.clusterDim.x);
        if (cudaOccupancyMaxActiveClusters(clusters, K, &cfg) != cudaSuccess || *clusters < 1) {
            (void)cudaGetLastError();
            *clusters = -1;
            return cudaErrorInvalidConfiguration;
        }
        return cudaSuccess;
    }
    return cudaLaunchKernelEx(&cfg, K, *a, st, row_ce, row_z, per);
}

static const xc_shape XC_SHAPES[] = {
    {'a', 512, 8, 8, xc_launch<xent_cluster_kernel<512, 8, 2>>},
    {'b', 1024, 8, 8, xc_launch<xent_cluster_kernel<1024, 8, 1>>},
    {'c', 256, 8, 8, xc_launch<xent_cluster_kernel<256, 8, 4>>},
    {'d', 512, 4, 8, xc_launch<xent_cluster_kernel<512, 4, 3>>},
    {'e', 1024, 4, 16, xc_launch<xent_cluster_pipe_kernel<1024, 4, 1, 0>>},
    {'f', 512, 8, 16, xc_launch<xent_cluster_pipe_kernel<512, 8, 1, 0>>},
    {'g', 1024, 4, 16, xc_launch<xent_cluster_pipe_kernel<1024, 4, 1, 1>>},
    {'h', 512, 8, 16, xc_launch<xent_cluster_pipe_kernel<512, 8, 1, 1>>},
    {'i', 512, 4, 16, xc_launch<xent_cluster_pipe_kernel<512, 4, 2, 1>>},
};

static const xc_shape *xc_chosen(void) {
    static const xc_shape *chosen = NULL;
    static int looked = 0;
    if (!looked) {
        const char *e = getenv("JNCE_CUDA_XENT_CLUSTER");
        chosen = &XC_SHAPES[0];
        if (e != NULL && e[0] == '0') chosen = NULL;
        for (size_t k = 0; e != NULL && k < sizeof XC_SHAPES / sizeof XC_SHAPES[0]; k++)
            if (e[0] == XC_SHAPES[k].name) chosen = &XC_SHAPES[k];
        looked = 1;
    }
    return chosen;
}

/* Blocks in the cluster for a row of C classes on this device, or 0 where the kernel does not apply. */
static int xent_cluster_size(const xent_call *a, int vec4, int device, const xc_shape *shape) {
    if (shape == NULL || !vec4 || a->probs != NULL || a->C < 8192) return 0;
    int major = 0;
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess || major < 9) return 0;
    int64_t span = (int64_t)shape->threads * shape->vec;
    int64_t S = (a->C / 4 + span - 1) / span;
    return S <= shape->max_cluster ? (int)S : 0;
}

/* Launches xent_cluster_kernel; anything but cudaSuccess means the caller takes the two-pass kernel. */
static cudaError_t xent_cluster_launch(jnce_cuda_ctx *ctx, const xent_call *a, const xent_stats *st, float *row_ce,
                                       float *row_z, int S, const xc_shape *shape) {
    const int per = (int)((a->C / 4 + S - 1) / S);
    cudaLaunchConfig_t cfg = {};
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeClusterDimension;
    attr[0].val.clusterDim.x = (unsigned)S;
    attr[0].val.clusterDim.y = 1;
    attr[0].val.clusterDim.z = 1;
    cfg.blockDim = dim3((unsigned)shape->threads);
    cfg.dynamicSmemBytes = 0;
    cfg.stream = ctx->stream;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
    int clusters = 0;
    cudaError_t e = shape->launch(&cfg, a, st, row_ce, row_z, per, &clusters); /* clusters == 0: occupancy only */
    if (e != cudaSuccess) return e;
    if (clusters > a->N) clusters = (int)a->N;
    cfg.gridDim = dim3((unsigned)(clusters * S));
    return shape->launch(&cfg, a, st, row_ce, row_z, per, &clusters);
}

__global__ void xent_reduce_kernel(xent_call a, const xent_stats *st, const float *row_ce, const float *row_z) {
    __shared__ double shared[32];
    if (st->bad) return;
    double ce = 0.0, z = 0.0;
    for (int64_t i = threadIdx.x; i < a.N; i += blockDim.x) {
        ce += row_ce[i];
        z += row_z[i];
    }
    ce = block_sum_double(ce, shared);
    z = block_sum_double(z, shared);
    if (threadIdx.x == 0) {
        double total;
        if (a.reduction == JNCE_REDUCTION_MEAN)
            total = st->empty_zero ? 0.0 : ce / st->denom + (a.z_loss > 0.0f ? a.z_loss * z / st->counted : 0.0);
        else
            total = ce + a.z_loss * z;
        a.loss[0] = (float)total;
    }
}

static int aligned16(const void *p) {
    return ((uintptr_t)p & 15) == 0;
}

static int32_t check_args(const xent_call *a) {
    if (a->logits == NULL || a->loss == NULL)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "cross_entropy (cuda): logits and loss must be non-null");
    if ((a->targets == NULL) == (a->probs == NULL))
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "cross_entropy (cuda): give exactly one of targets and target_probs");
    if (a->N <= 0 || a->C <= 0)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "cross_entropy (cuda): N=%lld and C=%lld must be positive",
                              (long long)a->N, (long long)a->C);
    if (a->targets != NULL && a->target_dtype != JNCE_DTYPE_INT32 && a->target_dtype != JNCE_DTYPE_INT64)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "cross_entropy (cuda): target_dtype %d is not int32 or int64",
                              a->target_dtype);
    if (a->reduction < JNCE_REDUCTION_NONE || a->reduction > JNCE_REDUCTION_SUM)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "cross_entropy (cuda): unknown reduction %d", a->reduction);
    if (!(a->label_smoothing >= 0.0f && a->label_smoothing <= 1.0f))
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "cross_entropy (cuda): label_smoothing %g is outside [0, 1]",
                              a->label_smoothing);
    if (!(a->z_loss >= 0.0f) || isinf(a->z_loss))
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "cross_entropy (cuda): z_loss %g must be finite and >= 0", a->z_loss);
    return JNCE_OK;
}

/* Threads per row: enough to keep a few float4 loads in flight per thread on long rows. */
static int threads_for(int64_t C) {
    return C >= 16384 ? 512 : C >= 2048 ? 256 : C >= 256 ? 128 : 32;
}

int32_t jnce_cuda_cross_entropy_fwd_bwd(jnce_cuda_ctx *ctx, int64_t N, int64_t C, const float *logits,
                                        const void *targets, int32_t target_dtype, const float *target_probs,
                                        const int32_t *row_mask, const float *weight, int64_t ignore_index,
                                        float label_smoothing, float z_loss, int32_t reduction,
                                        int32_t zero_if_empty, float *loss, float *grad, float *lse) {
    const xent_call call = {N, C, logits, targets, target_dtype, target_probs, row_mask, weight, ignore_index,
                            label_smoothing, z_loss, reduction, zero_if_empty, loss, grad, lse};
    const xent_call *a = &call;
    int32_t s = check_args(a);
    if (s == JNCE_OK) s = jnce_cuda_enter(ctx, "cross_entropy");
    if (s != JNCE_OK) return s;
    void *scratch;
    int64_t stats_bytes = (int64_t)((sizeof(xent_stats) + 255) / 256 * 256);
    s = jnce_cuda_scratch(ctx, stats_bytes + 2 * a->N * (int64_t)sizeof(float), &scratch, "cross_entropy");
    if (s != JNCE_OK) return s;
    xent_stats *st = (xent_stats *)scratch;
    float *row_ce = (float *)((char *)scratch + stats_bytes), *row_z = row_ce + a->N;

    int vec4 = a->C % 4 == 0 && aligned16(a->logits) && (a->grad == NULL || aligned16(a->grad)) &&
               (a->weight == NULL || aligned16(a->weight)) && (a->probs == NULL || aligned16(a->probs));
    xent_stats_kernel<<<1, 1024, 0, ctx->stream>>>(*a, st, ctx->error);
    const xc_shape *shape = xc_chosen();
    int S = xent_cluster_size(a, vec4, ctx->device, shape);
    if (S == 0 || xent_cluster_launch(ctx, a, st, row_ce, row_z, S, shape) != cudaSuccess) {
        (void)cudaGetLastError(); /* a refused cluster launch: the two-pass kernel below */
        softmax_xent_fwd_bwd_kernel<<<jnce_cuda_row_blocks(a->N), threads_for(a->C), 0, ctx->stream>>>(
            *a, st, row_ce, row_z, ctx->error, vec4);
    }
    if (a->reduction != JNCE_REDUCTION_NONE) xent_reduce_kernel<<<1, 1024, 0, ctx->stream>>>(*a, st, row_ce, row_z);
    return jnce_cuda_launched("cross_entropy (cuda) launch");
}

/* ---- perplexity of a mean cross-entropy (jnce_cross_entropy_perplexity_fwd_bwd's meaning) -------- */

__global__ void xent_perplexity_grad_kernel(const float *mean_loss, int64_t M, float *grad) {
    const float value = (float)exp((double)mean_loss[0]);
    for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < M; k += (int64_t)gridDim.x * blockDim.x)
        if (grad[k] != 0.0f) grad[k] *= value; /* a zero (ignored) gradient stays zero when exp(L) is NaN or Inf */
}

/* A launch of its own, after the gradient's: ppl may alias mean_loss, which every thread above reads. */
__global__ void xent_perplexity_kernel(const float *mean_loss, float *ppl) {
    ppl[0] = (float)exp((double)mean_loss[0]);
}

int32_t jnce_cuda_cross_entropy_perplexity_fwd_bwd(jnce_cuda_ctx *ctx, const float *mean_loss, int64_t M, float *ppl,
                                           float *grad) {
    if (mean_loss == NULL || ppl == NULL)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "cross_entropy_perplexity (cuda): mean_loss and ppl must be non-null");
    if (grad != NULL && M < 0)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "cross_entropy_perplexity (cuda): M=%lld must be >= 0", (long long)M);
    int32_t s = jnce_cuda_enter(ctx, "cross_entropy_perplexity");
    if (s != JNCE_OK) return s;
    if (grad != NULL && M > 0) {
        int64_t blocks = (M + 255) / 256;
        xent_perplexity_grad_kernel<<<(unsigned)(blocks < 65535 ? blocks : 65535), 256, 0, ctx->stream>>>(mean_loss, M,
                                                                                                           grad);
    }
    xent_perplexity_kernel<<<1, 1, 0, ctx->stream>>>(mean_loss, ppl);
    return jnce_cuda_launched("cross_entropy_perplexity (cuda) launch");
}
