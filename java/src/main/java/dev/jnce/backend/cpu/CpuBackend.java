package dev.jnce.backend.cpu;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.BinaryCrossEntropyKernels;
import dev.jnce.backend.CrossEntropyKernels;
import dev.jnce.backend.FocalKernels;
import dev.jnce.backend.Kernels;
import dev.jnce.bindings.JnceNative;
import dev.jnce.internal.NativeLibrary;
import dev.jnce.internal.NativeStatus;
import dev.jnce.internal.Threads;
import dev.jnce.loss.Reduction;

import java.lang.foreign.MemorySegment;

/** The native CPU backend: jnce's C kernels (AVX2/FMA when the CPU has them) and OpenBLAS. */
public final class CpuBackend implements Kernels, CrossEntropyKernels {

    /** Loads the native library; throws {@link UnsatisfiedLinkError} with the reason if it cannot. */
    public CpuBackend() {
        NativeLibrary.load();
        applyThreads();
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public String description() {
        return NativeStatus.string(JnceNative::jnce_build_info) + " (from " + NativeLibrary.loadedFrom() + ")";
    }

    @Override
    public CrossEntropyKernels crossEntropy() {
        return this;
    }

    @Override
    public BinaryCrossEntropyKernels binaryCrossEntropy() {
        return CpuBinaryCrossEntropy.INSTANCE;
    }

    @Override
    public FocalKernels focal() {
        return CpuFocal.INSTANCE;
    }

    @Override
    public String toString() {
        return name();
    }

    /** Passes {@link Threads#get()} to jnce's thread pool and to OpenBLAS. */
    public void applyThreads() {
        NativeStatus.check(JnceNative.jnce_set_num_threads(Threads.get()), "set_num_threads");
    }

    @Override
    public void softmaxCrossEntropy(Tensor logits, Tensor targets, Reduction reduction, Tensor loss, Tensor grad) {
        int status = JnceNative.jnce_softmax_xent_fwd_bwd(logits.segment(), targets.segment(),
                targets.dtype() == DType.INT64 ? JnceNative.JNCE_DTYPE_INT64() : JnceNative.JNCE_DTYPE_INT32(),
                logits.size(0), logits.size(1), reduction(reduction), loss.segment(),
                grad == null ? MemorySegment.NULL : grad.segment());
        NativeStatus.check(status, "softmax_xent_fwd_bwd", "logits", logits, "targets", targets);
    }

    private static int reduction(Reduction r) {
        return switch (r) {
            case NONE -> JnceNative.JNCE_REDUCTION_NONE();
            case MEAN -> JnceNative.JNCE_REDUCTION_MEAN();
            case SUM -> JnceNative.JNCE_REDUCTION_SUM();
        };
    }
}
