package dev.jnce;

/**
 * A place where jnce's kernels run: {@code java} (pure Java, Vector API when available),
 * {@code cpu} (native, OpenBLAS and jnce's C kernels) or {@code cuda} (a GPU: jnce's CUDA kernels
 * and cuBLAS, on tensors in the GPU's memory).
 * Obtain one from {@link Backends}; pass it to a loss to pin the loss to it.
 */
public interface Backend {

    /**
     * The name users select it by: {@code java}, {@code cpu} or {@code cuda}.
     *
     * @return the backend's name, {@code java}, {@code cpu} or {@code cuda}
     */
    String name();

    /**
     * One line saying what runs: SIMD path, BLAS configuration, thread count.
     *
     * @return a one-line human-readable description, for logs
     */
    String description();

    /**
     * The device whose tensors this backend computes on.
     *
     * @return the device this backend computes on; {@link Device#HOST} for the host backends
     */
    default Device device() {
        return Device.HOST;
    }
}
