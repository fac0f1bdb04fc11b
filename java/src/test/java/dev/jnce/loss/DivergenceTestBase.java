package dev.jnce.loss;

import dev.jnce.testutil.ScopedTest;

import dev.jnce.testutil.Golden;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.params.provider.Arguments;

import java.util.Map;
import java.util.stream.Stream;

/**
 * What the divergence tests (KlDivTest, EntropyTest, PerplexityTest) share: a tensor scope per
 * test, the backends, and PyTorch's golden data from golden_divergence.py.
 */
abstract class DivergenceTestBase extends ScopedTest {
    static final Map<String, Golden.Case> GOLDEN = Golden.load("/golden/divergence.txt");
    /** Every backend with every golden case whose name starts with prefix. */
    static Stream<Arguments> golden(String prefix) {
        return TestBackends.all().stream().flatMap(b -> GOLDEN.values().stream()
                .filter(c -> c.name().startsWith(prefix)).map(c -> Arguments.of(b, c)));
    }
}
