package dev.jnce.loss;

import dev.jnce.Backend;
import dev.jnce.Tensor;
import dev.jnce.loss.InfoNce.Direction;
import dev.jnce.testutil.ScopedTest;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static dev.jnce.testutil.Approx.assertClose;
import static dev.jnce.testutil.Approx.toDouble;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** GradCache: chunked inputs give the one-shot loss and gradients, cut as the chunks are; bad chunks are named. */
class GradCacheTest extends ScopedTest {
    private static final int[] CHUNKS = {3, 5, 1, 4};
    private static final int N = 13, D = 6;

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.ScopedTest#backends")
    void chunkedGradientsEqualTheOneShotGradients(Backend backend) {
        SplittableRandom rnd = new SplittableRandom(9);
        float[] q = new float[N * D], k = new float[N * D];
        for (int i = 0; i < q.length; i++) {
            q[i] = (float) rnd.nextDouble(-1, 1);
            k[i] = (float) rnd.nextDouble(-1, 1);
        }
        for (Direction dir : Direction.values()) {
            InfoNce loss = InfoNce.create().withTemperature(0.1f).withMargin(0.05f).withLabelSmoothing(0.1f)
                    .withDirection(dir).withBackend(backend);
            try (InfoNce.Result whole = loss.forwardBackward(Tensor.of(q, N, D), Tensor.of(k, N, D));
                 GradCache.Result chunked = GradCache.of(loss).forwardBackward(chunks(q), chunks(k))) {
                assertEquals(whole.loss().item(), chunked.loss().item(), 1e-6f, dir + " loss");
                assertEquals(whole.gradTemperature(), chunked.gradTemperature(), 1e-5f, dir + " d loss / d tau");
                assertEquals(CHUNKS.length, chunked.gradQueries().size());
                float[] dq = whole.gradQueries().toFloatArray(), dk = whole.gradKeys().toFloatArray();
                for (int c = 0, at = 0; c < CHUNKS.length; at += CHUNKS[c] * D, c++) {
                    assertArrayEquals(new long[] {CHUNKS[c], D}, chunked.gradQueries().get(c).shape());
                    assertClose(slice(dq, at, CHUNKS[c] * D, true), chunked.gradQueries().get(c).toFloatArray(), 1e-6, dir + " dq " + c);
                    assertClose(slice(dk, at, CHUNKS[c] * D, true), chunked.gradKeys().get(c).toFloatArray(), 1e-6, dir + " dk " + c);
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.ScopedTest#backends")
    void badChunksAreNamed(Backend backend) {
        GradCache cache = GradCache.of(InfoNce.create().withBackend(backend));
        Tensor a = Tensor.of(new float[8], 2, 4), b = Tensor.of(new float[12], 3, 4), c = Tensor.of(new float[6], 2, 3);
        assertMessage(() -> cache.forwardBackward(List.of(), List.of()), "queryChunks");
        assertMessage(() -> cache.forwardBackward(List.of(a), List.of(a, a)), "keyChunks");
        assertMessage(() -> cache.forwardBackward(List.of(a, a), List.of(a, b)), "keyChunks[1]");
        assertMessage(() -> cache.forwardBackward(List.of(a, c), List.of(a, c)), "queryChunks[1]");
        assertMessage(() -> GradCache.of(null), "loss");
    }

    private static void assertMessage(org.junit.jupiter.api.function.Executable call, String argument) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().startsWith(argument), e.getMessage());
    }

    private static List<Tensor> chunks(float[] x) {
        List<Tensor> out = new ArrayList<>();
        for (int c = 0, at = 0; c < CHUNKS.length; at += CHUNKS[c] * D, c++) out.add(Tensor.of(slice(x, at, CHUNKS[c] * D), CHUNKS[c], D));
        return out;
    }

    private static float[] slice(float[] x, int from, int len) {
        return java.util.Arrays.copyOfRange(x, from, from + len);
    }

    private static double[] slice(float[] x, int from, int len, boolean wide) {
        return toDouble(slice(x, from, len));
    }
}
