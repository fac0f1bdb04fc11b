package dev.jnce.ops;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.internal.Checks;
import dev.jnce.internal.Outputs;

/**
 * Row-major float32 matrix products, {@code torch.matmul} on 2-D tensors and the BLAS
 * {@code C = alpha * op(A) * op(B) + beta * C}: OpenBLAS on the {@code cpu} backend, a blocked
 * Vector-API GEMM on {@code java}.
 *
 * <pre>{@code
 * Tensor logits = Matmul.create().multiply(queries, false, keys, true);  // Q (N,D) . K(M,D)^T = (N,M)
 * }</pre>
 *
 * <p>Pitfalls: results are float32 sums in a backend-specific order, so the backends agree to
 * rounding, not bit for bit; {@code c} must not share memory with {@code a} or {@code b}.
 * Instances are immutable and thread-safe.
 */
public final class Matmul {
    private final Backend backend; // null: the backend of the tensors' device at call time

    private Matmul(Backend backend) {
        this.backend = backend;
    }

    /**
     * Not pinned: calls run on the backend of their tensors' device.
     *
     * @return an unpinned op
     */
    public static Matmul create() {
        return new Matmul(null);
    }

    /**
     * The same op pinned to a backend.
     *
     * @param backend the backend every call runs on, whatever device the tensors are on; not null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if backend is null
     */
    public Matmul withBackend(Backend backend) {
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        return new Matmul(backend);
    }

    /**
     * The backend this op is pinned to, else {@link Backends#current()}; unpinned calls follow their tensors' device.
     *
     * @return the pinned backend, or the current host backend when not pinned
     */
    public Backend backend() {
        return Backends.orCurrent(backend);
    }

    /**
     * {@code a (M,K) . b (K,N)} in a new (M,N) tensor.
     *
     * @param a the left operand (M,K) float32
     * @param b the right operand (K,N) float32
     * @return the (M,N) product in a new tensor on a's device
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Tensor multiply(Tensor a, Tensor b) {
        return multiply(a, false, b, false);
    }

    /**
     * {@code op(a) . op(b)} in a new tensor on a's device; op transposes when its flag is set.
     *
     * @param a the left operand, float32 (M,K), or (K,M) when transA
     * @param transA true to use the transpose of a
     * @param b the right operand, float32 (K,N), or (N,K) when transB
     * @param transB true to use the transpose of b
     * @return the (M,N) product in a new tensor on a's device
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Tensor multiply(Tensor a, boolean transA, Tensor b, boolean transB) {
        Kernels k = Kernels.forCall(backend, "a", a, "b", b);
        Tensor c = Tensor.zeros(k.device(), DType.FLOAT32, check(k, transA, transB, a, b));
        try {
            gemm(transA, transB, 1f, a, b, 0f, c);
            return c;
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, c);
        }
    }

    /**
     * {@code op(a) . op(b)} into the caller's (M,N) c, which must not share memory with a or b.
     *
     * @param a the left operand, float32 (M,K), or (K,M) when transA
     * @param transA true to use the transpose of a
     * @param b the right operand, float32 (K,N), or (N,K) when transB
     * @param transB true to use the transpose of b
     * @param c the (M,N) float32 result
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public void multiply(Tensor a, boolean transA, Tensor b, boolean transB, Tensor c) {
        gemm(transA, transB, 1f, a, b, 0f, c);
    }

    /**
     * {@code c = alpha * op(a) * op(b) + beta * c} into the caller's c: a is (M,K), or (K,M)
     * when transA; b is (K,N), or (N,K) when transB; c is (M,N). As in BLAS (and torch.addmm),
     * beta = 0 ignores whatever c held, NaN included, and alpha = 0 does not read a or b: c
     * becomes beta * c even where a or b hold NaN or infinities.
     *
     * @param transA true to use the transpose of a
     * @param transB true to use the transpose of b
     * @param alpha the product's multiplier; 0 reads neither a nor b
     * @param a the left operand, float32 (M,K), or (K,M) when transA
     * @param b the right operand, float32 (K,N), or (N,K) when transB
     * @param beta c's multiplier; 0 ignores what c held
     * @param c the (M,N) float32 result
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c) {
        Kernels k = Kernels.forCall(backend, "a", a, "b", b, Kernels.OUTPUTS, "c", c);
        long[] mn = check(k, transA, transB, a, b);
        Checks.output("c", c, k, "(M, N) of op(a) op(b)", mn);
        Checks.noOverlap("c", c, "a", a);
        Checks.noOverlap("c", c, "b", b);
        k.similarity().gemm(transA, transB, alpha, a, b, beta, c);
    }

    /** Checks a and b; returns (M, N). */
    private static long[] check(Kernels k, boolean transA, boolean transB, Tensor a, Tensor b) {
        long[] sa = Checks.matrix("a", a, k, transA ? "(K, M)" : "(M, K)");
        long[] sb = Checks.matrix("b", b, k, transB ? "(N, K)" : "(K, N)");
        long ka = transA ? sa[0] : sa[1], kb = transB ? sb[1] : sb[0];
        if (ka != kb) {
            throw new IllegalArgumentException("b: inner dimension K = " + kb + " of " + (transB ? "b^T" : "b") + " "
                    + Tensor.formatShape(sb) + " differs from K = " + ka + " of " + (transA ? "a^T" : "a") + " "
                    + Tensor.formatShape(sa));
        }
        return new long[] {transA ? sa[1] : sa[0], transB ? sb[0] : sb[1]};
    }
}
