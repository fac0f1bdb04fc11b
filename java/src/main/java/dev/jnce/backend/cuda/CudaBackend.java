package dev.jnce.backend.cuda;

import dev.jnce.bindings.JnceNative;
import dev.jnce.internal.NativeStatus;
import dev.jnce.spi.DeviceMemory;
import dev.jnce.Device;
import dev.jnce.Tensor;
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

import java.util.Locale;

/**
 * The CUDA backend: jnce's CUDA kernels (libjnce_cuda.so) and cuBLAS on one GPU, computing on
 * tensors in that GPU's memory ({@link Device#cuda(int)}). Loads only when the CUDA library
 * loads and a GPU is visible; the constructor throws with CUDA's reason otherwise.
 *
 * <p>Runs as GPU kernels: the fused softmax cross-entropy (every option), GEMM (cuBLAS; float32
 * by default, TF32 or BF16 products with the system property {@code jnce.cuda.gemm} = {@code
 * fp32|tf32|bf16}), L2 normalisation forward and backward, the level-1 operations (dot, scale,
 * axpy, copy, fill), the InfoNCE masking step ({@link #scaleFillDiagonal}) and the O(N) steps of
 * the InfoNCE row-block sweep, so that InfoNCE's two-tensor forms with one positive per row
 * (and the one-tensor ones in row blocks) run here. The other families throw
 * {@link UnsupportedOperationException}.
 * Calls queue work on the device's stream and return without waiting; reading a result on the
 * host waits.
 */
public final class CudaBackend implements Kernels, DeviceMemory.Source {
    public static final String GEMM_PROPERTY = "jnce.cuda.gemm";

    private final CudaContext context;
    private final CudaCrossEntropy crossEntropy;
    private final CudaSimilarity similarity;
    private final CudaScan scan;
    private final CudaBinaryLosses binary;
    private final CudaSoftmax softmax;
    private final CudaNll nll;
    private final CudaDivergence divergence;
    private final CudaPair pair;
    private final CudaContrastive contrastive;

    /** The backend on GPU 0, GEMM mode from {@value #GEMM_PROPERTY}. */
    public CudaBackend() {
        this(0, GemmMode.valueOf(System.getProperty(GEMM_PROPERTY, "fp32").trim().toUpperCase(Locale.ROOT)));
    }

    /** The backend on GPU {@code device}, GEMM mode from {@value #GEMM_PROPERTY} (found by name from {@code Backends}). */
    public static CudaBackend forDevice(int device) {
        return new CudaBackend(device, GemmMode.valueOf(System.getProperty(GEMM_PROPERTY, "fp32").trim().toUpperCase(Locale.ROOT)));
    }

    @Override
    public DeviceMemory memory() {
        return context;
    }

    /** The backend on GPU {@code device} with GEMMs in {@code gemmMode}. */
    public CudaBackend(int device, GemmMode gemmMode) {
        this.context = CudaContext.of(device);
        this.crossEntropy = new CudaCrossEntropy(context);
        this.similarity = new CudaSimilarity(context, gemmMode);
        this.scan = new CudaScan(similarity);
        this.binary = new CudaBinaryLosses(context);
        this.softmax = new CudaSoftmax(context);
        this.nll = new CudaNll(context);
        this.divergence = new CudaDivergence(context);
        this.pair = new CudaPair(context);
        this.contrastive = new CudaContrastive(context);
    }

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public String description() {
        return context.deviceName() + ", " + CudaContext.buildInfo() + ", GEMM " + similarity.mode() + ", "
                + NativeStatus.string(JnceNative::jnce_cuda_cublas_info) + " (from " + CudaLibrary.loadedFrom() + ")";
    }

    @Override
    public Device device() {
        return Device.cuda(context.device());
    }

    /** The device's context (its stream). */
    public CudaContext context() {
        return context;
    }

    @Override
    public CrossEntropyKernels crossEntropy() {
        return crossEntropy;
    }

    @Override
    public SimilarityKernels similarity() {
        return similarity;
    }

    @Override
    public ContrastiveKernels contrastive() {
        return contrastive;
    }

    @Override
    public PairKernels pair() {
        return pair;
    }

    @Override
    public ScanKernels scan() {
        return scan;
    }

    /**
     * The InfoNCE masking step in place on (N,M) s: {@code s *= scale}, then
     * {@code s[i, i + offset] = value} where that column exists (value -inf masks a query's own key).
     */
    public void scaleFillDiagonal(Tensor s, float scale, long offset, float value) {
        contrastive.scaleFillDiagonal(s, scale, offset, value);
    }

    @Override
    public DivergenceKernels divergence() {
        return divergence;
    }

    @Override
    public SoftmaxKernels softmax() {
        return softmax;
    }

    @Override
    public NllKernels nll() {
        return nll;
    }

    @Override
    public BinaryCrossEntropyKernels binaryCrossEntropy() {
        return binary;
    }

    @Override
    public FocalKernels focal() {
        return binary;
    }

    static UnsupportedOperationException notYet(String family) {
        return new UnsupportedOperationException(family + " is not on cuda yet; use the cpu or java backend");
    }

    @Override
    public String toString() {
        return name();
    }
}
