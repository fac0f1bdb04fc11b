package dev.jnce.loss;

import dev.jnce.Reduction;
import dev.jnce.testutil.Reductions;
import dev.jnce.Backend;
import dev.jnce.Tensor;
import dev.jnce.testutil.Approx;
import dev.jnce.testutil.ScopedTest;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.stream.Stream;

import static dev.jnce.testutil.Approx.assertClose;
import static dev.jnce.loss.CrossEntropyArgumentsTest.assertMessage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The two-tensor path sweeps its logits a block of rows at a time (each block's cross-entropy
 * and its share of both gradient GEMMs, the key gradient accumulated). Swept 3 rows at a time
 * (blocks of 3, 3, 3, 1 and a partial last block), every form, option and reduction gives what
 * one block gives: the loss, every gradient and the temperature's. The one-tensor forms swept in
 * blocks give what their symmetric path gives.
 */
class InfoNceBlocksTest extends ScopedTest {
    private static final int N = 10, D = 6;

    static Stream<Arguments> cases() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(InfoNceReference.Form.TWO_TOWER, InfoNceReference.Form.SHARED,
                InfoNceReference.Form.LABELS, InfoNceReference.Form.MASK).flatMap(f -> Stream.of(Reductions.all()).flatMap(r ->
                Stream.of(Arguments.of(b, f, r, false), Arguments.of(b, f, r, true)))));
    }

    @ParameterizedTest(name = "{0} {1} {2} decoupledOrSkip={3}")
    @MethodSource("cases")
    void blocksOfThreeRowsGiveWhatOneBlockGives(Backend backend, InfoNceReference.Form form, Reduction reduction, boolean option) {
        boolean several = form == InfoNceReference.Form.LABELS || form == InfoNceReference.Form.MASK;
        InfoNceTest.Call call = InfoNceTest.randomCall(form, true, option && !several, reduction, N, D, 0.1f, 17);
        InfoNce loss = call.loss(backend);
        if (several && option) loss = loss.withRowsWithoutPositive(InfoNce.RowsWithoutPositive.SKIP);
        Tensor[] t = call.tensors();
        long[] ql = call.spec().queryLabels();
        int[] mask = call.spec().mask();
        if (several && option) { // rows 1 and 7, in different blocks, get no positive
            if (ql != null) {
                ql = ql.clone();
                ql[1] = ql[7] = 99;
            } else {
                mask = mask.clone();
                int m = (int) t[1].size(0);
                java.util.Arrays.fill(mask, m, 2 * m, 0);
                java.util.Arrays.fill(mask, 7 * m, 8 * m, 0);
            }
        }
        try (InfoNce.Result one = run(loss, form, t, ql, call.spec().keyLabels(), mask);
             InfoNce.Result blocks = run(loss.withBlockRows(3), form, t, ql, call.spec().keyLabels(), mask)) {
            assertClose(Approx.toDouble(one.loss().toFloatArray()), blocks.loss().toFloatArray(), 1e-6, "loss");
            // One tensor: one block is the symmetric path (S from SYRK, both gradient halves from one GEMM), blocks
            // form them from separate GEMMs, so each gradient element sums its 2N terms in another order. Those
            // terms reach |k|/tau = 10 here: 1e-6 of their size is 1e-5 (the EPYC VM's OpenBLAS kernels differ by
            // 1.3e-6 on d keys for the decoupled form). The two-tensor forms sweep the same GEMMs either way.
            double grad = form == InfoNceReference.Form.SHARED ? 1e-6 / 0.1 : 1e-6;
            assertClose(Approx.toDouble(one.gradQueries().toFloatArray()), blocks.gradQueries().toFloatArray(), grad, "d queries");
            assertClose(Approx.toDouble(one.gradKeys().toFloatArray()), blocks.gradKeys().toFloatArray(), grad, "d keys");
            if (one.gradNegatives() != null) {
                assertClose(Approx.toDouble(one.gradNegatives().toFloatArray()), blocks.gradNegatives().toFloatArray(), 1e-6,
                        "d negatives");
            }
            assertEquals(one.gradTemperature(), blocks.gradTemperature(), 1e-6 * Math.max(1, Math.abs(one.gradTemperature())),
                    "d tau");
        }
    }

    enum OneTensor { DIAGONAL, NT_XENT, SUPCON }

    static Stream<Arguments> oneTensorCases() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(OneTensor.values()).flatMap(f -> Stream.of(Reductions.all())
                .flatMap(r -> Stream.of(Arguments.of(b, f, r, false), Arguments.of(b, f, r, true)))));
    }

    /**
     * The one-tensor forms swept in blocks (the two-tensor path with keys = queries, twice the
     * flops) against their symmetric path (SYRK, G + Gᵀ): different code, the same results.
     * option: decoupled (the diagonal form, NT-Xent), or rows without positive skipped (SupCon).
     */
    @ParameterizedTest(name = "{0} {1} {2} decoupledOrSkip={3}")
    @MethodSource("oneTensorCases")
    void oneTensorBlocksGiveWhatTheSymmetricPathGives(Backend backend, OneTensor form, Reduction reduction, boolean option) {
        float[] f = new float[N * D];
        java.util.SplittableRandom random = new java.util.SplittableRandom(23);
        for (int i = 0; i < f.length; i++) f[i] = (float) random.nextGaussian();
        Tensor views = Tensor.of(f, N, D);
        long[] labels = {0, 1, 2, 0, 1, 2, 0, 1, 2, 0};
        if (option) labels = new long[] {0, 7, 2, 0, 1, 2, 0, 1, 2, 8}; // rows 1 and 9: label on no other row
        Tensor l = Tensor.of(labels);
        InfoNce loss = InfoNce.create().withTemperature(0.2f).withReduction(reduction).withBackend(backend);
        NtXent ntXent = NtXent.create().withTemperature(0.2f).withReduction(reduction).withBackend(backend)
                .withDecoupled(option);
        if (form == OneTensor.DIAGONAL) loss = loss.withDecoupled(option);
        if (form == OneTensor.SUPCON && option) loss = loss.withRowsWithoutPositive(InfoNce.RowsWithoutPositive.SKIP);
        InfoNce blockedLoss = loss.withBlockRows(3);
        NtXent blockedNtXent = ntXent.withBlockRows(3);
        try (EmbeddingResult one = switch (form) {
                case DIAGONAL -> loss.forwardBackward(views);
                case NT_XENT -> ntXent.forwardBackward(views);
                case SUPCON -> loss.forwardBackwardLabels(views, l);
             };
             EmbeddingResult blocks = switch (form) {
                case DIAGONAL -> blockedLoss.forwardBackward(views);
                case NT_XENT -> blockedNtXent.forwardBackward(views);
                case SUPCON -> blockedLoss.forwardBackwardLabels(views, l);
             }) {
            assertClose(Approx.toDouble(one.loss().toFloatArray()), blocks.loss().toFloatArray(), 2e-6, "loss");
            assertClose(Approx.toDouble(one.grad().toFloatArray()), blocks.grad().toFloatArray(), 2e-6, "d f");
            assertEquals(one.gradTemperature(), blocks.gradTemperature(), 2e-6 * Math.max(1, Math.abs(one.gradTemperature())),
                    "d tau");
        }
        if (form == OneTensor.SUPCON && option) {
            InfoNce throwing = blockedLoss.withRowsWithoutPositive(InfoNce.RowsWithoutPositive.THROW);
            assertMessage(IllegalArgumentException.class, () -> throwing.forwardBackwardLabels(views, l),
                    "labels: row 1 has no positive", "(itself excluded)");
        }
    }

    /** A row without positive in a later block is named by its row in the batch, not in the block. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void aRowWithoutPositiveInALaterBlockIsNamed(Backend backend) {
        InfoNceTest.Call call = InfoNceTest.randomCall(InfoNceReference.Form.LABELS, true, false, Reduction.MEAN, N, D, 0.1f, 18);
        Tensor[] t = call.tensors();
        long[] ql = call.spec().queryLabels().clone();
        ql[7] = 99;
        InfoNce loss = call.loss(backend).withBlockRows(3);
        assertMessage(IllegalArgumentException.class,
                () -> loss.forwardBackwardLabels(t[0], t[1], Tensor.of(ql), Tensor.of(call.spec().keyLabels())),
                "queryLabels: row 7 has no positive");
        int m = (int) t[1].size(0);
        int[] mask = call.spec().mask() == null ? new int[N * m] : call.spec().mask().clone();
        for (int i = 0; i < N; i++) mask[i * m + (i % m)] = i == 8 ? 0 : 1;
        assertMessage(IllegalArgumentException.class,
                () -> loss.forwardBackwardMask(t[0], t[1], Tensor.of(mask, N, m)), "positiveMask: row 8 has no positive");
    }

    private static InfoNce.Result run(InfoNce loss, InfoNceReference.Form form, Tensor[] t, long[] ql, long[] kl, int[] mask) {
        return switch (form) {
            case TWO_TOWER -> loss.forwardBackward(t[0], t[1]);
            case SHARED -> loss.forwardBackward(t[0], t[1], t[2]);
            case LABELS -> loss.forwardBackwardLabels(t[0], t[1], Tensor.of(ql), Tensor.of(kl));
            case MASK -> loss.forwardBackwardMask(t[0], t[1], Tensor.of(mask, t[0].size(0), t[1].size(0)));
            default -> throw new IllegalArgumentException(form.toString());
        };
    }

    /**
     * Past 1 GiB of N×N logits (N > 16384) a one-tensor call sweeps row blocks by itself: at N =
     * 16400 (a 1.0 GiB matrix) the default gives what explicit blocks of 2048 rows give, and the
     * float64 loss of a sample of rows, without holding the whole matrix.
     */
    @org.junit.jupiter.api.Test
    void aOneTensorBatchPastTheFullMatrixBudgetSweepsBlocksByItself() {
        int n = 16400, d = 4;
        float[] f = new float[n * d];
        java.util.Random random = new java.util.Random(5);
        for (int i = 0; i < f.length; i++) f[i] = (float) random.nextGaussian();
        Tensor t = Tensor.of(f).reshape(n, d);
        InfoNce loss = InfoNce.create().withTemperature(0.5f).withReduction(Reduction.NONE).withBackend(TestBackends.all().get(0));
        InfoNce.releaseWorkspace();
        try (EmbeddingResult auto = loss.forwardBackward(t); EmbeddingResult blocks = loss.withBlockRows(2048).forwardBackward(t)) {
            // the logit buffers the two calls borrowed are idle again: none held the whole matrix
            assertTrue(Workspace.idleBytes() <= 2 * (2048L * n * 4), "logit buffers held: " + Workspace.idleBytes() + " bytes");
            float[] a = auto.loss().toFloatArray();
            assertClose(Approx.toDouble(blocks.loss().toFloatArray()), a, 1e-5, "loss");
            assertClose(Approx.toDouble(blocks.grad().toFloatArray()), auto.grad().toFloatArray(), 1e-5, "d embeddings");
            double[] unit = new double[n * d];
            for (int i = 0; i < n; i++) {
                double norm = 0;
                for (int j = 0; j < d; j++) norm += (double) f[i * d + j] * f[i * d + j];
                norm = Math.max(Math.sqrt(norm), 1e-12);
                for (int j = 0; j < d; j++) unit[i * d + j] = f[i * d + j] / norm;
            }
            for (int i = 0; i < n; i += 1637) { // loss_i = -s_ii + log sum_j exp(s_ij), s_ij = <u_i, u_j> / tau
                double max = Double.NEGATIVE_INFINITY;
                double[] s = new double[n];
                for (int j = 0; j < n; j++) {
                    double dot = 0;
                    for (int c = 0; c < d; c++) dot += unit[i * d + c] * unit[j * d + c];
                    s[j] = dot / 0.5;
                    max = Math.max(max, s[j]);
                }
                double sum = 0;
                for (double v : s) sum += Math.exp(v - max);
                assertEquals(max + Math.log(sum) - s[i], a[i], 1e-4 * Math.max(1, Math.abs(a[i])), "loss of row " + i);
            }
        }
    }
}
