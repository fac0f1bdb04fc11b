package dev.jnce.examples;

import dev.jnce.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * The Adam optimiser, {@code torch.optim.Adam(params, lr, betas=(0.9, 0.999), eps=1e-8)}
 * without weight decay or amsgrad. For each parameter p with gradient g, at step t:
 * <pre>
 * m = b1 m + (1 - b1) g            v = b2 v + (1 - b2) g^2
 * p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 * </pre>
 * Parameters are updated in place in their (off-heap) tensors; the moments m and v live on the
 * heap, in double. The first step moves every parameter by about lr against its gradient's
 * sign, whatever the gradient's size.
 */
public final class Adam {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    private final List<Tensor> params, grads;
    private final double lr, beta1, beta2, eps;
    private final double[][] m, v;
    private int t;

    /** PyTorch's defaults: betas (0.9, 0.999), eps 1e-8. */
    public Adam(List<Tensor> params, List<Tensor> grads, double lr) {
        this(params, grads, lr, 0.9, 0.999, 1e-8);
    }

    /** params.get(i) is updated from grads.get(i), which must have as many elements. */
    public Adam(List<Tensor> params, List<Tensor> grads, double lr, double beta1, double beta2, double eps) {
        if (params.size() != grads.size()) {
            throw new IllegalArgumentException("grads: " + grads.size() + " tensors for " + params.size() + " parameters");
        }
        for (int i = 0; i < params.size(); i++) {
            if (params.get(i).numel() != grads.get(i).numel()) {
                throw new IllegalArgumentException("grads: tensor " + i + " is " + grads.get(i).describe()
                        + ", its parameter " + params.get(i).describe());
            }
        }
        this.params = List.copyOf(params);
        this.grads = List.copyOf(grads);
        this.lr = lr;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        m = new double[params.size()][];
        v = new double[params.size()][];
        for (int i = 0; i < params.size(); i++) {
            m[i] = new double[Math.toIntExact(params.get(i).numel())];
            v[i] = new double[m[i].length];
        }
    }

    /** One update of every parameter from the gradients its tensors hold now. */
    public void step() {
        t++;
        double c1 = 1 - Math.pow(beta1, t), c2 = 1 - Math.pow(beta2, t);
        for (int i = 0; i < params.size(); i++) {
            MemorySegment p = params.get(i).segment(), g = grads.get(i).segment();
            double[] mi = m[i], vi = v[i];
            for (int j = 0; j < mi.length; j++) {
                double gj = g.getAtIndex(F, j);
                mi[j] = beta1 * mi[j] + (1 - beta1) * gj;
                vi[j] = beta2 * vi[j] + (1 - beta2) * gj * gj;
                double update = lr * (mi[j] / c1) / (Math.sqrt(vi[j] / c2) + eps);
                p.setAtIndex(F, j, (float) (p.getAtIndex(F, j) - update));
            }
        }
    }

    /** Steps taken so far. */
    public int steps() {
        return t;
    }
}
