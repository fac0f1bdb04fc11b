package dev.jnce.internal;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import org.junit.jupiter.api.Test;

import dev.jnce.DType;
import dev.jnce.Tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The outputs' helpers: a result faulted in is the same tensor, still zero everywhere and still
 * writable, large (a fresh mapping) or small (from a slab); a failed call's tensors are closed.
 */
class OutputsTest {
    private static boolean allZero(Tensor t) {
        MemorySegment s = t.segment();
        for (long i = 0; i < t.numel(); i++) if (s.getAtIndex(ValueLayout.JAVA_FLOAT, i) != 0f) return false;
        return true;
    }

    @Test
    void aFaultedInResultIsTheSameZeroTensor() {
        // (8192, 256) floats: 8 MiB, a mapping of its own; 1000 floats: from a slab, left alone
        for (long[] shape : new long[][] {{8192, 256}, {1000}, {Outputs.FAULT_IN_BYTES / 4 + 3}}) {
            try (Tensor t = Tensor.zerosUnscoped(DType.FLOAT32, shape)) {
                assertSame(t, Outputs.faultedIn(t));
                assertTrue(allZero(t), "a faulted-in result stays zero");
                t.segment().setAtIndex(ValueLayout.JAVA_FLOAT, t.numel() - 1, 7f);
                assertEquals(7f, t.segment().getAtIndex(ValueLayout.JAVA_FLOAT, t.numel() - 1));
            }
        }
    }

    @Test
    void aFailedCallClosesWhatItMade() {
        Tensor a = Tensor.zerosUnscoped(DType.FLOAT32, 4), b = Tensor.zerosUnscoped(DType.FLOAT32, 2, 2);
        IllegalArgumentException failure = new IllegalArgumentException("kernel said no");
        assertSame(failure, Outputs.closeAndRethrow(failure, a, null, b));
        assertThrows(IllegalStateException.class, () -> a.segment().get(ValueLayout.JAVA_FLOAT, 0));
        assertThrows(IllegalStateException.class, () -> b.segment().get(ValueLayout.JAVA_FLOAT, 0));
    }
}
