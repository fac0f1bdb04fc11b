package dev.jnce.bench;

import dev.jnce.Backend;
import dev.jnce.Tensor;
import dev.jnce.ops.Softmax;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;

/**
 * Softmax and log-softmax over the last dimension of (N,C) logits, forward and forward+backward
 * for an upstream gradient. {@link Softmax} returns new tensors (it has no into-buffer
 * overloads), so every call allocates and zero-fills its outputs and the benchmark closes them:
 * the cost a caller of the public API pays. Traffic model: forward 12 bytes per element (read x,
 * write y), forward+backward 28 (plus read y and dy, write dx).
 */
public class SoftmaxBench extends OpBench {
    @Param({Shapes.LOGITS})
    public String shape;

    @Param({"softmax", "log_softmax"})
    public String function;

    private Tensor x, dy, y, dx;
    private Softmax op;

    @Setup(Level.Trial)
    public void setup() {
        Backend b = backend();
        if (b == null) return;
        long[] nc = Shapes.parse(shape);
        x = fixture.gaussian(1f, nc);
        dy = fixture.gaussian(1f, nc);
        y = fixture.gaussian(0f, nc);
        dx = fixture.gaussian(0f, nc);
        op = (function.equals("softmax") ? Softmax.create() : Softmax.logSoftmax()).withBackend(b);
    }

    /** Into reused buffers, as a training loop calls it (the allocating forms zero-fill 1 GB per call). */
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
        op.backward(y, dy, dx);
        return dx;
    }
}
