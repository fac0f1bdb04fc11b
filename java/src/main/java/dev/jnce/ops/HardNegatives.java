package dev.jnce.ops;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.PairKernels.MiningOutcome;
import dev.jnce.backend.ScanKernels;
import dev.jnce.internal.Checks;
import dev.jnce.internal.Outputs;

/**
 * Hard-negative mining: for each query row of a similarity matrix sim (N,M), the indices of
 * the k most similar keys that are not its positives, as (N,k) int64, by decreasing similarity
 * with ties to the lower key index (a deterministic {@code topk} of the masked matrix).
 * Positives are given by labels (a key is positive when its label equals the query's), by a
 * mask (N,M) (nonzero = positive), or by default by the diagonal (key i for query i).
 * {@link #gather} turns the indices into explicit negatives (N,k,D), and {@link #gatherBackward}
 * scatter-adds their gradient back onto the keys.
 *
 * <pre>{@code
 * Tensor sim = Similarity.cosine().forward(queries, keys);        // (N,M)
 * Tensor idx = HardNegatives.create(16).mine(sim);                 // (N,16), diagonal positives
 * Tensor negatives = HardNegatives.gather(keys, idx);              // (N,16,D)
 * }</pre>
 *
 * <p>Mining itself has no gradient (the indices are constants). Pitfalls: k = 0 gives (N,0); a row with fewer than k negatives
 * and a NaN similarity are errors naming the row (the mining pass finds the short rows, at no
 * extra cost; into a caller's indices, the rows then hold no particular values); labels that
 * mark every key positive leave no negatives. Calls run on the backend this miner is pinned
 * to, else on the one of the device the tensors are on. Immutable and thread-safe.
 */
public final class HardNegatives {
    private final long k;
    private final Backend backend;

    private HardNegatives(long k, Backend backend) {
        this.k = k;
        this.backend = backend;
    }

    /**
     * k negatives per query (&ge; 0), following the tensors' device.
     *
     * @param k negatives per query, &ge; 0
     * @return a miner of k negatives per query
     * @throws IllegalArgumentException if k is negative
     */
    public static HardNegatives create(long k) {
        if (k < 0) throw new IllegalArgumentException("k: must be >= 0, got " + k);
        return new HardNegatives(k, null);
    }

    /**
     * The same miner pinned to a backend.
     *
     * @param backend the backend every call runs on, whatever device the tensors are on; not null
     * @return a copy of this instance with the setting changed; this instance is unchanged
     * @throws IllegalArgumentException if backend is null
     */
    public HardNegatives withBackend(Backend backend) {
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        return new HardNegatives(k, backend);
    }

    /**
     * The negatives mined per query.
     *
     * @return k
     */
    public long k() {
        return k;
    }

    /**
     * The backend this miner is pinned to, else {@link Backends#current()}; unpinned calls follow their tensors' device.
     *
     * @return the pinned backend, or the current host backend when not pinned
     */
    public Backend backend() {
        return Backends.orCurrent(backend);
    }

    /**
     * Positives on the diagonal: key i is query i's positive (queries past M have none).
     *
     * @param sim similarities (N,M) float32 of queries to keys
     * @return the (N,k) int64 indices of each query's hardest negatives, in a new tensor
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Tensor mine(Tensor sim) {
        return mineNew(sim, null, null, null);
    }

    /**
     * As {@link #mine(Tensor)}, into the caller's (N,k) int64 indices.
     *
     * @param sim similarities (N,M) float32 of queries to keys
     * @param indices (N,k) int64 indices of the mined keys
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public void mine(Tensor sim, Tensor indices) {
        mineInto(sim, null, null, null, indices);
    }

    /**
     * Positives by label: queryLabels (N), keyLabels (M), int32 or int64.
     *
     * @param sim similarities (N,M) float32 of queries to keys
     * @param queryLabels the queries' labels (N), int32 or int64
     * @param keyLabels the keys' labels (M), int32 or int64
     * @return the (N,k) int64 indices of each query's hardest negatives, in a new tensor
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Tensor mine(Tensor sim, Tensor queryLabels, Tensor keyLabels) {
        requireLabels(queryLabels, keyLabels);
        return mineNew(sim, queryLabels, keyLabels, null);
    }

    /**
     * As {@link #mine(Tensor, Tensor, Tensor)}, into the caller's (N,k) int64 indices.
     *
     * @param sim similarities (N,M) float32 of queries to keys
     * @param queryLabels the queries' labels (N), int32 or int64
     * @param keyLabels the keys' labels (M), int32 or int64
     * @param indices (N,k) int64 indices of the mined keys
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public void mine(Tensor sim, Tensor queryLabels, Tensor keyLabels, Tensor indices) {
        requireLabels(queryLabels, keyLabels);
        mineInto(sim, queryLabels, keyLabels, null, indices);
    }

    /**
     * Positives by mask (N,M) int32 or int64, nonzero = positive.
     *
     * @param sim similarities (N,M) float32 of queries to keys
     * @param mask (N,M) int32 or int64; non-zero marks a positive
     * @return the (N,k) int64 indices of each query's hardest negatives, in a new tensor
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public Tensor mineMasked(Tensor sim, Tensor mask) {
        if (mask == null) throw new IllegalArgumentException("mask: must not be null");
        return mineNew(sim, null, null, mask);
    }

    /**
     * As {@link #mineMasked(Tensor, Tensor)}, into the caller's (N,k) int64 indices.
     *
     * @param sim similarities (N,M) float32 of queries to keys
     * @param mask (N,M) int32 or int64; non-zero marks a positive
     * @param indices (N,k) int64 indices of the mined keys
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public void mineMasked(Tensor sim, Tensor mask, Tensor indices) {
        if (mask == null) throw new IllegalArgumentException("mask: must not be null");
        mineInto(sim, null, null, mask, indices);
    }

    /**
     * Rows of keys (M,D) picked by indices (N,K) int32/int64 in [0,M), as a new (N,K,D)
     * tensor on their device: {@code keys[indices]}. A copy: writing to it does not change keys.
     *
     * @param keys the keys (M,D) float32
     * @param indices (N,K) int32 or int64 indices, each in [0, M)
     * @return the (N,K,D) gathered rows in a new tensor
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated or a value
     *   check fails (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public static Tensor gather(Tensor keys, Tensor indices) {
        Kernels kn = Kernels.forCall(null, "keys", keys, "indices", indices);
        long[] sk = Checks.matrix("keys", keys, kn, "(M, D)");
        indexMatrix(kn, indices);
        Tensor out = Tensor.zeros(kn.device(), DType.FLOAT32, indices.size(0), indices.size(1), sk[1]);
        return filled(out, () -> gather(keys, indices, out));
    }

    /**
     * As {@link #gather(Tensor, Tensor)}, into the caller's (N,K,D) float32 out, which must not share memory with keys.
     *
     * @param keys the keys (M,D) float32
     * @param indices (N,K) int32 or int64 indices, each in [0, M)
     * @param out the (N,K,D) float32 gathered rows
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public static void gather(Tensor keys, Tensor indices, Tensor out) {
        Kernels kn = Kernels.forCall(null, "keys", keys, "indices", indices, Kernels.OUTPUTS, "out", out);
        long[] sk = checkGather(kn, keys, indices);
        Checks.output("out", out, kn, "(N, K) of indices and D of keys", indices.size(0), indices.size(1), sk[1]);
        Checks.noOverlap("out", out, "keys", keys);
        kn.pair().gatherRows(keys, indices, out);
    }

    /**
     * The gradient of {@link #gather}: adds row (n, k) of grad (N,K,D) into row indices[n, k] of
     * gradKeys (M,D), in place — a scatter-add, in the order of (n, k), in float32. When the
     * negatives were gathered from the same keys that also served as positives, pass the
     * positives' gradient as gradKeys: it then holds the keys' whole gradient.
     *
     * <pre>{@code
     * Tensor negatives = HardNegatives.gather(keys, idx);
     * try (InfoNce.Result r = loss.forwardBackwardNegatives(queries, keys, negatives)) {
     *     HardNegatives.gatherBackward(r.gradNegatives(), idx, r.gradKeys()); // d loss / d keys
     * }
     * }</pre>
     *
     * @param grad d loss / d the gathered rows, (N,K,D) float32
     * @param indices the (N,K) int32 or int64 indices the rows were gathered with
     * @param gradKeys the (M,D) float32 gradient of the keys, added to in place
     * @throws IllegalArgumentException if a tensor's shape, dtype or device is not as stated, a value
     *   check fails, or an output shares memory with another argument (the message names the argument)
     * @throws IllegalStateException if a tensor is closed, its memory has been freed, or it belongs to
     *   another thread's confined arena
     */
    public static void gatherBackward(Tensor grad, Tensor indices, Tensor gradKeys) {
        Kernels kn = Kernels.forCall(null, "grad", grad, "indices", indices, Kernels.OUTPUTS, "gradKeys", gradKeys);
        long[] sk = Checks.matrix("gradKeys", gradKeys, kn, "(M, D)");
        Checks.usable("grad", grad, kn);
        Checks.dtype("grad", grad, DType.FLOAT32);
        rowIndices(kn, indices, "gradKeys", sk);
        Checks.shape("grad", grad, "(N, K) of indices and D of gradKeys", indices.size(0), indices.size(1), sk[1]);
        Checks.noOverlap("gradKeys", gradKeys, "grad", grad);
        kn.pair().gatherRowsBackward(grad, indices, gradKeys);
    }

    /** keys (M,D) and indices (N,K) into it; returns keys' shape. */
    private static long[] checkGather(Kernels kn, Tensor keys, Tensor indices) {
        long[] sk = Checks.matrix("keys", keys, kn, "(M, D)");
        rowIndices(kn, indices, "keys", sk);
        return sk;
    }

    /** indices: usable int32/int64 (N,K). */
    private static void indexMatrix(Kernels kn, Tensor indices) {
        Checks.usable("indices", indices, kn);
        Checks.dtype("indices", indices, DType.INT32, DType.INT64);
        if (indices.rank() != 2) {
            throw new IllegalArgumentException("indices: expected shape (N, K), got " + Tensor.formatShape(indices.shape()));
        }
    }

    /** indices: usable int32/int64 (N,K) rows of a matrix (M,D) called name, each in [0, M). */
    private static void rowIndices(Kernels kn, Tensor indices, String name, long[] md) {
        indexMatrix(kn, indices);
        long bad = indices.numel() == 0 ? -1 : kn.scan().firstOutside(indices, md[0], 0);
        if (bad >= 0) {
            throw new IllegalArgumentException("indices[" + bad + "] = " + (long) kn.scan().valueAt(indices, bad)
                    + " is outside [0, " + md[0] + ") for " + name + " of shape " + Tensor.formatShape(md));
        }
    }

    /** out after fill ran; closed, and the failure passed on, when fill throws (a check that reads values). */
    private static Tensor filled(Tensor out, Runnable fill) {
        try {
            fill.run();
            return out;
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, out);
        }
    }

    private static void requireLabels(Tensor queryLabels, Tensor keyLabels) {
        if (queryLabels == null) throw new IllegalArgumentException("queryLabels: must not be null");
        if (keyLabels == null) throw new IllegalArgumentException("keyLabels: must not be null");
    }

    private Tensor mineNew(Tensor sim, Tensor queryLabels, Tensor keyLabels, Tensor mask) {
        Kernels kn = Kernels.forCall(backend, "sim", sim, "queryLabels", queryLabels, "keyLabels", keyLabels, "mask", mask);
        long[] nm = Checks.matrix("sim", sim, kn, "(N, M)");
        requireKeys(nm, queryLabels == null && mask == null); // before (N, k) is allocated: an absurd k must not become one
        Tensor indices = Tensor.zeros(kn.device(), DType.INT64, nm[0], k);
        return filled(indices, () -> mineInto(sim, queryLabels, keyLabels, mask, indices));
    }

    /**
     * k is at most M: no row of sim (N, M) can have more negatives than keys. With diagonal
     * positives row 0 has exactly M - 1, and the message says so as the mining pass would.
     */
    private void requireKeys(long[] nm, boolean diagonal) {
        if (k <= nm[1]) return;
        throw new IllegalArgumentException("k: " + k + " negatives asked for, but " + (diagonal
                ? "row 0 of sim " + Tensor.formatShape(nm) + " has only " + (nm[1] - 1) + " keys that are not positives"
                : "sim " + Tensor.formatShape(nm) + " has only " + nm[1] + " keys per row"));
    }

    private void mineInto(Tensor sim, Tensor queryLabels, Tensor keyLabels, Tensor mask, Tensor indices) {
        Kernels kn = Kernels.forCall(backend, "sim", sim, "queryLabels", queryLabels, "keyLabels", keyLabels, "mask", mask,
                Kernels.OUTPUTS, "indices", indices);
        long[] nm = check(kn, sim, queryLabels, keyLabels, mask);
        requireKeys(nm, queryLabels == null && mask == null);
        Checks.usable("indices", indices, kn);
        Checks.dtype("indices", indices, DType.INT64);
        Checks.shape("indices", indices, "(N, k) for sim " + Tensor.formatShape(nm) + " and k = " + k, nm[0], k);
        Checks.noOverlap("indices", indices, "sim", sim);
        run(kn, sim, queryLabels, keyLabels, mask, indices);
    }

    /** Checks sim and the positives, and that sim holds no NaN; returns (N, M). */
    private static long[] check(Kernels kn, Tensor sim, Tensor queryLabels, Tensor keyLabels, Tensor mask) {
        long[] nm = Checks.matrix("sim", sim, kn, "(N, M)");
        if (queryLabels != null) {
            labels(kn, "queryLabels", queryLabels, nm[0], "(N)", nm);
            labels(kn, "keyLabels", keyLabels, nm[1], "(M)", nm);
        }
        if (mask != null) {
            Checks.usable("mask", mask, kn);
            Checks.dtype("mask", mask, DType.INT32, DType.INT64);
            Checks.shape("mask", mask, "(N, M) of sim", nm);
        }
        long nan = kn.scan().firstBreaking(sim, ScanKernels.Rule.NOT_NAN);
        if (nan >= 0) {
            throw new IllegalArgumentException("sim: row " + nan / nm[1] + " holds NaN (at column " + nan % nm[1] + ") in sim "
                    + Tensor.formatShape(nm) + "; similarities must not be NaN to be ranked");
        }
        return nm;
    }

    /** Mines into indices; a row with fewer than k negatives (the kernel finds it) is an error naming it. */
    private void run(Kernels kn, Tensor sim, Tensor queryLabels, Tensor keyLabels, Tensor mask, Tensor indices) {
        if (k == 0) return;
        MiningOutcome outcome = kn.pair().hardNegatives(sim, queryLabels, keyLabels, mask, indices);
        if (outcome.shortRow() >= 0) {
            throw new IllegalArgumentException("k: " + k + " negatives asked for, but row " + outcome.shortRow() + " of sim "
                    + Tensor.formatShape(sim.shape()) + " has only " + outcome.negatives() + " keys that are not positives");
        }
    }

    private static void labels(Kernels kn, String argument, Tensor t, long size, String meaning, long[] nm) {
        Checks.usable(argument, t, kn);
        Checks.dtype(argument, t, DType.INT32, DType.INT64);
        if (t.rank() != 1 || t.size(0) != size) {
            throw new IllegalArgumentException(argument + ": expected shape " + meaning + " = (" + size + ") for sim "
                    + Tensor.formatShape(nm) + ", got " + Tensor.formatShape(t.shape()));
        }
    }
}
