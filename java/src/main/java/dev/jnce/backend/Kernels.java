package dev.jnce.backend;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.Device;
import dev.jnce.Tensor;
import dev.jnce.spi.CallArguments;

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
     * Scaled dot-product attention; a backend without it says so.
     *
     * @return this backend's attention kernels
     * @throws UnsupportedOperationException on a backend that has none yet
     */
    default AttentionKernels attention() {
        throw new UnsupportedOperationException("scaled dot-product attention is not yet on backend '" + name()
                + "': use the host tensors' backend (cpu or java)");
    }

    /**
     * In {@link #forCall}'s list, every (name, tensor) pair after this marker is an output of the
     * call: memory the kernels write.
     */
    Object OUTPUTS = new Object() {
        @Override
        public String toString() {
            return "OUTPUTS";
        }
    };

    /**
     * In {@link #forCall}'s list: output {@code output} may be exactly the tensor memory of input (or
     * earlier output) {@code input}, same address and size, for an in-place call. Any other overlap of
     * an output with an input or another output is rejected.
     */
    record InPlace(String output, String input) {
    }

    /** An {@link InPlace} permission, for {@link #forCall}'s list. */
    static InPlace inPlace(String output, String input) {
        return new InPlace(output, input);
    }

    /**
     * The kernels a call runs on: {@code pinned} when the loss or op was pinned to a backend,
     * else the backend of the device the call's tensors live on ({@link Backends#forDevice}).
     * Checks that every non-null tensor is usable on this thread ({@link Tensor#requireOpen}: open,
     * its memory alive and accessible here), that all are on one device, and on the chosen
     * backend's device; that every output (the pairs after {@link #OUTPUTS}) is writable and shares
     * no memory with an input or another output, except an exact {@link #inPlace} alias. The
     * messages name each argument.
     *
     * @param pinned          a backend the caller chose, or null to follow the tensors
     * @param namesAndTensors pairs of argument name and tensor, inputs first, then {@link #OUTPUTS}
     *                        and the outputs; {@link InPlace} permissions anywhere; null tensors
     *                        (optional arguments) are skipped
     */
    static Kernels forCall(Backend pinned, Object... namesAndTensors) {
        CallArguments.begin(namesAndTensors);
        Device device = null;
        int outputsFrom = -1;
        boolean confined = false;
        for (int i = 0; i < namesAndTensors.length; i++) {
            Object o = namesAndTensors[i];
            if (o == OUTPUTS) {
                outputsFrom = i + 1;
                continue;
            }
            if (!(o instanceof String name)) continue;
            if (i + 1 >= namesAndTensors.length) break;
            i++;
            if (!(namesAndTensors[i] instanceof Tensor t)) continue;
            t.requireOpen(name);
            confined |= CallArguments.confinedMemory(t.segment());
            if (device == null) {
                device = t.device();
            } else if (!device.equals(t.device())) {
                throw new IllegalArgumentException("tensors of one call must be on one device; got " + devices(namesAndTensors)
                        + ": move them with Tensor.to(device)");
            }
        }
        CallArguments.confined(confined); // the java backend's kernels then keep the call on this thread
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
        if (outputsFrom >= 0) CallOutputs.check(namesAndTensors, outputsFrom);
        return k;
    }

    private static String devices(Object[] namesAndTensors) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i + 1 < namesAndTensors.length; i++) {
            if (!(namesAndTensors[i] instanceof String name) || !(namesAndTensors[i + 1] instanceof Tensor t)) continue;
            if (!b.isEmpty()) b.append(", ");
            b.append(name).append(" on ").append(t.device());
            i++;
        }
        return b.toString();
    }
}
