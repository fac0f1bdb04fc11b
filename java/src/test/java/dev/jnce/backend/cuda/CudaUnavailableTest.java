package dev.jnce.backend.cuda;

import dev.jnce.BackendUnavailableException;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Device;
import dev.jnce.Tensor;
import dev.jnce.internal.NativeLibrary;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Where no GPU is usable (the normal build machines): asking for cuda by name throws with CUDA's
 * reason, the automatic choice falls back quietly, and device tensors cannot be made.
 */
class CudaUnavailableTest {

    @BeforeEach
    void onlyWithoutAGpu() {
        Assumptions.assumeTrue(Backends.unavailableReason("cuda") != null, "a GPU is usable here");
    }

    @Tag("native")
    @Test
    void forcingCudaThrowsWithTheReason() {
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class, () -> Backends.get("cuda"));
        assertTrue(e.getMessage().startsWith("backend 'cuda' is not available: cuda:0 is not usable: "), e.getMessage());
        if (CudaUnavailableTest.class.getResource("/dev/jnce/native/" + NativeLibrary.platform() + "/libjnce_cuda.so") != null) {
            // the CUDA library was built (nvcc found) and loads; CUDA itself says why there is no GPU
            assertTrue(e.getMessage().contains("cudaGetDeviceCount: ") && e.getMessage().contains("CUDA driver version"),
                    e.getMessage());
        } else {
            assertTrue(e.getMessage().contains("no CUDA library"), e.getMessage());
        }
    }

    @Test
    void theAutomaticChoiceFallsBackQuietly() {
        assertNotEquals("cuda", Backends.fastest().name());
        assertTrue(!Backends.available().contains("cuda"));
    }

    @Test
    void deviceTensorsCannotBeMade() {
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class,
                () -> Tensor.zeros(Device.cuda(0), DType.FLOAT32, 4));
        assertTrue(e.getMessage().contains("cuda:0 is not usable"), e.getMessage());
        try (Tensor host = Tensor.of(new float[] {1, 2})) {
            assertThrows(BackendUnavailableException.class, () -> host.to(Device.cuda(0)));
        }
    }

    @Test
    void hostToHostCopies() {
        try (Tensor a = Tensor.of(new float[] {1, 2}); Tensor b = a.to(Device.HOST)) {
            assertEquals(Device.HOST, b.device());
            assertEquals(2f, b.toFloatArray()[1]);
            assertEquals("cuda:3", Device.cuda(3).toString());
        }
    }
}
