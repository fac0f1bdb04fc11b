package dev.jnce.bench;

import dev.jnce.Backend;
import dev.jnce.Tensor;
import dev.jnce.loss.NllLoss;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;

/**
 * Negative log-likelihood of (N,C) log-probabilities with class-index targets, mean reduction.
 * Forward reads one value per row; forward+backward writes the dense (N,C) gradient into a
 * reused buffer (8 bytes per element with the read-for-ownership).
 */
public class NllBench extends OpBench {
    @Param({Shapes.LOGITS})
    public String shape;

    private Tensor logProbs, targets, loss, grad;
    private NllLoss nll;

    @Setup(Level.Trial)
    public void setup() {
        Backend b = backend();
        if (b == null) return;
        long[] nc = Shapes.parse(shape);
        logProbs = fixture.uniform(-12f, 0f, nc);
        targets = fixture.classIndices(nc[0], nc[1]);
        loss = fixture.zeros();
        grad = fixture.zeros(nc);
        nll = NllLoss.create().withBackend(b);
    }

    @Benchmark
    public Tensor forward() {
        if (nll == null) return null;
        try (Tensor l = nll.forward(logProbs, targets)) {
            return l;
        }
    }

    @Benchmark
    public Tensor forwardBackward() {
        if (nll == null) return null;
        nll.forwardBackward(logProbs, targets, loss, grad);
        return grad;
    }
}
