package dev.jnce.loss;

import dev.jnce.Reduction;

/**
 * Float64 references for the binary and focal losses, written from the textbook definitions
 * (not from the kernels' stable forms), for finite differences and value checks.
 */
final class BinaryReference {
    private BinaryReference() {
    }

    /** log(sigmoid(z)) without overflow. */
    static double logSigmoid(double z) {
        return z >= 0 ? -Math.log1p(Math.exp(-z)) : z - Math.log1p(Math.exp(z));
    }

    /** -(y log p + (1-y) log(1-p)), logs clamped to >= -100 as PyTorch does. */
    static double bce(double p, double y) {
        return -(y * Math.max(Math.log(p), -100) + (1 - y) * Math.max(Math.log(1 - p), -100));
    }

    /** -(pw y log sigmoid(x) + (1-y) log(1 - sigmoid(x))). */
    static double bceLogits(double x, double y, double pw) {
        return -(pw * y * logSigmoid(x) + (1 - y) * logSigmoid(-x));
    }

    /** torchvision's sigmoid focal loss of one element; alpha < 0: no alpha weighting. */
    static double sigmoidFocal(double x, double y, double alpha, double gamma) {
        double p = 1 / (1 + Math.exp(-x)), pt = p * y + (1 - p) * (1 - y);
        double at = alpha >= 0 ? alpha * y + (1 - alpha) * (1 - y) : 1;
        return at * bceLogits(x, y, 1) * Math.pow(1 - pt, gamma);
    }

    /** -alpha (1-p_t)^gamma log p_t for the row x[off .. off+c), target t. */
    static double softmaxFocalRow(double[] x, int off, int c, int t, double alpha, double gamma) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (int j = 0; j < c; j++) max = Math.max(max, x[off + j]);
        for (int j = 0; j < c; j++) sum += Math.exp(x[off + j] - max);
        double logP = x[off + t] - max - Math.log(sum);
        return -alpha * Math.pow(1 - Math.exp(logP), gamma) * logP;
    }

    /** Element-wise losses of a binary op: element k gets f(k, x[k], y[k]). */
    @FunctionalInterface
    interface Element {
        double at(int k, double x, double y);
    }

    static double[] elements(Element f, double[] x, double[] y) {
        double[] out = new double[x.length];
        for (int k = 0; k < x.length; k++) out[k] = f.at(k, x[k], y[k]);
        return out;
    }

    /** The reduced loss (NONE: the sum, whose gradient the kernels return). */
    static double reduce(double[] losses, Reduction reduction) {
        double sum = 0;
        for (double l : losses) sum += l;
        return reduction == Reduction.MEAN ? sum / losses.length : sum;
    }

    /** The reduction as the loss tensor holds it: every element for NONE, else one value. */
    static double[] asLoss(double[] losses, Reduction reduction) {
        return reduction == Reduction.NONE ? losses : new double[] {reduce(losses, reduction)};
    }
}
