/*
 * triplet.cu - the triplet margin loss on the GPU, forward and backward, with the meaning jnce.h
 * gives jnce_triplet_margin_fwd_bwd (src/cpu/triplet.c): F.triplet_margin_loss with the pairwise
 * distance ||x1 - x2 + eps||_p, or 1 - cosine similarity; swap; NaN rows as autograd gives them.
 * One block a row: the row's sums (squares, p-th powers or dots) in double over the block, the
 * distances and the hinge in thread 0, then each thread writes its elements of the three gradient
 * rows, their terms in double, rounded once. Device pointers; no host synchronisation.
 */
#include <math.h>

#include "internal.cuh"

typedef struct {
    const float *a, *p, *n;
    int64_t N, D;
    int32_t cosine;
    double pnorm, eps, margin, scale;
    int32_t swap, reduction;
    float *row_loss, *ga, *gp, *gn;
} trip_call;

typedef struct {
    double d, cos, c1, c2;
} trip_dist;

typedef struct {
    trip_dist ap, an, pn;
    double h, w_neg, w_swap;
} trip_plan;

/* the pairwise distance's summand of element e = x1 - x2 + eps */
__device__ __forceinline__ double trip_pow(double e, double p) {
    return p == 2.0 ? e * e : pow(fabs(e), p);
}

__device__ __forceinline__ trip_dist trip_pairwise(double sum, double p) {
    trip_dist v = {p == 2.0 ? sqrt(sum) : p == 1.0 ? sum : pow(sum, 1.0 / p), 0, 0, 0};
    return v;
}

__device__ __forceinline__ trip_dist trip_cosine(double x1x1, double x2x2, double x1x2, double eps) {
    trip_dist v;
    const double n1 = sqrt(x1x1), n2 = sqrt(x2x2);
    v.c1 = isnan(n1) ? n1 : fmax(n1, eps); /* NaN stays NaN (fmax would drop it) */
    v.c2 = isnan(n2) ? n2 : fmax(n2, eps);
    v.cos = x1x2 / (v.c1 * v.c2);
    v.d = 1.0 - v.cos;
    return v;
}

/* u * (d dist / d x1) at element j; d dist / d x2 is its negative for the pairwise distance */
__device__ __forceinline__ void trip_grad(const trip_call &c, const trip_dist &v, double x1, double x2, double u,
                                          double &g1, double &g2) {
    if (u == 0.0) return;
    if (c.cosine) { /* d (1 - cos) = -(d cos) */
        const double uu = -u;
        g1 += uu / (v.c1 * v.c2) * x2 - uu * v.cos / (v.c1 * v.c1) * x1;
        g2 += uu / (v.c1 * v.c2) * x1 - uu * v.cos / (v.c2 * v.c2) * x2;
        return;
    }
    if (v.d == 0.0) return; /* autograd's norm backward masks a zero norm */
    const double e = x1 - x2 + c.eps, p = c.pnorm;
    const double scale = u / (p == 2.0 ? v.d : pow(v.d, p - 1.0));
    const double w = p == 2.0 ? e : (e == 0.0 ? 0.0 : copysign(pow(fabs(e), p - 1.0), e));
    g1 += scale * w;
    g2 -= scale * w;
}

__global__ void triplet_kernel(trip_call c) {
    __shared__ double shared[32];
    __shared__ trip_plan plan;
    const int64_t D = c.D;
    for (int64_t i = blockIdx.x; i < c.N; i += gridDim.x) {
        const float *a = c.a + i * D, *p = c.p + i * D, *n = c.n + i * D;
        double s[6] = {0, 0, 0, 0, 0, 0}; /* pairwise: ap, an, pn; cosine: aa, pp, nn, ap, an, pn */
        for (int64_t j = threadIdx.x; j < D; j += blockDim.x) {
            const double av = a[j], pv = p[j], nv = n[j];
            if (c.cosine) {
                s[0] += av * av, s[1] += pv * pv, s[2] += nv * nv, s[3] += av * pv, s[4] += av * nv, s[5] += pv * nv;
            } else {
                s[0] += trip_pow(av - pv + c.eps, c.pnorm);
                s[1] += trip_pow(av - nv + c.eps, c.pnorm);
                if (c.swap) s[2] += trip_pow(pv - nv + c.eps, c.pnorm);
            }
        }
        for (int k = 0; k < (c.cosine ? 6 : 3); k++) s[k] = jnce_block_sum_double(s[k], shared);
        if (threadIdx.x == 0) {
            trip_plan q;
            if (c.cosine) {
                q.ap = trip_cosine(s[0], s[1], s[3], c.eps);
                q.an = trip_cosine(s[0], s[2], s[4], c.eps);
                q.pn = trip_cosine(s[1], s[2], s[5], c.eps);
            } else {
                q.ap = trip_pairwise(s[0], c.pnorm);
                q.an = trip_pairwise(s[1], c.pnorm);
                q.pn = trip_pairwise(s[2], c.pnorm);
            }
            double d_neg = q.an.d;
            q.w_neg = 1.0, q.w_swap = 0.0;
            if (c.swap) {
                if (q.pn.d < q.an.d) d_neg = q.pn.d, q.w_neg = 0.0, q.w_swap = 1.0;
                else if (q.pn.d == q.an.d) q.w_neg = 0.5, q.w_swap = 0.5;
                else if (isnan(q.pn.d)) d_neg = q.pn.d;
            }
            q.h = c.margin + q.ap.d - d_neg;
            c.row_loss[i] = (float)(q.h > 0.0 || isnan(q.h) ? q.h : 0.0);
            plan = q;
        }
        __syncthreads();
        if (c.ga != NULL) {
            const trip_plan q = plan;
            const bool nan_h = isnan(q.h), active = q.h >= 0.0;
            for (int64_t j = threadIdx.x; j < D; j += blockDim.x) {
                double ga = 0.0, gp = 0.0, gn = 0.0;
                if (nan_h) { /* 0 * NaN on both rows of each distance that is NaN or infinite */
                    const bool bap = !isfinite(q.ap.d), ban = !isfinite(q.an.d), bpn = c.swap && !isfinite(q.pn.d);
                    ga = bap || ban ? NAN : 0.0;
                    gp = bap || bpn ? NAN : 0.0;
                    gn = ban || bpn ? NAN : 0.0;
                } else if (active) {
                    const double av = a[j], pv = p[j], nv = n[j];
                    trip_grad(c, q.ap, av, pv, c.scale, ga, gp);
                    trip_grad(c, q.an, av, nv, -c.scale * q.w_neg, ga, gn);
                    if (c.swap) trip_grad(c, q.pn, pv, nv, -c.scale * q.w_swap, gp, gn);
                }
                c.ga[i * D + j] = (float)ga;
                c.gp[i * D + j] = (float)gp;
                c.gn[i * D + j] = (float)gn;
            }
        }
        __syncthreads(); /* plan is rewritten by the next row */
    }
}

__global__ void triplet_reduce_kernel(const float *row_loss, int64_t N, int32_t mean, float *loss) {
    __shared__ double shared[32];
    double s = 0.0;
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x) s += row_loss[i];
    s = jnce_block_sum_double(s, shared);
    if (threadIdx.x == 0) loss[0] = (float)(mean ? s / (double)N : s);
}

int32_t jnce_cuda_triplet_margin_fwd_bwd(jnce_cuda_ctx *ctx, const float *anchor, const float *positive,
                                         const float *negative, int64_t N, int64_t D, int32_t distance, float margin,
                                         float p, float eps, int32_t swap, int32_t reduction, float *loss,
                                         float *grad_anchor, float *grad_positive, float *grad_negative) {
    if (anchor == NULL || positive == NULL || negative == NULL || loss == NULL)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "triplet_margin (cuda): anchor, positive, negative and loss must be non-null");
    int grads = (grad_anchor != NULL) + (grad_positive != NULL) + (grad_negative != NULL);
    if (grads != 0 && grads != 3)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "triplet_margin (cuda): give all three gradients or none");
    if (N <= 0 || D <= 0)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "triplet_margin (cuda): N=%lld and D=%lld must be positive", (long long)N,
                              (long long)D);
    if (distance != JNCE_DISTANCE_PAIRWISE && distance != JNCE_DISTANCE_COSINE)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "triplet_margin (cuda): unknown distance %d", distance);
    if (!isfinite(margin) || !(eps >= 0.0f) || isinf(eps) || !(p > 0.0f) || isinf(p))
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "triplet_margin (cuda): margin=%g, eps=%g, p=%g: need finite margin, "
                              "finite eps >= 0 and finite p > 0", (double)margin, (double)eps, (double)p);
    if (reduction < JNCE_REDUCTION_NONE || reduction > JNCE_REDUCTION_SUM)
        return jnce_cuda_fail(JNCE_ERR_INVALID_ARG, "triplet_margin (cuda): unknown reduction %d", reduction);
    int32_t s = jnce_cuda_enter(ctx, "triplet_margin");
    if (s != JNCE_OK) return s;
    float *row_loss = loss;
    if (reduction != JNCE_REDUCTION_NONE) {
        void *scratch;
        s = jnce_cuda_scratch(ctx, N * (int64_t)sizeof(float), &scratch, "triplet_margin");
        if (s != JNCE_OK) return s;
        row_loss = (float *)scratch;
    }
    const trip_call c = {anchor, positive, negative, N, D, distance == JNCE_DISTANCE_COSINE, (double)p, (double)eps,
                         (double)margin, reduction == JNCE_REDUCTION_MEAN ? 1.0 / (double)N : 1.0, swap != 0, reduction,
                         row_loss, grad_anchor, grad_positive, grad_negative};
    const int threads = D >= 1024 ? 256 : D >= 128 ? 128 : 32;
    triplet_kernel<<<jnce_cuda_row_blocks(N), threads, 0, ctx->stream>>>(c);
    if (reduction != JNCE_REDUCTION_NONE)
        triplet_reduce_kernel<<<1, 1024, 0, ctx->stream>>>(row_loss, N, reduction == JNCE_REDUCTION_MEAN, loss);
    return jnce_cuda_launched("triplet_margin (cuda) launch");
}
