package dev.jnce.bench;

import dev.jnce.Backend;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * What every op benchmark shares: the backend as a parameter (one that does not load here makes
 * the benchmark a no-op after "skipped: ..."; {@link Suite} passes only those that load), the
 * fixture holding the trial's tensors, the JVM flags of the forks, and the default iterations
 * (the suite overrides them). Subclasses set up in their own {@code @Setup} method: {@code b =
 * backend()}; null means skipped.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public abstract class OpBench {
    @Param({"cpu", "java", "cuda"})
    public String backend;

    protected final Fixture fixture = new Fixture();

    /** The backend of this trial, or null when it does not load here. */
    protected Backend backend() {
        return Fixture.backendOrSkip(backend);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        fixture.close();
    }
}
