package dev.jnce.backend;

import dev.jnce.Backend;

/**
 * What every backend implements, one family of ops per interface (one op family, one
 * basename: CrossEntropyKernels / cross_entropy.c / CrossEntropy.java / CrossEntropyTest).
 * Callers (the public op and loss classes) have already checked every argument: shapes,
 * element types, devices, label ranges and that tensors are open. A backend that lacks a
 * family throws {@link UnsupportedOperationException} naming it.
 */
public interface Kernels extends Backend {

    CrossEntropyKernels crossEntropy();

    DivergenceKernels divergence();

    SimilarityKernels similarity();

    SoftmaxKernels softmax();

    NllKernels nll();

    BinaryCrossEntropyKernels binaryCrossEntropy();

    FocalKernels focal();
}
