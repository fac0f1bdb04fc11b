package dev.jnce.bench;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * What a small tensor costs to make and free, outside the suite: a tensor that owns its memory
 * holds a shared arena, and closing a shared arena makes the JVM hand-shake every thread; a
 * {@link TensorScope} pays that once for all the tensors made inside it. This is the fixed cost
 * behind the allocating forms at tiny shapes (a loss call that returns a new tensor).
 *
 * <pre>java -jar bench/target/benchmarks.jar TensorBench</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
public class TensorBench {
    /** One float32 scalar made and closed. */
    @Benchmark
    public void ownedScalar() {
        Tensor.zerosUnscoped(DType.FLOAT32).close();
    }

    /** 64 float32 scalars made inside one scope, freed when it closes (the cost per call, for 64). */
    @Benchmark
    public void sixtyFourInOneScope() {
        try (TensorScope scope = TensorScope.open()) {
            for (int i = 0; i < 64; i++) Tensor.zeros(DType.FLOAT32);
        }
    }
}
