package dev.jnce.backend;

import dev.jnce.Tensor;

/** Softmax, log_softmax and logsumexp kernels (native/src/cpu/softmax.c and its Java twin). */
public interface SoftmaxKernels {

    /** Which row function: {@code exp(x_j) / sum exp}, {@code x_j - log sum exp}, or {@code log sum exp} (one value a row). */
    enum Function { SOFTMAX, LOG_SOFTMAX, LOGSUMEXP }

    /**
     * Row-wise forward over the last dimension.
     *
     * @param x   (N,C) float32 (a (C) tensor is one row)
     * @param out (N,C) float32 for SOFTMAX and LOG_SOFTMAX, (N) for LOGSUMEXP; written
     */
    void forward(Function function, Tensor x, long n, long c, Tensor out);

    /**
     * Row-wise backward.
     *
     * @param saved      the forward output for SOFTMAX and LOG_SOFTMAX, the forward input for
     *                   LOGSUMEXP; (N,C) float32
     * @param gradOutput upstream gradient, the shape of the forward output
     * @param gradInput  (N,C) float32, written; may be {@code gradOutput} or {@code saved}
     *                   when that has shape (N,C)
     */
    void backward(Function function, Tensor saved, Tensor gradOutput, long n, long c, Tensor gradInput);
}
