package dev.jnce;

/**
 * Where a tensor's storage lives: host memory, or the memory of a CUDA GPU (see
 * {@link Tensor#zeros(Device, DType, long...)} and {@link Tensor#to(Device)}).
 *
 * @param kind host or CUDA; not null
 * @param index the GPU index for CUDA (0 for the host); &ge; 0
 */
public record Device(Kind kind, int index) {

    /** Kinds of device. */
    public enum Kind {
        /** Host (CPU) memory. */
        HOST,
        /** The memory of a CUDA GPU. */
        CUDA
    }

    /** Host (CPU) memory. */
    public static final Device HOST = new Device(Kind.HOST, 0);

    /**
     * The CUDA GPU with this index (as CUDA numbers them, after CUDA_VISIBLE_DEVICES).
     *
     * @param index the GPU index for CUDA (0 for the host); &ge; 0
     * @return the device {@code cuda:index}
     */
    public static Device cuda(int index) {
        return new Device(Kind.CUDA, index);
    }

    /**
     * Checks the components.
     *
     * @throws IllegalArgumentException if kind is null or index is negative
     */
    public Device {
        if (kind == null) throw new IllegalArgumentException("kind: must not be null");
        if (index < 0) throw new IllegalArgumentException("index: must be >= 0, got " + index);
    }

    @Override
    public String toString() {
        return kind == Kind.HOST ? "host" : "cuda:" + index;
    }
}
