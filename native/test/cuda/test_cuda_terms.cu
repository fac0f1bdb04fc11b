/*
 * test_cuda_terms - the per-element formulas of src/cuda/binary_cross_entropy.cu (BCE, BCE with
 * logits, sigmoid focal), run on the host, against the CPU kernels of libjnce.so on the same
 * elements: probabilities with exact 0 and 1, logits in [-20, 20], soft and hard targets,
 * pos_weight per element; loss and both gradients within 1e-5 relative. Needs nvcc, not a GPU
 * (built where libjnce_cuda.so is). The kernels themselves run in the cuda-tagged JUnit tests.
 */
#include "../../src/cuda/binary_cross_entropy.cu"
#include <stdio.h>
#include <stdlib.h>
/* the CPU kernels (libjnce.so), reduction NONE with both gradients, against the device term functions run on the host */
int main(void) {
    const int n = 20000;
    float *x = (float*)malloc(n*4), *p = (float*)malloc(n*4), *y = (float*)malloc(n*4), *pw = (float*)malloc(n*4);
    float *l = (float*)malloc(n*4), *gx = (float*)malloc(n*4), *gy = (float*)malloc(n*4);
    srand(1);
    for (int i = 0; i < n; i++) {
        x[i] = ((rand() / (float)RAND_MAX) - 0.5f) * 40.0f;
        p[i] = i % 97 == 3 ? 0.0f : i % 89 == 5 ? 1.0f : rand() / (float)RAND_MAX;
        y[i] = i % 5 == 0 ? rand() / (float)RAND_MAX : (float)(rand() % 2);
        pw[i] = 0.1f + 2.0f * rand() / (float)RAND_MAX;
    }
    double worst[3] = {0, 0, 0};
    for (int op = 0; op < 3; op++) {
        double alpha = 0.25, gamma = 1.5;
        int s;
        if (op == 0) s = jnce_bce_fwd_bwd(p, y, n, NULL, 0, JNCE_REDUCTION_NONE, l, gx, gy);
        else if (op == 1) s = jnce_bce_logits_fwd_bwd(x, y, n, NULL, 0, pw, n, JNCE_REDUCTION_NONE, l, gx, gy);
        else s = jnce_sigmoid_focal_fwd_bwd(x, y, n, (float)alpha, (float)gamma, JNCE_REDUCTION_NONE, l, gx, gy);
        if (s != 0) { printf("cpu status %d\n", s); return 1; }
        for (int i = 0; i < n; i++) {
            bin_terms t = op == 0 ? bce_terms(p[i], y[i]) : op == 1 ? bce_logits_terms(x[i], y[i], pw[i]) : focal_terms(x[i], y[i], alpha, gamma);
            double got[3] = {(float)t.loss, (float)t.dx, (float)t.dy}, want[3] = {l[i], gx[i], gy[i]};
            for (int j = 0; j < 3; j++) {
                double e = got[j] == want[j] ? 0.0 : fabs(got[j] - want[j]) / fmax(1.0, fabs(want[j])); /* dy is +-inf at p = 0, 1 */
                if (!(isnan(got[j]) && isnan(want[j])) && !isnan(worst[op]) && !(e <= worst[op])) worst[op] = e; /* a NaN sticks */
            }
        }
    }
    printf("max rel err vs cpu: bce %.2e, bce_logits %.2e, sigmoid_focal %.2e\n", worst[0], worst[1], worst[2]);
    return worst[0] < 1e-5 && worst[1] < 1e-5 && worst[2] < 1e-5 ? 0 : 1;
}
