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

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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

    /** Rows of (COPY_ROWS, COPY_D) floats fill exactly the pooled copies' threshold. */
    private static final int COPY_ROWS = 1024, COPY_D = 256;

    private static Tensor large(long seed) {
        Random r = new Random(seed);
        float[] v = new float[COPY_ROWS * COPY_D];
        for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextGaussian() * (1 + (i % 7)));
        return Tensor.of(v, COPY_ROWS, COPY_D);
    }

    @Test
    void largeNormalisedCopiesComeFromTheirOwnPoolAndAreWrittenWhole() {
        assertEquals(Contrastive.POOLED_COPY_BYTES, (long) COPY_ROWS * COPY_D * Float.BYTES, "the test's size is the threshold");
        Kernels k = (Kernels) Backends.get("cpu");
        try (Tensor a = large(3); Tensor b = large(4)) {
            Tensor first = Contrastive.prepared(k, a, true);
            long address = first.segment().address();
            float[] expected = first.toFloatArray();
            Contrastive.release(first, a);
            assertEquals(1, Workspace.idleCopyCount());
            assertEquals(0, Workspace.idleCount(), "a copy never enters the logits' pool");
            Tensor other = Contrastive.prepared(k, b, true); // overwrites the pooled buffer with b's rows
            assertEquals(address, other.segment().address(), "the idle copy is lent again");
            Contrastive.release(other, b);
            Tensor again = Contrastive.prepared(k, a, true);
            assertEquals(address, again.segment().address());
            assertArrayEquals(expected, again.toFloatArray(), "every element rewritten: nothing of b's copy left");
            for (int i = 0; i < COPY_ROWS; i += 97) { // rows of norm 1 in float64
                double sq = 0;
                for (int j = 0; j < COPY_D; j++) sq += (double) expected[i * COPY_D + j] * expected[i * COPY_D + j];
                assertEquals(1.0, Math.sqrt(sq), 1e-6, "row " + i);
            }
            Contrastive.release(again, a);
            assertFalse(again.isClosed(), "given back to the pool, not freed");
        }
        try (Tensor small = embeddings(5)) { // below the threshold: a scratch copy, closed on release
            Tensor copy = Contrastive.prepared(k, small, true);
            Contrastive.release(copy, small);
            assertTrue(copy.isClosed());
            assertEquals(1, Workspace.idleCopyCount());
        }
    }

    @Test
    void aLossLoopReusesItsCopiesAndGivesTheSameResults() {
        Backend cpu = Backends.get("cpu");
        InfoNce loss = InfoNce.create().withBackend(cpu);
        try (Tensor a = large(6); Tensor b = large(7)) {
            float[] lossA, gradA;
            try (EmbeddingResult r = loss.forwardBackward(a)) {
                lossA = r.loss().toFloatArray();
                gradA = r.grad().toFloatArray();
            }
            try (PairedResult r = ClipLoss.create().withBackend(cpu).forwardBackward(b, a)) { // two copies, then back
                assertTrue(r.loss().item() > 0);
            }
            assertEquals(2, Workspace.idleCopyCount(), "CLIP's two copies");
            for (int call = 0; call < 3; call++) {
                try (EmbeddingResult r = loss.forwardBackward(a)) {
                    assertArrayEquals(lossA, r.loss().toFloatArray(), "call " + call);
                    assertArrayEquals(gradA, r.grad().toFloatArray(), "call " + call);
                }
                assertEquals(2, Workspace.idleCopyCount(), "call " + call + " borrowed one of the idle copies");
            }
        }
        InfoNce.releaseWorkspace();
        assertEquals(0, Workspace.idleCopyCount());
        assertEquals(0, Workspace.idleCopyBytes());
    }

    @Test
    void copiesBeyondTheirCapAreFreed() {
        Kernels k = (Kernels) Backends.get("cpu");
        int count = Workspace.MAX_IDLE_COPIES + 2;
        List<Tensor> copies = new ArrayList<>();
        List<Tensor> sources = new ArrayList<>();
        try {
            for (int i = 0; i < count; i++) {
                sources.add(large(10 + i));
                copies.add(Contrastive.prepared(k, sources.get(i), true));
            }
            for (int i = 0; i < count; i++) Contrastive.release(copies.get(i), sources.get(i));
            assertEquals(Workspace.MAX_IDLE_COPIES, Workspace.idleCopyCount());
            assertEquals((long) Workspace.MAX_IDLE_COPIES * COPY_ROWS * COPY_D * Float.BYTES, Workspace.idleCopyBytes());
        } finally {
            for (Tensor t : sources) t.close();
        }
    }

    @Test
    void threadsSharingThePoolOfCopiesGetTheirOwnCopies() throws Exception {
        Backend cpu = Backends.get("cpu");
        InfoNce loss = InfoNce.create().withBackend(cpu);
        int threads = 6, calls = 4;
        Tensor[] inputs = new Tensor[threads];
        float[][] expectedLoss = new float[threads][], expectedGrad = new float[threads][];
        try {
            for (int t = 0; t < threads; t++) {
                inputs[t] = large(40 + t);
                try (EmbeddingResult r = loss.forwardBackward(inputs[t])) { // one thread: the reference
                    expectedLoss[t] = r.loss().toFloatArray();
                    expectedGrad[t] = r.grad().toFloatArray();
                }
            }
            ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
            CountDownLatch start = new CountDownLatch(1), done = new CountDownLatch(threads);
            for (int t = 0; t < threads; t++) {
                int id = t;
                Thread.ofPlatform().start(() -> {
                    try {
                        start.await();
                        for (int c = 0; c < calls; c++) {
                            try (EmbeddingResult r = loss.forwardBackward(inputs[id])) {
                                // the same values up to the sums' order (a busy thread pool runs a pass on the caller alone);
                                // another thread's copy in place of this one's would differ everywhere
                                double lossErr = farthest(expectedLoss[id], r.loss().toFloatArray());
                                double gradErr = farthest(expectedGrad[id], r.grad().toFloatArray());
                                if (!(lossErr <= 1e-6 && gradErr <= 1e-5)) {
                                    problems.add("thread " + id + " call " + c + ": loss off by " + lossErr + ", gradient by " + gradErr
                                            + " (relative) from its own one-thread call");
                                }
                            }
                        }
                    } catch (Exception | Error e) {
                        problems.add(e.toString());
                    } finally {
                        done.countDown();
                    }
                });
            }
            start.countDown();
            done.await();
            assertEquals(List.of(), List.copyOf(problems));
            assertTrue(Workspace.idleCopyCount() <= Workspace.MAX_IDLE_COPIES, "idle copies " + Workspace.idleCopyCount());
        } finally {
            for (Tensor t : inputs) if (t != null) t.close();
        }
    }

    /** The largest |a - b| over the largest |a|. */
    private static double farthest(float[] a, float[] b) {
        double scale = 0, worst = 0;
        for (float v : a) scale = Math.max(scale, Math.abs(v));
        for (int e = 0; e < a.length; e++) worst = Math.max(worst, Math.abs((double) a[e] - b[e]));
        return worst / Math.max(scale, Float.MIN_NORMAL);
    }
}
