package dev.jnce.loss;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.testutil.ScopedTest;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.stream.Stream;

import static dev.jnce.loss.CrossEntropyArgumentsTest.assertMessage;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The forms that write into the caller's tensors (InfoNCE's two-tower, one-tensor, shared-negative,
 * labels, SupCon, mask and explicit-negative forms, NT-Xent, CLIP, SigLIP) give exactly what the allocating forms give, whatever the buffers held before
 * (NaN), called twice over the same buffers, for each reduction, whole and in row blocks; and
 * bad buffers are rejected naming them.
 */
class ContrastiveBuffersTest extends ScopedTest {
    private static final int N = 10, D = 6, M = 7, K = 4;

    static Stream<Arguments> cases() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(Reduction.NONE, Reduction.MEAN, Reduction.SUM)
                .flatMap(r -> Stream.of(Arguments.of(b, r, 0L), Arguments.of(b, r, 3L))));
    }

    private static Tensor gaussian(long seed, long rows) {
        return Tensor.of(InfoNceTest.random((int) (rows * D), seed), rows, D);
    }

    /** A buffer of this shape holding NaN: the call must overwrite every element it returns. */
    private static Tensor nan(long... shape) {
        Tensor t = Tensor.zeros(DType.FLOAT32, shape);
        float[] v = new float[(int) t.numel()];
        Arrays.fill(v, Float.NaN);
        return Tensor.of(v, shape);
    }

    private static Tensor lossBuffer(Reduction r, long n) {
        return r == Reduction.NONE ? nan(n) : nan();
    }

    /** Labels i % classes, int32; row {@code lonely} (if >= 0) gets a label no key shares. */
    private static Tensor labels(int n, int classes, int lonely) {
        int[] v = new int[n];
        for (int i = 0; i < n; i++) v[i] = i % classes;
        if (lonely >= 0) v[lonely] = 99;
        return Tensor.of(v, n);
    }

    /** An (N,M) int32 mask: row i's positives are keys i % M and (i + 3) % M; row 1 has none (SKIP). */
    private static Tensor mask() {
        int[] v = new int[N * M];
        for (int i = 0; i < N; i++) {
            if (i == 1) continue;
            v[i * M + i % M] = 1;
            v[i * M + (i + 3) % M] = 1;
        }
        return Tensor.of(v, N, M);
    }

    private static InfoNce infoNce(Backend backend, Reduction reduction, long blockRows) {
        return InfoNce.create().withTemperature(0.2f).withReduction(reduction).withBlockRows(blockRows).withBackend(backend);
    }

    /** The outputs of a two-tensor call into buffers equal the allocated Result, bit for bit. */
    private static void assertSame(InfoNce.Result want, Tensor loss, Tensor g1, Tensor g2, Tensor g3, float gradTau, int call) {
        assertArrayEquals(want.loss().toFloatArray(), loss.toFloatArray(), "loss, call " + call);
        assertArrayEquals(want.gradQueries().toFloatArray(), g1.toFloatArray(), "gradQueries, call " + call);
        assertArrayEquals(want.gradKeys().toFloatArray(), g2.toFloatArray(), "gradKeys, call " + call);
        if (g3 != null) assertArrayEquals(want.gradNegatives().toFloatArray(), g3.toFloatArray(), "gradNegatives, call " + call);
        assertEquals(want.gradTemperature(), gradTau, "gradTemperature, call " + call);
    }

    @ParameterizedTest(name = "{0} {1} blockRows={2}")
    @MethodSource("cases")
    void twoTowersIntoBuffersGiveTheAllocatedResult(Backend backend, Reduction reduction, long blockRows) {
        InfoNce loss = InfoNce.create().withTemperature(0.2f).withReduction(reduction).withBlockRows(blockRows).withBackend(backend);
        Tensor q = gaussian(1, N), k = gaussian(2, N);
        Tensor l = lossBuffer(reduction, N), dq = nan(N, D), dk = nan(N, D);
        try (InfoNce.Result want = loss.forwardBackward(q, k)) {
            for (int call = 0; call < 2; call++) {
                float gradTau = loss.forwardBackward(q, k, l, dq, dk);
                assertArrayEquals(want.loss().toFloatArray(), l.toFloatArray(), "loss, call " + call);
                assertArrayEquals(want.gradQueries().toFloatArray(), dq.toFloatArray(), "gradQueries, call " + call);
                assertArrayEquals(want.gradKeys().toFloatArray(), dk.toFloatArray(), "gradKeys, call " + call);
                assertEquals(want.gradTemperature(), gradTau, "gradTemperature, call " + call);
            }
        }
    }

    @ParameterizedTest(name = "{0} {1} blockRows={2}")
    @MethodSource("cases")
    void oneTensorAndNtXentIntoBuffersGiveTheAllocatedResult(Backend backend, Reduction reduction, long blockRows) {
        InfoNce loss = InfoNce.create().withTemperature(0.2f).withReduction(reduction).withBlockRows(blockRows).withBackend(backend);
        NtXent ntXent = NtXent.create().withTemperature(0.3f).withReduction(reduction).withBlockRows(blockRows).withBackend(backend);
        Tensor f = gaussian(3, N), l = lossBuffer(reduction, N), df = nan(N, D);
        try (EmbeddingResult want = loss.forwardBackward(f); EmbeddingResult wantNt = ntXent.forwardBackward(f)) {
            for (int call = 0; call < 2; call++) {
                float gradTau = loss.forwardBackwardInto(f, l, df);
                assertArrayEquals(want.loss().toFloatArray(), l.toFloatArray(), "loss, call " + call);
                assertArrayEquals(want.grad().toFloatArray(), df.toFloatArray(), "grad, call " + call);
                assertEquals(want.gradTemperature(), gradTau, "gradTemperature, call " + call);
                float gradTauNt = ntXent.forwardBackward(f, l, df);
                assertArrayEquals(wantNt.loss().toFloatArray(), l.toFloatArray(), "NT-Xent loss, call " + call);
                assertArrayEquals(wantNt.grad().toFloatArray(), df.toFloatArray(), "NT-Xent grad, call " + call);
                assertEquals(wantNt.gradTemperature(), gradTauNt, "NT-Xent gradTemperature, call " + call);
            }
        }
    }

    @ParameterizedTest(name = "{0} {1} blockRows={2}")
    @MethodSource("cases")
    void sharedNegativesIntoBuffersGiveTheAllocatedResult(Backend backend, Reduction reduction, long blockRows) {
        InfoNce loss = infoNce(backend, reduction, blockRows);
        Tensor q = gaussian(1, N), k = gaussian(2, N), neg = gaussian(6, 5);
        Tensor l = lossBuffer(reduction, N), dq = nan(N, D), dk = nan(N, D), dNeg = nan(5, D);
        try (InfoNce.Result want = loss.forwardBackward(q, k, neg)) {
            for (int call = 0; call < 2; call++) {
                assertSame(want, l, dq, dk, dNeg, loss.forwardBackward(q, k, neg, l, dq, dk, dNeg), call);
            }
        }
    }

    @ParameterizedTest(name = "{0} {1} blockRows={2}")
    @MethodSource("cases")
    void labelsAndMaskIntoBuffersGiveTheAllocatedResult(Backend backend, Reduction reduction, long blockRows) {
        InfoNce loss = infoNce(backend, reduction, blockRows);
        InfoNce skip = loss.withRowsWithoutPositive(InfoNce.RowsWithoutPositive.SKIP);
        Tensor q = gaussian(1, N), k = gaussian(2, M), ql = labels(N, 3, -1), qlLonely = labels(N, 3, 2), kl = labels(M, 3, -1);
        Tensor positiveMask = mask(), l = lossBuffer(reduction, N), dq = nan(N, D), dk = nan(M, D);
        try (InfoNce.Result want = loss.forwardBackwardLabels(q, k, ql, kl);
             InfoNce.Result wantSkip = skip.forwardBackwardLabels(q, k, qlLonely, kl);
             InfoNce.Result wantMask = skip.forwardBackwardMask(q, k, positiveMask)) {
            for (int call = 0; call < 2; call++) {
                assertSame(want, l, dq, dk, null, loss.forwardBackwardLabels(q, k, ql, kl, l, dq, dk), call);
                assertSame(wantSkip, l, dq, dk, null, skip.forwardBackwardLabels(q, k, qlLonely, kl, l, dq, dk), call);
                assertSame(wantMask, l, dq, dk, null, skip.forwardBackwardMask(q, k, positiveMask, l, dq, dk), call);
            }
        }
    }

    @ParameterizedTest(name = "{0} {1} blockRows={2}")
    @MethodSource("cases")
    void supConIntoBuffersGiveTheAllocatedResult(Backend backend, Reduction reduction, long blockRows) {
        InfoNce loss = infoNce(backend, reduction, blockRows);
        InfoNce skip = loss.withRowsWithoutPositive(InfoNce.RowsWithoutPositive.SKIP);
        Tensor f = gaussian(3, N), labels = labels(N, 4, -1), lonely = labels(N, 4, 5), l = lossBuffer(reduction, N), df = nan(N, D);
        try (EmbeddingResult want = loss.forwardBackwardLabels(f, labels); EmbeddingResult wantSkip = skip.forwardBackwardLabels(f, lonely)) {
            for (int call = 0; call < 2; call++) {
                float gradTau = loss.forwardBackwardLabelsInto(f, labels, l, df);
                assertArrayEquals(want.loss().toFloatArray(), l.toFloatArray(), "loss, call " + call);
                assertArrayEquals(want.grad().toFloatArray(), df.toFloatArray(), "grad, call " + call);
                assertEquals(want.gradTemperature(), gradTau, "gradTemperature, call " + call);
                float gradTauSkip = skip.forwardBackwardLabelsInto(f, lonely, l, df);
                assertArrayEquals(wantSkip.loss().toFloatArray(), l.toFloatArray(), "SKIP loss, call " + call);
                assertArrayEquals(wantSkip.grad().toFloatArray(), df.toFloatArray(), "SKIP grad, call " + call);
                assertEquals(wantSkip.gradTemperature(), gradTauSkip, "SKIP gradTemperature, call " + call);
            }
        }
    }

    @ParameterizedTest(name = "{0} {1} blockRows={2}")
    @MethodSource("cases")
    void explicitNegativesIntoBuffersGiveTheAllocatedResult(Backend backend, Reduction reduction, long blockRows) {
        Tensor q = gaussian(1, N), p = gaussian(2, N), neg = Tensor.of(InfoNceTest.random(N * K * D, 7), N, K, D);
        for (boolean decoupled : new boolean[] {false, true}) {
            InfoNce loss = infoNce(backend, reduction, blockRows).withDecoupled(decoupled);
            Tensor l = lossBuffer(reduction, N), dq = nan(N, D), dp = nan(N, D), dn = nan(N, K, D);
            try (InfoNce.Result want = loss.forwardBackwardNegatives(q, p, neg)) {
                for (int call = 0; call < 2; call++) {
                    assertSame(want, l, dq, dp, dn, loss.forwardBackwardNegatives(q, p, neg, l, dq, dp, dn), call);
                }
            }
        }
    }

    static Stream<Arguments> backendsAndReductions() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(Reduction.NONE, Reduction.MEAN, Reduction.SUM)
                .map(r -> Arguments.of(b, r)));
    }

    static Stream<Arguments> backendsReductionsAndNormalize() {
        return backendsAndReductions().flatMap(a -> Stream.of(false, true).map(z -> Arguments.of(a.get()[0], a.get()[1], z)));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("backendsAndReductions")
    void bprIntoBuffersGivesTheAllocatedResult(Backend backend, Reduction reduction) {
        Tensor q = gaussian(1, N), p = gaussian(2, N), neg = Tensor.of(InfoNceTest.random(N * K * D, 7), N, K, D);
        BprLoss loss = BprLoss.create().withReduction(reduction).withBackend(backend);
        Tensor l = lossBuffer(reduction, N), dq = nan(N, D), dp = nan(N, D), dn = nan(N, K, D);
        try (InfoNce.Result want = loss.forwardBackward(q, p, neg)) {
            for (int call = 0; call < 2; call++) {
                loss.forwardBackward(q, p, neg, l, dq, dp, dn);
                assertSame(want, l, dq, dp, dn, 0f, call);
            }
        }
    }

    @ParameterizedTest(name = "{0} {1} normalize={2}")
    @MethodSource("backendsReductionsAndNormalize")
    void sampledSoftmaxIntoBuffersGivesTheAllocatedResult(Backend backend, Reduction reduction, boolean normalize) {
        Tensor q = gaussian(1, N), p = gaussian(2, N), sampled = gaussian(3, M);
        float[] lp = new float[N], ls = new float[M];
        for (int i = 0; i < N; i++) lp[i] = -2f - 0.1f * i;
        for (int j = 0; j < M; j++) ls[j] = -1.5f - 0.2f * j;
        Tensor logQP = Tensor.of(lp), logQS = Tensor.of(ls);
        SampledSoftmax loss = SampledSoftmax.create().withTemperature(0.5f).withReduction(reduction).withBackend(backend);
        loss = loss.withNormalize(normalize); // dot product or cosine
        Tensor l = lossBuffer(reduction, N), dq = nan(N, D), dp = nan(N, D), ds = nan(M, D);
        try (InfoNce.Result want = loss.forwardBackward(q, p, sampled);
             InfoNce.Result wantQ = loss.forwardBackward(q, p, sampled, logQP, logQS)) {
            for (int call = 0; call < 2; call++) {
                assertSame(want, l, dq, dp, ds, loss.forwardBackward(q, p, sampled, l, dq, dp, ds), call);
                assertSame(wantQ, l, dq, dp, ds, loss.forwardBackward(q, p, sampled, logQP, logQS, l, dq, dp, ds), call);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void badBuffersOfBprAndSampledSoftmaxAreRejectedNamingThem(Backend backend) {
        Tensor q = gaussian(1, N), p = gaussian(2, N), neg = Tensor.of(InfoNceTest.random(N * K * D, 7), N, K, D);
        Tensor sampled = gaussian(3, M), scalar = Tensor.zeros(DType.FLOAT32), g = nan(N, D), g2 = nan(N, D);
        Tensor gn = nan(N, K, D), gs = nan(M, D), closed = nan(N, D);
        closed.close();
        BprLoss bpr = BprLoss.create().withBackend(backend);
        assertMessage(IllegalArgumentException.class, () -> bpr.forwardBackward(q, p, neg, scalar, g, g2, nan(N, K + 1, D)),
                "gradNegatives", "(N, K, D) of negatives = (10, 4, 6)", "got (10, 5, 6)");
        assertMessage(IllegalArgumentException.class, () -> bpr.forwardBackward(q, p, neg, scalar, g, g, gn),
                "gradPositives", "a tensor of its own");
        assertMessage(IllegalArgumentException.class, () -> bpr.forwardBackward(q, p, neg, scalar, p, g2, gn),
                "gradQueries", "a tensor of its own");
        assertMessage(IllegalArgumentException.class, () -> bpr.forwardBackward(q, p, neg, Tensor.zeros(DType.FLOAT32, N), g, g2, gn),
                "loss", "() or (1) for reduction MEAN", "got (10)");
        assertMessage(IllegalArgumentException.class, () -> bpr.withReduction(Reduction.NONE).forwardBackward(q, p, neg, scalar, g, g2, gn),
                "loss", "expected shape (N) = (10)", "got ()");
        assertMessage(IllegalArgumentException.class, () -> bpr.forwardBackward(q, p, neg, scalar, g, Tensor.zeros(DType.INT32, N, D), gn),
                "gradPositives", "float32");
        assertMessage(IllegalStateException.class, () -> bpr.forwardBackward(q, p, neg, scalar, closed, g2, gn), "gradQueries", "closed");
        assertMessage(IllegalArgumentException.class, () -> bpr.forwardBackward(q, p, neg, scalar, g, g2, null), "gradNegatives", "null");

        SampledSoftmax ss = SampledSoftmax.create().withBackend(backend);
        Tensor logQP = Tensor.of(new float[N]), logQS = Tensor.of(new float[M]);
        assertMessage(IllegalArgumentException.class, () -> ss.forwardBackward(q, p, sampled, scalar, g, g2, nan(M + 1, D)),
                "gradSampled", "(M, D) of sampled = (7, 6)", "got (8, 6)");
        assertMessage(IllegalArgumentException.class, () -> ss.forwardBackward(q, p, sampled, scalar, g, g2, sampled),
                "gradSampled", "a tensor of its own");
        assertMessage(IllegalArgumentException.class, () -> ss.forwardBackward(q, p, sampled, scalar, g, g, gs),
                "gradPositives", "a tensor of its own");
        assertMessage(IllegalArgumentException.class, () -> ss.forwardBackward(q, p, sampled, logQP, logQS, scalar, g, nan(N + 1, D), gs),
                "gradPositives", "(N, D) of positives = (10, 6)", "got (11, 6)");
        assertMessage(IllegalArgumentException.class, () -> ss.forwardBackward(q, p, sampled, Tensor.of(new float[N - 1]), logQS, scalar,
                g, g2, gs), "logQPositives", "(N)");
        assertMessage(IllegalArgumentException.class, () -> ss.forwardBackward(q, p, gaussian(3, M).reshape(M * D / 3, 3), scalar, g, g2, gs),
                "sampled");
        assertMessage(IllegalStateException.class, () -> ss.forwardBackward(q, p, sampled, scalar, g, closed, gs), "gradPositives", "closed");
    }

    @ParameterizedTest(name = "{0} {1} blockRows={2}")
    @MethodSource("cases")
    void clipAndSigLipIntoBuffersGiveTheAllocatedResult(Backend backend, Reduction reduction, long blockRows) {
        Tensor a = gaussian(4, N), b = gaussian(5, N), da = nan(N, D), db = nan(N, D);
        ClipLoss clip = ClipLoss.create().withReduction(reduction).withBackend(backend);
        SigLipLoss sigLip = SigLipLoss.create().withReduction(reduction == Reduction.NONE ? Reduction.SUM : reduction)
                .withBlockRows(blockRows).withBackend(backend);
        Tensor clipLoss = lossBuffer(reduction, N), sigLipLoss = nan(1);
        try (PairedResult want = clip.forwardBackward(a, b); PairedResult wantSig = sigLip.forwardBackward(a, b)) {
            for (int call = 0; call < 2; call++) {
                PairedResult.Scalars s = clip.forwardBackward(a, b, clipLoss, da, db);
                assertArrayEquals(want.loss().toFloatArray(), clipLoss.toFloatArray(), "CLIP loss, call " + call);
                assertArrayEquals(want.gradA().toFloatArray(), da.toFloatArray(), "CLIP gradA, call " + call);
                assertArrayEquals(want.gradB().toFloatArray(), db.toFloatArray(), "CLIP gradB, call " + call);
                assertEquals(new PairedResult.Scalars(want.gradLogitScale(), want.gradBias()), s, "CLIP scalars, call " + call);
                PairedResult.Scalars t = sigLip.forwardBackward(a, b, sigLipLoss, da, db);
                assertArrayEquals(wantSig.loss().toFloatArray(), sigLipLoss.toFloatArray(), "SigLIP loss, call " + call);
                assertArrayEquals(wantSig.gradA().toFloatArray(), da.toFloatArray(), "SigLIP gradA, call " + call);
                assertArrayEquals(wantSig.gradB().toFloatArray(), db.toFloatArray(), "SigLIP gradB, call " + call);
                assertEquals(new PairedResult.Scalars(wantSig.gradLogitScale(), wantSig.gradBias()), t, "SigLIP scalars, call " + call);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void badBuffersAreRejectedNamingThem(Backend backend) {
        InfoNce loss = InfoNce.create().withBackend(backend);
        Tensor q = gaussian(1, N), k = gaussian(2, N), scalar = Tensor.zeros(DType.FLOAT32), g = nan(N, D), g2 = nan(N, D);
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackward(q, k, Tensor.zeros(DType.FLOAT32, N), g, g2),
                "loss", "() or (1) for reduction MEAN", "got (10)");
        assertMessage(IllegalArgumentException.class, () -> loss.withReduction(Reduction.NONE).forwardBackward(q, k, scalar, g, g2),
                "loss", "expected shape (N) = (10)", "got ()");
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackward(q, k, scalar, nan(N - 1, D), g2),
                "gradQueries", "(N, D) of queries = (10, 6)", "got (9, 6)");
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackward(q, k, scalar, g, Tensor.zeros(DType.INT32, N, D)),
                "gradKeys", "float32", "int32(10, 6)");
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackward(q, k, scalar, q, g2),
                "gradQueries", "a tensor of its own");
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackward(q, k, scalar, g, g),
                "gradKeys", "a tensor of its own");
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackward(q, k, scalar, g, null), "gradKeys", "null");
        Tensor closed = nan(N, D);
        closed.close();
        assertMessage(IllegalStateException.class, () -> loss.forwardBackward(q, k, scalar, closed, g2), "gradQueries", "closed");
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackwardInto(q, scalar, q), "grad", "a tensor of its own");
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackwardInto(q, scalar, nan(N, D + 1)),
                "grad", "(N, D) of embeddings = (10, 6)", "got (10, 7)");
        assertMessage(IllegalArgumentException.class, () -> NtXent.create().withBackend(backend).forwardBackward(q, nan(2), g),
                "loss", "got (2)");
        assertMessage(IllegalArgumentException.class, () -> ClipLoss.create().withBackend(backend).forwardBackward(q, k, scalar, g, k),
                "gradB", "a tensor of its own");
        assertMessage(IllegalArgumentException.class, () -> SigLipLoss.create().withBackend(backend).forwardBackward(q, k, scalar, g, nan(D, N)),
                "gradB", "(N, D) of b = (10, 6)", "got (6, 10)");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void badBuffersOfTheOtherFormsAreRejectedNamingThem(Backend backend) {
        InfoNce loss = InfoNce.create().withBackend(backend);
        Tensor q = gaussian(1, N), k = gaussian(2, N), keys = gaussian(2, M), shared = gaussian(6, 5), scalar = Tensor.zeros(DType.FLOAT32);
        Tensor g = nan(N, D), g2 = nan(N, D), gm = nan(M, D), gs = nan(5, D), closed = nan(N, D);
        closed.close();
        // shared negatives
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackward(q, k, shared, scalar, g, g2, nan(6, D)),
                "gradNegatives", "(M, D) of sharedNegatives = (5, 6)", "got (6, 6)");
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackward(q, k, shared, scalar, g, g2, shared),
                "gradNegatives", "a tensor of its own");
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackward(q, k, shared, scalar, g, g, gs),
                "gradKeys", "a tensor of its own");
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackward(q, k, shared, scalar, k, g2, gs),
                "gradQueries", "a tensor of its own");
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackward(q, k, shared, Tensor.zeros(DType.FLOAT32, N), g, g2, gs),
                "loss", "() or (1) for reduction MEAN", "got (10)");
        assertMessage(IllegalStateException.class, () -> loss.forwardBackward(q, k, shared, scalar, g, closed, gs), "gradKeys", "closed");
        // labels, two towers
        Tensor ql = labels(N, 3, -1), kl = labels(M, 3, -1);
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackwardLabels(q, keys, ql, kl, scalar, g, nan(N, D)),
                "gradKeys", "(M, D) of keys = (7, 6)", "got (10, 6)");
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackwardLabels(q, keys, ql, kl, scalar, g, keys),
                "gradKeys", "a tensor of its own");
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackwardLabels(q, keys, ql, kl, scalar, Tensor.zeros(DType.INT32, N, D), gm),
                "gradQueries", "float32", "int32(10, 6)");
        assertMessage(IllegalStateException.class, () -> loss.forwardBackwardLabels(q, keys, ql, kl, scalar, closed, gm), "gradQueries", "closed");
        // SupCon
        Tensor labels = labels(N, 4, -1);
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackwardLabelsInto(q, labels, scalar, q), "grad", "a tensor of its own");
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackwardLabelsInto(q, labels, scalar, nan(N, D + 1)),
                "grad", "(N, D) of embeddings = (10, 6)", "got (10, 7)");
        assertMessage(IllegalArgumentException.class, () -> loss.withReduction(Reduction.NONE).forwardBackwardLabelsInto(q, labels, scalar, g),
                "loss", "expected shape (N) = (10)", "got ()");
        assertMessage(IllegalStateException.class, () -> loss.forwardBackwardLabelsInto(q, labels, scalar, closed), "grad", "closed");
        // mask
        Tensor positiveMask = mask();
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackwardMask(q, keys, positiveMask, scalar, g, nan(M + 1, D)),
                "gradKeys", "(M, D) of keys = (7, 6)", "got (8, 6)");
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackwardMask(q, keys, positiveMask, scalar, q, gm),
                "gradQueries", "a tensor of its own");
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackwardMask(q, keys, positiveMask, scalar, g, null), "gradKeys", "null");
        assertMessage(IllegalStateException.class, () -> loss.forwardBackwardMask(q, keys, positiveMask, closed, g, gm), "loss", "closed");
        // explicit negatives
        Tensor p = gaussian(2, N), neg = Tensor.of(InfoNceTest.random(N * K * D, 7), N, K, D), dn = nan(N, K, D), closedDn = nan(N, K, D);
        closedDn.close();
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackwardNegatives(q, p, neg, scalar, g, g2, nan(N, K + 1, D)),
                "gradNegatives", "(N, K, D) of negatives = (10, 4, 6)", "got (10, 5, 6)");
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackwardNegatives(q, p, neg, scalar, g, g2, neg),
                "gradNegatives", "a tensor of its own");
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackwardNegatives(q, p, neg, scalar, g, p, dn),
                "gradPositives", "a tensor of its own");
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackwardNegatives(q, p, neg, scalar, g, g, dn),
                "gradPositives", "a tensor of its own");
        assertMessage(IllegalStateException.class, () -> loss.forwardBackwardNegatives(q, p, neg, scalar, g, g2, closedDn),
                "gradNegatives", "closed");
    }
}
