package dev.jnce;

/** Element types a {@link Tensor} can hold. */
public enum DType {
    /**
     * 32-bit IEEE 754 float: values, logits, embeddings and gradients.
     */
    FLOAT32(4),
    /**
     * 32-bit signed integer: class indices, labels and masks.
     */
    INT32(4),
    /**
     * 64-bit signed integer: class indices and labels (PyTorch's default for them); mined indices.
     */
    INT64(8);

    private final int byteSize;

    DType(int byteSize) {
        this.byteSize = byteSize;
    }

    /**
     * Bytes per element.
     *
     * @return the size of one element in bytes: 4 or 8
     */
    public int byteSize() {
        return byteSize;
    }

    /** The lower-case name used in messages and by PyTorch, e.g. {@code float32}. */
    @Override
    public String toString() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
