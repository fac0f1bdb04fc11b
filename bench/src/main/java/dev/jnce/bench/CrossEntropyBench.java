package dev.jnce.bench;

import dev.jnce.Backend;
import dev.jnce.Tensor;
import dev.jnce.loss.CrossEntropy;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;

/**
 * Fused softmax cross-entropy (class-index targets, mean reduction) per backend, plain and with
 * class weights and label smoothing, at a large-vocabulary shape and a tiny batch (where the FFM
 * call and the argument checks dominate); also the C-scaling curve of {@link Suite}. Loss and
 * gradient go into buffers reused across calls, as in a training loop. Effective bandwidth: 12
 * bytes per logit for forward+backward (read logits, write the gradient with its
 * read-for-ownership), 4 for forward.
 */
public class CrossEntropyBench extends OpBench {
    @Param({Shapes.CE_LARGE, Shapes.CE_TINY})
    public String shape;

    /** plain, or weighted_smoothed: class weights in [0.5, 1.5) and label smoothing 0.1. */
    @Param({"plain", "weighted_smoothed"})
    public String options;

    private Tensor logits, targets, loss, grad;
    private CrossEntropy ce;

    @Setup(Level.Trial)
    public void setup() {
        Backend b = backend();
        if (b == null) return;
        long[] nc = Shapes.parse(shape);
        logits = fixture.gaussian(1f, nc);
        targets = fixture.classIndices(nc[0], nc[1]);
        loss = fixture.zeros();
        grad = fixture.zeros(nc);
        ce = CrossEntropy.create().withBackend(b);
        if (options.equals("weighted_smoothed")) {
            ce = ce.withWeight(fixture.uniform(0.5f, 1.5f, nc[1])).withLabelSmoothing(0.1f);
        }
    }

    @Benchmark
    public Tensor forwardBackward() {
        if (ce == null) return null;
        ce.forwardBackward(logits, targets, loss, grad);
        return grad;
    }

    @Benchmark
    public Tensor forward() {
        if (ce == null) return null;
        try (Tensor l = ce.forward(logits, targets)) {
            return l;
        }
    }
}
