package dev.jnce.bench;

import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.loss.BinaryCrossEntropy;
import dev.jnce.loss.BinaryCrossEntropyWithLogits;
import dev.jnce.loss.Entropy;
import dev.jnce.loss.KlDiv;
import dev.jnce.loss.SigmoidFocalLoss;
import dev.jnce.loss.SoftmaxFocalLoss;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/**
 * The element-wise losses, forward+backward into the caller's buffers (mean reduction; KL
 * batchmean), timed in a fresh JVM for bench/scripts/pointwise_vs_torch.sh, with the machine's
 * limit in the same process: copying the bytes the op must move (its inputs read, its gradients
 * written), as {@link MemorySegment#copy} of each input onto its gradient.
 * <ul>
 * <li>{@code bce}: {@link BinaryCrossEntropy}, p = sigmoid(N(0,1)), soft targets in [0,1];</li>
 * <li>{@code bce_logits}: {@link BinaryCrossEntropyWithLogits}, logits N(0,1), soft targets;</li>
 * <li>{@code sigmoid_focal}: {@link SigmoidFocalLoss}, alpha 0.25, gamma 2, mean;</li>
 * <li>{@code kl_div}: {@link KlDiv}, batchmean, input log-softmax rows, target softmax rows;</li>
 * <li>{@code entropy}: {@link Entropy} of softmax rows, mean (one gradient);</li>
 * <li>{@code softmax_focal}: {@link SoftmaxFocalLoss}, gamma 2, no alpha, mean, logits N(0,1) and
 *     class targets (one gradient).</li>
 * </ul>
 *
 * <pre>java -cp benchmarks.jar dev.jnce.bench.PointwiseProbe BACKEND OP N C REPS</pre>
 * Prints {@code jnce BACKEND OP N C seconds copy_seconds} (best of REPS each, interleaved).
 */
public final class PointwiseProbe {
    private PointwiseProbe() {
    }

    public static void main(String[] args) {
        String backend = args[0], op = args[1];
        int n = Integer.parseInt(args[2]), c = Integer.parseInt(args[3]), reps = Integer.parseInt(args[4]);
        Kernels k = (Kernels) Backends.get(backend);
        boolean rows = op.equals("kl_div") || op.equals("entropy");
        boolean classes = op.equals("softmax_focal");
        Tensor x = values(n, c, 1, op.equals("bce") ? Kind.PROBABILITY : rows ? Kind.LOG_SOFTMAX : Kind.GAUSSIAN);
        Tensor y = classes ? targets(n, c, 2) : values(n, c, 2, rows ? Kind.SOFTMAX : Kind.UNIFORM);
        Tensor loss = Tensor.zerosUnscoped(DType.FLOAT32), gx = Tensor.zerosUnscoped(DType.FLOAT32, n, c);
        Tensor gy = classes ? null : Tensor.zerosUnscoped(DType.FLOAT32, n, c);
        Runnable step = switch (op) {
            case "bce" -> () -> BinaryCrossEntropy.create().withBackend(k).forwardBackward(x, y, loss, gx, gy);
            case "bce_logits" -> () -> BinaryCrossEntropyWithLogits.create().withBackend(k).forwardBackward(x, y, loss, gx, gy);
            case "sigmoid_focal" -> () -> SigmoidFocalLoss.create(0.25f, 2f).withReduction(Reduction.MEAN).withBackend(k)
                    .forwardBackward(x, y, loss, gx, gy);
            case "kl_div" -> () -> KlDiv.create().withReduction(Reduction.BATCHMEAN).withBackend(k).forwardBackward(x, y, loss, gx, gy);
            case "entropy" -> () -> Entropy.create().withBackend(k).forwardBackward(y, loss, gy);
            case "softmax_focal" -> () -> SoftmaxFocalLoss.create(null, 2f).withBackend(k).forwardBackward(x, y, loss, gx);
            default -> throw new IllegalArgumentException("OP: bce, bce_logits, sigmoid_focal, kl_div, entropy or softmax_focal, not " + op);
        };
        Runnable copy = () -> {
            if (!op.equals("entropy")) MemorySegment.copy(x.segment(), 0, gx.segment(), 0, x.segment().byteSize());
            if (!classes) MemorySegment.copy(y.segment(), 0, gy.segment(), 0, y.segment().byteSize());
        };
        double best = Double.MAX_VALUE, bestCopy = Double.MAX_VALUE;
        for (int r = 0; r < reps; r++) {
            long start = System.nanoTime();
            step.run();
            best = Math.min(best, (System.nanoTime() - start) / 1e9);
            start = System.nanoTime();
            copy.run();
            bestCopy = Math.min(bestCopy, (System.nanoTime() - start) / 1e9);
        }
        System.out.printf("jnce %s %s %d %d %.6f %.6f%n", backend, op, n, c, best, bestCopy);
    }

    /** n class indices in [0, c), int64. */
    static Tensor targets(int n, int c, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        Tensor t = Tensor.zerosUnscoped(DType.INT64, n);
        for (long i = 0; i < n; i++) t.segment().setAtIndex(ValueLayout.JAVA_LONG, i, random.nextInt(c));
        return t;
    }

    private enum Kind { GAUSSIAN, PROBABILITY, UNIFORM, SOFTMAX, LOG_SOFTMAX }

    /** (n, c) values of a kind; the softmax kinds row by row, from N(0,1) logits. */
    static Tensor values(int n, int c, long seed, Kind kind) {
        SplittableRandom random = new SplittableRandom(seed);
        Tensor t = Tensor.zerosUnscoped(DType.FLOAT32, n, c);
        MemorySegment s = t.segment();
        double[] row = new double[c];
        for (long i = 0; i < n; i++) {
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int j = 0; j < c; j++) {
                row[j] = kind == Kind.UNIFORM ? random.nextDouble() : random.nextGaussian();
                max = Math.max(max, row[j]);
            }
            for (int j = 0; j < c; j++) sum += Math.exp(row[j] - max);
            for (int j = 0; j < c; j++) {
                double v = switch (kind) {
                    case GAUSSIAN, UNIFORM -> row[j];
                    case PROBABILITY -> 1 / (1 + Math.exp(-row[j]));
                    case SOFTMAX -> Math.exp(row[j] - max) / sum;
                    case LOG_SOFTMAX -> row[j] - max - Math.log(sum);
                };
                s.setAtIndex(ValueLayout.JAVA_FLOAT, i * c + j, (float) v);
            }
        }
        return t;
    }
}
