package dev.jnce.backend.cuda;

import dev.jnce.DType;
import dev.jnce.Device;
import dev.jnce.JnceException;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static dev.jnce.backend.cuda.CudaTestSupport.cuda;
import static dev.jnce.backend.cuda.CudaTestSupport.device;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Device tensors: copies both ways, reading, lifetime, out-of-memory. Needs a GPU. */
@Tag("cuda")
class CudaTensorTest {

    @Test
    void copiesRoundTripEveryElementType() {
        cuda();
        try (Tensor f = Tensor.of(new float[] {1, -2, Float.NaN, 4}, 2, 2);
             Tensor fg = f.to(device()); Tensor i = Tensor.of(new int[] {7, -8}).to(device());
             Tensor l = Tensor.of(new long[] {1L << 40, -3}).to(device()); Tensor back = fg.to(Device.HOST)) {
            assertEquals(Device.cuda(0), fg.device());
            assertEquals(0, fg.segment().byteSize(), "device memory is never readable from Java");
            assertArrayEquals(f.toFloatArray(), fg.toFloatArray());
            assertArrayEquals(f.toFloatArray(), back.toFloatArray());
            assertArrayEquals(new int[] {7, -8}, i.toIntArray());
            assertArrayEquals(new long[] {1L << 40, -3}, l.toLongArray());
            assertTrue(fg.describe().endsWith("on cuda:0"), fg.describe());
        }
    }

    @Test
    void deviceTensorsAreZeroFilledAndFreedWithTheirScope() {
        cuda();
        Tensor kept;
        try (TensorScope scope = TensorScope.open()) {
            kept = Tensor.zeros(device(), DType.FLOAT32, 3);
            assertArrayEquals(new float[3], kept.toFloatArray());
            assertEquals(0f, Tensor.scalar(0).to(device()).item());
        }
        assertTrue(kept.isClosed());
        assertThrows(IllegalStateException.class, kept::toFloatArray);
    }

    @Test
    void theContextCountsTheBytesItHoldsAndTheirPeak() {
        CudaContext ctx = cuda().context();
        long before = ctx.allocatedBytes();
        ctx.resetPeak();
        try (Tensor a = Tensor.zeros(device(), DType.FLOAT32, 1000); Tensor b = Tensor.zeros(device(), DType.INT64, 10)) {
            assertEquals(before + 4000 + 80, ctx.allocatedBytes());
        }
        assertEquals(before, ctx.allocatedBytes(), "freed");
        assertEquals(before + 4080, ctx.peakAllocatedBytes(), "peak");
        ctx.resetPeak();
        assertEquals(before, ctx.peakAllocatedBytes(), "peak after reset");
    }

    @Test
    void outOfMemoryIsAnExceptionWithCudasMessage() {
        cuda();
        JnceException e = assertThrows(JnceException.class, () -> Tensor.zeros(device(), DType.FLOAT32, 1L << 48));
        assertTrue(e.getMessage().contains("OUT_OF_MEMORY") && e.getMessage().contains("cudaErrorMemoryAllocation"),
                e.getMessage());
    }
}
