package dev.jnce;

import dev.jnce.loss.CrossEntropy;
import dev.jnce.testutil.ScopedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Zero-copy exchange with NIO buffers: Tensor.wrap over direct buffers, and the buffer views of a
 * tensor's memory. Wrapped buffers feed losses on every backend.
 */
class TensorBuffersTest extends ScopedTest {

    private static ByteBuffer nativeBytes(int bytes) {
        return ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
    }

    private static void assertMessage(Throwable e, String... parts) {
        for (String p : parts) assertTrue(e.getMessage().contains(p), "'" + p + "' missing from: " + e.getMessage());
    }

    // ---- wrap: zero copy -------------------------------------------------------------------

    @Test
    void wrappedFloatBufferSharesMemoryBothWays() {
        FloatBuffer buf = nativeBytes(6 * 4).asFloatBuffer().put(new float[] {1.5f, -2, 3, 4, 5, 6}).flip();
        Tensor t = Tensor.wrap(buf, 2, 3);
        assertArrayEquals(new long[] {2, 3}, t.shape());
        assertEquals(DType.FLOAT32, t.dtype());
        assertEquals(MemorySegment.ofBuffer(buf).address(), t.segment().address());
        assertArrayEquals(new float[] {1.5f, -2, 3, 4, 5, 6}, t.toFloatArray());
        buf.put(4, 8.5f);
        assertEquals(8.5f, t.toFloatArray()[4]);
        t.asFloatBuffer().put(0, -7f);
        assertEquals(-7f, buf.get(0));
        assertEquals(0, buf.position(), "wrap leaves the position alone");
    }

    @Test
    void wrappedByteBufferOfEachDType() {
        ByteBuffer f = nativeBytes(8);
        f.putFloat(0, 1.5f).putFloat(4, -0.25f);
        assertArrayEquals(new float[] {1.5f, -0.25f}, Tensor.wrap(f, DType.FLOAT32, 2).toFloatArray());
        ByteBuffer i = nativeBytes(8);
        i.putInt(0, -3).putInt(4, Integer.MAX_VALUE);
        assertArrayEquals(new int[] {-3, Integer.MAX_VALUE}, Tensor.wrap(i, DType.INT32, 2, 1).toIntArray());
        ByteBuffer l = nativeBytes(8);
        l.putLong(0, Long.MIN_VALUE);
        assertArrayEquals(new long[] {Long.MIN_VALUE}, Tensor.wrap(l, DType.INT64).toLongArray());
    }

    @Test
    void wrappedIntAndLongBuffers() {
        IntBuffer ints = nativeBytes(3 * 4).asIntBuffer().put(new int[] {7, -1, 2});
        Tensor ti = Tensor.wrap(ints.flip(), 3);
        assertEquals(DType.INT32, ti.dtype());
        assertArrayEquals(new int[] {7, -1, 2}, ti.toIntArray());
        LongBuffer longs = nativeBytes(2 * 8).asLongBuffer().put(new long[] {1L << 40, -5});
        Tensor tl = Tensor.wrap(longs.flip(), 2);
        assertEquals(DType.INT64, tl.dtype());
        assertArrayEquals(new long[] {1L << 40, -5}, tl.toLongArray());
        ti.asIntBuffer().put(1, 42);
        assertEquals(42, ints.get(1));
    }

    @Test
    void wrapCoversPositionToLimit() {
        FloatBuffer buf = nativeBytes(5 * 4).asFloatBuffer().put(new float[] {9, 1, 2, 3, 9});
        buf.position(1).limit(4);
        Tensor t = Tensor.wrap(buf, 3);
        assertArrayEquals(new float[] {1, 2, 3}, t.toFloatArray());
        assertEquals(1, buf.position());
    }

    @Test
    void emptyBufferWrapsAnEmptyTensor() {
        Tensor t = Tensor.wrap(nativeBytes(0).asFloatBuffer(), 0, 4);
        assertEquals(0, t.numel());
        assertEquals(0, t.toFloatArray().length);
    }

    @Test
    void closingAWrappedBufferTensorLeavesTheBufferUsable() {
        FloatBuffer buf = nativeBytes(8).asFloatBuffer().put(new float[] {1, 2}).flip();
        Tensor t = Tensor.wrap(buf, 2);
        t.close();
        assertThrows(IllegalStateException.class, t::toFloatArray);
        assertEquals(2f, buf.get(1));
    }

    // ---- wrap: refusals --------------------------------------------------------------------

    @Test
    void bigEndianByteBufferIsRefusedByName() {
        // The reported case: allocateDirect is big-endian; 1.5f read natively came back as 6.9e-41.
        ByteBuffer big = ByteBuffer.allocateDirect(4).putFloat(0, 1.5f);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Tensor.wrap(big, DType.FLOAT32, 1));
        assertMessage(e, "buffer:", "BIG_ENDIAN", "buffer.order(ByteOrder.nativeOrder())");
        ByteBuffer fixed = ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder()).putFloat(0, 1.5f);
        assertEquals(1.5f, Tensor.wrap(fixed, DType.FLOAT32, 1).toFloatArray()[0]);
    }

    @Test
    void bigEndianViewsAreRefusedByName() {
        ByteBuffer big = ByteBuffer.allocateDirect(16);
        IllegalArgumentException f = assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(big.asFloatBuffer(), 4));
        assertMessage(f, "buffer:", "BIG_ENDIAN FloatBuffer", "buffer.order(ByteOrder.nativeOrder())", "Tensor.of(FloatBuffer)");
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(big.asIntBuffer(), 4)),
                "buffer:", "BIG_ENDIAN IntBuffer");
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(big.asLongBuffer(), 2)),
                "buffer:", "BIG_ENDIAN LongBuffer");
    }

    @Test
    void heapBuffersAreRefusedByName() {
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(FloatBuffer.wrap(new float[3]), 3)),
                "buffer:", "heap (non-direct) FloatBuffer", "Tensor.of");
        assertMessage(assertThrows(IllegalArgumentException.class,
                () -> Tensor.wrap(ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()), DType.INT64, 1)),
                "buffer:", "heap (non-direct) ByteBuffer", "Tensor.of");
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(IntBuffer.allocate(2), 2)),
                "heap (non-direct) IntBuffer");
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(LongBuffer.allocate(2), 2)),
                "heap (non-direct) LongBuffer");
    }

    @Test
    void sizeMismatchStatesRemainingCapacityAndNeed() {
        FloatBuffer buf = nativeBytes(6 * 4).asFloatBuffer();
        buf.position(1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(buf, 2, 3));
        assertMessage(e, "buffer:", "5 elements remaining", "position 1", "limit 6", "capacity 6", "(2, 3)", "needs 6 elements");
        IllegalArgumentException b = assertThrows(IllegalArgumentException.class,
                () -> Tensor.wrap(nativeBytes(20), DType.FLOAT32, 2, 3));
        assertMessage(b, "20 bytes remaining", "capacity 20", "(2, 3) of float32 needs 24 bytes");
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(nativeBytes(24), DType.FLOAT32, 2, 2)),
                "24 bytes remaining", "needs 16 bytes");
    }

    @Test
    void misalignedBufferIsRefusedByName() {
        ByteBuffer odd = nativeBytes(4 * 4 + 1).position(1).slice().order(ByteOrder.nativeOrder());
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(odd, DType.FLOAT32, 4)),
                "buffer:", "not aligned to 4 bytes", "Tensor.of");
        FloatBuffer view = odd.asFloatBuffer();
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(view, 4)), "not aligned");
        // the copying path takes it
        assertEquals(4, Tensor.of(view).numel());
    }

    @Test
    void nullArgumentsAreNamed() {
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Tensor.wrap((FloatBuffer) null, 1)), "buffer:");
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Tensor.wrap((ByteBuffer) null, DType.INT32, 1)), "buffer:");
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(nativeBytes(4), null, 1)), "dtype:");
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(nativeBytes(4).asFloatBuffer(), 1, -1)),
                "shape:", "negative");
    }

    // ---- views out -------------------------------------------------------------------------

    @Test
    void bufferViewsAreNativeOrderAndShareMemory() {
        Tensor t = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2);
        ByteBuffer bytes = t.asByteBuffer();
        assertEquals(ByteOrder.nativeOrder(), bytes.order());
        assertTrue(bytes.isDirect());
        assertEquals(0, bytes.position());
        assertEquals(16, bytes.limit());
        assertEquals(3f, bytes.getFloat(8));
        FloatBuffer floats = t.asFloatBuffer();
        assertEquals(ByteOrder.nativeOrder(), floats.order());
        assertEquals(4, floats.capacity());
        floats.put(3, -9f);
        assertEquals(-9f, t.toFloatArray()[3]);
        assertEquals(t.segment().address(), MemorySegment.ofBuffer(floats).address());
        // a view out wraps back as the same memory
        assertEquals(t.segment().address(), Tensor.wrap(floats, 2, 2).segment().address());
    }

    @Test
    void bufferViewsOfIntegersAndEmptyTensors() {
        assertArrayEquals(new int[] {4, 5}, toArray(Tensor.of(new int[] {4, 5}).asIntBuffer()));
        LongBuffer l = Tensor.of(new long[] {1L << 50}).asLongBuffer();
        assertEquals(1L << 50, l.get(0));
        assertEquals(0, Tensor.zeros(DType.FLOAT32, 0, 3).asFloatBuffer().capacity());
        assertEquals(0, Tensor.zeros(DType.INT64, 0).asByteBuffer().capacity());
    }

    private static int[] toArray(IntBuffer b) {
        int[] out = new int[b.remaining()];
        b.get(out);
        return out;
    }

    @Test
    void viewOfTheWrongDTypeOrAClosedTensorIsRefused() {
        Tensor ints = Tensor.of(new int[] {1});
        assertMessage(assertThrows(IllegalStateException.class, ints::asFloatBuffer), "int32", "not float32");
        assertMessage(assertThrows(IllegalStateException.class, ints::asLongBuffer), "not int64");
        Tensor closed = Tensor.zerosUnscoped(DType.FLOAT32, 2);
        closed.close();
        assertMessage(assertThrows(IllegalStateException.class, closed::asByteBuffer), "closed");
    }

    @Test
    void aBufferOutlivingItsTensorsMemoryThrowsInsteadOfReadingFreedMemory() {
        Tensor t = Tensor.zerosUnscoped(DType.FLOAT32, 32768); // 128 KiB: a tensor with its own arena
        FloatBuffer view = t.asFloatBuffer();
        view.put(0, 2f);
        t.close();
        assertThrows(IllegalStateException.class, () -> view.get(0));
    }

    @Test
    void aBufferOutlivingASmallTensorReadsOnlyThatTensorsBytesUntilItsSlabIsFreed() {
        Tensor t = Tensor.zerosUnscoped(DType.FLOAT32, 4); // 16 bytes: carved from a shared slab
        FloatBuffer view = t.asFloatBuffer();
        view.put(0, 2f);
        t.close();
        // small tensors made and closed after it get memory of their own, never the closed tensor's
        for (int i = 0; i < 64; i++) {
            try (Tensor other = Tensor.zerosUnscoped(DType.FLOAT32, 4)) {
                assertEquals(0f, other.toFloatArray()[0]);
                other.asFloatBuffer().put(0, 7f);
            }
            assertEquals(2f, view.get(0));
        }
        // once the slab is full and every tensor in it closed, its memory is freed and the view throws
        for (int i = 0; i < 160; i++) Tensor.zerosUnscoped(DType.FLOAT32, 8192).close(); // 32 KiB each: 5 MiB, past a 4 MiB slab
        assertThrows(IllegalStateException.class, () -> view.get(0));
    }

    @Test
    void slabMemoryServingLaterTensorsStartsAtZeroAndOldViewsStillThrow() {
        // 800 small tensors of 32 KiB written with 3s and closed: several 4 MiB slabs, freed once full,
        // whose memory the allocator may hand to the slabs of the tensors after them
        List<FloatBuffer> views = new ArrayList<>();
        float[] threes = new float[8192];
        Arrays.fill(threes, 3f);
        for (int i = 0; i < 800; i++) {
            Tensor t = Tensor.zerosUnscoped(DType.FLOAT32, 8192);
            FloatBuffer view = t.asFloatBuffer();
            view.put(threes);
            views.add(view);
            t.close();
        }
        for (int i = 0; i < 800; i++) {
            try (Tensor t = Tensor.zerosUnscoped(DType.FLOAT32, 8192)) {
                float[] got = t.toFloatArray();
                for (int j = 0; j < got.length; j++) {
                    if (got[j] != 0f) throw new AssertionError("new tensor " + i + " holds " + got[j] + " at " + j);
                }
            }
        }
        // the first slab may hold other tests' open tensors and stay: views from the ones after it
        // throw, although their memory now belongs to other tensors
        for (FloatBuffer view : views.subList(160, 600)) assertThrows(IllegalStateException.class, () -> view.get(0));
    }

    @Test
    void readOnlyMemoryGivesAReadOnlyView() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor t = Tensor.wrap(arena.allocate(8, 8).asReadOnly(), DType.FLOAT32, 2);
            assertTrue(t.asByteBuffer().isReadOnly());
            assertTrue(t.asFloatBuffer().isReadOnly());
        }
    }

    // ---- wrapped buffers in losses, every backend ------------------------------------------

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void lossReadsAndWritesWrappedBuffers(Backend backend) {
        FloatBuffer logits = nativeBytes(6 * 4).asFloatBuffer().put(new float[] {2.0f, 1.0f, 0.1f, 0.5f, 2.5f, 0.0f}).flip();
        IntBuffer targets = nativeBytes(2 * 4).asIntBuffer().put(new int[] {0, 1}).flip();
        FloatBuffer loss = nativeBytes(4).asFloatBuffer();
        FloatBuffer grad = nativeBytes(6 * 4).asFloatBuffer();
        CrossEntropy.create().withBackend(backend).forwardBackward(Tensor.wrap(logits, 2, 3), Tensor.wrap(targets, 2),
                Tensor.wrap(loss), Tensor.wrap(grad, 2, 3));
        assertEquals(0.306882, loss.get(0), 1e-6);
        float rowSum = grad.get(0) + grad.get(1) + grad.get(2);
        assertEquals(0, rowSum, 1e-7, "each gradient row of softmax - onehot sums to 0");
        assertTrue(grad.get(0) < 0 && grad.get(1) > 0, "written through the caller's buffer");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void readOnlyBufferIsRefusedAsAnOutput(Backend backend) {
        Tensor logits = Tensor.of(new float[][] {{1, 2}, {3, 4}});
        Tensor targets = Tensor.of(new long[] {0, 1});
        Tensor loss = Tensor.wrap(nativeBytes(4).asReadOnlyBuffer().order(ByteOrder.nativeOrder()), DType.FLOAT32);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CrossEntropy.create()
                .withBackend(backend).forwardBackward(logits, targets, loss, Tensor.zeros(DType.FLOAT32, 2, 2)));
        assertMessage(e, "loss:", "read-only", "segment or buffer given to Tensor.wrap");
        // as an input it is fine
        FloatBuffer ro = nativeBytes(4 * 4).asFloatBuffer().put(new float[] {1, 2, 3, 4}).flip().asReadOnlyBuffer();
        assertEquals(CrossEntropy.create().withBackend(backend).forward(logits, targets).item(),
                CrossEntropy.create().withBackend(backend).forward(Tensor.wrap(ro, 2, 2), targets).item());
    }
}
