package dev.jnce.testutil;

import dev.jnce.TensorScope;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.provider.Arguments;

import java.util.Collection;
import java.util.stream.Stream;

/** Base of op tests: every test runs inside its own TensorScope, which frees its tensors. */
public abstract class ScopedTest {
    private TensorScope scope;

    @BeforeEach
    void openScope() {
        scope = TensorScope.open();
    }

    @AfterEach
    void closeScope() {
        scope.close();
    }

    /** For @MethodSource: every backend of {@link TestBackends#all()}. */
    public static Stream<dev.jnce.Backend> backends() {
        return TestBackends.backends();
    }

    /** For @MethodSource: (backend, case) for every backend of {@link TestBackends#all()} and every case. */
    public static Stream<Arguments> onEveryBackend(Collection<?> cases) {
        return TestBackends.all().stream().flatMap(b -> cases.stream().map(c -> Arguments.of(b, c)));
    }
}
