package dev.jnce.backend.cuda;

import dev.jnce.Npy;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;

import static dev.jnce.backend.cuda.CudaTestSupport.onGpu;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Interop with device tensors: no buffer view of GPU memory; .npy writes copy to the host. Needs a GPU. */
@Tag("cuda")
class CudaInteropTest {
    @TempDir
    Path dir;

    @Test
    void deviceTensorsHaveNoBufferView() {
        CudaTestSupport.cuda(); // skipped, with the reason, where no GPU is usable
        try (TensorScope scope = TensorScope.open()) {
            Tensor g = onGpu(Tensor.of(new float[] {1, 2, 3}));
            IllegalStateException e = assertThrows(IllegalStateException.class, g::asFloatBuffer);
            assertTrue(e.getMessage().contains("device memory") && e.getMessage().contains("to(Device.HOST)"), e.getMessage());
        }
    }

    @Test
    void npyWriteOfADeviceTensorSavesItsValues() throws IOException {
        CudaTestSupport.cuda();
        try (TensorScope scope = TensorScope.open()) {
            Path p = dir.resolve("g.npy");
            Npy.write(p, onGpu(Tensor.of(new float[] {1.5f, -2f, 3f, 4f}, 2, 2)));
            Tensor back = Npy.read(p);
            assertArrayEquals(new long[] {2, 2}, back.shape());
            assertArrayEquals(new float[] {1.5f, -2f, 3f, 4f}, back.toFloatArray());
        }
    }
}
