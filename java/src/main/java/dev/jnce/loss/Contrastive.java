package dev.jnce.loss;

import dev.jnce.DType;
import dev.jnce.Device;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.internal.ScratchTensors;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.ScanKernels;
import dev.jnce.internal.Checks;
import dev.jnce.internal.Outputs;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * What the contrastive losses share: argument checks (inputs, options and callers' output
 * buffers), scratch and output tensors on the call's device, and the optional L2 normalisation of
 * embeddings with its backward. Their logit buffers come from {@link Workspace}. Package-private;
 * every loop over data is a kernel call.
 */
final class Contrastive {
    /** F.normalize's eps. */
    static final float NORM_EPS = 1e-12f;

    /**
     * Logits held at once by the row-block sweeps: 64 MiB. Measured (bench/RESULTS.md) against
     * one whole N×M buffer: as fast at N=8192 (GEMMs of 2048 rows still run at full speed) and 4%
     * faster at N=16384 (the cross-entropy reads its block from cache), with 9× less peak memory.
     */
    static final long BLOCK_BYTES = 64L << 20;

    /**
     * The largest N×N logit matrix the one-tensor forms hold for their symmetric path (half the
     * flops) unless told otherwise: 1 GiB, N = 16384; larger batches sweep row blocks.
     */
    static final long FULL_MATRIX_BYTES = 1L << 30;

    /**
     * Logits held at once by the row-block sweeps on a GPU: 1 GiB. A GPU has tens of GiB and
     * needs large GEMMs to fill its multiprocessors: at N = 32768, 64 MiB would be GEMMs of 512
     * rows.
     */
    static final long GPU_BLOCK_BYTES = 1L << 30;

    private Contrastive() {
    }

    /**
     * Rows per logit block of M columns: chosen when set (> 0), else about BLOCK_BYTES of logits
     * (GPU_BLOCK_BYTES on a GPU), at least 64 rows.
     */
    static long blockRows(long chosen, long m, Kernels k) {
        return chosen > 0 ? chosen : Math.max(64, (onGpu(k) ? GPU_BLOCK_BYTES : BLOCK_BYTES) / (4 * m));
    }

    /** Whether the call runs on a GPU, where the one-tensor forms always sweep row blocks (no symmetric kernel there). */
    static boolean onGpu(Kernels k) {
        return k.device().kind() == Device.Kind.CUDA;
    }

    // ---- checks ------------------------------------------------------------------------------

    /** An (rows, D) float32 embedding matrix with rows >= minRows and finite values; returns D. */
    static long embeddings(String argument, Tensor t, Kernels k, long minRows, String why) {
        Checks.usable(argument, t, k);
        Checks.dtype(argument, t, DType.FLOAT32);
        if (t.rank() != 2 || t.size(1) < 1) {
            throw new IllegalArgumentException(argument + ": expected shape (N, D) with D >= 1, got "
                    + Tensor.formatShape(t.shape()));
        }
        if (t.size(0) < minRows) {
            throw new IllegalArgumentException(argument + ": shape " + Tensor.formatShape(t.shape()) + " has " + t.size(0)
                    + " rows; " + why);
        }
        finite(argument, t, k);
        return t.size(1);
    }

    /**
     * The logits q . k / temperature stay within float32's range: with normalize, |q . k| <= 1 and
     * a normal temperature keeps them finite; without, the bound ||Q||_F ||K||_F / temperature
     * (Frobenius norms; |q_i . k_j| <= ||q_i|| ||k_j|| <= that product, K being every tensor the
     * queries meet, or the queries themselves when others is empty) must not exceed
     * Float.MAX_VALUE. A logit past it would be +-Infinity and the loss NaN, silently; the bound
     * only refuses embeddings of norm near 1e19 or temperatures near float32's smallest normals.
     */
    static void logitsInRange(Kernels k, float temperature, boolean normalize, Tensor q, Tensor... others) {
        if (normalize) return;
        double qq = k.similarity().dot(q, q), kk = 0;
        for (Tensor o : others) kk += k.similarity().dot(o, o);
        double bound = Math.sqrt(qq) * Math.sqrt(others.length == 0 ? qq : kk) / temperature;
        if (!(bound <= Float.MAX_VALUE)) {
            throw new IllegalArgumentException("temperature: " + temperature + " is too small for these embeddings: the logits"
                    + " q . k / temperature can leave float32's range (Frobenius norms ||queries|| ||keys|| / temperature = "
                    + (float) Math.min(bound, Double.MAX_VALUE) + " > " + Float.MAX_VALUE
                    + "); use a larger temperature or withNormalize(true)");
        }
    }

    /** Every value is finite; names the first that is not by its index without the last dimension. */
    static void finite(String argument, Tensor t, Kernels k) {
        long i = k.scan().firstBreaking(t, ScanKernels.Rule.FINITE);
        if (i >= 0) {
            float v = (float) k.scan().valueAt(t, i);
            long row = i / t.size(-1);
            String where = t.rank() == 3 ? "[" + row / t.size(1) + ", " + row % t.size(1) + "]" : ": row " + row;
            throw new IllegalArgumentException(argument + where + " holds " + v + " (shape "
                    + Tensor.formatShape(t.shape()) + "); embeddings must be finite");
        }
    }

    static void sameWidth(String argument, Tensor t, String otherName, long d) {
        if (t.size(-1) != d) {
            throw new IllegalArgumentException(argument + ": shape " + Tensor.formatShape(t.shape())
                    + " has D = " + t.size(-1) + ", but " + otherName + " has D = " + d);
        }
    }

    /**
     * A temperature or a logit scale: finite, > 0 and a normal float32, in [{@link Float#MIN_NORMAL},
     * {@link Float#MAX_VALUE}]. Below that range a temperature's inverse, by which the
     * similarities are multiplied, overflows float32 (1/tau is infinite under about 2.9e-39) or the
     * value is subnormal, with few significant bits, and a subnormal logit scale loses d loss /
     * d scale, which is recovered by dividing by it: NaN or a wrong gradient, never an error, so
     * such values are refused here.
     *
     * @param why what the value does, for the message
     */
    static float normalPositive(String argument, float v, String why) {
        if (!(v >= Float.MIN_NORMAL) || Float.isInfinite(v)) {
            throw new IllegalArgumentException(argument + ": " + v + " must be finite and > 0, and a normal float32: in ["
                    + Float.MIN_NORMAL + ", " + Float.MAX_VALUE + "] (" + why + ")");
        }
        return v;
    }

    static float finiteValue(String argument, float v) {
        if (!Float.isFinite(v)) throw new IllegalArgumentException(argument + ": " + v + " must be finite");
        return v;
    }

    /** A caller's loss buffer: (N) float32 for NONE, else one element. */
    static void lossBuffer(Tensor loss, Kernels k, Reduction reduction, long n) {
        Checks.lossBuffer("loss", loss, k, reduction == Reduction.NONE, n, reduction);
    }

    /**
     * A caller's gradient buffer: open, float32, on the call's device, of {@code like}'s shape,
     * and none of {@code others} (the inputs and the outputs checked before it).
     */
    static void gradBuffer(String argument, Tensor g, Kernels k, String meaning, Tensor like, Tensor... others) {
        Checks.usable(argument, g, k);
        Checks.dtype(argument, g, DType.FLOAT32);
        Checks.shape(argument, g, meaning, like.shape());
        for (Tensor other : others) {
            if (g == other) {
                throw new IllegalArgumentException(argument + ": " + g.describe() + " must be a tensor of its own, not an input "
                        + "or another output of the call (it is written while they are read)");
            }
        }
    }

    // ---- tensors of a call -------------------------------------------------------------------

    /** A loss output on the call's device: (N) for NONE, else shape (). */
    static Tensor newLoss(Kernels k, Reduction reduction, long n) {
        return Outputs.overwritten(k.device(), DType.FLOAT32, reduction == Reduction.NONE ? new long[] {n} : new long[0]);
    }

    /**
     * A float32 output on the call's device, belonging to the caller (and to its open TensorScope),
     * for a kernel that writes all of it: small host ones come unzeroed ({@link Outputs#overwritten}).
     */
    static Tensor output(Kernels k, long... shape) {
        return Outputs.faultedIn(Outputs.overwritten(k.device(), DType.FLOAT32, shape));
    }

    /**
     * A zero-filled buffer the call closes itself, on its device; on the host it belongs to no open
     * TensorScope (scratch must not pile up in a caller's scope over a training loop).
     */
    static Tensor scratch(Kernels k, DType dtype, long... shape) {
        return k.device().equals(Device.HOST) ? ScratchTensors.zeros(dtype, shape) : Tensor.zeros(k.device(), dtype, shape);
    }

    static Tensor scratch(Kernels k, long... shape) {
        return scratch(k, DType.FLOAT32, shape);
    }

    /** A loss-shaped scratch buffer: (N) for NONE, else shape (). */
    static Tensor newLossScratch(Kernels k, Reduction reduction, long n) {
        return reduction == Reduction.NONE ? scratch(k, n) : scratch(k);
    }

    // ---- the normalisation -------------------------------------------------------------------

    /**
     * Host copies at least this large come from {@link Workspace}'s pool of copies, smaller ones
     * from the scratch slabs: 1 MiB, where a fresh copy's page faults begin to weigh (a copy of
     * (8192, 256) took 12 ms fresh against 1.5 ms already touched).
     */
    static final long POOLED_COPY_BYTES = 1L << 20;

    /** The pooled copies handed out by {@link #prepared}, by identity, until {@link #release} gives them back. */
    private static final Map<Tensor, Workspace.Lease> POOLED = Collections.synchronizedMap(new IdentityHashMap<>());

    /**
     * The embeddings as the similarity sees them: an L2-normalised scratch copy, or x itself.
     * Give it back with {@link #release} (large host copies are lent from a pool).
     */
    static Tensor prepared(Kernels k, Tensor x, boolean normalize) {
        if (!normalize) return x;
        boolean host = k.device().equals(Device.HOST);
        if (host && x.numel() * Float.BYTES >= POOLED_COPY_BYTES) {
            Workspace.Lease lease = Workspace.borrowCopy(k, x.shape());
            Tensor y = lease.tensor();
            try {
                k.similarity().normalize(x, NORM_EPS, y); // writes every element of y
            } catch (RuntimeException | Error e) {
                lease.close();
                throw e;
            }
            POOLED.put(y, lease);
            return y;
        }
        // the normalisation writes every element of y
        Tensor y = host ? ScratchTensors.overwritten(DType.FLOAT32, x.shape()) : scratch(k, x.shape());
        try {
            k.similarity().normalize(x, NORM_EPS, y);
            return y;
        } catch (RuntimeException | Error e) {
            throw Outputs.closeAndRethrow(e, y);
        }
    }

    /** Turns d(loss)/d(prepared x) in {@code d} into d(loss)/d(x), in place. */
    static void backThroughNormalize(Kernels k, Tensor x, Tensor d, boolean normalize) {
        if (normalize) k.similarity().normalizeBackward(x, d, NORM_EPS, d);
    }

    /** Gives back or closes a prepared copy (not the caller's tensor). */
    static void release(Tensor prepared, Tensor original) {
        if (prepared == null || prepared == original) return;
        Workspace.Lease lease = POOLED.remove(prepared);
        if (lease != null) lease.close();
        else prepared.close();
    }
}
