package dev.jnce.internal;

import dev.jnce.DType;
import dev.jnce.backend.CrossEntropyCall;
import dev.jnce.bindings.JnceNative;
import dev.jnce.bindings.jnce_xent_args;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Fills jnce.h's {@code jnce_xent_args} from a checked call, for the CPU and CUDA kernels alike
 * (for CUDA every tensor's segment holds a device address). The struct is reused per thread.
 */
public final class XentArgs {
    private static final ThreadLocal<MemorySegment> ARGS =
            ThreadLocal.withInitial(() -> jnce_xent_args.allocate(Arena.ofAuto()));

    private XentArgs() {
    }

    /** The calling thread's struct, filled from {@code c}; valid until this thread's next call. */
    public static MemorySegment of(CrossEntropyCall c) {
        MemorySegment a = ARGS.get();
        jnce_xent_args.N(a, c.n());
        jnce_xent_args.C(a, c.c());
        jnce_xent_args.logits(a, c.logits().segment());
        jnce_xent_args.targets(a, NativeCodes.segmentOrNull(c.targets()));
        jnce_xent_args.target_dtype(a, c.targets() != null && c.targets().dtype() == DType.INT32
                ? JnceNative.JNCE_DTYPE_INT32() : JnceNative.JNCE_DTYPE_INT64());
        jnce_xent_args.probs(a, NativeCodes.segmentOrNull(c.probs()));
        jnce_xent_args.row_mask(a, NativeCodes.segmentOrNull(c.rowMask()));
        jnce_xent_args.weight(a, NativeCodes.segmentOrNull(c.weight()));
        jnce_xent_args.ignore_index(a, c.ignoreIndex());
        jnce_xent_args.label_smoothing(a, c.labelSmoothing());
        jnce_xent_args.z_loss(a, c.zLoss());
        jnce_xent_args.reduction(a, NativeCodes.reduction(c.reduction()));
        jnce_xent_args.zero_if_empty(a, c.zeroIfEmpty() ? 1 : 0);
        jnce_xent_args.loss(a, c.loss().segment());
        jnce_xent_args.grad(a, NativeCodes.segmentOrNull(c.grad()));
        jnce_xent_args.lse(a, NativeCodes.segmentOrNull(c.lse()));
        return a;
    }
}
