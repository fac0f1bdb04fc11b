/**
 * Operations that are not losses but that losses are built from, each with its gradient:
 * {@link dev.jnce.ops.Softmax} (softmax, log-softmax, logsumexp), {@link dev.jnce.ops.Matmul}
 * (GEMM), {@link dev.jnce.ops.Normalize} (L2 rows), {@link dev.jnce.ops.Similarity} and
 * {@link dev.jnce.ops.CosineSimilarity}, and {@link dev.jnce.ops.HardNegatives} (top-k mining,
 * gather and its scatter-add backward); {@link dev.jnce.ops.Gradients} holds the gradients of a
 * two-input op.
 *
 * <p>Same conventions as {@link dev.jnce.loss}: PyTorch's names and meanings, immutable and
 * thread-safe op objects, allocating forms and forms that write into the caller's tensors,
 * shapes, dtypes and devices checked in Java before any kernel runs (an
 * {@link java.lang.IllegalArgumentException} naming the argument; a closed tensor is an
 * {@link java.lang.IllegalStateException}). Pitfall: {@code Matmul.gemm} with alpha 0 does not
 * read its operands and beta 0 ignores what the output held, NaN included, as BLAS defines.
 */
package dev.jnce.ops;
