package dev.jnce.bench;

import dev.jnce.Backend;
import dev.jnce.Tensor;
import dev.jnce.ops.Normalize;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;

/**
 * L2 normalisation of (N,D) rows ({@code F.normalize}), forward and forward plus backward for an
 * upstream dy, into buffers reused across calls. Traffic model: forward 12 bytes per element
 * (read x, write y), forward+backward 28 (plus read x and dy, write dx).
 */
public class NormalizeBench extends OpBench {
    @Param({Shapes.EMBEDDINGS})
    public String shape;

    private Tensor x, y, dy, dx;
    private Normalize op;

    @Setup(Level.Trial)
    public void setup() {
        Backend b = backend();
        if (b == null) return;
        long[] nd = Shapes.parse(shape);
        x = fixture.gaussian(1f, nd);
        y = fixture.zeros(nd);
        dy = fixture.gaussian(1f, nd);
        dx = fixture.zeros(nd);
        op = Normalize.create().withBackend(b);
    }

    @Benchmark
    public Tensor forward() {
        if (op == null) return null;
        op.forward(x, y);
        return y;
    }

    @Benchmark
    public Tensor forwardBackward() {
        if (op == null) return null;
        op.forward(x, y);
        op.backward(x, dy, dx);
        return dx;
    }
}
