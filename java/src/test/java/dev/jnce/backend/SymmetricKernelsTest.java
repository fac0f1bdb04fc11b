package dev.jnce.backend;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.ContrastiveKernels;
import dev.jnce.backend.ContrastiveKernels.SymmetricTargets;
import dev.jnce.Reduction;
import dev.jnce.testutil.Reductions;
import dev.jnce.testutil.ScopedTest;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static dev.jnce.testutil.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The kernels behind the one-tensor InfoNCE forms, on every backend, against float64: SYRK's
 * lower triangle, and the symmetric cross-entropy reading only that triangle (NaN above it)
 * for every kind of target (label targets included, int32 and int64, with rows left out), in place, into
 * another buffer, and forward only.
 */
class SymmetricKernelsTest extends ScopedTest {
    private static final int N = 130, D = 7;
    private static final float ALPHA = 1 / 0.1f;
    /** 13 classes of 10 rows each. */
    private static final long[] LABELS = java.util.stream.LongStream.range(0, N).map(i -> (i * 3) % 13).toArray();
    /** The same with rows 0 and N-1 on labels of their own: no positive, left out with skipEmpty. */
    private static final long[] LABELS_WITH_LONERS = withLoners(LABELS, 100, 101);

    private static int[] int32(long[] labels) {
        return java.util.Arrays.stream(labels).mapToInt(l -> (int) l).toArray();
    }

    private static long[] withLoners(long[] labels, long first, long last) {
        long[] out = labels.clone();
        out[0] = first;
        out[out.length - 1] = last;
        return out;
    }

    static Stream<Arguments> cases() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(Reductions.all()).flatMap(r -> Stream.of(
                Arguments.of(b, new SymmetricTargets(0, false, false, r)),
                Arguments.of(b, new SymmetricTargets(0, false, true, r)),
                Arguments.of(b, new SymmetricTargets(N / 2, true, false, r)),
                Arguments.of(b, new SymmetricTargets(N / 2, true, true, r)),
                Arguments.of(b, new SymmetricTargets(3, false, true, r)),
                Arguments.of(b, SymmetricTargets.labels(Tensor.of(LABELS), false, r)),
                Arguments.of(b, SymmetricTargets.labels(Tensor.of(LABELS_WITH_LONERS), true, r)),
                Arguments.of(b, SymmetricTargets.labels(Tensor.of(int32(LABELS_WITH_LONERS)), true, r)))));
    }

    static Stream<Arguments> poisonCases() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(
                Arguments.of(b, new SymmetricTargets(0, false, false, Reduction.NONE)),
                Arguments.of(b, new SymmetricTargets(N / 2, true, false, Reduction.NONE)),
                Arguments.of(b, new SymmetricTargets(N / 2, true, true, Reduction.NONE)),
                Arguments.of(b, new SymmetricTargets(3, false, true, Reduction.NONE)),
                Arguments.of(b, SymmetricTargets.labels(Tensor.of(LABELS), false, Reduction.NONE))));
    }

    /**
     * A NaN at (100, 5) and a +Inf at (120, 70), away from the diagonal (in tiles of their own on a
     * backend that tiles the triangle): rows and columns 5, 70, 100 and 120 of g + gᵀ are NaN and
     * so are those rows' losses, forward only too; every other row's loss and every other entry
     * stays finite.
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("poisonCases")
    void aNanOrInfiniteLogitPoisonsItsRowsAndColumns(Backend backend, SymmetricTargets t) {
        ContrastiveKernels xent = ((Kernels) backend).contrastive();
        SplittableRandom random = new SplittableRandom(9);
        Tensor s = nans();
        for (int i = 0; i < N; i++) {
            for (int j = 0; j <= i; j++) s.segment().setAtIndex(ValueLayout.JAVA_FLOAT, (long) i * N + j, (float) random.nextDouble(-3, 3));
        }
        s.segment().setAtIndex(ValueLayout.JAVA_FLOAT, 100L * N + 5, Float.NaN);
        s.segment().setAtIndex(ValueLayout.JAVA_FLOAT, 120L * N + 70, Float.POSITIVE_INFINITY);
        java.util.Set<Integer> poisoned = java.util.Set.of(5, 70, 100, 120);
        Tensor forwardOnly = Tensor.zeros(DType.FLOAT32, N), loss = Tensor.zeros(DType.FLOAT32, N), grad = nans();
        xent.symmetricCrossEntropy(s, t, forwardOnly, null);
        xent.symmetricCrossEntropy(s, t, loss, grad);
        float[] f = forwardOnly.toFloatArray(), l = loss.toFloatArray(), g = grad.toFloatArray();
        for (int i = 0; i < N; i++) {
            assertEquals(poisoned.contains(i), Float.isNaN(l[i]), "loss of row " + i + ": " + l[i]);
            assertEquals(poisoned.contains(i), Float.isNaN(f[i]), "forward-only loss of row " + i + ": " + f[i]);
            for (int j = 0; j < N; j++) {
                boolean want = poisoned.contains(i) || poisoned.contains(j);
                assertEquals(want, Float.isNaN(g[i * N + j]), "g + gᵀ at (" + i + ", " + j + "): " + g[i * N + j]);
                if (!want) assertTrue(Float.isFinite(g[i * N + j]), "g + gᵀ at (" + i + ", " + j + ")");
            }
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void matchesFloat64(Backend backend, SymmetricTargets t) {
        SimilarityKernels sim = ((Kernels) backend).similarity();
        ContrastiveKernels xent = ((Kernels) backend).contrastive();
        float[] f = new float[N * D];
        SplittableRandom random = new SplittableRandom(5);
        for (int i = 0; i < f.length; i++) f[i] = (float) random.nextDouble(-0.5, 0.5);
        double[] x = new double[N * N];
        for (int i = 0; i < N; i++) {
            for (int j = 0; j < N; j++) {
                double dot = 0;
                for (int k = 0; k < D; k++) dot += (double) f[i * D + k] * f[j * D + k];
                x[i * N + j] = ALPHA * dot;
            }
        }
        Tensor s = nans();
        sim.syrk(ALPHA, Tensor.of(f, N, D), s);
        float[] got = s.toFloatArray();
        double[] wantLower = new double[N * N];
        float[] gotLower = new float[N * N];
        for (int i = 0; i < N; i++) for (int j = 0; j <= i; j++) {
            wantLower[i * N + j] = x[i * N + j];
            gotLower[i * N + j] = got[i * N + j];
        }
        assertClose(wantLower, gotLower, 1e-5, "syrk, lower triangle");
        for (int i = 0; i < N; i++) {
            for (int j = i + 1; j < N; j++) s.segment().setAtIndex(ValueLayout.JAVA_FLOAT, (long) i * N + j, Float.NaN);
        }

        double[] rowLoss = new double[N], h = new double[N * N];
        int counted = reference(x, N, t, rowLoss, h);
        double[] wantLoss = t.reduction() == Reduction.NONE ? rowLoss
                : new double[] {Arrays.stream(rowLoss).sum() / (t.reduction() == Reduction.MEAN ? counted : 1)};
        long[] lossShape = t.reduction() == Reduction.NONE ? new long[] {N} : new long[0];

        Tensor forwardOnly = Tensor.zeros(DType.FLOAT32, lossShape);
        xent.symmetricCrossEntropy(s, t, forwardOnly, null);
        assertClose(wantLoss, forwardOnly.toFloatArray(), 2e-6, "loss, forward only");

        Tensor loss = Tensor.zeros(DType.FLOAT32, lossShape), grad = nans();
        xent.symmetricCrossEntropy(s, t, loss, grad);
        assertClose(wantLoss, loss.toFloatArray(), 2e-6, "loss");
        assertClose(h, grad.toFloatArray(), 2e-6, "g + gᵀ");
        assertTrue(Float.isNaN(s.segment().getAtIndex(ValueLayout.JAVA_FLOAT, 1)), "s is left alone");

        xent.symmetricCrossEntropy(s, t, loss, s);
        assertClose(h, s.toFloatArray(), 2e-6, "g + gᵀ in place");
    }

    static Stream<Arguments> gradientCases() {
        int n = GRAD_N;
        long[] labels = java.util.stream.LongStream.range(0, n).map(i -> (i * 7) % 40).toArray();
        return TestBackends.all().stream().flatMap(b -> Stream.of(
                Arguments.of(b, new SymmetricTargets(n / 2, true, false, Reduction.MEAN)),
                Arguments.of(b, new SymmetricTargets(0, false, false, Reduction.NONE)),
                Arguments.of(b, new SymmetricTargets(5, true, true, Reduction.SUM)),
                Arguments.of(b, SymmetricTargets.labels(Tensor.of(labels), false, Reduction.MEAN)),
                Arguments.of(b, SymmetricTargets.labels(Tensor.of(int32(withLoners(labels, 1000, 1001))), true, Reduction.NONE))));
    }

    /** Past two 1024-row blocks and a part of a third: where the cpu backend keeps only the lower part of g + gᵀ. */
    private static final int GRAD_N = 2200, GRAD_D = 12;

    /**
     * symmetricGradient's loss and df = alpha (g + gᵀ) f against float64 at N = 2200 (the cpu
     * backend's product in three row blocks, formed and multiplied tile by tile left of them
     * where the CPU has AVX-512; the java backend's in blocks of 256 formed and multiplied in
     * its buffers), each entry of df within float rounding of its terms' magnitudes.
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("gradientCases")
    void gradientProductMatchesFloat64(Backend backend, SymmetricTargets t) {
        checkGradientProduct((Kernels) backend, t, GRAD_N, GRAD_D, GRAD_N);
    }

    static Stream<Arguments> wideGradientCases() {
        int n = GRAD_N;
        long[] twoClasses = java.util.stream.LongStream.range(0, n).map(i -> i % 3 == 0 ? 0 : 1).toArray(); // groups of 734 and 1466
        return TestBackends.all().stream().flatMap(b -> Stream.of(
                Arguments.of(b, new SymmetricTargets(n / 2, true, true, Reduction.MEAN)),
                Arguments.of(b, new SymmetricTargets(0, false, false, Reduction.SUM)),
                Arguments.of(b, SymmetricTargets.labels(Tensor.of(twoClasses), false, Reduction.MEAN))));
    }

    /**
     * The same with D = 70 (past one 64-column panel of the java kernel and the cpu tiles' 64
     * columns, with a tail), decoupled mutual targets, and two labels of unequal groups that span every block.
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("wideGradientCases")
    void gradientProductOfWideRowsMatchesFloat64(Backend backend, SymmetricTargets t) {
        checkGradientProduct((Kernels) backend, t, GRAD_N, 70, GRAD_N);
    }

    static Stream<Arguments> strideCases() {
        int n = STRIDE_N;
        long[] labels = java.util.stream.LongStream.range(0, n).map(i -> (i * 5) % 32).toArray();
        return TestBackends.all().stream().flatMap(b -> Stream.of(
                Arguments.of(b, new SymmetricTargets(n / 2, true, false, Reduction.MEAN)),
                Arguments.of(b, new SymmetricTargets(0, false, false, Reduction.SUM)),
                Arguments.of(b, SymmetricTargets.labels(Tensor.of(labels), false, Reduction.MEAN))));
    }

    /** Rows of 4 KiB: the cpu backend asks for longer rows (cache-set conflicts), the others for N. */
    private static final int STRIDE_N = 1024;

    /**
     * The same checks in an (N, stride) buffer of the backend's own {@link ContrastiveKernels#symmetricRowStride},
     * NaN wherever the logits' lower triangle is not: the padding is never read and the results
     * match float64 as with square rows. The cpu backend pads N = 1024.
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("strideCases")
    void gradientProductInTheBackendsRowStride(Backend backend, SymmetricTargets t) {
        Kernels k = (Kernels) backend;
        long stride = k.contrastive().symmetricRowStride(STRIDE_N);
        assertTrue(stride >= STRIDE_N, "stride " + stride);
        if (backend.name().equals("cpu")) assertEquals(STRIDE_N + 16, stride, "cpu's row stride for N = 1024");
        checkGradientProduct(k, t, STRIDE_N, 8, stride);
    }

    private static void checkGradientProduct(Kernels k, SymmetricTargets t, int n, int d, long strideLong) {
        int stride = Math.toIntExact(strideLong);
        float[] f = new float[n * d];
        SplittableRandom random = new SplittableRandom(13);
        for (int i = 0; i < n; i++) {
            double norm = 0;
            for (int c = 0; c < d; c++) norm += Math.pow(f[i * d + c] = (float) random.nextDouble(-1, 1), 2);
            for (int c = 0; c < d; c++) f[i * d + c] = (float) (f[i * d + c] / Math.sqrt(norm));
        }
        Tensor ft = Tensor.of(f, n, d);
        float[] nan = new float[n * stride];
        Arrays.fill(nan, Float.NaN);
        Tensor s = Tensor.of(nan, n, stride);
        k.similarity().syrk(ALPHA, ft, s);
        float[] lower = s.toFloatArray();
        double[] x = new double[n * n];
        for (int i = 0; i < n; i++) for (int j = 0; j <= i; j++) x[i * n + j] = x[j * n + i] = lower[i * stride + j];

        double[] rowLoss = new double[n], h = new double[n * n];
        int counted = reference(x, n, t, rowLoss, h);
        double total = Arrays.stream(rowLoss).sum();
        double[] wantLoss = t.reduction() == Reduction.NONE ? rowLoss
                : new double[] {t.reduction() == Reduction.MEAN ? total / counted : total};
        Tensor loss = Tensor.zeros(DType.FLOAT32, t.reduction() == Reduction.NONE ? new long[] {n} : new long[0]);
        Tensor df = Tensor.zeros(DType.FLOAT32, n, d);
        k.contrastive().symmetricGradient(s, t, loss, ALPHA, ft, df, k.similarity());
        assertClose(wantLoss, loss.toFloatArray(), 2e-6, "loss");

        float[] got = df.toFloatArray();
        int worst = -1;
        double worstRatio = 0;
        for (int i = 0; i < n; i++) {
            for (int c = 0; c < d; c++) {
                double want = 0, scale = 0;
                for (int j = 0; j < n; j++) {
                    double term = ALPHA * h[i * n + j] * f[j * d + c];
                    want += term;
                    scale += Math.abs(term);
                }
                double ratio = Math.abs(got[i * d + c] - want) / Math.max(scale, 1e-30);
                if (!(ratio <= worstRatio)) {
                    worstRatio = Double.isNaN(ratio) ? Double.POSITIVE_INFINITY : ratio;
                    worst = i * d + c;
                }
            }
        }
        assertTrue(worstRatio <= 2e-5, "df: worst error " + worstRatio + " of its terms' magnitude at (" + worst / d + ", "
                + worst % d + ")");
    }

    /** Several row, column and depth blocks of the Java SYRK (64, 256, 256), over NaN: the lower triangle against float64. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void syrkOverManyBlocksMatchesFloat64(Backend backend) {
        int n = 601, d = 300;
        float[] f = new float[n * d];
        SplittableRandom random = new SplittableRandom(11);
        for (int i = 0; i < f.length; i++) f[i] = (float) random.nextDouble(-1, 1);
        float[] v = new float[n * n];
        Arrays.fill(v, Float.NaN);
        Tensor s = Tensor.of(v, n, n);
        ((Kernels) backend).similarity().syrk(0.5f, Tensor.of(f, n, d), s);
        float[] got = s.toFloatArray();
        double[] want = new double[n * (n + 1) / 2];
        float[] lower = new float[want.length];
        int at = 0;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++, at++) {
                double dot = 0;
                for (int k = 0; k < d; k++) dot += (double) f[i * d + k] * f[j * d + k];
                want[at] = 0.5 * dot;
                lower[at] = got[i * n + j];
            }
        }
        assertClose(want, lower, 2e-6 * Math.sqrt(d) * 4, "syrk 601 x 300, lower triangle");
    }

    private static Tensor nans() {
        float[] v = new float[N * N];
        Arrays.fill(v, Float.NaN);
        return Tensor.of(v, N, N);
    }

    /**
     * Plain float64 cross-entropy over the full symmetric (n, n) matrix; h = g + gᵀ. Rows without
     * positive (labels) have loss 0 and no gradient row. Returns the number of rows counted.
     */
    private static int reference(double[] x, int n, SymmetricTargets t, double[] rowLoss, double[] h) {
        long[] labels = t.labels() == null ? null : t.labels().toLongArray();
        int[] count = new int[n];
        int counted = n;
        for (int i = 0; labels != null && i < n; i++) {
            for (int j = 0; j < n; j++) if (j != i && labels[j] == labels[i]) count[i]++;
            if (count[i] == 0) counted--;
        }
        double w = t.reduction() == Reduction.MEAN ? 1.0 / counted : 1.0;
        double[] g = new double[n * n];
        for (int i = 0; i < n; i++) {
            int p = (int) ((i + t.offset()) % n);
            double[] target = new double[n];
            if (labels == null) {
                target[p] = 1;
            } else if (count[i] == 0) {
                continue;
            } else {
                for (int j = 0; j < n; j++) if (j != i && labels[j] == labels[i]) target[j] = 1.0 / count[i];
            }
            double m = Double.NEGATIVE_INFINITY, sum = 0, positive = 0;
            for (int j = 0; j < n; j++) if (candidate(t, i, j, p)) m = Math.max(m, x[i * n + j]);
            for (int j = 0; j < n; j++) if (candidate(t, i, j, p)) sum += Math.exp(x[i * n + j] - m);
            double lse = m + Math.log(sum);
            for (int j = 0; j < n; j++) positive += target[j] * x[i * n + j];
            rowLoss[i] = lse - positive;
            for (int j = 0; j < n; j++) {
                g[i * n + j] = w * ((candidate(t, i, j, p) ? Math.exp(x[i * n + j] - lse) : 0) - target[j]);
            }
        }
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) h[i * n + j] = g[i * n + j] + g[j * n + i];
        return counted;
    }

    private static boolean candidate(SymmetricTargets t, int i, int j, int p) {
        if (t.labels() != null) return j != i;
        return !(t.excludeSelf() && j == i) && !(t.decoupled() && j == p);
    }
}
