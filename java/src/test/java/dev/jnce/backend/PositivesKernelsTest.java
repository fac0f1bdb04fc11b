package dev.jnce.backend;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.ContrastiveKernels;
import dev.jnce.backend.ContrastiveKernels.PositiveTargets;
import dev.jnce.backend.ContrastiveKernels.PositivesOutcome;
import dev.jnce.Reduction;
import dev.jnce.testutil.Reductions;
import dev.jnce.testutil.ScopedTest;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static dev.jnce.testutil.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The several-positives cross-entropy (two-tower InfoNCE by labels or mask) on every backend
 * against its float64 definition: labels and mask, the self column left out (whole matrix and a
 * block of rows), rows without
 * positive skipped or reported (with nothing written), int32 query labels beside int64 key
 * labels, each reduction, in place, into another buffer and forward only.
 */
class PositivesKernelsTest extends ScopedTest {
    private static final int N = 70, M = 90;

    /** SELF: one tensor, the whole matrix (row i's own column is i); BLOCK_SELF: rows 20.. of one, own column i + 20. */
    enum Kind { LABELS, MASK, LABELS_SELF, MASK_BLOCK_SELF, LABELS_BLOCK_SELF, LABELS_INT32_QUERIES }

    static Stream<Arguments> cases() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(Kind.values()).flatMap(kind ->
                Stream.of(Reductions.all()).flatMap(r -> Stream.of(Arguments.of(b, kind, r, false), Arguments.of(b, kind, r, true)))));
    }

    /** The case's logits, positives and targets; loners: rows 0 and 5 get no positive. */
    private record Case(int n, int m, float[] logits, boolean[][] positive, PositiveTargets targets) {
        static Case of(Kind kind, Reduction reduction, boolean loners) {
            long selfOffset = switch (kind) {
                case LABELS_SELF -> 0;
                case MASK_BLOCK_SELF, LABELS_BLOCK_SELF -> M - N;
                default -> -1;
            };
            int n = N, m = kind == Kind.LABELS_SELF ? N : M;
            SplittableRandom random = new SplittableRandom(9);
            float[] logits = new float[n * m];
            for (int k = 0; k < logits.length; k++) logits[k] = (float) random.nextDouble(-1, 1) / 0.07f;
            long[] ql = new long[n], kl = new long[m];
            for (int i = 0; i < n; i++) ql[i] = (i * 5) % 7;
            for (int j = 0; j < m; j++) kl[j] = (j * 3) % 7;
            if (loners) ql[0] = ql[5] = 99;
            int[] mask = new int[n * m];
            for (int i = 0; i < n; i++) for (int j = 0; j < m; j++) mask[i * m + j] = (i + 2 * j) % 5 == 0 ? j - 40 : 0;
            if (loners) Arrays.fill(mask, 0, m, 0);
            if (loners) Arrays.fill(mask, 5 * m, 6 * m, 0);
            boolean byMask = kind == Kind.MASK || kind == Kind.MASK_BLOCK_SELF;
            boolean[][] positive = new boolean[n][m];
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < m; j++) {
                    positive[i][j] = (byMask ? mask[i * m + j] != 0 : ql[i] == kl[j]) && (selfOffset < 0 || j != i + selfOffset);
                }
            }
            PositiveTargets t = byMask
                    ? new PositiveTargets(null, null, Tensor.of(mask, n, m), selfOffset, loners, reduction)
                    : PositiveTargets.labels(kind == Kind.LABELS_INT32_QUERIES ? Tensor.of(int32(ql)) : Tensor.of(ql), Tensor.of(kl),
                    selfOffset, loners, reduction);
            return new Case(n, m, logits, positive, t);
        }

        private static int[] int32(long[] labels) {
            return Arrays.stream(labels).mapToInt(l -> (int) l).toArray();
        }

        boolean candidate(int i, int j) {
            return targets.selfOffset() < 0 || j != i + targets.selfOffset();
        }
    }

    @ParameterizedTest(name = "{0} {1} {2} loners={3}")
    @MethodSource("cases")
    void matchesFloat64(Backend backend, Kind kind, Reduction reduction, boolean loners) {
        ContrastiveKernels sim = ((Kernels) backend).contrastive();
        Case c = Case.of(kind, reduction, loners);
        int n = c.n(), m = c.m();
        double[] rowLoss = new double[n], g = new double[n * m];
        int counted = 0;
        for (int i = 0; i < n; i++) if (count(c.positive()[i]) > 0) counted++;
        double w = reduction == Reduction.MEAN ? 1.0 / counted : 1.0;
        for (int i = 0; i < n; i++) {
            int k = count(c.positive()[i]);
            if (k == 0) continue;
            double max = Double.NEGATIVE_INFINITY, sum = 0, pos = 0;
            for (int j = 0; j < m; j++) if (c.candidate(i, j)) max = Math.max(max, c.logits()[i * m + j]);
            for (int j = 0; j < m; j++) if (c.candidate(i, j)) sum += Math.exp(c.logits()[i * m + j] - max);
            for (int j = 0; j < m; j++) if (c.positive()[i][j]) pos += c.logits()[i * m + j];
            double lse = max + Math.log(sum);
            rowLoss[i] = lse - pos / k;
            for (int j = 0; j < m; j++) {
                if (c.candidate(i, j)) g[i * m + j] = w * (Math.exp(c.logits()[i * m + j] - lse) - (c.positive()[i][j] ? 1.0 / k : 0));
            }
        }
        double[] wantLoss = reduction == Reduction.NONE ? rowLoss
                : new double[] {Arrays.stream(rowLoss).sum() / (reduction == Reduction.MEAN ? counted : 1)};
        long[] lossShape = reduction == Reduction.NONE ? new long[] {n} : new long[0];
        Tensor s = Tensor.of(c.logits(), n, m);

        Tensor forwardOnly = Tensor.zeros(DType.FLOAT32, lossShape);
        assertEquals(new PositivesOutcome(counted, -1), sim.positivesCrossEntropy(s, c.targets(), forwardOnly, null));
        assertClose(wantLoss, forwardOnly.toFloatArray(), 2e-6, "loss, forward only");
        Tensor loss = Tensor.zeros(DType.FLOAT32, lossShape), grad = Tensor.zeros(DType.FLOAT32, n, m);
        sim.positivesCrossEntropy(s, c.targets(), loss, grad);
        assertClose(wantLoss, loss.toFloatArray(), 2e-6, "loss");
        assertClose(g, grad.toFloatArray(), 2e-6 * w, "gradient");
        assertClose(toDouble(c.logits()), s.toFloatArray(), 0, "s is left alone");
        sim.positivesCrossEntropy(s, c.targets(), loss, s);
        assertClose(g, s.toFloatArray(), 2e-6 * w, "gradient in place");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void aRowWithoutPositiveIsReportedBeforeAnythingIsWritten(Backend backend) {
        ContrastiveKernels sim = ((Kernels) backend).contrastive();
        Tensor s = Tensor.of(new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9}, 3, 3);
        Tensor loss = Tensor.of(new float[] {42f}), grad = Tensor.of(new float[] {42, 42, 42, 42, 42, 42, 42, 42, 42}, 3, 3);
        PositiveTargets labels = PositiveTargets.labels(Tensor.of(new long[] {1, 2, 3}), Tensor.of(new long[] {1, 3, 3}),
                -1, false, Reduction.MEAN);
        assertEquals(1, sim.positivesCrossEntropy(s, labels, loss, grad).rowWithoutPositive(), "row 1: label 2 on no key");
        PositiveTargets selfOnly = PositiveTargets.labels(Tensor.of(new long[] {1, 2, 2}), Tensor.of(new long[] {1, 2, 2}),
                0, false, Reduction.MEAN);
        assertEquals(0, sim.positivesCrossEntropy(s, selfOnly, loss, grad).rowWithoutPositive(), "row 0: its only positive is itself");
        PositiveTargets mask = PositiveTargets.mask(Tensor.of(new int[] {1, 0, 0, 0, 0, 1, 0, 0, 0}, 3, 3), false, Reduction.SUM);
        assertEquals(2, sim.positivesCrossEntropy(s, mask, loss, grad).rowWithoutPositive(), "row 2: an empty mask row");
        assertEquals(42f, loss.item());
        for (float v : grad.toFloatArray()) assertEquals(42f, v);
    }

    private static int count(boolean[] row) {
        int k = 0;
        for (boolean b : row) if (b) k++;
        return k;
    }

    private static double[] toDouble(float[] v) {
        double[] out = new double[v.length];
        for (int k = 0; k < v.length; k++) out[k] = v[k];
        return out;
    }
}
