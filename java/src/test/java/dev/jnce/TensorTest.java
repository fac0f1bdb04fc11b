package dev.jnce;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TensorTest {

    // ---- creation and round trips ----------------------------------------------------------

    @Test
    void floatArrayDefaultsToOneDimension() {
        try (Tensor t = Tensor.of(new float[] {1.5f, -2f, 3.25f})) {
            assertArrayEquals(new long[] {3}, t.shape());
            assertEquals(DType.FLOAT32, t.dtype());
            assertArrayEquals(new float[] {1.5f, -2f, 3.25f}, t.toFloatArray());
        }
    }

    @Test
    void floatArrayWithExplicitShape() {
        float[] data = {1, 2, 3, 4, 5, 6};
        try (Tensor t = Tensor.of(data, 2, 3)) {
            assertArrayEquals(new long[] {2, 3}, t.shape());
            assertArrayEquals(data, t.toFloatArray());
        }
    }

    @Test
    void intArrayRoundTrips() {
        try (Tensor t = Tensor.of(new int[] {7, -1, Integer.MAX_VALUE, 0}, 2, 2)) {
            assertEquals(DType.INT32, t.dtype());
            assertArrayEquals(new long[] {2, 2}, t.shape());
            assertArrayEquals(new int[] {7, -1, Integer.MAX_VALUE, 0}, t.toIntArray());
        }
    }

    @Test
    void intTensorReadsAsLongs() {
        try (Tensor t = Tensor.of(new int[] {3, -4})) {
            assertArrayEquals(new long[] {3, -4}, t.toLongArray());
        }
    }

    @Test
    void longArrayRoundTrips() {
        long[] data = {Long.MIN_VALUE, 0, 42, Long.MAX_VALUE};
        try (Tensor t = Tensor.of(data)) {
            assertEquals(DType.INT64, t.dtype());
            assertArrayEquals(new long[] {4}, t.shape());
            assertArrayEquals(data, t.toLongArray());
        }
    }

    @Test
    void longArrayWithExplicitShape() {
        try (Tensor t = Tensor.of(new long[] {1, 2, 3, 4, 5, 6}, 3, 2)) {
            assertArrayEquals(new long[] {3, 2}, t.shape());
            assertArrayEquals(new long[] {1, 2, 3, 4, 5, 6}, t.toLongArray());
        }
    }

    @Test
    void wrongDTypeReadIsRejected() {
        try (Tensor t = Tensor.of(new int[] {1})) {
            IllegalStateException e = assertThrows(IllegalStateException.class, t::toFloatArray);
            assertTrue(e.getMessage().contains("int32"), e.getMessage());
        }
    }

    @Test
    void floatMatrixKeepsRowMajorOrder() {
        try (Tensor t = Tensor.of(new float[][] {{1, 2, 3}, {4, 5, 6}})) {
            assertArrayEquals(new long[] {2, 3}, t.shape());
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, t.toFloatArray());
        }
    }

    @Test
    void raggedFloatMatrixIsRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Tensor.of(new float[][] {{1, 2, 3}, {4, 5}}));
        assertTrue(e.getMessage().contains("row 1"), e.getMessage());
    }

    @Test
    void heapFloatBufferCopiesRemainingValuesWithoutMovingPosition() {
        FloatBuffer buf = FloatBuffer.wrap(new float[] {9, 1, 2, 3, 4});
        buf.position(1);
        try (Tensor t = Tensor.of(buf, 2, 2)) {
            assertArrayEquals(new long[] {2, 2}, t.shape());
            assertArrayEquals(new float[] {1, 2, 3, 4}, t.toFloatArray());
        }
        assertEquals(1, buf.position());
    }

    @Test
    void directFloatBufferCopiesRemainingValuesWithoutMovingPosition() {
        FloatBuffer buf = ByteBuffer.allocateDirect(5 * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
        buf.put(new float[] {9, 1, 2, 3, 4}).position(1);
        try (Tensor t = Tensor.of(buf)) {
            assertArrayEquals(new long[] {4}, t.shape());
            assertArrayEquals(new float[] {1, 2, 3, 4}, t.toFloatArray());
        }
        assertEquals(1, buf.position());
    }

    @Test
    void directFloatBufferAtOddByteOffset() {
        ByteBuffer bytes = ByteBuffer.allocateDirect(3 * 4 + 1).position(1).slice().order(ByteOrder.nativeOrder());
        FloatBuffer buf = bytes.asFloatBuffer().put(new float[] {1, 2, 3}).flip();
        try (Tensor t = Tensor.of(buf)) {
            assertArrayEquals(new float[] {1, 2, 3}, t.toFloatArray());
        }
    }

    @Test
    void bigEndianDirectFloatBufferKeepsItsValues() {
        // ByteBuffer.allocateDirect is big-endian unless told otherwise.
        FloatBuffer buf = ByteBuffer.allocateDirect(3 * 4).asFloatBuffer();
        buf.put(new float[] {1.5f, -2f, 3f}).flip();
        try (Tensor t = Tensor.of(buf)) {
            assertArrayEquals(new float[] {1.5f, -2f, 3f}, t.toFloatArray());
        }
    }

    @Test
    void zerosIsZeroFilled() {
        try (Tensor t = Tensor.zeros(DType.FLOAT32, 3, 5)) {
            assertArrayEquals(new float[15], t.toFloatArray());
        }
        try (Tensor t = Tensor.zeros(DType.INT64, 4)) {
            assertArrayEquals(new long[4], t.toLongArray());
        }
    }

    // ---- shape accessors -------------------------------------------------------------------

    @Test
    void shapeAccessors() {
        try (Tensor t = Tensor.zeros(DType.FLOAT32, 2, 3, 4)) {
            assertEquals(3, t.rank());
            assertEquals(24, t.numel());
            assertEquals(2, t.size(0));
            assertEquals(4, t.size(-1));
            assertEquals(3, t.size(-2));
            assertEquals(Device.HOST, t.device());
        }
    }

    @Test
    void sizeOutOfRangeIsRejected() {
        try (Tensor t = Tensor.zeros(DType.FLOAT32, 2, 3)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> t.size(2));
            assertTrue(e.getMessage().contains("(2, 3)"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> t.size(-3));
        }
    }

    @Test
    void shapeReturnsACopy() {
        try (Tensor t = Tensor.zeros(DType.FLOAT32, 2, 3)) {
            t.shape()[0] = 99;
            assertArrayEquals(new long[] {2, 3}, t.shape());
        }
    }

    @Test
    void allocatedStorageIs64ByteAligned() {
        try (Tensor a = Tensor.zeros(DType.FLOAT32, 3);
             Tensor b = Tensor.of(new int[] {1, 2, 3, 4, 5});
             Tensor c = Tensor.of(new long[] {1})) {
            for (Tensor t : new Tensor[] {a, b, c}) {
                assertEquals(0, t.segment().address() % Tensor.ALIGNMENT, t.toString());
            }
        }
    }

    @Test
    void scalarHasOneElement() {
        try (Tensor t = Tensor.zeros(DType.FLOAT32)) {
            assertEquals(0, t.rank());
            assertEquals(1, t.numel());
            assertEquals("float32()", t.describe());
            t.segment().set(ValueLayout.JAVA_FLOAT, 0, 2.5f);
            assertEquals(2.5f, t.item());
        }
        try (Tensor t = Tensor.scalar(-1.25f)) {
            assertArrayEquals(new long[0], t.shape());
            assertEquals(-1.25f, t.item());
        }
    }

    @Test
    void itemOnManyElementsThrows() {
        try (Tensor t = Tensor.of(new float[] {1, 2})) {
            IllegalStateException e = assertThrows(IllegalStateException.class, t::item);
            assertTrue(e.getMessage().contains("(2)"), e.getMessage());
        }
    }

    @Test
    void itemOnOneElementVector() {
        try (Tensor t = Tensor.of(new float[] {-7.5f})) {
            assertEquals(-7.5f, t.item());
        }
    }

    @Test
    void lengthNotFillingShapeIsRejectedWithShapeInMessage() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Tensor.of(new float[] {1, 2, 3, 4, 5}, 2, 3));
        assertTrue(e.getMessage().contains("(2, 3)"), e.getMessage());
    }

    @Test
    void negativeDimensionIsRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Tensor.zeros(DType.FLOAT32, 2, -1));
        assertTrue(e.getMessage().contains("negative"), e.getMessage());
        assertTrue(e.getMessage().contains("(2, -1)"), e.getMessage());
    }

    // ---- wrap ------------------------------------------------------------------------------

    @Test
    void wrapIsZeroCopyBothWays() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(6 * 4, 4);
            try (Tensor t = Tensor.wrap(seg, DType.FLOAT32, 2, 3)) {
                assertEquals(seg.address(), t.segment().address());
                seg.setAtIndex(ValueLayout.JAVA_FLOAT, 4, 8.5f);
                assertEquals(8.5f, t.toFloatArray()[4]);
                t.segment().setAtIndex(ValueLayout.JAVA_FLOAT, 1, -3f);
                assertEquals(-3f, seg.getAtIndex(ValueLayout.JAVA_FLOAT, 1));
            }
        }
    }

    @Test
    void wrapRejectsWrongByteSize() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(5 * 4, 4);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Tensor.wrap(seg, DType.FLOAT32, 2, 3));
            assertTrue(e.getMessage().contains("(2, 3)"), e.getMessage());
            assertTrue(e.getMessage().contains("20 bytes"), e.getMessage());
        }
    }

    @Test
    void wrapRejectsHeapSegment() {
        MemorySegment heap = MemorySegment.ofArray(new float[6]);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Tensor.wrap(heap, DType.FLOAT32, 6));
        assertTrue(e.getMessage().contains("heap"), e.getMessage());
    }

    @Test
    void wrapRejectsMisalignedAddress() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment misaligned = arena.allocate(4 * 4 + 2, 64).asSlice(2, 4 * 4);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Tensor.wrap(misaligned, DType.FLOAT32, 4));
            assertTrue(e.getMessage().contains("aligned"), e.getMessage());
        }
    }

    @Test
    void closingWrappedTensorLeavesCallerSegmentUsable() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocateFrom(ValueLayout.JAVA_LONG, 11L, 22L);
            Tensor t = Tensor.wrap(seg, DType.INT64, 2);
            t.close();
            assertTrue(t.isClosed());
            assertTrue(seg.scope().isAlive());
            assertArrayEquals(new long[] {11, 22}, seg.toArray(ValueLayout.JAVA_LONG));
        }
    }

    // ---- lifetime --------------------------------------------------------------------------

    @Test
    void closeIsIdempotent() {
        Tensor t = Tensor.zeros(DType.FLOAT32, 2);
        assertFalse(t.isClosed());
        t.close();
        t.close();
        assertTrue(t.isClosed());
    }

    @Test
    void accessorsAfterCloseThrow() {
        Tensor t = Tensor.of(new float[] {1, 2, 3});
        t.close();
        assertThrows(IllegalStateException.class, t::segment);
        assertThrows(IllegalStateException.class, t::toFloatArray);
        assertThrows(IllegalStateException.class, t::item);
    }

    @Test
    void integerReadsAfterCloseThrow() {
        Tensor ints = Tensor.of(new int[] {1});
        Tensor longs = Tensor.of(new long[] {1});
        ints.close();
        longs.close();
        assertThrows(IllegalStateException.class, ints::toIntArray);
        assertThrows(IllegalStateException.class, ints::toLongArray);
        assertThrows(IllegalStateException.class, longs::toLongArray);
    }

    @Test
    void requireOpenNamesTheArgument() {
        Tensor t = Tensor.zeros(DType.FLOAT32, 2, 3);
        t.requireOpen("logits"); // open: no exception
        t.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> t.requireOpen("logits"));
        assertTrue(e.getMessage().contains("logits"), e.getMessage());
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
        assertTrue(e.getMessage().contains("float32(2, 3)"), e.getMessage());
    }

    @Test
    void toStringMentionsClosed() {
        Tensor t = Tensor.zeros(DType.INT32, 4);
        assertEquals("Tensor[int32(4)]", t.toString());
        t.close();
        assertEquals("Tensor[int32(4), closed]", t.toString());
    }

    // ---- formatting ------------------------------------------------------------------------

    @Test
    void describeIsDTypeAndShape() {
        try (Tensor t = Tensor.zeros(DType.FLOAT32, 2, 3)) {
            assertEquals("float32(2, 3)", t.describe());
        }
    }

    @Test
    void formatShape() {
        assertEquals("(8192, 32000)", Tensor.formatShape(8192, 32000));
        assertEquals("(5)", Tensor.formatShape(5));
        assertEquals("()", Tensor.formatShape());
    }

    @Test
    void ofCopiesTheArray() {
        float[] data = {1, 2};
        try (Tensor t = Tensor.of(data)) {
            data[0] = 100;
            assertArrayEquals(new float[] {1, 2}, t.toFloatArray());
        }
    }

    @Test
    void emptyTensorsReadBackAsEmptyArrays() {
        try (Tensor f = Tensor.zeros(DType.FLOAT32, 0); Tensor i = Tensor.zeros(DType.INT32, 0, 3);
             Tensor l = Tensor.zeros(DType.INT64, 2, 0)) {
            assertEquals(0, f.toFloatArray().length);
            assertEquals(0, i.toIntArray().length);
            assertEquals(0, i.toLongArray().length);
            assertEquals(0, l.toLongArray().length);
        }
    }

    @Test
    void aShapeTooLargeToCountIsNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Tensor.zeros(DType.FLOAT32, Long.MAX_VALUE, 2));
        assertTrue(e.getMessage().startsWith("shape: (" + Long.MAX_VALUE + ", 2)"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Tensor.zerosUnscoped(DType.INT64, Long.MAX_VALUE / 4));
    }

    @Test
    void nullDataIsNamed() {
        for (org.junit.jupiter.api.function.Executable call : java.util.List.<org.junit.jupiter.api.function.Executable>of(
                () -> Tensor.of((float[]) null), () -> Tensor.of((int[]) null), () -> Tensor.of((long[]) null),
                () -> Tensor.of((float[][]) null), () -> Tensor.of((java.nio.FloatBuffer) null))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
            assertEquals("data: must not be null", e.getMessage());
        }
    }
}
