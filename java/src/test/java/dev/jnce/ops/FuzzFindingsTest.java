package dev.jnce.ops;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.testutil.ScopedTest;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Mistakes the fuzzer ({@code dev.jnce.harness.FuzzTest}) found unnamed, each named now. */
class FuzzFindingsTest extends ScopedTest {

    /** A k no row can meet names k, before the (N, k) indices are allocated: never an OutOfMemoryError. */
    @ParameterizedTest
    @MethodSource("backends")
    void miningMoreNegativesThanKeysNamesKBeforeAllocating(Backend backend) {
        Tensor sim = Tensor.of(new float[] {0.9f, 0.1f, 0.4f, 0.3f, 0.8f, 0.2f}, 2, 3);
        for (long k : new long[] {4, 1L << 40, Long.MAX_VALUE}) {
            HardNegatives miner = HardNegatives.create(k).withBackend(backend);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> miner.mine(sim));
            assertTrue(e.getMessage().startsWith("k: " + k + " negatives asked for"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> miner.mineMasked(sim, Tensor.zeros(DType.INT32, 2, 3)));
            assertTrue(e.getMessage().startsWith("k: "), e.getMessage());
        }
    }
}
