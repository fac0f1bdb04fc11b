package dev.jnce;

import dev.jnce.backend.java.JavaBackend;
import dev.jnce.loss.BinaryCrossEntropy;
import dev.jnce.loss.Entropy;
import dev.jnce.loss.InfoNce;
import dev.jnce.loss.InputTargetResult;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Tensors over a confined arena's memory, used on the thread that owns it, on the pure-Java
 * backend with two threads: its kernels split rows over worker threads, which may not touch
 * confined memory, so such a call runs on the caller's thread alone, with the same values as on
 * shared memory. Small calls back to back split too (they once failed with
 * WrongThreadException from a worker); large calls always did.
 */
class ConfinedMemoryTest {
    private final int threads = Backends.threads();

    @AfterEach
    void restoreThreads() {
        Backends.setThreads(threads);
    }

    private static Tensor wrap(Arena arena, float[] values, long... shape) {
        MemorySegment s = arena.allocate(4L * values.length, 64);
        MemorySegment.copy(values, 0, s, ValueLayout.JAVA_FLOAT, 0, values.length);
        return Tensor.wrap(s, DType.FLOAT32, shape);
    }

    private static float[] probabilities(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = 0.02f + 0.96f * r.nextFloat();
        return v;
    }

    @Test
    void javaCallsOnConfinedMemoryRunOnTheOwnerAndAgreeWithSharedMemory() {
        Backends.setThreads(2);
        BinaryCrossEntropy bce = BinaryCrossEntropy.create().withBackend(new JavaBackend(true));
        Entropy entropy = Entropy.create().withBackend(new JavaBackend(true));
        Random r = new Random(3);
        for (int[] shape : new int[][] {{32, 128}, {512, 1024}}) {
            int n = shape[0], c = shape[1];
            float[] p = probabilities(r, n * c), y = probabilities(r, n * c), rows = probabilities(r, n * c);
            for (int i = 0; i < n; i++) {
                double s = 0;
                for (int j = 0; j < c; j++) s += rows[i * c + j];
                for (int j = 0; j < c; j++) rows[i * c + j] /= (float) s;
            }
            float[] wantLoss, wantGrad, wantEntropy;
            try (InputTargetResult want = bce.forwardBackward(Tensor.of(p, n, c), Tensor.of(y, n, c));
                 var h = entropy.forwardBackward(Tensor.of(rows, n, c))) {
                wantLoss = want.loss().toFloatArray();
                wantGrad = want.gradInput().toFloatArray();
                wantEntropy = h.loss().toFloatArray();
            }
            try (Arena arena = Arena.ofConfined()) {
                Tensor cp = wrap(arena, p, n, c), cy = wrap(arena, y, n, c), cr = wrap(arena, rows, n, c);
                Tensor loss = wrap(arena, new float[1]), grad = wrap(arena, new float[n * c], n, c);
                Tensor h = wrap(arena, new float[1]), dh = wrap(arena, new float[n * c], n, c);
                for (int call = 0; call < 50; call++) { // back to back: small calls would split over the workers
                    bce.forwardBackward(cp, cy, loss, grad, null);
                    entropy.forwardBackward(cr, h, dh);
                }
                assertEquals(wantLoss[0], loss.toFloatArray()[0], 0f, n + "x" + c + " loss");
                assertArrayEquals(wantGrad, grad.toFloatArray(), 0f, n + "x" + c + " gradient");
                assertEquals(wantEntropy[0], h.toFloatArray()[0], 0f, n + "x" + c + " entropy");
            }
        }
    }

    @Test
    void javaInfoNceOnConfinedMemoryAgreesWithSharedMemory() {
        Backends.setThreads(2);
        InfoNce infoNce = InfoNce.create().withBackend(new JavaBackend(true));
        Random r = new Random(5);
        for (int n : new int[] {32, 1024}) {
            int d = 64;
            float[] q = new float[n * d], k = new float[n * d];
            for (int i = 0; i < q.length; i++) {
                q[i] = (float) r.nextGaussian();
                k[i] = (float) r.nextGaussian();
            }
            float[] wantLoss, wantDq;
            try (InfoNce.Result want = infoNce.forwardBackward(Tensor.of(q, n, d), Tensor.of(k, n, d))) {
                wantLoss = want.loss().toFloatArray();
                wantDq = want.gradQueries().toFloatArray();
            }
            try (Arena arena = Arena.ofConfined()) {
                Tensor cq = wrap(arena, q, n, d), ck = wrap(arena, k, n, d);
                for (int call = 0; call < 20; call++) {
                    try (InfoNce.Result got = infoNce.forwardBackward(cq, ck)) {
                        assertEquals(wantLoss[0], got.loss().toFloatArray()[0], 0f, "N=" + n + " loss");
                        assertArrayEquals(wantDq, got.gradQueries().toFloatArray(), 0f, "N=" + n + " d loss / d q");
                    }
                }
            }
        }
    }
}
