package dev.jnce.ops;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.ScanKernels;
import dev.jnce.internal.Checks;
import dev.jnce.internal.Outputs;

/**
 * Scaled dot-product attention, {@code F.scaled_dot_product_attention(q, k, v, attn_mask,
 * is_causal=..., scale=...)} without dropout: {@code out = softmax(q kᵀ · scale + mask) v} for
 * every batch and head, and its backward (the gradients of q, k and v), computed in tiles with an
 * online softmax (FlashAttention-2, Dao 2023) so that no (L, S) score matrix exists: memory is
 * O(L·d) a batch-head, and the backward recomputes the scores from the forward's per-row
 * log-sum-exp, which {@link Result} carries.
 *
 * <p>Shapes: query (B, H, L, d), key (B, H, S, d), value (B, H, S, dv), all float32 (a rank-3
 * (B, L, d) tensor is one head); output (B, H, L, dv), log-sum-exp (B, H, L). The scale defaults
 * to 1/√d. Masks: {@link #withCausal} lets query i see keys j &le; i (PyTorch's
 * {@code is_causal}, the top-left aligned lower triangle); a key mask (B, S) int32, 1 where key j
 * of batch b takes part and 0 where it is padding (the {@code attention_mask} of Hugging Face
 * models; PyTorch's boolean {@code attn_mask} with True for "takes part", broadcast over heads
 * and queries); an attention mask (L, S) float32 added to the scaled scores of every batch and
 * head (PyTorch's float {@code attn_mask}; -Infinity hides a key; no gradient is computed for
 * it). Values of query, key and value must be finite; of the attention mask, finite or -Infinity.
 *
 * <p>A query row whose keys are all masked: PyTorch's softmax gives NaN there, and autograd then
 * gives NaN in that row's query gradient and in all the key and value gradients of its batch and
 * head; jnce does the same by default, and with {@link #withZeroForMaskedRows} gives the row an
 * output of 0 and no gradient instead.
 *
 * <p>Immutable and thread-safe. On {@code cpu} the kernels are native (native/src/cpu/attention.c);
 * on {@code java}, plain Java one query row at a time; not yet on {@code cuda}.
 */
public final class ScaledDotProductAttention {
    private final float scale; // NaN: 1/sqrt(d)
    private final boolean causal;
    private final boolean zeroForMaskedRows;
    private final Backend backend;

    private ScaledDotProductAttention(float scale, boolean causal, boolean zeroForMaskedRows, Backend backend) {
        this.scale = scale;
        this.causal = causal;
        this.zeroForMaskedRows = zeroForMaskedRows;
        this.backend = backend;
    }

    /**
     * Scale 1/√d, no causal mask, NaN for rows without keys (as PyTorch), not pinned.
     *
     * @return the op with PyTorch's defaults
     */
    public static ScaledDotProductAttention create() {
        return new ScaledDotProductAttention(Float.NaN, false, false, null);
    }

    /**
     * The multiplier of q kᵀ instead of 1/√d.
     *
     * @param scale a finite scale &gt; 0
     * @return a copy with this scale; this instance is unchanged
     * @throws IllegalArgumentException if scale is not finite or not &gt; 0
     */
    public ScaledDotProductAttention withScale(float scale) {
        if (!(scale > 0) || Float.isInfinite(scale)) {
            throw new IllegalArgumentException("scale: " + scale + " must be finite and > 0");
        }
        return new ScaledDotProductAttention(scale, causal, zeroForMaskedRows, backend);
    }

    /**
     * Whether query i sees only keys j &le; i (PyTorch's {@code is_causal}).
     *
     * @param causal true for the causal mask
     * @return a copy with this setting; this instance is unchanged
     */
    public ScaledDotProductAttention withCausal(boolean causal) {
        return new ScaledDotProductAttention(scale, causal, zeroForMaskedRows, backend);
    }

    /**
     * Whether a query row whose keys are all masked gets output 0 and no gradient (true) instead of
     * PyTorch's NaN (false, the default).
     *
     * @param zero true for 0 and no gradient
     * @return a copy with this setting; this instance is unchanged
     */
    public ScaledDotProductAttention withZeroForMaskedRows(boolean zero) {
        return new ScaledDotProductAttention(scale, causal, zero, backend);
    }

    /**
     * The same op pinned to a backend.
     *
     * @param backend the backend every call runs on; not null
     * @return a copy pinned to backend; this instance is unchanged
     * @throws IllegalArgumentException if backend is null
     */
    public ScaledDotProductAttention withBackend(Backend backend) {
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        return new ScaledDotProductAttention(scale, causal, zeroForMaskedRows, backend);
    }

    /**
     * The backend this op is pinned to, else {@link Backends#current()}.
     *
     * @return the backend calls run on when the tensors are on the host
     */
    public Backend backend() {
        return Backends.orCurrent(backend);
    }

    /**
     * The forward's output and the per-row log-sum-exp of the scores the backward needs.
     *
     * @param output    (B, H, L, dv) float32
     * @param logSumExp (B, H, L) float32; -Infinity for a row whose keys are all masked
     */
    public record Result(Tensor output, Tensor logSumExp) implements AutoCloseable {
        /** Closes both tensors. */
        @Override
        public void close() {
            output.close();
            logSumExp.close();
        }
    }

    /**
     * The gradients of the three inputs.
     *
     * @param gradQuery (B, H, L, d) float32
     * @param gradKey   (B, H, S, d) float32
     * @param gradValue (B, H, S, dv) float32
     */
    public record Gradients(Tensor gradQuery, Tensor gradKey, Tensor gradValue) implements AutoCloseable {
        /** Closes the three tensors. */
        @Override
        public void close() {
            gradQuery.close();
            gradKey.close();
            gradValue.close();
        }
    }

    /**
     * softmax(q kᵀ · scale) v without a key mask.
     *
     * @param query (B, H, L, d) float32, finite
     * @param key   (B, H, S, d) float32, finite
     * @param value (B, H, S, dv) float32, finite
     * @return the output and the log-sum-exp, new tensors on the call's device; close them
     * @throws IllegalArgumentException if a shape, dtype or device is wrong or a value is not finite (named)
     * @throws IllegalStateException if a tensor is closed or its memory freed
     */
    public Result forward(Tensor query, Tensor key, Tensor value) {
        return forward(query, key, value, null);
    }

    /**
     * softmax(q kᵀ · scale + mask) v with a key mask.
     *
     * @param query   (B, H, L, d) float32, finite
     * @param key     (B, H, S, d) float32, finite
     * @param value   (B, H, S, dv) float32, finite
     * @param keyMask (B, S) int32, 1 where a key takes part and 0 where it is padding; or null
     * @return the output and the log-sum-exp, new tensors on the call's device; close them
     * @throws IllegalArgumentException if a shape, dtype or device is wrong or a value is not finite (named)
     * @throws IllegalStateException if a tensor is closed or its memory freed
     */
    public Result forward(Tensor query, Tensor key, Tensor value, Tensor keyMask) {
        return forward(query, key, value, keyMask, null);
    }

    /**
     * softmax(q kᵀ · scale + attnMask + key mask) v: PyTorch's float {@code attn_mask}, shared by
     * every batch and head, with an optional key mask on top.
     *
     * @param query    (B, H, L, d) float32, finite
     * @param key      (B, H, S, d) float32, finite
     * @param value    (B, H, S, dv) float32, finite
     * @param keyMask  (B, S) int32, 1 where a key takes part and 0 where it is padding; or null
     * @param attnMask (L, S) float32 added to the scaled scores, finite or -Infinity (hides the key);
     *                 or null
     * @return the output and the log-sum-exp, new tensors on the call's device; close them
     * @throws IllegalArgumentException if a shape, dtype or device is wrong, or a value is not finite
     *                                  (attnMask: NaN or +Infinity) (named)
     * @throws IllegalStateException if a tensor is closed or its memory freed
     */
    public Result forward(Tensor query, Tensor key, Tensor value, Tensor keyMask, Tensor attnMask) {
        Kernels k = Kernels.forCall(backend, "query", query, "key", key, "value", value, "keyMask", keyMask,
                "attnMask", attnMask);
        Dims n = dims(k, query, key, value, keyMask, attnMask);
        Tensor out = null, lse = null;
        try {
            out = Tensor.zeros(k.device(), DType.FLOAT32, n.shape(n.l, n.dv));
            lse = Tensor.zeros(k.device(), DType.FLOAT32, n.rowsShape());
            k.attention().forward(n.flat(query, n.l, n.d), n.flat(key, n.s, n.d), n.flat(value, n.s, n.dv), keyMask, attnMask, n.h,
                    scaleFor(n.d), causal, zeroForMaskedRows, n.flat(out, n.l, n.dv), lse.reshape(n.bh(), n.l));
            return new Result(out, lse);
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, out, lse);
        }
    }

    /**
     * The gradients of query, key and value given the upstream gradient of the output.
     *
     * @param query      the forward's query
     * @param key        the forward's key
     * @param value      the forward's value
     * @param keyMask    the forward's key mask, or null
     * @param forward    what {@link #forward} returned for these inputs (output and log-sum-exp)
     * @param gradOutput (B, H, L, dv) float32, finite: d loss / d output
     * @return the three gradients, new tensors on the call's device; close them
     * @throws IllegalArgumentException if a shape, dtype or device is wrong or a value is not finite (named)
     * @throws IllegalStateException if a tensor is closed or its memory freed
     */
    public Gradients backward(Tensor query, Tensor key, Tensor value, Tensor keyMask, Result forward, Tensor gradOutput) {
        return backward(query, key, value, keyMask, null, forward, gradOutput);
    }

    /**
     * The gradients of query, key and value of {@link #forward(Tensor, Tensor, Tensor, Tensor, Tensor)}
     * (none for the attention mask).
     *
     * @param query      the forward's query
     * @param key        the forward's key
     * @param value      the forward's value
     * @param keyMask    the forward's key mask, or null
     * @param attnMask   the forward's attention mask, or null
     * @param forward    what {@link #forward} returned for these inputs (output and log-sum-exp)
     * @param gradOutput (B, H, L, dv) float32, finite: d loss / d output
     * @return the three gradients, new tensors on the call's device; close them
     * @throws IllegalArgumentException if a shape, dtype or device is wrong or a value is not finite (named)
     * @throws IllegalStateException if a tensor is closed or its memory freed
     */
    public Gradients backward(Tensor query, Tensor key, Tensor value, Tensor keyMask, Tensor attnMask, Result forward,
                              Tensor gradOutput) {
        Checks.nonNull("forward", forward);
        Kernels k = Kernels.forCall(backend, "query", query, "key", key, "value", value, "keyMask", keyMask, "attnMask",
                attnMask, "output", forward.output(), "logSumExp", forward.logSumExp(), "gradOutput", gradOutput);
        Dims n = dims(k, query, key, value, keyMask, attnMask);
        Checks.output("output", forward.output(), k, "(B, H, L, dv)", n.shape(n.l, n.dv));
        Checks.output("logSumExp", forward.logSumExp(), k, "(B, H, L)", n.rowsShape());
        Checks.output("gradOutput", gradOutput, k, "(B, H, L, dv) of the output", n.shape(n.l, n.dv));
        Checks.finite(k, "gradOutput", gradOutput);
        Tensor dq = null, dk = null, dv = null;
        try {
            dq = Tensor.zeros(k.device(), DType.FLOAT32, query.shape());
            dk = Tensor.zeros(k.device(), DType.FLOAT32, key.shape());
            dv = Tensor.zeros(k.device(), DType.FLOAT32, value.shape());
            k.attention().backward(n.flat(query, n.l, n.d), n.flat(key, n.s, n.d), n.flat(value, n.s, n.dv), keyMask, attnMask, n.h,
                    scaleFor(n.d), causal, zeroForMaskedRows, n.flat(forward.output(), n.l, n.dv),
                    forward.logSumExp().reshape(n.bh(), n.l), n.flat(gradOutput, n.l, n.dv), n.flat(dq, n.l, n.d),
                    n.flat(dk, n.s, n.d), n.flat(dv, n.s, n.dv));
            return new Gradients(dq, dk, dv);
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, dq, dk, dv);
        }
    }

    private float scaleFor(long d) {
        return Float.isNaN(scale) ? (float) (1.0 / Math.sqrt(d)) : scale;
    }

    /** B, H, L, S, d, dv of a call, and the rank it came in (3: one head). */
    private record Dims(long b, long h, long l, long s, long d, long dv, int rank) {
        long bh() {
            return b * h;
        }

        long[] shape(long rows, long cols) {
            return rank == 3 ? new long[] {b, rows, cols} : new long[] {b, h, rows, cols};
        }

        long[] rowsShape() {
            return rank == 3 ? new long[] {b, l} : new long[] {b, h, l};
        }

        /** The tensor as (B·H, rows, cols). */
        Tensor flat(Tensor t, long rows, long cols) {
            return t.reshape(b * h, rows, cols);
        }
    }

    private static Dims dims(Kernels k, Tensor query, Tensor key, Tensor value, Tensor keyMask, Tensor attnMask) {
        for (Object[] a : new Object[][] {{"query", query}, {"key", key}, {"value", value}}) {
            Tensor t = (Tensor) a[1];
            Checks.usable((String) a[0], t, k);
            Checks.dtype((String) a[0], t, DType.FLOAT32);
        }
        int rank = query.rank();
        if (rank != 3 && rank != 4) {
            throw new IllegalArgumentException("query: expected shape (B, H, L, d) or (B, L, d), got " + Tensor.formatShape(query.shape()));
        }
        long b = query.size(0), h = rank == 4 ? query.size(1) : 1, l = query.size(rank - 2), d = query.size(rank - 1);
        if (key.rank() != rank || key.size(0) != b || (rank == 4 && key.size(1) != h) || key.size(rank - 1) != d) {
            throw new IllegalArgumentException("key: expected shape " + (rank == 4 ? "(B, H, S, d) = (" + b + ", " + h + ", S, " + d + ")"
                    : "(B, S, d) = (" + b + ", S, " + d + ")") + " to match query " + Tensor.formatShape(query.shape()) + ", got "
                    + Tensor.formatShape(key.shape()));
        }
        long s = key.size(rank - 2);
        if (value.rank() != rank || value.size(0) != b || (rank == 4 && value.size(1) != h) || value.size(rank - 2) != s) {
            throw new IllegalArgumentException("value: expected shape " + (rank == 4 ? "(B, H, S, dv) = (" + b + ", " + h + ", " + s + ", dv)"
                    : "(B, S, dv) = (" + b + ", " + s + ", dv)") + " to match key " + Tensor.formatShape(key.shape()) + ", got "
                    + Tensor.formatShape(value.shape()));
        }
        long dv = value.size(rank - 1);
        if (b < 1 || h < 1 || l < 1 || s < 1 || d < 1 || dv < 1) {
            throw new IllegalArgumentException("query, key, value: every size must be >= 1 (no queries, keys or features to attend "
                    + "with), got query " + Tensor.formatShape(query.shape()) + ", key " + Tensor.formatShape(key.shape())
                    + ", value " + Tensor.formatShape(value.shape()));
        }
        if (Math.max(Math.max(l, s), Math.max(d, dv)) > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("query, key, value: L, S, d and dv must each be below 2^31");
        }
        if (keyMask != null) {
            Checks.usable("keyMask", keyMask, k);
            Checks.dtype("keyMask", keyMask, DType.INT32);
            Checks.shape("keyMask", keyMask, "(B, S) of key", b, s);
        }
        if (attnMask != null) {
            Checks.usable("attnMask", attnMask, k);
            Checks.dtype("attnMask", attnMask, DType.FLOAT32);
            Checks.shape("attnMask", attnMask, "(L, S) of query and key", l, s);
            long i = k.scan().firstBreaking(attnMask, ScanKernels.Rule.BELOW_POSITIVE_INFINITY);
            if (i >= 0) {
                throw new IllegalArgumentException("attnMask[" + i + "] = " + (float) k.scan().valueAt(attnMask, i)
                        + " must be finite or -Infinity (flat index into " + Tensor.formatShape(attnMask.shape()) + ")");
            }
        }
        Checks.finite(k, "query", query);
        Checks.finite(k, "key", key);
        Checks.finite(k, "value", value);
        return new Dims(b, h, l, s, d, dv, rank);
    }
}
