package dev.jnce.bench;

import dev.jnce.Backends;
import dev.jnce.Tensor;
import dev.jnce.ops.Matmul;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * The machine's limits the op results are judged against, measured in the same run and with the
 * same thread count: the OpenBLAS sgemm peak (the {@code cpu} backend's GEMM on a large square,
 * 2 S^3 flops) and memory bandwidth (libc memcpy of a buffer far beyond the caches, split over
 * the threads; STREAM's copy convention counts 2 bytes per byte copied: large memcpy uses
 * non-temporal stores, so there is no read-for-ownership).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class LimitsBench {
    @Param({Shapes.PEAK_GEMM})
    public int size;

    @Param({Shapes.PEAK_COPY_MIB})
    public int copyMib;

    private final Fixture fixture = new Fixture();
    private Tensor a, b, c;
    private Matmul sgemm;
    private Arena arena;
    private MemorySegment src, dst;
    private MethodHandle memcpy;
    private ExecutorService pool;
    private List<Callable<Object>> copies;

    @Setup(Level.Trial)
    public void setup() {
        if (Fixture.backendOrSkip("cpu") != null) {
            a = fixture.gaussian(1f, size, size);
            b = fixture.gaussian(1f, size, size);
            c = fixture.zeros(size, size);
            sgemm = Matmul.create().withBackend(Backends.get("cpu"));
        }
        long bytes = (long) copyMib << 20;
        arena = Arena.ofShared();
        src = arena.allocate(bytes, 4096).fill((byte) 1);
        dst = arena.allocate(bytes, 4096).fill((byte) 0);
        Linker linker = Linker.nativeLinker();
        memcpy = linker.downcallHandle(linker.defaultLookup().find("memcpy").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
        int threads = Backends.threads();
        pool = Executors.newFixedThreadPool(threads);
        copies = new ArrayList<>();
        long chunk = (bytes / threads) & ~4095L;
        for (int t = 0; t < threads; t++) {
            long from = t * chunk, len = t == threads - 1 ? bytes - from : chunk;
            copies.add(() -> copy(dst.asSlice(from, len), src.asSlice(from, len), len));
        }
    }

    @Benchmark
    public Tensor sgemm() {
        if (sgemm == null) return null;
        sgemm.gemm(false, false, 1f, a, b, 0f, c);
        return c;
    }

    @Benchmark
    public MemorySegment copy() throws InterruptedException {
        for (var f : pool.invokeAll(copies)) {
            if (f.state() == Future.State.FAILED) throw new IllegalStateException(f.exceptionNow());
        }
        return dst;
    }

    private Object copy(MemorySegment to, MemorySegment from, long bytes) {
        try {
            return (MemorySegment) memcpy.invokeExact(to, from, bytes);
        } catch (Throwable e) {
            throw new IllegalStateException("memcpy", e);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pool.shutdownNow();
        arena.close();
        fixture.close();
    }
}
