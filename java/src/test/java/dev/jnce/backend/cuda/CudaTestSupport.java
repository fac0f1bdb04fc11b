package dev.jnce.backend.cuda;

import dev.jnce.Backends;
import dev.jnce.Device;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import org.junit.jupiter.api.Assumptions;

import java.util.Random;

/**
 * Shared by the tests tagged "cuda" (run on a GPU by bench/gpu/verify.sh, excluded from the
 * normal build): the CUDA backend, the backend it is compared with, random data.
 */
final class CudaTestSupport {
    private CudaTestSupport() {
    }

    /** The CUDA backend; the test is skipped (not failed) where it does not load. */
    static CudaBackend cuda() {
        String reason = Backends.unavailableReason("cuda");
        Assumptions.assumeTrue(reason == null, () -> "no usable GPU: " + reason);
        return (CudaBackend) Backends.get("cuda");
    }

    /** The reference: the native CPU backend where it loads, else the pure-Java one. */
    static Kernels reference() {
        return (Kernels) Backends.get(Backends.isAvailable("cpu") ? "cpu" : "java");
    }

    static Device device() {
        return Device.cuda(0);
    }

    /** Normal values times scale, reproducible from seed. */
    static float[] normal(long seed, int n, double scale) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (r.nextGaussian() * scale);
        return v;
    }

    /** A host float tensor and its copy on the GPU. */
    static Tensor onGpu(Tensor host) {
        return host == null ? null : host.to(device());
    }
}
