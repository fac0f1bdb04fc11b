package dev.jnce.loss;

import dev.jnce.Backend;
import dev.jnce.TensorScope;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.provider.Arguments;

import java.util.Collection;
import java.util.stream.Stream;

/**
 * What the binary and focal loss tests share: a TensorScope around each test that frees every
 * tensor it made, and the backend argument sources for @MethodSource.
 */
abstract class ScopedLossTest {
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

    /** One argument pair (backend, item) for every backend and item. */
    static Stream<Arguments> onEveryBackend(Collection<?> items) {
        return TestBackends.all().stream().flatMap(b -> items.stream().map(item -> Arguments.of(b, item)));
    }
}
