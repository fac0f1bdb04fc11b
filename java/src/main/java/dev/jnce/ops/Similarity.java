package dev.jnce.ops;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Device;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.SimilarityKernels;
import dev.jnce.internal.Checks;
import dev.jnce.internal.Outputs;

/**
 * Similarity matrices of two sets of vectors, the logits of InfoNCE-style losses:
 * {@code S = scale * A . B^T} for A (N,D) and B (M,D), with
 * <ul>
 * <li>{@link #dot()}: raw dot products, {@code scale * a @ b.T};</li>
 * <li>{@link #cosine()}: {@code scale * F.normalize(a) @ F.normalize(b).T} (eps 1e-12, the
 *     usual way to build cosine logits; not {@code F.cosine_similarity}'s clamp, see
 *     {@link CosineSimilarity} for that row-wise op).</li>
 * </ul>
 * and the gradients for an upstream {@code dS} (N,M): {@code dA = scale * dS . B^}, {@code
 * dB = scale * dS^T . A^}, carried back through the normalisation for cosine. The products run
 * on the backend's GEMM (OpenBLAS on {@code cpu}).
 *
 * <pre>{@code
 * Similarity sim = Similarity.cosine().withScale(1 / 0.07f);      // logits of temperature 0.07
 * Tensor logits = sim.forward(queries, keys);                      // (N,M)
 * ... dLogits from a cross-entropy ...
 * try (Gradients g = sim.backward(queries, keys, dLogits)) { g.dA(); g.dB(); }
 * }</pre>
 *
 * <p>Pitfalls: when a and b are the same tensor (self-similarity), its gradient is
 * {@code dA + dB}. Cosine backward recomputes the normalised rows (O((N+M)D), small beside the
 * two GEMMs). Outputs must not share memory with the inputs. Immutable and thread-safe.
 */
public final class Similarity {
    private final boolean cosine;
    private final float scale;
    private final double eps;
    private final Backend backend;

    private Similarity(boolean cosine, float scale, double eps, Backend backend) {
        this.cosine = cosine;
        this.scale = scale;
        this.eps = eps;
        this.backend = backend;
    }

    /**
     * Dot products, scale 1, not pinned: calls run on the backend of their tensors' device.
     *
     * @return a dot-product similarity
     */
    public static Similarity dot() {
        return new Similarity(false, 1f, Normalize.DEFAULT_EPS, null);
    }

    /**
     * Cosine similarities of L2-normalised rows (eps 1e-12), scale 1.
     *
     * @return a cosine similarity
     */
    public static Similarity cosine() {
        return new Similarity(true, 1f, Normalize.DEFAULT_EPS, null);
    }

    /**
     * Row-wise {@code F.cosine_similarity(x1, x2, dim=1, eps=1e-8)}: a shortcut to {@link CosineSimilarity}.
     *
     * @param x1 the first rows (N,D) float32
     * @param x2 the second rows (N,D) float32
     * @return the (N) similarities in a new tensor
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public static Tensor cosineSimilarity(Tensor x1, Tensor x2) {
        return CosineSimilarity.create().forward(x1, x2);
    }

    /**
     * The same similarity multiplied by scale (1 / temperature for InfoNCE logits); finite. The
     * scale is the GEMM's alpha, so scale = 0 gives zeros (and zero gradients) even for rows
     * holding NaN or infinities, as BLAS does for alpha = 0.
     *
     * @param scale the multiplier, finite
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if scale is not finite
     */
    public Similarity withScale(float scale) {
        if (!Float.isFinite(scale)) throw new IllegalArgumentException("scale: must be finite, got " + scale);
        return new Similarity(cosine, scale, eps, backend);
    }

    /**
     * The normalisation eps of {@link #cosine()} (ignored by {@link #dot()}); finite, &ge; 0.
     *
     * @param eps the eps, finite and &ge; 0
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if eps is negative or not finite
     */
    public Similarity withEps(double eps) {
        Checks.float32Eps(eps);
        return new Similarity(cosine, scale, eps, backend);
    }

    /**
     * The same similarity pinned to a backend.
     *
     * @param backend the backend every call runs on, whatever device the tensors are on; not null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if backend is null
     */
    public Similarity withBackend(Backend backend) {
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        return new Similarity(cosine, scale, eps, backend);
    }

    /**
     * Whether rows are L2-normalised first.
     *
     * @return true for {@link #cosine()}
     */
    public boolean normalizes() {
        return cosine;
    }

    /**
     * The multiplier of the similarities.
     *
     * @return the scale
     */
    public float scale() {
        return scale;
    }

    /**
     * The normalisation eps of {@link #cosine()}.
     *
     * @return eps
     */
    public double eps() {
        return eps;
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
     * S (N,M) in a new tensor on the inputs' device.
     *
     * @param a the rows (N,D) float32
     * @param b the rows (M,D) float32 compared with a
     * @return S (N,M) in a new tensor
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Tensor forward(Tensor a, Tensor b) {
        Kernels k = Kernels.forCall(backend, "a", a, "b", b);
        Tensor s = Tensor.zeros(k.device(), DType.FLOAT32, check(k, a, b));
        try {
            forward(a, b, s);
            return s;
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, s);
        }
    }

    /**
     * S into the caller's (N,M) tensor, which must not share memory with a or b.
     *
     * @param a the rows (N,D) float32
     * @param b the rows (M,D) float32 compared with a
     * @param s the (N,M) float32 similarities
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public void forward(Tensor a, Tensor b, Tensor s) {
        Kernels k = Kernels.forCall(backend, "a", a, "b", b, Kernels.OUTPUTS, "s", s);
        long[] nm = check(k, a, b);
        Checks.output("s", s, k, "(N, M)", nm);
        Checks.noOverlap("s", s, "a", a);
        Checks.noOverlap("s", s, "b", b);
        run(k, a, b, s);
    }

    /**
     * dA (N,D) and dB (M,D) for the upstream dS (N,M), in new tensors on the inputs' device.
     *
     * @param a the rows (N,D) float32
     * @param b the rows (M,D) float32 compared with a
     * @param dS the upstream gradient (N,M) float32
     * @return dA and dB, in new tensors on the call's device; close the result (or use a {@link
     *   dev.jnce.TensorScope})
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Gradients backward(Tensor a, Tensor b, Tensor dS) {
        Kernels k = Kernels.forCall(backend, "a", a, "b", b, "dS", dS);
        checkBackward(k, a, b, dS);
        Tensor dA = null, dB = null;
        try {
            dA = Tensor.zeros(k.device(), DType.FLOAT32, a.shape());
            dB = Tensor.zeros(k.device(), DType.FLOAT32, b.shape());
            backward(a, b, dS, dA, dB);
            return new Gradients(dA, dB);
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, dA, dB);
        }
    }

    /**
     * dA and dB into the caller's tensors; either may be null to skip it (a frozen key
     * encoder, say). They must not share memory with a, b, dS or each other.
     *
     * @param a the rows (N,D) float32
     * @param b the rows (M,D) float32 compared with a
     * @param dS the upstream gradient (N,M) float32
     * @param dA d / d a (N,D) float32, or null to skip it
     * @param dB d / d b (M,D) float32, or null to skip it
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public void backward(Tensor a, Tensor b, Tensor dS, Tensor dA, Tensor dB) {
        Kernels k = Kernels.forCall(backend, "a", a, "b", b, "dS", dS, Kernels.OUTPUTS, "dA", dA, "dB", dB);
        checkBackward(k, a, b, dS);
        if (dA != null) checkGradient(k, "dA", dA, "(N, D) of a", a, b, dS);
        if (dB != null) checkGradient(k, "dB", dB, "(M, D) of b", a, b, dS);
        Checks.noOverlap("dB", dB, "dA", dA);
        if (dA != null || dB != null) runBackward(k, a, b, dS, dA, dB);
    }

    private void run(Kernels k, Tensor a, Tensor b, Tensor s) {
        SimilarityKernels sk = k.similarity();
        if (!cosine) {
            sk.gemm(false, true, scale, a, b, 0f, s);
            return;
        }
        try (Tensor both = normalized(k, a, b)) {
            sk.gemm(false, true, scale, both.rows(0, a.size(0)), both.rows(a.size(0), b.size(0)), 0f, s);
        }
    }

    private void runBackward(Kernels k, Tensor a, Tensor b, Tensor dS, Tensor dA, Tensor dB) {
        SimilarityKernels sk = k.similarity();
        if (!cosine) {
            if (dA != null) sk.gemm(false, false, scale, dS, b, 0f, dA);
            if (dB != null) sk.gemm(true, false, scale, dS, a, 0f, dB);
            return;
        }
        try (Tensor both = normalized(k, a, b)) {
            // dA first holds d(loss)/d(a^), then is carried back through the normalisation in place
            if (dA != null) {
                sk.gemm(false, false, scale, dS, both.rows(a.size(0), b.size(0)), 0f, dA);
                sk.normalizeBackward(a, dA, (float) eps, dA);
            }
            if (dB != null) {
                sk.gemm(true, false, scale, dS, both.rows(0, a.size(0)), 0f, dB);
                sk.normalizeBackward(b, dB, (float) eps, dB);
            }
        }
    }

    /**
     * a (N,D) and b (M,D) normalised into rows 0..N and N..N+M of one scratch tensor on the
     * call's device, which the caller closes (never registered with a TensorScope).
     */
    private Tensor normalized(Kernels k, Tensor a, Tensor b) {
        long n = a.size(0), m = b.size(0), d = a.size(1);
        Tensor both = k.device().equals(Device.HOST) ? Tensor.zerosUnscoped(DType.FLOAT32, n + m, d)
                : Tensor.zeros(k.device(), DType.FLOAT32, n + m, d);
        try {
            k.similarity().normalize(a, (float) eps, both.rows(0, n));
            k.similarity().normalize(b, (float) eps, both.rows(n, m));
            return both;
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, both);
        }
    }

    /** Checks a and b; returns (N, M). */
    private static long[] check(Kernels k, Tensor a, Tensor b) {
        long[] sa = Checks.matrix("a", a, k, "(N, D)");
        long[] sb = Checks.matrix("b", b, k, "(M, D)");
        Checks.sameFeatures("a", a, "b", b);
        return new long[] {sa[0], sb[0]};
    }

    private static void checkBackward(Kernels k, Tensor a, Tensor b, Tensor dS) {
        long[] nm = check(k, a, b);
        Checks.output("dS", dS, k, "(N, M)", nm);
    }

    private static void checkGradient(Kernels k, String argument, Tensor g, String meaning, Tensor a, Tensor b, Tensor dS) {
        Checks.output(argument, g, k, meaning, (argument.equals("dA") ? a : b).shape());
        Checks.noOverlap(argument, g, "a", a);
        Checks.noOverlap(argument, g, "b", b);
        Checks.noOverlap(argument, g, "dS", dS);
    }
}
