package dev.jnce.bench;

import dev.jnce.Backend;
import dev.jnce.Tensor;
import dev.jnce.loss.CrossEntropy;
import dev.jnce.loss.EmbeddingResult;
import dev.jnce.loss.InfoNce;
import dev.jnce.loss.NtXent;
import dev.jnce.ops.Similarity;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;

/**
 * In-batch InfoNCE of two towers, queries (N,D) and keys (N,D), positives on the diagonal, cosine
 * logits at temperature 0.1, mean reduction. Also the N-scaling curve of {@link Suite} at several
 * D.
 *
 * <ul>
 * <li>forwardBackward: {@link InfoNce#forwardBackward(Tensor, Tensor)} as a user calls it (the
 *     loss, the gradients of both towers and of tau, in new tensors closed after each call;
 *     6 N^2 D flops in three GEMMs plus O(N^2) for the cross-entropy).</li>
 * <li>forward: a composition kept for continuity with earlier runs: {@code
 *     Similarity.cosine().withScale(1/tau)} into a reused (N,N) buffer, then {@code
 *     CrossEntropy.forward} against targets 0..N-1 (2 N^2 D flops), which is what InfoNce's
 *     forward part computes.</li>
 * <li>oneTensorForwardBackward: {@link InfoNce#forwardBackward(Tensor)} on the queries
 *     (positives on the diagonal of f fᵀ / tau): symmetric logits, SYRK + one GEMM (3 N^2 D flops).</li>
 * <li>ntXentForwardBackward: {@link NtXent#forwardBackward(Tensor)} on the queries as N views
 *     of N/2 samples (SimCLR), same path.</li>
 * <li>supConForwardBackward: {@link InfoNce#forwardBackwardLabels(Tensor, Tensor)} on the
 *     queries with labels i mod (N/8) (supervised contrastive, 8 rows a label), same path.</li>
 * </ul>
 */
public class InfoNceBench extends OpBench {
    static final float TEMPERATURE = 0.1f;

    @Param({Shapes.PAIRS_N})
    public int n;

    @Param({Shapes.PAIRS_D})
    public int d;

    private Tensor queries, keys, targets, logits, labels;
    private InfoNce infoNce;
    private NtXent ntXent;
    private Similarity similarity;
    private CrossEntropy crossEntropy;

    @Setup(Level.Trial)
    public void setup() {
        Backend b = backend();
        if (b == null) return;
        queries = fixture.gaussian(1f, n, d);
        keys = fixture.gaussian(1f, n, d);
        targets = fixture.diagonal(n);
        labels = fixture.classes(n, 8);
        logits = fixture.zeros(n, n);
        infoNce = InfoNce.create().withTemperature(TEMPERATURE).withBackend(b);
        ntXent = NtXent.create().withTemperature(TEMPERATURE).withBackend(b);
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
    public Tensor oneTensorForwardBackward() {
        if (infoNce == null) return null;
        try (EmbeddingResult r = infoNce.forwardBackward(queries)) {
            return r.grad();
        }
    }

    @Benchmark
    public Tensor ntXentForwardBackward() {
        if (ntXent == null) return null;
        try (EmbeddingResult r = ntXent.forwardBackward(queries)) {
            return r.grad();
        }
    }

    @Benchmark
    public Tensor supConForwardBackward() {
        if (infoNce == null) return null;
        try (EmbeddingResult r = infoNce.forwardBackwardLabels(queries, labels)) {
            return r.grad();
        }
    }

    @Benchmark
    public Tensor forwardBackward() {
        if (infoNce == null) return null;
        try (InfoNce.Result r = infoNce.forwardBackward(queries, keys)) {
            return r.gradQueries();
        }
    }
}
