package dev.jnce.bench;

import dev.jnce.DType;
import dev.jnce.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

/**
 * The limits under a small call that returns new tensors, measured beside SmallCallBench in
 * bench/scripts/small_calls.sh: what a slab of 4 MiB costs to make and free (a shared arena, its
 * memory zeroed, then closed: a JVM-wide hand-shake and a free), the hand-shake alone (a shared
 * arena of 64 bytes made and closed), the zeroing alone (one block of 4 MiB filled with zeros again
 * and again: more than a core's L2), and the four results of BPR at (32, 4, 128) (1 + 4 KiB +
 * 4 KiB + 16 KiB floats: 96 KiB) made and closed with nothing written into them. A call's results
 * take their bytes' share of a slab: 96 KiB are 1/42 of one.
 *
 * <pre>java -jar bench/target/benchmarks.jar SlabCostBench</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
public class SlabCostBench {
    private static final long SLAB = 4L << 20;

    private Arena held;
    private MemorySegment block;

    @Setup(Level.Trial)
    public void setup() {
        held = Arena.ofShared();
        block = held.allocate(SLAB, 64);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        held.close();
    }

    /** A slab's own cost: a shared arena of 4 MiB (zeroed by the allocation), then closed. */
    @Benchmark
    public void slabMadeAndClosed() {
        try (Arena arena = Arena.ofShared()) {
            arena.allocate(SLAB, 64);
        }
    }

    /** The hand-shake of a shared arena's close, with a 64-byte allocation. */
    @Benchmark
    public void handShake() {
        try (Arena arena = Arena.ofShared()) {
            arena.allocate(64, 64);
        }
    }

    /** 4 MiB zeroed, one block again and again (as the allocator hands a freed slab's memory to the next one). */
    @Benchmark
    public void zero4MiB() {
        block.fill((byte) 0);
    }

    /** BPR's four results at (32, 4, 128) made and closed (from the shared slabs). */
    @Benchmark
    public void bprResults() {
        Tensor loss = Tensor.zerosUnscoped(DType.FLOAT32), dq = Tensor.zerosUnscoped(DType.FLOAT32, 32, 128);
        Tensor dp = Tensor.zerosUnscoped(DType.FLOAT32, 32, 128), dn = Tensor.zerosUnscoped(DType.FLOAT32, 32, 4, 128);
        loss.close();
        dq.close();
        dp.close();
        dn.close();
    }
}
