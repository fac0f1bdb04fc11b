package dev.jnce.bench;

import dev.jnce.Backend;
import dev.jnce.Tensor;
import dev.jnce.loss.BinaryCrossEntropyWithLogits;
import dev.jnce.loss.InputTargetResult;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;

/**
 * Binary cross-entropy with logits on (N,C) multi-label logits and soft targets in [0,1), mean
 * reduction. forwardBackward returns new gradient tensors for the logits and the target (the
 * API has no into-buffer overload); they are closed after each call. Traffic model: forward 8
 * bytes per element (read logits and target), forward+backward 24 (plus two gradients written).
 */
public class BinaryCrossEntropyWithLogitsBench extends OpBench {
    @Param({Shapes.MULTILABEL})
    public String shape;

    private Tensor logits, target;
    private BinaryCrossEntropyWithLogits bce;

    @Setup(Level.Trial)
    public void setup() {
        Backend b = backend();
        if (b == null) return;
        long[] nc = Shapes.parse(shape);
        logits = fixture.gaussian(2f, nc);
        target = fixture.uniform(0f, 1f, nc);
        bce = BinaryCrossEntropyWithLogits.create().withBackend(b);
    }

    @Benchmark
    public Tensor forward() {
        if (bce == null) return null;
        try (Tensor l = bce.forward(logits, target)) {
            return l;
        }
    }

    @Benchmark
    public Tensor forwardBackward() {
        if (bce == null) return null;
        try (InputTargetResult r = bce.forwardBackward(logits, target)) {
            return r.gradInput();
        }
    }
}
