package dev.jnce.interop;

/**
 * Two-tower InfoNCE in float64, unnormalised, temperature tau, mean over rows: the reference the
 * interop tests check jnce's values against. loss = mean_i (lse_j(s_ij) - s_ii), s = q kᵀ / tau;
 * dq = (P - I) k / (N tau), dk = (P - I)ᵀ q / (N tau), P the row softmax of s.
 */
final class InfoNceReference {
    final double loss;
    final double[] dq, dk; // (N, D) row-major

    InfoNceReference(float[] q, float[] k, int n, int d, double tau) {
        double[] g = new double[n * n];
        double total = 0;
        for (int i = 0; i < n; i++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int c = 0; c < d; c++) s += (double) q[i * d + c] * k[j * d + c];
                g[i * n + j] = s / tau;
                max = Math.max(max, g[i * n + j]);
            }
            double sum = 0;
            for (int j = 0; j < n; j++) sum += Math.exp(g[i * n + j] - max);
            total += max + Math.log(sum) - g[i * n + i];
            for (int j = 0; j < n; j++) g[i * n + j] = (Math.exp(g[i * n + j] - max) / sum - (i == j ? 1 : 0)) / (n * tau);
        }
        loss = total / n;
        dq = new double[n * d];
        dk = new double[n * d];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                for (int c = 0; c < d; c++) {
                    dq[i * d + c] += g[i * n + j] * k[j * d + c];
                    dk[j * d + c] += g[i * n + j] * q[i * d + c];
                }
            }
        }
    }

    static float[] gaussian(long seed, int count) {
        java.util.Random r = new java.util.Random(seed);
        float[] v = new float[count];
        for (int i = 0; i < count; i++) v[i] = (float) r.nextGaussian();
        return v;
    }
}
