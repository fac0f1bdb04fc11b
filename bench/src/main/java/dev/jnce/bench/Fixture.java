package dev.jnce.bench;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The tensors of one benchmark trial, closed together, and the backend it runs on. Inputs are
 * filled by tiling a block of random values (a 1 GB tensor of fresh Gaussians would take
 * seconds of every fork's setup; the kernels' speed does not depend on the values repeating).
 */
final class Fixture implements AutoCloseable {
    private static final int BLOCK = (1 << 20) + 7; // not a multiple of any row length used
    private final List<Tensor> owned = new ArrayList<>();
    private final SplittableRandom random = new SplittableRandom(1);

    /**
     * The backend called {@code name}, or null after printing "skipped: ..." when it does not load
     * here (the benchmark then does nothing; bench/run.sh passes only backends that load).
     */
    static Backend backendOrSkip(String name) {
        if (Backends.isAvailable(name)) return Backends.get(name);
        System.out.println("skipped: backend '" + name + "' does not load here: " + Backends.unavailableReason(name));
        return null;
    }

    /** Standard-normal float32 values times {@code scale}. */
    Tensor gaussian(float scale, long... shape) {
        float[] block = new float[BLOCK];
        for (int i = 0; i < BLOCK; i++) block[i] = (float) (scale * random.nextGaussian());
        return tiled(block, shape);
    }

    /** Uniform float32 values in [lo, hi). */
    Tensor uniform(float lo, float hi, long... shape) {
        float[] block = new float[BLOCK];
        for (int i = 0; i < BLOCK; i++) block[i] = (float) (lo + (hi - lo) * random.nextDouble());
        return tiled(block, shape);
    }

    /** (N) int64 class indices in [0, c). */
    Tensor classIndices(long n, long c) {
        return own(Tensor.of(random.longs(n, 0, c).toArray()));
    }

    /** (N) int64 0, 1, ..., N-1: the diagonal targets of in-batch InfoNCE. */
    Tensor diagonal(int n) {
        long[] t = new long[n];
        for (int i = 0; i < n; i++) t[i] = i;
        return own(Tensor.of(t));
    }

    /** (N) int64 labels i mod (N / perClass): classes of perClass rows (supervised contrastive). */
    Tensor classes(int n, int perClass) {
        long[] t = new long[n];
        for (int i = 0; i < n; i++) t[i] = i % Math.max(1, n / perClass);
        return own(Tensor.of(t));
    }

    /** A zero-filled float32 output buffer, reused across calls. */
    Tensor zeros(long... shape) {
        return own(Tensor.zeros(DType.FLOAT32, shape));
    }

    /** Takes {@code t} to close with the fixture. */
    Tensor own(Tensor t) {
        owned.add(t);
        return t;
    }

    private Tensor tiled(float[] block, long... shape) {
        Tensor t = zeros(shape);
        MemorySegment seg = t.segment();
        long n = t.numel();
        for (long at = 0; at < n; at += block.length) {
            int len = (int) Math.min(block.length, n - at);
            MemorySegment.copy(block, 0, seg, ValueLayout.JAVA_FLOAT, at * Float.BYTES, len);
        }
        return t;
    }

    @Override
    public void close() {
        for (Tensor t : owned) t.close();
        owned.clear();
    }
}
