package dev.jnce.internal;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.Test;

import dev.jnce.DType;
import dev.jnce.Tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The operations' scratch tensors: zero-filled every time although their slabs are reused once
 * every tensor in them is closed, a reused slab's memory never under a tensor still open, and
 * large ones in memory of their own.
 */
class ScratchTensorsTest {
    private static final long FLOATS = 4096; // 16 KiB: 64 to a 1 MiB slab

    private static void fill(Tensor t, float v) {
        MemorySegment s = t.segment();
        for (long i = 0; i < t.numel(); i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, v);
    }

    private static boolean all(Tensor t, float v) {
        MemorySegment s = t.segment();
        for (long i = 0; i < t.numel(); i++) if (s.getAtIndex(ValueLayout.JAVA_FLOAT, i) != v) return false;
        return true;
    }

    @Test
    void zeroFilledEvenFromAReusedSlab() {
        Set<Long> addresses = new HashSet<>();
        int reused = 0;
        for (int k = 0; k < 400; k++) { // 6.25 MiB of scratch, each closed before the next
            try (Tensor t = ScratchTensors.zeros(DType.FLOAT32, FLOATS)) {
                assertTrue(all(t, 0f), "scratch " + k + " is not zero-filled");
                assertArrayEquals(new long[] {FLOATS}, t.shape());
                if (!addresses.add(t.segment().address())) reused++;
                fill(t, 7f);
            }
        }
        assertTrue(reused > 0, "no slab memory was reused over 400 scratch tensors closed one by one");
    }

    @Test
    void anOpenScratchKeepsItsSlab() {
        Tensor kept = ScratchTensors.zeros(DType.FLOAT32, FLOATS);
        try {
            fill(kept, 3f);
            List<Long> seen = new ArrayList<>();
            for (int k = 0; k < 400; k++) {
                try (Tensor t = ScratchTensors.zeros(DType.INT64, FLOATS / 2)) {
                    seen.add(t.segment().address());
                    t.segment().fill((byte) 0x5a);
                }
            }
            assertTrue(all(kept, 3f), "a scratch tensor still open was overwritten through a reused slab");
            long at = kept.segment().address();
            for (long a : seen) assertTrue(a + FLOATS * 4 <= at || a >= at + FLOATS * 4, "a new scratch overlaps one still open");
        } finally {
            kept.close();
        }
    }

    @Test
    void largeOnesAndScalars() {
        try (Tensor big = ScratchTensors.zeros(DType.FLOAT32, 64 * 1024 + 1); Tensor scalar = ScratchTensors.zeros(DType.FLOAT32)) {
            assertTrue(all(big, 0f));
            assertEquals(1, scalar.numel());
            assertTrue(all(scalar, 0f));
        }
    }
}
