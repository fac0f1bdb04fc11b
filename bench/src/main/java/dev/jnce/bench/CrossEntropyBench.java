package dev.jnce.bench;

import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.loss.CrossEntropy;
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

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Fused softmax cross-entropy forward+backward per backend, plain and with class weights and
 * label smoothing, at a large-vocabulary shape and a tiny batch (where the FFM call and the
 * argument checks dominate); buffers reused across calls as in a training loop. Effective bandwidth = 12 bytes per logit / time (bench/scripts/ce_vs_torch.sh
 * prints it beside PyTorch's).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class CrossEntropyBench {
    @Param({"cpu", "java"})
    public String backend;

    @Param({"8192x32000", "32x128"})
    public String shape;

    /** plain, or weighted_smoothed: class weights in [0.5, 1.5) and label smoothing 0.1. */
    @Param({"plain", "weighted_smoothed"})
    public String options;

    private Tensor logits, targets, loss, grad, weight;
    private CrossEntropy ce;

    @Setup(Level.Trial)
    public void setup() {
        String[] nc = shape.split("x");
        int n = Integer.parseInt(nc[0]), c = Integer.parseInt(nc[1]);
        SplittableRandom random = new SplittableRandom(1);
        logits = Tensor.zeros(DType.FLOAT32, n, c);
        var seg = logits.segment();
        for (long i = 0; i < (long) n * c; i++) {
            seg.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i, (float) random.nextGaussian());
        }
        targets = Tensor.of(random.longs(n, 0, c).toArray());
        loss = Tensor.zeros(DType.FLOAT32);
        grad = Tensor.zeros(DType.FLOAT32, n, c);
        ce = CrossEntropy.create().withBackend(Backends.get(backend));
        if (options.equals("weighted_smoothed")) {
            float[] w = new float[c];
            for (int j = 0; j < c; j++) w[j] = (float) (0.5 + random.nextDouble());
            weight = Tensor.of(w);
            ce = ce.withWeight(weight).withLabelSmoothing(0.1f);
        }
    }

    @Benchmark
    public Tensor forwardBackward() {
        ce.forwardBackward(logits, targets, loss, grad);
        return grad;
    }

    @Benchmark
    public Tensor forward() {
        return ce.forward(logits, targets);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        logits.close();
        targets.close();
        loss.close();
        grad.close();
        if (weight != null) weight.close();
    }
}
