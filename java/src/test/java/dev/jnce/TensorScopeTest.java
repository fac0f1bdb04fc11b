package dev.jnce;

import org.junit.jupiter.api.Test;

import java.lang.foreign.ValueLayout;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TensorScopeTest {

    @Test
    void closingScopeClosesItsTensors() {
        Tensor a, b;
        try (TensorScope _ = TensorScope.open()) {
            a = Tensor.of(new float[] {1, 2});
            b = Tensor.zeros(DType.INT64, 3);
            assertFalse(a.isClosed());
            assertArrayEquals(new float[] {1, 2}, a.toFloatArray());
        }
        assertTrue(a.isClosed());
        assertTrue(b.isClosed());
        assertThrows(IllegalStateException.class, a::toFloatArray);
    }

    @Test
    void tensorsCreatedOutsideScopeAreUnaffected() {
        try (Tensor outside = Tensor.of(new float[] {3})) {
            try (TensorScope scope = TensorScope.open()) {
                Tensor.zeros(DType.FLOAT32, 1);
                assertEquals(1, scope.size());
            }
            assertFalse(outside.isClosed());
            assertEquals(3f, outside.item());
        }
    }

    @Test
    void tensorsCreatedAfterScopeClosesAreUnaffected() {
        TensorScope scope = TensorScope.open();
        scope.close();
        try (Tensor after = Tensor.of(new int[] {5})) {
            assertArrayEquals(new int[] {5}, after.toIntArray());
            assertEquals(0, scope.size());
        }
    }

    @Test
    void innerScopeClosesOnlyItsOwnTensors() {
        try (TensorScope outer = TensorScope.open()) {
            Tensor outerTensor = Tensor.of(new float[] {1});
            Tensor innerTensor;
            try (TensorScope inner = TensorScope.open()) {
                innerTensor = Tensor.of(new float[] {2});
                assertEquals(1, inner.size());
            }
            assertTrue(innerTensor.isClosed());
            assertFalse(outerTensor.isClosed());
            assertEquals(1f, outerTensor.item());
            assertEquals(1, outer.size());
        }
    }

    @Test
    void closingOuterScopeBeforeInnerThrows() {
        TensorScope outer = TensorScope.open();
        TensorScope inner = TensorScope.open();
        try {
            Tensor t = Tensor.of(new float[] {1});
            IllegalStateException e = assertThrows(IllegalStateException.class, outer::close);
            assertTrue(e.getMessage().contains("inner"), e.getMessage());
            assertFalse(t.isClosed());
        } finally {
            inner.close();
            outer.close();
        }
    }

    @Test
    void closeIsIdempotent() {
        TensorScope scope = TensorScope.open();
        Tensor t = Tensor.zeros(DType.FLOAT32, 2);
        scope.close();
        scope.close();
        assertTrue(t.isClosed());
        // a second close must not pop some other scope off this thread's stack
        try (TensorScope next = TensorScope.open()) {
            Tensor.zeros(DType.FLOAT32, 1);
            assertEquals(1, next.size());
        }
    }

    @Test
    void closingOneTensorEarlyLeavesTheOthersUsable() {
        try (TensorScope _ = TensorScope.open()) {
            Tensor first = Tensor.of(new float[] {1, 2});
            Tensor second = Tensor.of(new float[] {3, 4});
            first.close();
            assertTrue(first.isClosed());
            assertThrows(IllegalStateException.class, first::toFloatArray);
            assertFalse(second.isClosed());
            assertArrayEquals(new float[] {3, 4}, second.toFloatArray());
        }
    }

    @Test
    void sizeCountsTensors() {
        try (TensorScope scope = TensorScope.open()) {
            assertEquals(0, scope.size());
            Tensor.of(new float[] {1});
            Tensor.of(new int[] {1});
            Tensor.of(new float[][] {{1, 2}});
            assertEquals(3, scope.size());
        }
    }

    @Test
    void scopeTensorsAre64ByteAligned() {
        try (TensorScope _ = TensorScope.open()) {
            Tensor.zeros(DType.INT32, 1); // an odd size before, so the next one is not trivially aligned
            Tensor t = Tensor.zeros(DType.FLOAT32, 7);
            assertEquals(0, t.segment().address() % Tensor.ALIGNMENT);
        }
    }

    @Test
    void tensorCreatedOnAnotherThreadDoesNotJoinTheScope() throws Exception {
        Tensor fromOtherThread;
        try (TensorScope scope = TensorScope.open()) {
            fromOtherThread = onOtherThread(() -> Tensor.of(new float[] {4, 5}));
            assertEquals(0, scope.size());
        }
        try (Tensor t = fromOtherThread) {
            assertFalse(t.isClosed());
            assertArrayEquals(new float[] {4, 5}, t.toFloatArray());
        }
    }

    @Test
    void closingScopeFromAnotherThreadThrows() throws Exception {
        TensorScope scope = TensorScope.open();
        try {
            Tensor t = Tensor.of(new float[] {1});
            Throwable thrown = onOtherThread(() -> {
                try {
                    scope.close();
                    return null;
                } catch (Throwable e) {
                    return e;
                }
            });
            assertInstanceOf(IllegalStateException.class, thrown);
            assertTrue(thrown.getMessage().contains("thread"), thrown.getMessage());
            assertFalse(t.isClosed());
        } finally {
            scope.close();
        }
    }

    @Test
    void scopeTensorsCanBeReadFromAnotherThread() throws Exception {
        try (TensorScope _ = TensorScope.open()) {
            Tensor t = Tensor.of(new float[] {1.5f, 2.5f});
            float[] read = onOtherThread(t::toFloatArray);
            assertArrayEquals(new float[] {1.5f, 2.5f}, read);
            assertEquals(2.5f, onOtherThread(() -> t.segment().getAtIndex(ValueLayout.JAVA_FLOAT, 1)));
        }
    }

    private static <T> T onOtherThread(Callable<T> task) throws Exception {
        ExecutorService executor = Executors.newSingleThreadExecutor();
        try {
            Future<T> f = executor.submit(task);
            return f.get();
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Exception ex ? ex : e;
        } finally {
            executor.shutdown();
        }
    }
}
