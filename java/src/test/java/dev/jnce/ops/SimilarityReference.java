package dev.jnce.ops;

import java.util.Comparator;
import java.util.stream.IntStream;

/** The similarity family in float64: the reference the tests judge every backend by. */
final class SimilarityReference {
    private SimilarityReference() {
    }

    /** op(A) op(B) of row-major A and B, times alpha, plus beta * C; as BLAS, alpha = 0 reads neither A nor B, beta = 0 not C. */
    static double[] gemm(boolean ta, boolean tb, int m, int n, int k, double alpha, float[] a, float[] b,
                         double beta, float[] c) {
        double[] out = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) s += (double) (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
                out[i * n + j] = (alpha == 0 ? 0 : alpha * s) + (beta == 0 ? 0 : beta * c[i * n + j]);
            }
        }
        return out;
    }

    /** F.normalize over rows of (n, d). */
    static double[] normalize(double[] x, int n, int d, double eps) {
        double[] y = new double[n * d];
        for (int i = 0; i < n; i++) {
            double c = Math.max(norm(x, i * d, d), eps);
            for (int j = 0; j < d; j++) y[i * d + j] = x[i * d + j] / c;
        }
        return y;
    }

    static double norm(double[] x, int off, int d) {
        double s = 0;
        for (int j = 0; j < d; j++) s += x[off + j] * x[off + j];
        return Math.sqrt(s);
    }

    /** scale * A . B^T, normalising the rows first when cosine; scale = 0 is the GEMM's alpha = 0, zeros. */
    static double[] matrix(double[] a, double[] b, int n, int m, int d, double scale, boolean cosine, double eps) {
        double[] an = cosine ? normalize(a, n, d, eps) : a, bn = cosine ? normalize(b, m, d, eps) : b;
        double[] s = new double[n * m];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < m; j++) {
                double v = 0;
                for (int p = 0; p < d; p++) v += an[i * d + p] * bn[j * d + p];
                s[i * m + j] = scale == 0 ? 0 : scale * v;
            }
        }
        return s;
    }

    /** F.cosine_similarity(dim=1, eps) of PyTorch 1.13: each norm clamped separately. */
    static double[] rowCosine(double[] x1, double[] x2, int n, int d, double eps) {
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            double dot = 0;
            for (int j = 0; j < d; j++) dot += x1[i * d + j] * x2[i * d + j];
            out[i] = dot / (Math.max(norm(x1, i * d, d), eps) * Math.max(norm(x2, i * d, d), eps));
        }
        return out;
    }

    /** sum_k upstream[k] * out[k]: the scalar whose gradient the backward ops return. */
    static double weighted(double[] out, float[] upstream) {
        double s = 0;
        for (int k = 0; k < out.length; k++) s += out[k] * upstream[k];
        return s;
    }

    /** The k best non-positive keys of each row by a full sort: ties by lower index. */
    static long[] mine(float[] sim, int n, int m, int k, boolean[] positive) {
        long[] out = new long[n * k];
        for (int i = 0; i < n; i++) {
            int row = i;
            int[] order = IntStream.range(0, m).filter(j -> !positive[row * m + j]).boxed()
                    .sorted(Comparator.<Integer>comparingDouble(j -> -sim[row * m + j]).thenComparingInt(j -> j))
                    .mapToInt(Integer::intValue).toArray();
            for (int q = 0; q < k; q++) out[i * k + q] = order[q];
        }
        return out;
    }

    static double[] toDouble(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) d[i] = v[i];
        return d;
    }

    static float[] random(int count, long seed) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        float[] x = new float[count];
        for (int i = 0; i < count; i++) x[i] = (float) r.nextGaussian();
        return x;
    }
}
