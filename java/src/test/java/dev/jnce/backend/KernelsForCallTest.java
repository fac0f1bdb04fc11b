package dev.jnce.backend;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.Device;
import dev.jnce.Tensor;
import dev.jnce.loss.CrossEntropy;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Where a call runs: the tensors' device, a pinned backend, and the errors that name each argument's device. */
class KernelsForCallTest {

    /** A backend computing on cuda:0 that runs nothing: enough to see the device checks without a GPU. */
    private static Kernels fakeGpu() {
        return (Kernels) Proxy.newProxyInstance(Kernels.class.getClassLoader(), new Class<?>[] {Kernels.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "name" -> "fake";
                    case "device" -> Device.cuda(0);
                    case "toString" -> "fake";
                    default -> throw new AssertionError("no kernel may run: " + method.getName());
                });
    }

    @Test
    void hostTensorsRunOnTheHostBackend() {
        try (Tensor a = Tensor.of(new float[] {1, 2}, 1, 2)) {
            Kernels k = Kernels.forCall(null, "a", a);
            assertSame(Backends.host(), k);
            assertEquals(Device.HOST, k.device());
        }
    }

    @Test
    void aPinnedBackendOnAnotherDeviceNamesEveryArgumentsDevice() {
        try (Tensor logits = Tensor.of(new float[][] {{2f, 1f}}); Tensor targets = Tensor.of(new long[] {0})) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> CrossEntropy.create().withBackend(fakeGpu()).forward(logits, targets));
            assertTrue(e.getMessage().contains("logits on host, targets on host"), e.getMessage());
            assertTrue(e.getMessage().contains("backend 'fake' computes on cuda:0"), e.getMessage());
            assertTrue(e.getMessage().contains("withBackend"), e.getMessage());
        }
    }

    @Test
    void aClosedTensorIsNamed() {
        Tensor a = Tensor.of(new float[] {1, 2}, 1, 2);
        a.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Kernels.forCall(null, "queries", a));
        assertTrue(e.getMessage().startsWith("queries: "), e.getMessage());
    }

    @Test
    void nullOptionalTensorsAreSkipped() {
        try (Tensor a = Tensor.of(new float[] {1, 2}, 1, 2)) {
            assertSame(Backends.host(), Kernels.forCall(null, "a", a, "mask", null));
        }
    }

    @Test
    void aBackendThatIsNotJncesIsRejected() {
        Backend foreign = new Backend() {
            @Override
            public String name() {
                return "foreign";
            }

            @Override
            public String description() {
                return "not jnce's";
            }
        };
        try (Tensor a = Tensor.of(new float[] {1, 2}, 1, 2)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Kernels.forCall(foreign, "a", a));
            assertTrue(e.getMessage().contains("is not one of jnce's backends"), e.getMessage());
        }
    }
}
