package dev.jnce.backend.java;

import dev.jnce.internal.HostScan;
import dev.jnce.backend.BinaryCrossEntropyKernels;
import dev.jnce.backend.CrossEntropyKernels;
import dev.jnce.backend.DivergenceKernels;
import dev.jnce.backend.FocalKernels;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.ContrastiveKernels;
import dev.jnce.backend.PairKernels;
import dev.jnce.backend.ScanKernels;
import dev.jnce.backend.SimilarityKernels;
import dev.jnce.backend.NllKernels;
import dev.jnce.backend.SoftmaxKernels;
import dev.jnce.Backends;

/**
 * The pure-Java backend: always available. Uses the Vector API when the JVM has the
 * {@code jdk.incubator.vector} module (started with {@code --add-modules jdk.incubator.vector})
 * and scalar code otherwise; system property {@code jnce.java.vector=false} turns vectors off.
 */
public final class JavaBackend implements Kernels {
    public static final String VECTOR_PROPERTY = "jnce.java.vector";
    private final RowOps rows;
    private final String simd;
    private final CrossEntropyKernels crossEntropy;
    private final BinaryCrossEntropyKernels binaryCrossEntropy;
    private final FocalKernels focal;
    private final DivergenceKernels divergence;
    private final SoftmaxKernels softmax;

    /** Vector API if present and not turned off. */
    public JavaBackend() {
        this(!"false".equalsIgnoreCase(System.getProperty(VECTOR_PROPERTY)));
    }

    /** @param allowVector false forces the scalar code */
    public JavaBackend(boolean allowVector) {
        RowOps vector = allowVector ? VectorSupport.rowOps() : null;
        this.rows = vector != null ? vector : RowOps.SCALAR;
        this.simd = vector != null ? VectorSupport.describe() : "scalar" + VectorSupport.whyNot(allowVector);
        this.crossEntropy = new JavaCrossEntropy(rows);
        this.binaryCrossEntropy = new JavaBinaryCrossEntropy(rows);
        this.focal = new JavaFocal(rows);
        this.divergence = new JavaDivergence(rows);
        this.softmax = new JavaSoftmax(rows);
    }

    @Override
    public String name() {
        return "java";
    }

    @Override
    public String description() {
        return "pure Java, " + simd + ", " + Backends.threads() + " threads";
    }

    @Override
    public CrossEntropyKernels crossEntropy() {
        return crossEntropy;
    }

    @Override
    public DivergenceKernels divergence() {
        return divergence;
    }

    @Override
    public SimilarityKernels similarity() {
        return JavaSimilarity.of(usesVectorApi());
    }

    @Override
    public ContrastiveKernels contrastive() {
        return JavaContrastive.of(usesVectorApi());
    }

    @Override
    public PairKernels pair() {
        return JavaPair.of(usesVectorApi());
    }

    @Override
    public ScanKernels scan() {
        return HostScan.INSTANCE;
    }

    @Override
    public SoftmaxKernels softmax() {
        return softmax;
    }

    @Override
    public NllKernels nll() {
        return JavaNll.INSTANCE;
    }

    @Override
    public BinaryCrossEntropyKernels binaryCrossEntropy() {
        return binaryCrossEntropy;
    }

    @Override
    public FocalKernels focal() {
        return focal;
    }

    @Override
    public dev.jnce.backend.AttentionKernels attention() {
        return JavaAttention.INSTANCE;
    }

    /** {@code java(vector)} or {@code java(scalar)}: which path runs, for test reports. */
    @Override
    public String toString() {
        return name() + (usesVectorApi() ? "(vector)" : "(scalar)");
    }

    /** Whether the Vector API path is in use. */
    public boolean usesVectorApi() {
        return rows != RowOps.SCALAR;
    }
}
