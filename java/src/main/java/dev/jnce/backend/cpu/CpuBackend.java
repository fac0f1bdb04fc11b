package dev.jnce.backend.cpu;

import dev.jnce.internal.HostScan;
import dev.jnce.backend.BinaryCrossEntropyKernels;
import dev.jnce.backend.CrossEntropyKernels;
import dev.jnce.backend.DivergenceKernels;
import dev.jnce.backend.FocalKernels;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.NllKernels;
import dev.jnce.backend.ContrastiveKernels;
import dev.jnce.backend.PairKernels;
import dev.jnce.backend.ScanKernels;
import dev.jnce.backend.SimilarityKernels;
import dev.jnce.backend.SoftmaxKernels;
import dev.jnce.bindings.JnceNative;
import dev.jnce.internal.NativeLibrary;
import dev.jnce.internal.NativeStatus;
import dev.jnce.spi.ThreadsListener;
import dev.jnce.Backends;

import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;

/** The native CPU backend: jnce's C kernels (AVX2/FMA when the CPU has them) and OpenBLAS. */
public final class CpuBackend implements Kernels, ThreadsListener {
    private final CrossEntropyKernels crossEntropy = new CpuCrossEntropy();

    /**
     * Loads the native library and checks that it defines every function the bindings call;
     * throws {@link UnsatisfiedLinkError} with the reason if it cannot.
     */
    public CpuBackend() {
        try {
            NativeLibrary.load(boundFunctions());
        } catch (UnsatisfiedLinkError | IllegalCallerException e) {
            throw NativeLibrary.diagnosed(e);
        }
        threadsChanged(Backends.threads());
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
        return crossEntropy;
    }

    @Override
    public DivergenceKernels divergence() {
        return CpuDivergence.INSTANCE;
    }

    @Override
    public SimilarityKernels similarity() {
        return CpuSimilarity.INSTANCE;
    }

    @Override
    public ContrastiveKernels contrastive() {
        return CpuContrastive.INSTANCE;
    }

    @Override
    public PairKernels pair() {
        return CpuPair.INSTANCE;
    }

    @Override
    public ScanKernels scan() {
        return HostScan.INSTANCE;
    }

    @Override
    public SoftmaxKernels softmax() {
        return CpuSoftmax.INSTANCE;
    }

    @Override
    public NllKernels nll() {
        return CpuNll.INSTANCE;
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
    public dev.jnce.backend.AttentionKernels attention() {
        return CpuAttention.INSTANCE;
    }

    @Override
    public String toString() {
        return name();
    }

    /** The C functions of libjnce.so that the bindings call: every {@code jnce_*} one but the CUDA library's. */
    private static List<String> boundFunctions() {
        List<String> names = new ArrayList<>();
        for (Method m : JnceNative.class.getMethods()) {
            String n = m.getName();
            if (n.startsWith("jnce_") && !n.startsWith("jnce_cuda_") && n.endsWith("$address")) {
                names.add(n.substring(0, n.length() - "$address".length()));
            }
        }
        names.sort(null);
        return names;
    }

    /** Passes the thread count to jnce's thread pool and to OpenBLAS. */
    @Override
    public void threadsChanged(int threads) {
        NativeStatus.check(JnceNative.jnce_set_num_threads(threads), "set_num_threads");
    }

}
