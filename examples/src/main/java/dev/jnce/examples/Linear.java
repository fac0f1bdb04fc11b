package dev.jnce.examples;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.ops.Matmul;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A fully connected layer {@code y = x W^T + b}, PyTorch's {@code nn.Linear(in, out)}: weight
 * W (out,in), bias b (out), both drawn from uniform(-1/sqrt(in), 1/sqrt(in)) as PyTorch does.
 * Forward and backward are GEMMs on {@link Matmul}, so they run on the backend's BLAS:
 * <pre>
 * forward   y (N,out)  = b broadcast, then += x (N,in) . W^T
 * backward  dW (out,in) = dy^T . x      db (out) = ones (1,N) . dy      dx (N,in) = dy . W
 * </pre>
 * {@link #backward} overwrites the gradients (no accumulation), so an optimiser step needs no
 * zeroing. Closing the layer closes its tensors.
 */
public final class Linear implements AutoCloseable {
    private final Matmul matmul;
    private final int in, out;
    private final Tensor weight, bias, gradWeight, gradBias;
    private final Tensor gradBiasRow; // gradBias seen as (1,out), the shape the GEMM writes
    private Tensor ones;              // (1,N) of the last batch size

    public Linear(int in, int out, SplittableRandom random, Backend backend) {
        this.matmul = Matmul.create().withBackend(backend);
        this.in = in;
        this.out = out;
        double bound = 1 / Math.sqrt(in);
        weight = Tensor.of(uniform(random, out * in, bound), out, in);
        bias = Tensor.of(uniform(random, out, bound));
        gradWeight = Tensor.zeros(DType.FLOAT32, out, in);
        gradBias = Tensor.zeros(DType.FLOAT32, out);
        gradBiasRow = Tensor.wrap(gradBias.segment(), DType.FLOAT32, 1, out);
    }

    /** y (N,out) = x (N,in) . W^T + b, into the caller's y. */
    public void forward(Tensor x, Tensor y) {
        MemorySegment ys = y.segment(), bs = bias.segment();
        long rowBytes = (long) out * Float.BYTES;
        for (long i = 0; i < y.size(0); i++) MemorySegment.copy(bs, 0, ys, i * rowBytes, rowBytes);
        matmul.gemm(false, true, 1f, x, weight, 1f, y);
    }

    /**
     * Gradients of the weight and bias for the upstream dy (N,out) at input x (N,in), and the
     * gradient dx (N,in) with respect to the input unless dx is null (a first layer needs none).
     */
    public void backward(Tensor x, Tensor dy, Tensor dx) {
        matmul.gemm(true, false, 1f, dy, x, 0f, gradWeight);
        matmul.gemm(false, false, 1f, ones(dy.size(0)), dy, 0f, gradBiasRow);
        if (dx != null) matmul.gemm(false, false, 1f, dy, weight, 0f, dx);
    }

    public int inFeatures() {
        return in;
    }

    public int outFeatures() {
        return out;
    }

    /** W (out,in) and b (out), in the order of {@link #gradients()}. */
    public List<Tensor> parameters() {
        return List.of(weight, bias);
    }

    /** dW and db of the last {@link #backward}. */
    public List<Tensor> gradients() {
        return List.of(gradWeight, gradBias);
    }

    @Override
    public void close() {
        for (Tensor t : List.of(weight, bias, gradWeight, gradBias)) t.close();
        if (ones != null) ones.close();
    }

    private Tensor ones(long n) {
        if (ones == null || ones.size(1) != n) {
            if (ones != null) ones.close();
            ones = Tensor.zeros(DType.FLOAT32, 1, n);
            for (long i = 0; i < n; i++) ones.segment().setAtIndex(ValueLayout.JAVA_FLOAT, i, 1f);
        }
        return ones;
    }

    private static float[] uniform(SplittableRandom random, int n, double bound) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) random.nextDouble(-bound, bound);
        return v;
    }
}
