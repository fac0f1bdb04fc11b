package dev.jnce;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Large host tensors come from mapped pages: zero, aligned, usable, and gone once closed. */
class PageMemoryTest {
    private static final boolean LINUX = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux");
    private static final long HUGE_PAGE = 2L << 20;

    /** Every 4 KiB page's first and last float, and a stride through the rest, read zero. */
    private static void assertZero(MemorySegment m) {
        long n = m.byteSize() / 4;
        for (long i = 0; i < n; i += 1021) assertEquals(0f, m.getAtIndex(ValueLayout.JAVA_FLOAT, i), "float " + i);
        for (long i = 1023; i < n; i += 1024) assertEquals(0f, m.getAtIndex(ValueLayout.JAVA_FLOAT, i), "float " + i);
        assertEquals(0f, m.getAtIndex(ValueLayout.JAVA_FLOAT, n - 1));
    }

    @Test
    void largeUnscopedTensorIsZeroAlignedAndWritable() {
        long rows = 1000, cols = 1531; // 6.1 MiB, not a whole number of pages
        Tensor t = Tensor.zerosUnscoped(DType.FLOAT32, rows, cols);
        MemorySegment m = t.segment();
        assertEquals(rows * cols * 4, m.byteSize());
        assertEquals(0, m.address() % Tensor.ALIGNMENT);
        if (LINUX) assertEquals(0, m.address() % HUGE_PAGE, "a mapped tensor starts on a huge page");
        assertZero(m);
        m.setAtIndex(ValueLayout.JAVA_FLOAT, rows * cols - 1, 7f);
        m.setAtIndex(ValueLayout.JAVA_FLOAT, 0, -3f);
        assertEquals(7f, t.toFloatArray()[(int) (rows * cols - 1)]);
        t.close();
        assertThrows(IllegalStateException.class, () -> m.get(ValueLayout.JAVA_FLOAT, 0), "the mapping is unmapped with the tensor");
    }

    @Test
    void largeScopedTensorsAreFreedWithTheirScope() {
        MemorySegment kept;
        try (TensorScope scope = TensorScope.open()) {
            Tensor a = Tensor.zeros(DType.FLOAT32, 2048, 1024);
            Tensor b = Tensor.zeros(DType.INT64, 1 << 20);
            assertZero(a.segment());
            assertZero(b.segment());
            a.segment().fill((byte) 1);
            assertZero(b.segment()); // two mappings, not one
            kept = a.segment();
        }
        MemorySegment gone = kept;
        assertThrows(IllegalStateException.class, () -> gone.get(ValueLayout.JAVA_BYTE, 0));
    }

    @Test
    void memoryOfAFreedMappingIsNotHandedOutDirty() {
        // map, dirty and free many times: each new tensor must read zero
        for (int i = 0; i < 20; i++) {
            try (Tensor t = Tensor.zerosUnscoped(DType.FLOAT32, 5L << 18)) {
                assertZero(t.segment());
                t.segment().fill((byte) 0x7f);
            }
        }
    }

    @Test
    void smallRequestsAndLargeAlignmentsUseTheArena() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment small = PageMemory.allocate(arena, PageMemory.MIN_BYTES - 64, 64);
            assertEquals(PageMemory.MIN_BYTES - 64, small.byteSize());
            assertZero(small);
            MemorySegment big = PageMemory.allocate(arena, PageMemory.MIN_BYTES, 4L << 20);
            assertEquals(0, big.address() % (4L << 20));
            assertZero(big);
            MemorySegment mapped = PageMemory.allocate(arena, PageMemory.MIN_BYTES, 4096);
            assertTrue(mapped.address() % 4096 == 0);
            assertZero(mapped);
        }
    }
}
