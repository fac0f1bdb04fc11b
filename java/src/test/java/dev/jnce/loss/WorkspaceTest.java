package dev.jnce.loss;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.backend.Kernels;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The logit buffers of the InfoNCE family come from a bounded pool shared by every thread, not
 * from a buffer kept per thread forever: thousands of short-lived threads leave at most
 * {@link Workspace#MAX_IDLE} idle buffers; one thread's loop reuses one buffer; larger buffers
 * serve smaller calls; releaseWorkspace frees the idle ones.
 */
@Tag("native")
class WorkspaceTest {
    private static final int N = 256, D = 8;
    /** The one-tensor forms' buffer on cpu: N rows of the backend's row stride (N = 256 is padded there). */
    private static final long BUFFER_BYTES = (long) N
            * ((dev.jnce.backend.Kernels) Backends.get("cpu")).contrastive().symmetricRowStride(N) * Float.BYTES;

    @BeforeEach
    @AfterEach
    void emptyPool() {
        InfoNce.releaseWorkspace();
    }

    private static Tensor embeddings(long seed) {
        Random r = new Random(seed);
        float[] v = new float[N * D];
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
        return Tensor.of(v, N, D);
    }

    @Test
    void thousandsOfShortLivedThreadsLeaveABoundedPool() throws Exception {
        int threads = 2000;
        try (Tensor f = embeddings(1)) {
            InfoNce loss = InfoNce.create().withBackend(Backends.get("cpu"));
            float expected;
            try (EmbeddingResult r = loss.forwardBackward(f)) {
                expected = r.loss().item();
            }
            ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
            CountDownLatch done = new CountDownLatch(threads);
            for (int t = 0; t < threads; t++) {
                Thread.ofVirtual().start(() -> {
                    try (EmbeddingResult r = loss.forwardBackward(f)) {
                        if (r.loss().item() != expected) problems.add("loss " + r.loss().item() + " != " + expected);
                    } catch (RuntimeException | Error e) {
                        problems.add(e.toString());
                    } finally {
                        done.countDown();
                    }
                });
            }
            done.await();
            assertEquals(List.of(), List.copyOf(problems));
            assertTrue(Workspace.idleCount() <= Workspace.MAX_IDLE,
                    "idle buffers " + Workspace.idleCount() + " after " + threads + " threads, cap " + Workspace.MAX_IDLE);
            assertTrue(Workspace.idleBytes() <= Workspace.MAX_IDLE * BUFFER_BYTES,
                    "idle bytes " + Workspace.idleBytes() + " after " + threads + " threads, bound " + Workspace.MAX_IDLE * BUFFER_BYTES);
            assertTrue(Workspace.idleCount() >= 1, "the buffer returned last stays for the next call");
        }
    }

    @Test
    void oneThreadsLoopReusesOneBuffer() {
        Kernels k = (Kernels) Backends.get("cpu");
        long address;
        try (Workspace.Lease w = Workspace.borrow(k, N, N)) {
            address = w.logits().segment().address();
        }
        for (int i = 0; i < 100; i++) {
            try (Workspace.Lease w = Workspace.borrow(k, N, N)) {
                assertEquals(address, w.logits().segment().address(), "call " + i + " gets the idle buffer");
            }
        }
        try (Workspace.Lease w = Workspace.borrow(k, 16, 16)) { // a smaller call takes the larger buffer
            assertEquals(address, w.logits().segment().address());
            assertEquals(List.of(16L, 16L), List.of(w.logits().size(0), w.logits().size(1)));
        }
        assertEquals(1, Workspace.idleCount());
        assertEquals((long) N * N * Float.BYTES, Workspace.idleBytes()); // the (N, N) borrowed above
    }

    @Test
    void buffersBeyondTheCapAreFreedAndTheSmallestIdleBufferThatFitsIsLent() {
        Kernels k = (Kernels) Backends.get("cpu");
        int count = Workspace.MAX_IDLE + 3;
        List<Workspace.Lease> held = new ArrayList<>();
        long[] address = new long[count];
        for (int i = 0; i < count; i++) { // buffer i holds 8 (i + 1) rows of 8
            held.add(Workspace.borrow(k, 8L * (i + 1), 8));
            address[i] = held.get(i).logits().segment().address();
        }
        for (Workspace.Lease w : held) w.close(); // buffer 0 is returned first: the least recently returned
        assertEquals(Workspace.MAX_IDLE, Workspace.idleCount(), "the least recently returned buffers beyond the cap are freed");
        try (Workspace.Lease w = Workspace.borrow(k, 8, 8)) {
            assertEquals(address[3], w.logits().segment().address(), "buffers 0 to 2 were freed: buffer 3 is the smallest fit");
        }
        try (Workspace.Lease w = Workspace.borrow(k, 8L * 4 + 1, 8)) {
            assertEquals(address[4], w.logits().segment().address(), "33 rows: buffer 4 (40 rows) is the smallest that fits");
            assertEquals(List.of(33L, 8L), List.of(w.logits().size(0), w.logits().size(1)));
        }
        try (Workspace.Lease w = Workspace.borrow(k, 8L * (count + 1), 8)) { // larger than every idle buffer: a new one
            for (int i = 3; i < count; i++) assertNotEquals(address[i], w.logits().segment().address(), "idle buffer " + i);
        }
        assertEquals(Workspace.MAX_IDLE, Workspace.idleCount());
    }

    @Test
    void buffersMadeForThePoolBelongToNoTensorScope() {
        Tensor made;
        try (TensorScope scope = TensorScope.open()) {
            int before = scope.size();
            made = Workspace.outsideAnyScope(() -> Tensor.zeros(DType.FLOAT32, 4));
            assertEquals(before, scope.size(), "not registered with the scope open on the borrowing thread");
        }
        assertFalse(made.isClosed(), "the scope's close leaves it open: the pool frees it");
        made.close();
        RuntimeException failure = new IllegalStateException("made to fail");
        assertSame(failure, assertThrows(IllegalStateException.class, () -> Workspace.outsideAnyScope(() -> {
            throw failure;
        })));
    }

    @Test
    void releaseWorkspaceFreesTheIdleBuffers() {
        Backend cpu = Backends.get("cpu");
        try (Tensor f = embeddings(2); EmbeddingResult r = InfoNce.create().withBackend(cpu).forwardBackward(f)) {
            assertTrue(r.loss().item() > 0);
        }
        assertEquals(BUFFER_BYTES, Workspace.idleBytes());
        InfoNce.releaseWorkspace();
        assertEquals(0, Workspace.idleBytes());
        assertEquals(0, Workspace.idleCount());
    }
}
