/*
 * binary_cross_entropy.h - internal: the element-wise driver of binary_cross_entropy.c and the
 * per-element BCE-with-logits terms, shared with focal.c (sigmoid focal loss). Not part of the
 * API (jnce.h is).
 */
#ifndef JNCE_BINARY_CROSS_ENTROPY_H
#define JNCE_BINARY_CROSS_ENTROPY_H

#include <math.h>
#include <stdint.h>

/* One element's loss and its derivatives w.r.t. input and target, before weight and scale. */
typedef struct {
    double loss, d_input, d_target;
} jnce_binary_terms;

/* Terms of element k (input x, target y); params is the op's own constant data. */
typedef jnce_binary_terms (*jnce_binary_fn)(const void *params, int64_t k, double x, double y);

/*
 * Runs fn over numel elements (see the buffer rules in jnce.h): loss_k = weight_k * terms.loss,
 * grads = scale * weight_k * terms.d_*, scale = 1/numel for the mean. Sums are taken per block
 * of JNCE_BINARY_BLOCK elements in double, then over blocks in order, so the result does not
 * depend on the thread count. Validates the shared arguments; op names the caller in messages.
 */
#define JNCE_BINARY_BLOCK 4096
int32_t jnce_binary_run(const char *op, const float *input, const float *target, int64_t numel,
                        const float *weight, int64_t weight_len, jnce_binary_fn fn, const void *params,
                        int32_t reduction, float *loss, float *grad_input, float *grad_target);

/* sigmoid(x) without overflow for any x. */
static inline double jnce_sigmoid(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/*
 * BCE with logits as PyTorch 1.13 evaluates it: (1-y)x + lw*softplus(-x), lw = 1 + (pw-1)y,
 * softplus(-x) = mv + log(exp(-mv) + exp(-x-mv)), mv = max(-x, 0).
 *   d/dx = lw*sigmoid(x) - pw*y       d/dy = -x + (pw-1)*softplus(-x)
 */
static inline jnce_binary_terms jnce_bce_logits_terms(double x, double y, double pw) {
    /* One exp and one log1p: e = exp(-|x|) gives both log(1 + exp(-x)) and the sigmoid. */
    double e = exp(-fabs(x));
    double softplus_neg = (x < 0 ? -x : 0.0) + log1p(e); /* log(1 + exp(-x)) */
    double sigmoid = x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    double lw = 1.0 + (pw - 1.0) * y;
    jnce_binary_terms t = {(1.0 - y) * x + lw * softplus_neg, lw * sigmoid - pw * y,
                           pw == 1.0 ? -x : -x + (pw - 1.0) * softplus_neg};
    return t;
}

#endif
