package dev.jnce.bench;

import dev.jnce.Backend;
import dev.jnce.Tensor;
import dev.jnce.loss.CrossEntropy;
import dev.jnce.ops.Similarity;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;

/**
 * In-batch InfoNCE of two towers, queries (N,D) and keys (N,D), positives on the diagonal, cosine
 * logits at temperature 0.1, mean reduction: forward, and forward+backward (gradients of both
 * towers; 6 N^2 D flops in three GEMMs plus O(N^2) for the cross-entropy). Also the N-scaling
 * curve of {@link Suite} at several D.
 *
 * <p>COMPOSITION, NOT dev.jnce.loss.InfoNce: until InfoNce lands in main this composes what it
 * computes from the public ops, {@code S = Similarity.cosine().withScale(1/tau)}, {@code
 * CrossEntropy} against targets 0..N-1 into dS, then {@code Similarity.backward} for dQ and dK,
 * with S, dS, dQ and dK in buffers reused across calls. It leaves out d loss / d tau (one more
 * pass over the N^2 logits). Switch to {@code InfoNce.create().withBackend(b).forwardBackward(q,
 * k)} when it lands.
 */
public class InfoNceBench extends OpBench {
    static final float TEMPERATURE = 0.1f;

    @Param({Shapes.PAIRS_N})
    public int n;

    @Param({Shapes.PAIRS_D})
    public int d;

    private Tensor queries, keys, targets, logits, dLogits, loss, dQueries, dKeys;
    private Similarity similarity;
    private CrossEntropy crossEntropy;

    @Setup(Level.Trial)
    public void setup() {
        Backend b = backend();
        if (b == null) return;
        queries = fixture.gaussian(1f, n, d);
        keys = fixture.gaussian(1f, n, d);
        targets = fixture.diagonal(n);
        logits = fixture.zeros(n, n);
        dLogits = fixture.zeros(n, n);
        loss = fixture.zeros();
        dQueries = fixture.zeros(n, d);
        dKeys = fixture.zeros(n, d);
        similarity = Similarity.cosine().withScale(1f / TEMPERATURE).withBackend(b);
        crossEntropy = CrossEntropy.create().withBackend(b);
    }

    @Benchmark
    public Tensor forward() {
        if (similarity == null) return null;
        similarity.forward(queries, keys, logits);
        try (Tensor l = crossEntropy.forward(logits, targets)) {
            return l;
        }
    }

    @Benchmark
    public Tensor forwardBackward() {
        if (similarity == null) return null;
        similarity.forward(queries, keys, logits);
        crossEntropy.forwardBackward(logits, targets, loss, dLogits);
        similarity.backward(queries, keys, dLogits, dQueries, dKeys);
        return dQueries;
    }
}
