package dev.jnce.bench;

import dev.jnce.Backend;
import dev.jnce.Tensor;
import dev.jnce.ops.Matmul;
import dev.jnce.ops.Similarity;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;

/**
 * The logits of in-batch contrastive losses: the GEMM {@code A (N,D) . B (N,D)^T = S (N,N)}
 * ({@link Matmul#gemm}, 2 N^2 D flops), and the cosine similarity matrix
 * ({@link Similarity#cosine()}: normalise the rows, then the same GEMM) forward, and forward
 * plus backward for an upstream dS (two more GEMMs: 6 N^2 D flops). Outputs and gradients go
 * into buffers reused across calls.
 */
public class SimilarityBench extends OpBench {
    @Param({Shapes.PAIRS_N})
    public int n;

    @Param({Shapes.PAIRS_D})
    public int d;

    private Tensor a, bTensor, s, dS, dA, dB;
    private Matmul matmul;
    private Similarity cosine;

    @Setup(Level.Trial)
    public void setup() {
        Backend b = backend();
        if (b == null) return;
        a = fixture.gaussian(1f, n, d);
        bTensor = fixture.gaussian(1f, n, d);
        s = fixture.zeros(n, n);
        dS = fixture.gaussian(1f / n, n, n);
        dA = fixture.zeros(n, d);
        dB = fixture.zeros(n, d);
        matmul = Matmul.create().withBackend(b);
        cosine = Similarity.cosine().withBackend(b);
    }

    @Benchmark
    public Tensor gemm() {
        if (matmul == null) return null;
        matmul.gemm(false, true, 1f, a, bTensor, 0f, s);
        return s;
    }

    @Benchmark
    public Tensor cosineForward() {
        if (cosine == null) return null;
        cosine.forward(a, bTensor, s);
        return s;
    }

    @Benchmark
    public Tensor cosineForwardBackward() {
        if (cosine == null) return null;
        cosine.forward(a, bTensor, s);
        cosine.backward(a, bTensor, dS, dA, dB);
        return dA;
    }
}
