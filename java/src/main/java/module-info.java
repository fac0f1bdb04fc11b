/**
 * jnce: contrastive (InfoNCE family) and cross-entropy losses with gradients, on native BLAS
 * and CUDA through the Foreign Function &amp; Memory API.
 *
 * <p>The API is {@link dev.jnce.Tensor}, {@link dev.jnce.Backends} and the loss classes in
 * {@code dev.jnce.loss}, with evaluation metrics in {@code dev.jnce.metrics}. Backend
 * implementations, the native loader and the generated bindings are internal. The Vector API is optional: the pure-Java backend uses it when the JVM was
 * started with {@code --add-modules jdk.incubator.vector}, scalar code otherwise.
 */
module dev.jnce {
    requires dev.jnce.bindings;
    requires static jdk.incubator.vector;

    exports dev.jnce;
    exports dev.jnce.loss;
    exports dev.jnce.ops;
    exports dev.jnce.metrics;
    exports dev.jnce.distributed;
}
