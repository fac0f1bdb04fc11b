package dev.jnce;

/**
 * Where a tensor's storage lives: host memory, or the memory of a CUDA GPU (see
 * {@link Tensor#zeros(Device, DType, long...)} and {@link Tensor#to(Device)}).
 */
public record Device(Kind kind, int index) {

    /** Kinds of device. */
    public enum Kind { HOST, CUDA }

    /** Host (CPU) memory. */
    public static final Device HOST = new Device(Kind.HOST, 0);

    /** The CUDA GPU with this index (as CUDA numbers them, after CUDA_VISIBLE_DEVICES). */
    public static Device cuda(int index) {
        return new Device(Kind.CUDA, index);
    }

    public Device {
        if (kind == null) throw new IllegalArgumentException("kind: must not be null");
        if (index < 0) throw new IllegalArgumentException("index: must be >= 0, got " + index);
    }

    @Override
    public String toString() {
        return kind == Kind.HOST ? "host" : "cuda:" + index;
    }
}
