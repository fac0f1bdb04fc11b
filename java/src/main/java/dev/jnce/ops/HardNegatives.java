package dev.jnce.ops;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.internal.Checks;
import dev.jnce.internal.Parallel;
import dev.jnce.internal.SimilarityChecks;
import dev.jnce.internal.ValueScan;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

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
 * and a NaN similarity are errors naming the row; labels that mark every key positive leave
 * no negatives. Immutable and thread-safe.
 */
public final class HardNegatives {
    private final long k;
    private final Backend backend;

    private HardNegatives(long k, Backend backend) {
        this.k = k;
        this.backend = backend;
    }

    /** k negatives per query (&ge; 0), on {@link Backends#current()}. */
    public static HardNegatives create(long k) {
        if (k < 0) throw new IllegalArgumentException("k: must be >= 0, got " + k);
        return new HardNegatives(k, null);
    }

    /** The same miner pinned to a backend. */
    public HardNegatives withBackend(Backend backend) {
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        return new HardNegatives(k, backend);
    }

    public long k() {
        return k;
    }

    /** The backend calls run on. */
    public Backend backend() {
        return backend != null ? backend : Backends.current();
    }

    /** Positives on the diagonal: key i is query i's positive (queries past M have none). */
    public Tensor mine(Tensor sim) {
        return run(sim, null, null, null);
    }

    /** Positives by label: queryLabels (N), keyLabels (M), int32 or int64. */
    public Tensor mine(Tensor sim, Tensor queryLabels, Tensor keyLabels) {
        if (queryLabels == null) throw new IllegalArgumentException("queryLabels: must not be null");
        if (keyLabels == null) throw new IllegalArgumentException("keyLabels: must not be null");
        return run(sim, queryLabels, keyLabels, null);
    }

    /** Positives by mask (N,M) int32 or int64, nonzero = positive. */
    public Tensor mineMasked(Tensor sim, Tensor mask) {
        if (mask == null) throw new IllegalArgumentException("mask: must not be null");
        return run(sim, null, null, mask);
    }

    /**
     * Rows of keys (M,D) picked by indices (N,K) int32/int64 in [0,M), as a new (N,K,D)
     * tensor: {@code keys[indices]}. A copy: writing to it does not change keys.
     */
    public static Tensor gather(Tensor keys, Tensor indices) {
        Backend host = Backends.get("java");
        long[] sk = SimilarityChecks.matrix("keys", keys, host, "(M, D)");
        rowIndices(host, indices, "keys", sk);
        long d = sk[1];
        Tensor out = Tensor.zeros(DType.FLOAT32, indices.size(0), indices.size(1), d);
        MemorySegment src = keys.segment(), dst = out.segment();
        MemorySegment idx = indices.segment(); // read in place: toLongArray() fails on an empty tensor
        boolean wide = indices.dtype() == DType.INT64;
        for (long r = 0; r < indices.numel(); r++) {
            long key = wide ? idx.getAtIndex(ValueLayout.JAVA_LONG, r) : idx.getAtIndex(ValueLayout.JAVA_INT, r);
            MemorySegment.copy(src, key * d * 4, dst, r * d * 4, d * 4);
        }
        return out;
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
     */
    public static void gatherBackward(Tensor grad, Tensor indices, Tensor gradKeys) {
        Backend host = Backends.get("java");
        long[] sk = SimilarityChecks.matrix("gradKeys", gradKeys, host, "(M, D)");
        Checks.usable("grad", grad, host);
        Checks.dtype("grad", grad, DType.FLOAT32);
        rowIndices(host, indices, "gradKeys", sk);
        Checks.shape("grad", grad, "(N, K) of indices and D of gradKeys", indices.size(0), indices.size(1), sk[1]);
        long d = sk[1];
        MemorySegment g = grad.segment(), dst = gradKeys.segment(), idx = indices.segment();
        boolean wide = indices.dtype() == DType.INT64;
        for (long r = 0; r < indices.numel(); r++) {
            long key = wide ? idx.getAtIndex(ValueLayout.JAVA_LONG, r) : idx.getAtIndex(ValueLayout.JAVA_INT, r);
            for (long j = 0; j < d; j++) {
                long at = key * d + j;
                dst.setAtIndex(ValueLayout.JAVA_FLOAT, at,
                        dst.getAtIndex(ValueLayout.JAVA_FLOAT, at) + g.getAtIndex(ValueLayout.JAVA_FLOAT, r * d + j));
            }
        }
    }

    /** indices: usable int32/int64 (N,K) rows of a matrix (M,D) called name. */
    private static void rowIndices(Backend host, Tensor indices, String name, long[] md) {
        Checks.usable("indices", indices, host);
        Checks.dtype("indices", indices, DType.INT32, DType.INT64);
        if (indices.rank() != 2) {
            throw new IllegalArgumentException("indices: expected shape (N, K), got " + Tensor.formatShape(indices.shape()));
        }
        Checks.classIndices("indices", indices, md[0], "for " + name + " of shape " + Tensor.formatShape(md));
    }

    private Tensor run(Tensor sim, Tensor queryLabels, Tensor keyLabels, Tensor mask) {
        Kernels kn = (Kernels) backend();
        long[] nm = SimilarityChecks.matrix("sim", sim, kn, "(N, M)");
        if (queryLabels != null) {
            labels(kn, "queryLabels", queryLabels, nm[0], "(N)", nm);
            labels(kn, "keyLabels", keyLabels, nm[1], "(M)", nm);
        }
        if (mask != null) {
            Checks.usable("mask", mask, kn);
            Checks.dtype("mask", mask, DType.INT32, DType.INT64);
            Checks.shape("mask", mask, "(N, M) of sim", nm);
        }
        checkRows(sim, queryLabels, keyLabels, mask);
        Tensor indices = Tensor.zeros(DType.INT64, nm[0], k);
        if (k > 0) kn.pair().hardNegatives(sim, queryLabels, keyLabels, mask, indices);
        return indices;
    }

    private static void labels(Kernels kn, String argument, Tensor t, long size, String meaning, long[] nm) {
        Checks.usable(argument, t, kn);
        Checks.dtype(argument, t, DType.INT32, DType.INT64);
        if (t.rank() != 1 || t.size(0) != size) {
            throw new IllegalArgumentException(argument + ": expected shape " + meaning + " = (" + size + ") for sim "
                    + Tensor.formatShape(nm) + ", got " + Tensor.formatShape(t.shape()));
        }
    }

    /** No NaN in sim, and every row has at least k negatives; names the first row that fails. */
    private void checkRows(Tensor sim, Tensor queryLabels, Tensor keyLabels, Tensor mask) {
        long n = sim.size(0), m = sim.size(1);
        long nan = ValueScan.firstBreaking(sim.segment(), n * m, ValueScan.Rule.NOT_NAN);
        if (nan >= 0) {
            throw new IllegalArgumentException("sim: row " + nan / m + " holds NaN (at column " + nan % m + ") in sim "
                    + Tensor.formatShape(n, m) + "; similarities must not be NaN to be ranked");
        }
        // the first row with fewer than k negatives (keys that are not its positives), and how many it has
        long[] shortRow = {-1, 0};
        if (queryLabels != null) {
            Map<Long, Long> keysWithLabel = new HashMap<>();
            for (long label : keyLabels.toLongArray()) keysWithLabel.merge(label, 1L, Long::sum);
            long[] ql = queryLabels.toLongArray();
            for (int i = 0; i < n && shortRow[0] < 0; i++) {
                long negatives = m - keysWithLabel.getOrDefault(ql[i], 0L);
                if (negatives < k) shortRow = new long[] {i, negatives};
            }
        } else if (mask != null) {
            shortRow = firstShortMaskRow(mask, n, m);
        } else {
            for (long i = 0; i < n && shortRow[0] < 0; i++) { // key i is row i's positive
                long negatives = m - (i < m ? 1 : 0);
                if (negatives < k) shortRow = new long[] {i, negatives};
            }
        }
        if (shortRow[0] >= 0) {
            throw new IllegalArgumentException("k: " + k + " negatives asked for, but row " + shortRow[0] + " of sim "
                    + Tensor.formatShape(n, m) + " has only " + shortRow[1] + " keys that are not positives");
        }
    }

    /** {row, negatives} of the first row of an (N,M) mask with fewer than k zeros, or {-1, 0}; rows in parallel. */
    private long[] firstShortMaskRow(Tensor mask, long n, long m) {
        MemorySegment ms = mask.segment();
        boolean wide = mask.dtype() == DType.INT64;
        AtomicLong first = new AtomicLong(Long.MAX_VALUE);
        long[] negativesOf = new long[(int) n];
        Parallel.forRange(n, 16, (begin, end) -> {
            for (long i = begin; i < end; i++) {
                long negatives = 0;
                for (long j = 0; j < m; j++) {
                    long v = wide ? ms.getAtIndex(ValueLayout.JAVA_LONG, i * m + j) : ms.getAtIndex(ValueLayout.JAVA_INT, i * m + j);
                    negatives += v == 0 ? 1 : 0;
                }
                negativesOf[(int) i] = negatives;
                if (negatives < k) {
                    first.accumulateAndGet(i, Math::min);
                    return;
                }
            }
        });
        long row = first.get();
        return row == Long.MAX_VALUE ? new long[] {-1, 0} : new long[] {row, negativesOf[(int) row]};
    }
}
