package dev.jnce;

import dev.jnce.loss.CrossEntropy;
import dev.jnce.loss.InfoNce;
import dev.jnce.ops.Normalize;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Memory a call cannot use is refused up front, with the argument's name, on every backend:
 * a wrapped segment whose arena is closed, a confined segment from another thread, a view of
 * a closed tensor. Before, the native backend crashed or read freed memory, and the Java
 * backend surfaced the memory API's own errors without the argument's name. And a tensor that
 * is never closed is freed once unreachable.
 */
class TensorSafetyTest {

    static Iterable<Backend> backends() {
        return TestBackends.all();
    }

    private static final float[] LOGITS = {0.5f, -1f, 2f, 0.25f, 1f, -0.5f};

    private static Tensor wrapped(Arena arena) {
        MemorySegment s = arena.allocate(LOGITS.length * 4L, 64);
        for (int i = 0; i < LOGITS.length; i++) s.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i, LOGITS[i]);
        return Tensor.wrap(s, DType.FLOAT32, 2, 3);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void wrappedSegmentOfAClosedArenaIsRefusedByName(Backend backend) {
        Arena arena = Arena.ofShared();
        Tensor logits = wrapped(arena);
        arena.close();
        try (Tensor targets = Tensor.of(new long[] {2, 0})) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> CrossEntropy.create().withBackend(backend).forwardBackward(logits, targets));
            assertTrue(e.getMessage().startsWith("logits: the memory of tensor float32(2, 3) has been freed"), e.getMessage());
            e = assertThrows(IllegalStateException.class, () -> Normalize.create().withBackend(backend).forward(logits));
            assertTrue(e.getMessage().startsWith("x: the memory"), e.getMessage());
            e = assertThrows(IllegalStateException.class, logits::toFloatArray);
            assertTrue(e.getMessage().contains("has been freed"), e.getMessage());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void confinedSegmentFromAnotherThreadIsRefusedByName(Backend backend) throws InterruptedException {
        try (Arena arena = Arena.ofConfined(); Tensor targets = Tensor.of(new long[] {2, 0})) {
            Tensor logits = wrapped(arena);
            AtomicReference<Throwable> seen = new AtomicReference<>();
            Thread other = new Thread(() -> {
                try {
                    CrossEntropy.create().withBackend(backend).forwardBackward(logits, targets).close();
                } catch (Throwable t) {
                    seen.set(t);
                }
            });
            other.start();
            other.join();
            assertTrue(seen.get() instanceof IllegalStateException, String.valueOf(seen.get()));
            assertTrue(seen.get().getMessage().startsWith("logits: the memory of tensor float32(2, 3) is confined to another thread"),
                    seen.get().getMessage());
            // on its own thread it works
            try (CrossEntropy.Result r = CrossEntropy.create().withBackend(backend).forwardBackward(logits, targets)) {
                assertTrue(Float.isFinite(r.loss().item()));
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void viewOfAClosedTensorIsRefusedByName(Backend backend) {
        Tensor embeddings = Tensor.of(new float[] {1, 0, 0, 1, 1, 1, 0.5f, 2}, 4, 2);
        Tensor view = embeddings.rows(0, 2);
        embeddings.close();
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> InfoNce.create().withBackend(backend).forward(view, view));
        assertTrue(e.getMessage().startsWith("queries: tensor float32(2, 2) is a view of a tensor that is closed"), e.getMessage());
        try (TensorScope scope = TensorScope.open()) {
            Tensor scoped = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2);
            Tensor scopedView = scoped.reshape(4);
            scoped.close();
            e = assertThrows(IllegalStateException.class, scopedView::toFloatArray);
            assertTrue(e.getMessage().contains("view of a tensor that is closed"), e.getMessage());
        }
    }

    @Test
    void aViewKeepsItsBaseMemoryAlive() throws InterruptedException {
        Tensor view = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 3, 2).rows(1, 2); // the base is unreachable at once
        for (int i = 0; i < 20; i++) {
            System.gc();
            Thread.sleep(5);
        }
        assertEquals(List.of(3f, 4f, 5f, 6f), boxed(view.toFloatArray()));
    }

    private static List<Float> boxed(float[] v) {
        List<Float> l = new ArrayList<>();
        for (float f : v) l.add(f);
        return l;
    }

    @Test
    void tensorsNeverClosedAreFreedOnceUnreachable() throws InterruptedException {
        List<MemorySegment.Scope> scopes = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            Tensor t = Tensor.zeros(DType.FLOAT32, 32768); // 128 KiB, its own arena, never closed
            scopes.add(t.segment().scope());
        }
        assertEquals(0, aliveAfterGc(scopes), "tensors whose memory is still held after they became unreachable");
    }

    @Test
    void aFullSlabHeldByANativeCallDoesNotFailOtherAllocationsAndClosesLater() throws Throwable {
        // a small tensor closed while a native call on another thread still holds its memory: when
        // its slab fills, the slab cannot close yet; the allocation that filled it must not fail,
        // and the slab closes at a later turnover, once the call has returned
        Tensor t = firstInAFreshSlab();
        MemorySegment.Scope slab = t.segment().scope();
        MethodHandle poll = Linker.nativeLinker().downcallHandle(Linker.nativeLinker().defaultLookup().find("poll").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
        java.util.concurrent.CountDownLatch started = new java.util.concurrent.CountDownLatch(1);
        AtomicReference<Throwable> failed = new AtomicReference<>();
        Thread call = new Thread(() -> {
            try {
                started.countDown();
                int ignored = (int) poll.invokeExact(t.segment(), 0L, 600); // no descriptors: holds the memory 600 ms
            } catch (Throwable e) {
                failed.set(e);
            }
        });
        call.start();
        started.await();
        Thread.sleep(100); // the call is in poll now, holding the slab's arena
        t.close(); // the slab stays (the allocator still carves from it): this close succeeds
        for (int i = 0; i < 80; i++) Tensor.zerosUnscoped(DType.FLOAT32, 16384).close(); // 64 KiB each: 5 MiB, past the slab
        assertTrue(slab.isAlive(), "the slab closed while a native call held its memory");
        call.join();
        if (failed.get() != null) throw failed.get();
        for (int i = 0; i < 80; i++) Tensor.zerosUnscoped(DType.FLOAT32, 16384).close(); // the next turnover retries
        assertFalse(slab.isAlive(), "the slab stayed open after the call returned and slabs turned over");
    }

    /** A small tensor that is the first carved from a new slab (so no other test's tensor keeps the slab). */
    private static Tensor firstInAFreshSlab() {
        MemorySegment.Scope before = null;
        for (int i = 0; i < 200; i++) {
            Tensor t = Tensor.zerosUnscoped(DType.FLOAT32, 16384); // 64 KiB
            MemorySegment.Scope s = t.segment().scope();
            if (before != null && s != before) return t;
            before = s;
            t.close();
        }
        throw new AssertionError("no new slab after 200 tensors of 64 KiB");
    }

    @Test
    void smallTensorsNeverClosedFreeTheirSlabsOnceUnreachable() throws InterruptedException {
        List<MemorySegment.Scope> slabs = new ArrayList<>(); // in the order they were carved from
        for (int i = 0; i < 2000; i++) {
            Tensor t = Tensor.zeros(DType.FLOAT32, 4096); // 16 KiB from a shared slab, never closed
            MemorySegment.Scope s = t.segment().scope();
            if (slabs.isEmpty() || slabs.get(slabs.size() - 1) != s) slabs.add(s);
        }
        assertTrue(slabs.size() >= 2000 * 16384 / (4 << 20), "slabs: " + slabs.size()); // slabs of 4 MiB
        // the first slab may hold other tests' open tensors and the last is still being carved from:
        // every slab in between held only this test's tensors, and must be freed
        List<MemorySegment.Scope> inside = slabs.subList(1, slabs.size() - 1);
        assertEquals(0, aliveAfterGc(inside), "slabs still held after their tensors became unreachable");
    }

    private static int aliveAfterGc(Collection<MemorySegment.Scope> scopes) throws InterruptedException {
        long deadline = System.nanoTime() + 20_000_000_000L;
        int alive;
        do {
            System.gc();
            Thread.sleep(20);
            alive = 0;
            for (MemorySegment.Scope s : scopes) if (s.isAlive()) alive++;
        } while (alive > 1 && System.nanoTime() < deadline);
        if (alive == 1) { // one more round: the last may be a few milliseconds behind
            System.gc();
            Thread.sleep(200);
            alive = 0;
            for (MemorySegment.Scope s : scopes) if (s.isAlive()) alive++;
        }
        return alive;
    }

    @Test
    void closingTwiceAfterTheSafetyNetIsHarmlessAndClosedTensorsStayClosed() {
        Tensor t = Tensor.zeros(DType.FLOAT32, 32768); // its own arena: freed by its close

        MemorySegment.Scope scope = t.segment().scope();
        t.close();
        assertFalse(scope.isAlive());
        t.close();
        assertTrue(t.isClosed());
        IllegalStateException e = assertThrows(IllegalStateException.class, t::toFloatArray);
        assertTrue(e.getMessage().contains("is closed"), e.getMessage());
    }
}
