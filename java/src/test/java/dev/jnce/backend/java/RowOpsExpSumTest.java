package dev.jnce.backend.java;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The forward pass's exponentials' sum with the smoothing dot product in one read
 * ({@link RowOps#expSum}) against the two passes of the fused call: the sum of exp(x - max)
 * as {@link RowOps#expInto} gives it and the dot product as {@link RowOps#peakDot} gives it,
 * bit for bit, so that a forward-only call's loss equals the fused call's. Rows of every
 * length up to 300 (every tail, and a last vector outside the pairs on either lane width),
 * lengths across the 64- and 128-vector blocks, unaligned starts, with and without weights,
 * rows in the exponential's range and rows reaching below it (x - max < -87); and the sums
 * against float64.
 */
class RowOpsExpSumTest {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    private static RowOps lanes() {
        RowOps v = VectorSupport.rowOps();
        Assumptions.assumeTrue(v != null, "the Vector API is not present");
        return v;
    }

    private static void check(RowOps ops, MemorySegment x, long off, int c, MemorySegment w, String what) {
        RowOps.Peak p = ops.peak(x, off, c);
        double fusedSum = ops.expInto(x, off, c, p, null, 0);
        double fusedDot = ops.peakDot(x, off, c, w).dot();
        RowOps.ExpSum got = ops.expSum(x, off, c, p, w);
        assertEquals(Double.doubleToLongBits(fusedSum), Double.doubleToLongBits(got.sum()),
                what + ": sum " + got.sum() + " against the fused pass's " + fusedSum);
        assertEquals(Double.doubleToLongBits(fusedDot), Double.doubleToLongBits(got.dot()),
                what + ": dot " + got.dot() + " against the fused pass's " + fusedDot);
        double sum64 = 0, dot64 = 0;
        for (int j = 0; j < c; j++) {
            double v = x.get(F, off + 4L * j);
            sum64 += Math.exp(v - p.max());
            dot64 += (w == null ? 1.0 : w.getAtIndex(F, j)) * v;
        }
        double absDot = 0;
        for (int j = 0; j < c; j++) absDot += Math.abs((w == null ? 1.0 : w.getAtIndex(F, j)) * x.get(F, off + 4L * j));
        assertEquals(sum64, got.sum(), 4e-7 * sum64, what + ": sum against float64");
        assertEquals(dot64, got.dot(), 1e-6 * absDot + 1e-30, what + ": dot against float64");
    }

    private static void rows(RowOps ops) {
        Random r = new Random(11);
        int[] lengths = IntStream.concat(IntStream.rangeClosed(1, 300),
                IntStream.of(1000, 1023, 1024, 1040, 2047, 2048, 2064, 4096, 16384, 16400, 16415)).toArray();
        try (Arena arena = Arena.ofConfined()) {
            int max = 16415;
            MemorySegment x = arena.allocate(4L * (max + 3)), w = arena.allocate(4L * max);
            for (int j = 0; j < max; j++) w.setAtIndex(F, j, 0.5f + r.nextFloat());
            for (int c : lengths) {
                for (int trial = 0; trial < (c <= 300 ? 6 : 2); trial++) {
                    long off = 4L * (trial % 3); // unaligned starts too
                    for (int j = 0; j < c; j++) x.setAtIndex(F, off / 4 + j, (float) r.nextGaussian() * 3);
                    if (trial % 2 == 1) x.setAtIndex(F, off / 4 + r.nextInt(c), -200f); // below the exponential's range
                    String what = "c " + c + ", trial " + trial;
                    check(ops, x, off, c, w, what + ", weighted");
                    check(ops, x, off, c, null, what + ", unweighted");
                }
            }
        }
    }

    @Test
    void lanesSumAsTheFusedPassesDoBitForBit() {
        rows(lanes());
    }

    @Test
    void scalarSumsAsTheFusedPassesDoBitForBit() {
        rows(RowOps.SCALAR);
    }
}
