/*
 * test_attention.c - checks jnce_attention_fwd/bwd against a plain double reference that holds
 * the whole (L, S) matrix: out = softmax(q kᵀ scale + mask) v, and the gradients of the row
 * softmax written out (dV = Pᵀ dO, dP = dO Vᵀ, dS = P (dP - rowsum(dP P)), dQ = s dS K,
 * dK = s dSᵀ Q). Shapes cross the 64-row and 256-key tiles; causal and key masks, an additive (L, S) bias with -inf entries; a batch whose
 * keys are all masked (NaN as PyTorch, or 0 with masked_rows_zero). ctest runs it three times:
 * JNCE_SIMD unset (AVX-512 tiles where d, dv are multiples of 16 and the CPU has AVX-512),
 * "avx2" (OpenBLAS tiles) and "scalar".
 */
#include <math.h>
#include <string.h>

#include "jnce.h"
#include "check.h"

typedef struct {
    int64_t B, H, L, S, d, dv;
    float scale;
    int causal;
} shape;

static int allowed(const shape *c, const int32_t *km, int64_t bh, int64_t i, int64_t j) {
    if (km && km[(bh / c->H) * c->S + j] == 0) return 0;
    return !(c->causal && j > i);
}

/* Reference forward and backward in double for one batch-head; rows with no key give NaN. */
static void reference(const shape *c, const int32_t *km, const float *bias, int64_t bh, const float *q, const float *k, const float *v,
                      const float *dout, int zero_rows, double *out, double *dq, double *dk, double *dv) {
    int dead = 0;
    int64_t L = c->L, S = c->S, d = c->d, E = c->dv;
    double *p = calloc((size_t)(L * S), sizeof(double)), *ds = calloc((size_t)(L * S), sizeof(double));
    memset(dk, 0, sizeof(double) * (size_t)(S * d));
    memset(dv, 0, sizeof(double) * (size_t)(S * E));
    for (int64_t i = 0; i < L; i++) {
        double max = -INFINITY;
        for (int64_t j = 0; j < S; j++) {
            double s = 0;
            for (int64_t t = 0; t < d; t++) s += (double)q[i * d + t] * k[j * d + t];
            p[i * S + j] = allowed(c, km, bh, i, j) ? s * c->scale + (bias ? bias[i * S + j] : 0.0) : -INFINITY;
            if (p[i * S + j] > max) max = p[i * S + j];
        }
        double sum = 0;
        for (int64_t j = 0; j < S; j++) sum += p[i * S + j] == -INFINITY ? 0 : exp(p[i * S + j] - max);
        if (sum == 0) dead = 1; /* no key: NaN as PyTorch, or a row of zeros with zero_rows */
        for (int64_t j = 0; j < S; j++)
            p[i * S + j] = sum == 0 ? (zero_rows ? 0 : NAN) : p[i * S + j] == -INFINITY ? 0 : exp(p[i * S + j] - max) / sum;
        for (int64_t e = 0; e < E; e++) {
            double o = 0;
            for (int64_t j = 0; j < S; j++) o += p[i * S + j] * v[j * E + e];
            out[i * E + e] = o;
        }
        double rs = 0;
        for (int64_t j = 0; j < S; j++) {
            double dp = 0;
            for (int64_t e = 0; e < E; e++) dp += (double)dout[i * E + e] * v[j * E + e];
            ds[i * S + j] = dp;
            rs += dp * p[i * S + j];
        }
        for (int64_t j = 0; j < S; j++) ds[i * S + j] = p[i * S + j] * (ds[i * S + j] - rs);
        for (int64_t t = 0; t < d; t++) {
            double g = 0;
            for (int64_t j = 0; j < S; j++) g += ds[i * S + j] * k[j * d + t];
            dq[i * d + t] = c->scale * g;
        }
        for (int64_t j = 0; j < S; j++) {
            for (int64_t t = 0; t < d; t++) dk[j * d + t] += c->scale * ds[i * S + j] * q[i * d + t];
            for (int64_t e = 0; e < E; e++) dv[j * E + e] += p[i * S + j] * dout[i * E + e];
        }
    }
    if (dead && !zero_rows) { /* autograd through the NaN reaches every key and value */
        for (int64_t j = 0; j < S * d; j++) dk[j] = NAN;
        for (int64_t j = 0; j < S * E; j++) dv[j] = NAN;
    }
    free(p);
    free(ds);
}

static double worst(const double *ref, const float *got, int64_t n) {
    double w = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs(ref[i] - got[i]) / (1.0 + fabs(ref[i]));
        if (!(e <= w)) w = isnan(ref[i]) && isnan(got[i]) ? w : (isnan(e) ? INFINITY : e);
    }
    return w;
}

/* masking: 0 none, 1 some keys, 2 batch 0's keys all; biased: an (L, S) bias with some -inf */
static void attention_case(shape c, int masking, int biased, int zero_rows) {
    int64_t BH = c.B * c.H, L = c.L, S = c.S, d = c.d, E = c.dv;
    float *q = random_floats(BH * L * d), *k = random_floats(BH * S * d), *v = random_floats(BH * S * E);
    float *dout = random_floats(BH * L * E), *out = malloc(sizeof(float) * (size_t)(BH * L * E));
    float *lse = malloc(sizeof(float) * (size_t)(BH * L)), *dq = malloc(sizeof(float) * (size_t)(BH * L * d));
    float *dk = malloc(sizeof(float) * (size_t)(BH * S * d)), *dv = malloc(sizeof(float) * (size_t)(BH * S * E));
    int32_t *km = NULL;
    if (masking) {
        km = malloc(sizeof(int32_t) * (size_t)(c.B * S));
        for (int64_t j = 0; j < c.B * S; j++) km[j] = (j * 7) % 5 != 0;
        if (masking == 2) memset(km, 0, sizeof(int32_t) * (size_t)S); /* batch 0: every key masked */
    }
    float *bias = NULL;
    if (biased) {
        bias = random_floats(L * S);
        for (int64_t t = 0; t < L * S; t++)
            if ((t * 3) % 7 == 0 && t % S != 0) bias[t] = -INFINITY; /* key 0 stays: no row loses every key */
    }
    CHECK(jnce_attention_fwd(BH, c.H, L, S, d, E, q, k, v, km, bias, c.scale, c.causal, zero_rows, out, lse) == JNCE_OK, "fwd");
    CHECK(jnce_attention_bwd(BH, c.H, L, S, d, E, q, k, v, km, bias, c.scale, c.causal, zero_rows, out, dout, lse, dq, dk, dv) == JNCE_OK,
          "bwd");
    double *ro = malloc(sizeof(double) * (size_t)(L * E)), *rq = malloc(sizeof(double) * (size_t)(L * d));
    double *rk = malloc(sizeof(double) * (size_t)(S * d)), *rv = malloc(sizeof(double) * (size_t)(S * E));
    for (int64_t bh = 0; bh < BH; bh++) {
        reference(&c, km, bias, bh, q + bh * L * d, k + bh * S * d, v + bh * S * E, dout + bh * L * E, zero_rows, ro, rq, rk, rv);
        int dead = masking == 2 && bh / c.H == 0;
        double eo = worst(ro, out + bh * L * E, L * E), eq = worst(rq, dq + bh * L * d, L * d);
        double ek = worst(rk, dk + bh * S * d, S * d), ev = worst(rv, dv + bh * S * E, S * E);
        CHECK(eo <= 2e-5 && eq <= 5e-5 && ek <= 5e-5 && ev <= 5e-5,
              "B=%lld H=%lld L=%lld S=%lld d=%lld dv=%lld causal=%d masking=%d biased=%d zero_rows=%d bh=%lld: errors out %.3g dq %.3g dk %.3g dv %.3g",
              (long long)c.B, (long long)c.H, (long long)L, (long long)S, (long long)d, (long long)E, c.causal, masking,
              biased, zero_rows, (long long)bh, eo, eq, ek, ev);
        if (dead) CHECK(lse[bh * L] == -INFINITY, "a row without keys has lse -inf");
    }
    free(q); free(k); free(v); free(dout); free(out); free(lse); free(dq); free(dk); free(dv); free(km); free(bias);
    free(ro); free(rq); free(rk); free(rv);
}

int main(void) {
    srand(11);
    shape shapes[] = {{1, 1, 1, 1, 1, 1, 1.0f, 0}, {2, 2, 70, 300, 8, 5, 0.35f, 0}, {1, 3, 130, 130, 16, 16, 0.25f, 1},
                      {2, 1, 300, 70, 4, 6, 0.5f, 1}, {1, 2, 65, 257, 8, 8, 0.3f, 0},
                      /* d, dv multiples of 16: the AVX-512 tiles, 6-row blocks and 16- to 64-column panels */
                      {1, 2, 130, 300, 64, 64, 0.125f, 1}, {2, 1, 70, 129, 32, 48, 0.2f, 0}, {1, 1, 64, 256, 128, 16, 0.1f, 1},
                      {1, 1, 7, 513, 80, 96, 0.11f, 0},
                      {1, 1, 600, 530, 8, 8, 0.3f, 1}, /* causal over several 256-row and 256-key blocks */
                      {1, 1, 600, 530, 64, 32, 0.3f, 1}};
    for (int s = 0; s < (int)(sizeof shapes / sizeof shapes[0]); s++)
        for (int masking = 0; masking < 3; masking++)
            for (int biased = 0; biased < 2; biased++)
                for (int zero_rows = 0; zero_rows < 2; zero_rows++) attention_case(shapes[s], masking, biased, zero_rows);
    float x = 1;
    int32_t st = jnce_attention_fwd(2, 3, 1, 1, 1, 1, &x, &x, &x, NULL, NULL, 1.0f, 0, 0, &x, &x);
    CHECK(st == JNCE_ERR_INVALID_ARG, "H must divide BH");
    CHECK(jnce_attention_fwd(1, 1, 1, 1, 1, 1, &x, &x, &x, NULL, NULL, 0.0f, 0, 0, &x, &x) == JNCE_ERR_INVALID_ARG, "scale 0 fails");
    return finish("test_attention");
}
