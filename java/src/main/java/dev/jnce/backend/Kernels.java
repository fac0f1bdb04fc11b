package dev.jnce.backend;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.Device;
import dev.jnce.Tensor;

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

    ContrastiveKernels contrastive();

    PairKernels pair();

    ScanKernels scan();

    SoftmaxKernels softmax();

    NllKernels nll();

    BinaryCrossEntropyKernels binaryCrossEntropy();

    FocalKernels focal();

    /**
     * The kernels a call runs on: {@code pinned} when the loss or op was pinned to a backend,
     * else the backend of the device the call's tensors live on ({@link Backends#forDevice}).
     * Checks that every non-null tensor is open and that all are on one device, and on the
     * chosen backend's device; the messages name each argument and its device.
     *
     * @param pinned          a backend the caller chose, or null to follow the tensors
     * @param namesAndTensors pairs of argument name and tensor; null tensors (optional arguments) are skipped
     */
    static Kernels forCall(Backend pinned, Object... namesAndTensors) {
        Device device = null;
        for (int i = 0; i + 1 < namesAndTensors.length; i += 2) {
            if (!(namesAndTensors[i + 1] instanceof Tensor t)) continue;
            t.requireOpen((String) namesAndTensors[i]);
            if (device == null) {
                device = t.device();
            } else if (!device.equals(t.device())) {
                throw new IllegalArgumentException("tensors of one call must be on one device; got " + devices(namesAndTensors)
                        + ": move them with Tensor.to(device)");
            }
        }
        Backend b = pinned != null ? pinned : device == null ? Backends.current() : Backends.forDevice(device);
        if (!(b instanceof Kernels k)) {
            throw new IllegalArgumentException("backend: " + b + " is not one of jnce's backends " + Backends.NAMES);
        }
        if (device != null && !device.equals(k.device())) {
            String why = pinned != null ? "this loss or op is pinned to it (withBackend)"
                    : "it is forced by " + Backends.PROPERTY + ", " + Backends.ENV + " or Backends.use";
            throw new IllegalArgumentException(devices(namesAndTensors) + ", but backend '" + k.name() + "' computes on "
                    + k.device() + " (" + why + ")");
        }
        return k;
    }

    private static String devices(Object[] namesAndTensors) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i + 1 < namesAndTensors.length; i += 2) {
            if (!(namesAndTensors[i + 1] instanceof Tensor t)) continue;
            if (!b.isEmpty()) b.append(", ");
            b.append(namesAndTensors[i]).append(" on ").append(t.device());
        }
        return b.toString();
    }
}
