package dev.jnce.loss;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.ops.Normalize;
import dev.jnce.ops.Softmax;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The rules every call with caller-given outputs enforces, on every backend: an output is
 * writable memory, and shares no byte with an input or another output, except the exact
 * in-place aliases an op documents (the gradient over the logits). Before these rules, the
 * overlapping cases below returned wrong numbers silently and the read-only ones crashed or
 * wrote read-only memory.
 */
class OutputRulesTest {
    private static final int N = 4, C = 5;

    static Iterable<Backend> backends() {
        return dev.jnce.testutil.TestBackends.all();
    }

    private static float[] randoms(int n, long seed) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian();
        return v;
    }

    private static float[] probabilities(int n, int c, long seed) {
        Random r = new Random(seed);
        float[] p = new float[n * c];
        for (int i = 0; i < n; i++) {
            double sum = 0;
            for (int j = 0; j < c; j++) sum += p[i * c + j] = 0.1f + r.nextFloat();
            for (int j = 0; j < c; j++) p[i * c + j] /= (float) sum;
        }
        return p;
    }

    private static void assertNames(IllegalArgumentException e, String... words) {
        for (String w : words) assertTrue(e.getMessage().contains(w), () -> "'" + w + "' missing from: " + e.getMessage());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void gradientOverProbabilityTargetsIsRejected(Backend backend) {
        CrossEntropy ce = CrossEntropy.create().withBackend(backend);
        try (Tensor logits = Tensor.of(randoms(N * C, 1), N, C); Tensor targets = Tensor.of(probabilities(N, C, 2), N, C);
             Tensor loss = Tensor.zeros(DType.FLOAT32)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> ce.forwardBackward(logits, targets, loss, targets));
            assertNames(e, "grad", "targets");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void gradientOverlappingTheLogitsByARowIsRejected(Backend backend) {
        CrossEntropy ce = CrossEntropy.create().withBackend(backend);
        try (Tensor buffer = Tensor.of(randoms((N + 1) * C, 3), N + 1, C); Tensor targets = Tensor.of(new long[] {0, 1, 2, 3});
             Tensor loss = Tensor.zeros(DType.FLOAT32)) {
            Tensor logits = buffer.rows(0, N), grad = buffer.rows(1, N);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> ce.forwardBackward(logits, targets, loss, grad));
            assertNames(e, "grad: shares memory with logits", "may be logits itself");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void gradientOverTheClassWeightsIsRejected(Backend backend) {
        try (Tensor buffer = Tensor.zeros(DType.FLOAT32, N, C); Tensor logits = Tensor.of(randoms(N * C, 4), N, C);
             Tensor targets = Tensor.of(new long[] {0, 1, 2, 3}); Tensor loss = Tensor.zeros(DType.FLOAT32)) {
            Tensor weight = buffer.rows(0, 1).reshape(C);
            CrossEntropy ce = CrossEntropy.create().withWeight(weight).withBackend(backend);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> ce.forwardBackward(logits, targets, loss, buffer));
            assertNames(e, "grad", "weight");
            NllLoss nll = NllLoss.create().withWeight(weight).withBackend(backend);
            e = assertThrows(IllegalArgumentException.class, () -> nll.forwardBackward(logits, targets, loss, buffer));
            assertNames(e, "grad", "weight");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void logSumExpOverTheLossIsRejected(Backend backend) {
        CrossEntropy ce = CrossEntropy.create().withReduction(Reduction.NONE).withBackend(backend);
        try (Tensor logits = Tensor.of(randoms(N * C, 5), N, C); Tensor targets = Tensor.of(new long[] {0, 1, 2, 3});
             Tensor loss = Tensor.zeros(DType.FLOAT32, N); Tensor grad = Tensor.zeros(DType.FLOAT32, N, C)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> ce.forwardBackward(logits, targets, null, loss, grad, loss));
            assertNames(e, "lse", "loss", "must be a tensor of its own");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void gradientExactlyOverTheLogitsStaysAllowed(Backend backend) {
        float[] x = randoms(N * C, 6);
        long[] y = {4, 0, 2, 1};
        CrossEntropy ce = CrossEntropy.create().withBackend(backend);
        NllLoss nll = NllLoss.create().withBackend(backend);
        try (Tensor logits = Tensor.of(x, N, C); Tensor targets = Tensor.of(y);
             CrossEntropy.Result expected = ce.forwardBackward(logits, targets);
             LossResult expectedNll = nll.forwardBackward(logits, targets);
             Tensor inPlace = Tensor.of(x, N, C); Tensor inPlaceNll = Tensor.of(x, N, C); Tensor loss = Tensor.zeros(DType.FLOAT32)) {
            ce.forwardBackward(inPlace, targets, loss, inPlace);
            assertEquals(expected.loss().item(), loss.item(), 0f);
            assertArrayEquals(expected.grad().toFloatArray(), inPlace.toFloatArray(), 0f);
            nll.forwardBackward(inPlaceNll, targets, loss, inPlaceNll);
            assertEquals(expectedNll.loss().item(), loss.item(), 0f);
            assertArrayEquals(expectedNll.grad().toFloatArray(), inPlaceNll.toFloatArray(), 0f);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void readOnlyMemoryIsNoOutput(Backend backend) {
        CrossEntropy ce = CrossEntropy.create().withBackend(backend);
        try (Arena arena = Arena.ofConfined(); Tensor targets = Tensor.of(new long[] {0, 1, 2, 3});
             Tensor loss = Tensor.zeros(DType.FLOAT32)) {
            MemorySegment memory = arena.allocate((long) N * C * 4, 64);
            MemorySegment.copy(randoms(N * C, 7), 0, memory, ValueLayout.JAVA_FLOAT, 0, N * C);
            Tensor readOnly = Tensor.wrap(memory.asReadOnly(), DType.FLOAT32, N, C);
            // as an input, read-only memory is fine
            try (CrossEntropy.Result r = ce.forwardBackward(readOnly, targets)) {
                assertTrue(Float.isFinite(r.loss().item()));
            }
            Tensor grad = Tensor.wrap(memory.asReadOnly(), DType.FLOAT32, N, C);
            try (Tensor logits = Tensor.of(randoms(N * C, 8), N, C)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> ce.forwardBackward(logits, targets, loss, grad));
                assertNames(e, "grad", "read-only");
                Tensor readOnlyLoss = Tensor.wrap(arena.allocate(4, 4).asReadOnly(), DType.FLOAT32);
                e = assertThrows(IllegalArgumentException.class, () -> ce.forwardBackward(logits, targets, readOnlyLoss, null));
                assertNames(e, "loss", "read-only");
                e = assertThrows(IllegalArgumentException.class, () -> Normalize.create().withBackend(backend).forward(logits, grad));
                assertNames(e, "y", "read-only");
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void readOnlyFileMappingAsTheInPlaceGradientIsRejected(Backend backend, @TempDir Path dir) throws IOException {
        Path file = dir.resolve("logits.f32");
        float[] x = randoms(N * C, 9);
        try (Arena arena = Arena.ofConfined(); Tensor targets = Tensor.of(new long[] {3, 1, 0, 2});
             Tensor loss = Tensor.zeros(DType.FLOAT32)) {
            MemorySegment bytes = arena.allocate((long) N * C * 4);
            MemorySegment.copy(x, 0, bytes, ValueLayout.JAVA_FLOAT, 0, N * C);
            Files.write(file, bytes.toArray(ValueLayout.JAVA_BYTE));
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
                MemorySegment mapped = channel.map(FileChannel.MapMode.READ_ONLY, 0, (long) N * C * 4, arena);
                Tensor logits = Tensor.wrap(mapped, DType.FLOAT32, N, C);
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> CrossEntropy.create().withBackend(backend).forwardBackward(logits, targets, loss, logits));
                assertNames(e, "grad", "read-only");
                // the mapping is intact and still usable as an input
                try (CrossEntropy.Result r = CrossEntropy.create().withBackend(backend).forwardBackward(logits, targets)) {
                    assertTrue(Float.isFinite(r.loss().item()));
                }
                assertArrayEquals(x, logits.toFloatArray(), 0f);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void documentedInPlaceFormsOfOpsStayAllowed(Backend backend) {
        float[] x = randoms(N * C, 10);
        try (Tensor input = Tensor.of(x, N, C); Tensor expected = Softmax.create().withBackend(backend).forward(input);
             Tensor inPlace = Tensor.of(x, N, C); Tensor y = Tensor.of(x, N, C);
             Tensor expectedY = Normalize.create().withBackend(backend).forward(y)) {
            Softmax.create().withBackend(backend).forward(inPlace, inPlace);
            assertArrayEquals(expected.toFloatArray(), inPlace.toFloatArray(), 0f);
            Normalize.create().withBackend(backend).forward(y, y);
            assertArrayEquals(expectedY.toFloatArray(), y.toFloatArray(), 0f);
            // but a shifted view of the input is not the input
            try (Tensor buffer = Tensor.of(randoms((N + 1) * C, 11), N + 1, C)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> Softmax.create().withBackend(backend).forward(buffer.rows(0, N), buffer.rows(1, N)));
                assertNames(e, "out: shares memory with input");
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void outputsOverlappingEachOtherAreRejected(Backend backend) {
        float[] a = randoms(6 * 3, 12), b = randoms(6 * 3, 13);
        ClipLoss clip = ClipLoss.create().withBackend(backend);
        try (Tensor ta = Tensor.of(a, 6, 3); Tensor tb = Tensor.of(b, 6, 3); Tensor grads = Tensor.zeros(DType.FLOAT32, 7, 3);
             Tensor loss = Tensor.zeros(DType.FLOAT32)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> clip.forwardBackward(ta, tb, loss, grads.rows(0, 6), grads.rows(1, 6)));
            assertNames(e, "gradB: shares memory with gradA");
        }
    }
}
