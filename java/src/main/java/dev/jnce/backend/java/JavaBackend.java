package dev.jnce.backend.java;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.BinaryCrossEntropyKernels;
import dev.jnce.backend.CrossEntropyKernels;
import dev.jnce.backend.FocalKernels;
import dev.jnce.backend.Kernels;
import dev.jnce.internal.Threads;
import dev.jnce.loss.Reduction;

/**
 * The pure-Java backend: always available. Uses the Vector API when the JVM has the
 * {@code jdk.incubator.vector} module (started with {@code --add-modules jdk.incubator.vector})
 * and scalar code otherwise; system property {@code jnce.java.vector=false} turns vectors off.
 */
public final class JavaBackend implements Kernels, CrossEntropyKernels {
    public static final String VECTOR_PROPERTY = "jnce.java.vector";
    private final SoftmaxXent.RowKernel rows;
    private final String simd;

    /** Vector API if present and not turned off. */
    public JavaBackend() {
        this(!"false".equalsIgnoreCase(System.getProperty(VECTOR_PROPERTY)));
    }

    /** @param allowVector false forces the scalar code */
    public JavaBackend(boolean allowVector) {
        SoftmaxXent.RowKernel vector = allowVector ? VectorSupport.softmaxXentRows() : null;
        this.rows = vector != null ? vector : SoftmaxXent.SCALAR;
        this.simd = vector != null ? VectorSupport.describe() : "scalar" + VectorSupport.whyNot(allowVector);
    }

    @Override
    public String name() {
        return "java";
    }

    @Override
    public String description() {
        return "pure Java, " + simd + ", " + Threads.get() + " threads";
    }

    @Override
    public CrossEntropyKernels crossEntropy() {
        return this;
    }

    @Override
    public BinaryCrossEntropyKernels binaryCrossEntropy() {
        return JavaBinaryCrossEntropy.INSTANCE;
    }

    @Override
    public FocalKernels focal() {
        return JavaFocal.INSTANCE;
    }

    /** {@code java(vector)} or {@code java(scalar)}: which path runs, for test reports. */
    @Override
    public String toString() {
        return name() + (usesVectorApi() ? "(vector)" : "(scalar)");
    }

    /** Whether the Vector API path is in use. */
    public boolean usesVectorApi() {
        return rows != SoftmaxXent.SCALAR;
    }

    @Override
    public void softmaxCrossEntropy(Tensor logits, Tensor targets, Reduction reduction, Tensor loss, Tensor grad) {
        SoftmaxXent.run(rows, logits.segment(), targets.segment(), targets.dtype() == DType.INT64,
                logits.size(0), logits.size(1), reduction, loss.segment(), grad == null ? null : grad.segment());
    }
}
