package dev.jnce.loss;

import dev.jnce.Backend;
import dev.jnce.TensorScope;
import dev.jnce.testutil.Golden;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.provider.Arguments;

import java.util.Map;
import java.util.stream.Stream;

/**
 * What the divergence tests (KlDivTest, EntropyTest, PerplexityTest) share: a tensor scope per
 * test, the backends, and PyTorch's golden data from golden_divergence.py.
 */
abstract class DivergenceTestBase {
    static final Map<String, Golden.Case> GOLDEN = Golden.load("/golden/divergence.txt");
    private TensorScope scope;

    @BeforeEach
    void openScope() {
        scope = TensorScope.open();
    }

    @AfterEach
    void closeScope() {
        scope.close();
    }

    static Stream<Backend> backends() {
        return TestBackends.backends();
    }

    /** Every backend with every golden case whose name starts with prefix. */
    static Stream<Arguments> golden(String prefix) {
        return TestBackends.all().stream().flatMap(b -> GOLDEN.values().stream()
                .filter(c -> c.name().startsWith(prefix)).map(c -> Arguments.of(b, c)));
    }
}
