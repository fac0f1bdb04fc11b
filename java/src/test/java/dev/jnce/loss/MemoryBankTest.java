package dev.jnce.loss;

import dev.jnce.Backend;
import dev.jnce.Tensor;
import dev.jnce.testutil.ScopedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import static dev.jnce.testutil.Approx.assertClose;
import static dev.jnce.testutil.Approx.toDouble;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** MemoryBank: the ring buffer's contents across wrap-around, its ids, and the loss it feeds. */
class MemoryBankTest extends ScopedTest {

    /** Rows of width 2 whose values name them: row r is (r, -r). */
    private static Tensor rows(int from, int count) {
        float[] v = new float[2 * count];
        for (int i = 0; i < count; i++) {
            v[2 * i] = from + i;
            v[2 * i + 1] = -(from + i);
        }
        return Tensor.of(v, count, 2);
    }

    private static long[] ids(int from, int count) {
        long[] v = new long[count];
        for (int i = 0; i < count; i++) v[i] = 100 + from + i;
        return v;
    }

    /** The first value of each live row, in buffer order. */
    private static float[] firstColumn(MemoryBank bank) {
        float[] all = bank.negatives().toFloatArray();
        float[] out = new float[all.length / 2];
        for (int i = 0; i < out.length; i++) out[i] = all[2 * i];
        return out;
    }

    @Test
    void wrapsAroundOverwritingTheOldestRows() {
        try (MemoryBank bank = MemoryBank.createWithIds(5, 2)) {
            assertEquals(0, bank.size());
            assertNull(bank.negatives());
            bank.enqueue(rows(0, 3), Tensor.of(ids(0, 3), 3));                 // [0 1 2 . .]
            assertArrayEquals(new float[] {0, 1, 2}, firstColumn(bank));
            bank.enqueue(rows(3, 3), Tensor.of(ids(3, 3), 3));                 // wraps: [5 1 2 3 4], 0 dropped
            assertEquals(5, bank.size());
            assertArrayEquals(new float[] {5, 1, 2, 3, 4}, firstColumn(bank));
            assertArrayEquals(new float[] {5, -5, 1, -1, 2, -2, 3, -3, 4, -4}, bank.negatives().toFloatArray());
            bank.enqueue(rows(6, 4), Tensor.of(ids(6, 4), 4));                 // wraps again from slot 1: [5 6 7 8 9]
            assertArrayEquals(new float[] {5, 6, 7, 8, 9}, firstColumn(bank));
            bank.enqueue(rows(10, 7), Tensor.of(ids(10, 7), 7));               // larger than the bank: its last 5 rows
            assertArrayEquals(new float[] {12, 13, 14, 15, 16}, firstColumn(bank));
            bank.enqueue(rows(17, 2), Tensor.of(ids(17, 2), 2));               // [17 18 14 15 16]
            bank.enqueue(rows(20, 6), Tensor.of(ids(20, 6), 6));               // last 5 from slot 2, wrapping: [24 25 21 22 23]
            assertArrayEquals(new float[] {24, 25, 21, 22, 23}, firstColumn(bank));
            assertArrayEquals(new long[] {1, 2, 124, 125, 121, 122, 123},
                    bank.candidateIds(Tensor.of(new long[] {1, 2}, 2)).toLongArray());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.ScopedTest#backends")
    void feedsTheSharedNegativesForm(Backend backend) {
        InfoNce loss = InfoNce.create().withTemperature(0.2f).withBackend(backend);
        Tensor q = rows(1, 3), k = rows(4, 3);
        try (MemoryBank bank = MemoryBank.create(4, 2)) {
            try (InfoNce.Result empty = bank.forwardBackward(loss, q, k)) {
                assertEquals(loss.forward(q, k).item(), empty.loss().item(), 1e-6f);
                assertNull(empty.gradNegatives());
            }
            bank.enqueue(rows(7, 3));
            bank.enqueue(rows(10, 3)); // wrapped: slots hold 11 12 9 10 ... in buffer order
            Tensor live = Tensor.of(bank.negatives().toFloatArray(), 4, 2);
            try (InfoNce.Result r = bank.forwardBackward(loss, q, k); InfoNce.Result direct = loss.forwardBackward(q, k, live)) {
                assertEquals(direct.loss().item(), r.loss().item(), 0f);
                assertClose(toDouble(direct.gradNegatives().toFloatArray()), r.gradNegatives().toFloatArray(), 0, "dNeg");
            }
        }
    }

    @Test
    void badInputIsNamed() {
        try (MemoryBank plain = MemoryBank.create(3, 2); MemoryBank withIds = MemoryBank.createWithIds(3, 2)) {
            assertMessage(() -> MemoryBank.create(0, 2), "capacity");
            assertMessage(() -> MemoryBank.create(2, 0), "dim");
            assertMessage(() -> plain.enqueue(Tensor.of(new float[6], 2, 3)), "keys");
            assertMessage(() -> plain.enqueue(rows(0, 2), Tensor.of(new long[2], 2)), "keyIds");
            assertMessage(() -> withIds.enqueue(rows(0, 2)), "keys");
            assertMessage(() -> withIds.enqueue(rows(0, 2), Tensor.of(new long[3], 3)), "keyIds");
            assertMessage(() -> withIds.enqueue(rows(0, 2), Tensor.of(new float[2], 2)), "keyIds");
            assertMessage(() -> plain.candidateIds(Tensor.of(new long[2], 2)), "batchIds");
            assertMessage(() -> plain.enqueue(Tensor.of(new float[] {Float.NaN, 0}, 1, 2)), "keys");
        }
        MemoryBank closed = MemoryBank.create(2, 2);
        closed.close();
        assertThrows(IllegalStateException.class, () -> closed.enqueue(rows(0, 1)));
    }

    private static void assertMessage(org.junit.jupiter.api.function.Executable call, String argument) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().startsWith(argument), e.getMessage());
    }
}
