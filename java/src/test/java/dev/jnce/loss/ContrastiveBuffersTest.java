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
 * The forms that write into the caller's tensors (every InfoNCE form: two towers, shared
 * negatives, labels, mask, explicit negatives, one tensor, SupCon; NT-Xent, CLIP, SigLIP) give exactly what the allocating forms give, whatever the buffers held before
 * (NaN), called twice over the same buffers, for each reduction, whole and in row blocks; and
 * bad buffers are rejected naming them.
 */
class ContrastiveBuffersTest extends ScopedTest {
    private static final int N = 10, D = 6;

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

    /** Row labels i mod 3 (int64): every label on several rows, so every row has a positive. */
    private static Tensor labels(long n) {
        long[] l = new long[(int) n];
        for (int i = 0; i < n; i++) l[i] = i % 3;
        return Tensor.of(l);
    }

    private static void assertSame2(InfoNce.Result want, Tensor l, Tensor dq, Tensor dk, Tensor dn, float gradTau, int call) {
        assertArrayEquals(want.loss().toFloatArray(), l.toFloatArray(), "loss, call " + call);
        assertArrayEquals(want.gradQueries().toFloatArray(), dq.toFloatArray(), "gradQueries, call " + call);
        assertArrayEquals(want.gradKeys().toFloatArray(), dk.toFloatArray(), "gradKeys, call " + call);
        if (dn != null) assertArrayEquals(want.gradNegatives().toFloatArray(), dn.toFloatArray(), "gradNegatives, call " + call);
        assertEquals(want.gradTemperature(), gradTau, "gradTemperature, call " + call);
    }

    @ParameterizedTest(name = "{0} {1} blockRows={2}")
    @MethodSource("cases")
    void sharedNegativesLabelsMaskAndExplicitNegativesIntoBuffersGiveTheAllocatedResult(Backend backend, Reduction reduction,
                                                                                         long blockRows) {
        InfoNce loss = InfoNce.create().withTemperature(0.2f).withReduction(reduction).withBlockRows(blockRows).withBackend(backend);
        long m = 7, kNeg = 4;
        Tensor q = gaussian(1, N), k = gaussian(2, N), shared = gaussian(4, m), keys = gaussian(5, m);
        Tensor negatives = Tensor.of(InfoNceTest.random((int) (N * kNeg * D), 6), N, kNeg, D);
        Tensor ql = labels(N), kl = labels(m);
        int[] mask = new int[(int) (N * m)];
        for (int i = 0; i < N; i++) for (int j = 0; j < m; j++) mask[(int) (i * m + j)] = (i + j) % 3 == 0 ? 1 : 0;
        Tensor positiveMask = Tensor.of(mask, N, m);
        try (InfoNce.Result wantShared = loss.forwardBackward(q, k, shared);
             InfoNce.Result wantLabels = loss.forwardBackwardLabels(q, keys, ql, kl);
             InfoNce.Result wantMask = loss.forwardBackwardMask(q, keys, positiveMask);
             InfoNce.Result wantNeg = loss.forwardBackwardNegatives(q, k, negatives)) {
            Tensor l = lossBuffer(reduction, N), dq = nan(N, D), dk = nan(N, D), dShared = nan(m, D), dKeys = nan(m, D);
            Tensor dNeg = nan(N, kNeg, D);
            for (int call = 0; call < 2; call++) {
                assertSame2(wantShared, l, dq, dk, dShared, loss.forwardBackward(q, k, shared, l, dq, dk, dShared), call);
                assertSame2(wantLabels, l, dq, dKeys, null, loss.forwardBackwardLabels(q, keys, ql, kl, l, dq, dKeys), call);
                assertSame2(wantMask, l, dq, dKeys, null, loss.forwardBackwardMask(q, keys, positiveMask, l, dq, dKeys), call);
                assertSame2(wantNeg, l, dq, dk, dNeg, loss.forwardBackwardNegatives(q, k, negatives, l, dq, dk, dNeg), call);
            }
        }
    }

    @ParameterizedTest(name = "{0} {1} blockRows={2}")
    @MethodSource("cases")
    void supConIntoBuffersGivesTheAllocatedResult(Backend backend, Reduction reduction, long blockRows) {
        InfoNce loss = InfoNce.create().withTemperature(0.2f).withReduction(reduction).withBlockRows(blockRows).withBackend(backend);
        Tensor f = gaussian(3, N), labels = labels(N), l = lossBuffer(reduction, N), df = nan(N, D);
        try (EmbeddingResult want = loss.forwardBackwardLabels(f, labels)) {
            for (int call = 0; call < 2; call++) {
                float gradTau = loss.forwardBackwardLabelsInto(f, labels, l, df);
                assertArrayEquals(want.loss().toFloatArray(), l.toFloatArray(), "loss, call " + call);
                assertArrayEquals(want.grad().toFloatArray(), df.toFloatArray(), "grad, call " + call);
                assertEquals(want.gradTemperature(), gradTau, "gradTemperature, call " + call);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void badBuffersOfTheOtherFormsAreRejectedNamingThem(Backend backend) {
        InfoNce loss = InfoNce.create().withBackend(backend);
        Tensor q = gaussian(1, N), k = gaussian(2, N), shared = gaussian(4, 7), scalar = Tensor.zeros(DType.FLOAT32);
        Tensor g = nan(N, D), g2 = nan(N, D), ql = labels(N);
        Tensor negatives = Tensor.of(InfoNceTest.random(N * 4 * D, 6), N, 4, D);
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackward(q, k, shared, scalar, g, g2, nan(N, D)),
                "gradNegatives", "(M, D) of sharedNegatives = (7, 6)", "got (10, 6)");
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackward(q, k, shared, scalar, g, g2, shared),
                "gradNegatives", "a tensor of its own");
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackwardLabels(q, k, ql, ql, scalar, g, g),
                "gradKeys", "a tensor of its own");
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackwardLabelsInto(q, ql, scalar, nan(N, D + 1)),
                "grad", "(N, D) of embeddings = (10, 6)", "got (10, 7)");
        Tensor mask = Tensor.zeros(DType.INT32, N, N);
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackwardMask(q, k, mask, Tensor.zeros(DType.FLOAT32, 3), g, g2),
                "loss", "() or (1) for reduction MEAN", "got (3)");
        assertMessage(IllegalArgumentException.class, () -> loss.forwardBackwardNegatives(q, k, negatives, scalar, g, g2, nan(N, 3, D)),
                "gradNegatives", "(N, K, D) of negatives = (10, 4, 6)", "got (10, 3, 6)");
        Tensor closed = nan(N, D);
        closed.close();
        assertMessage(IllegalStateException.class, () -> loss.forwardBackwardNegatives(q, k, negatives, scalar, g, closed, nan(N, 4, D)),
                "gradPositives", "closed");
    }
}
