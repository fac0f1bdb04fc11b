package dev.jnce;

/**
 * Where a tensor's storage lives. Host memory is the only kind today; the CUDA kind is
 * reserved for the CUDA backend.
 */
public record Device(Kind kind, int index) {

    /** Kinds of device. */
    public enum Kind { HOST, CUDA }

    /** Host (CPU) memory. */
    public static final Device HOST = new Device(Kind.HOST, 0);

    public Device {
        if (kind == null) throw new IllegalArgumentException("kind: must not be null");
        if (index < 0) throw new IllegalArgumentException("index: must be >= 0, got " + index);
    }

    @Override
    public String toString() {
        return kind == Kind.HOST ? "host" : "cuda:" + index;
    }
}
