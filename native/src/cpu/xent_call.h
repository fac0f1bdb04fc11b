/*
 * xent_call.h - the arguments of one jnce_cross_entropy_fwd_bwd call, gathered by the entry
 * points (CPU and CUDA) for their kernels; not part of the API (jnce.h, where every buffer is a
 * direct argument, is). The fields mean what jnce.h's arguments of the same names mean.
 */
#ifndef JNCE_XENT_CALL_H
#define JNCE_XENT_CALL_H

#include <stdint.h>

typedef struct xent_call {
    int64_t N, C;
    const float *logits;
    const void *targets;
    int32_t target_dtype;
    const float *probs;      /* target_probs */
    const int32_t *row_mask;
    const float *weight;
    int64_t ignore_index;
    float label_smoothing;
    float z_loss;
    int32_t reduction;
    int32_t zero_if_empty;
    float *loss;
    float *grad;
    float *lse;
    int64_t ld;              /* row stride of logits and grad, >= C (the CPU entry points set it) */
    double *lse64;           /* (N) or NULL: lse in double, before its rounding (CPU only: xent_rows.c) */
} xent_call;

#endif
