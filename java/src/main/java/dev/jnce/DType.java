package dev.jnce;

/** Element types a {@link Tensor} can hold. */
public enum DType {
    FLOAT32(4),
    INT32(4),
    INT64(8);

    private final int byteSize;

    DType(int byteSize) {
        this.byteSize = byteSize;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** The lower-case name used in messages and by PyTorch, e.g. {@code float32}. */
    @Override
    public String toString() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
