package dev.jnce.backend;

import dev.jnce.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * The output rules of {@link Kernels#forCall}: an output is writable memory, and shares no byte
 * with an input or another output of the call, unless it is exactly an input (same address and
 * size) that an {@link Kernels.InPlace} permission names. Byte ranges are compared by address,
 * so that the rule also holds for device tensors (the call's tensors are on one device).
 */
final class CallOutputs {
    private CallOutputs() {
    }

    private record Arg(String name, Tensor tensor, long address, long bytes) {
        static Arg of(String name, Tensor t) {
            return new Arg(name, t, t.segment().address(), t.numel() * t.dtype().byteSize());
        }

        boolean overlaps(Arg o) {
            return bytes > 0 && o.bytes > 0 && address < o.address + o.bytes && o.address < address + bytes;
        }

        boolean sameMemory(Arg o) {
            return address == o.address && bytes == o.bytes;
        }
    }

    static void check(Object[] namesAndTensors, int outputsFrom) {
        List<Arg> inputs = new ArrayList<>(6), outputs = new ArrayList<>(4);
        List<Kernels.InPlace> inPlace = new ArrayList<>(2);
        for (int i = 0; i < namesAndTensors.length; i++) {
            Object o = namesAndTensors[i];
            if (o instanceof Kernels.InPlace p) {
                inPlace.add(p);
            } else if (o instanceof String name && i + 1 < namesAndTensors.length) {
                i++;
                if (namesAndTensors[i] instanceof Tensor t) (i < outputsFrom ? inputs : outputs).add(Arg.of(name, t));
            }
        }
        for (int j = 0; j < outputs.size(); j++) {
            Arg out = outputs.get(j);
            if (out.tensor().segment().isReadOnly()) {
                throw new IllegalArgumentException(out.name() + ": tensor " + out.tensor().describe() + " is read-only memory "
                        + "(a read-only segment or buffer given to Tensor.wrap); an output must be writable");
            }
            for (Arg in : inputs) clash(out, in, inPlace);
            for (int m = 0; m < j; m++) clash(out, outputs.get(m), inPlace);
        }
    }

    private static void clash(Arg out, Arg other, List<Kernels.InPlace> inPlace) {
        if (!out.overlaps(other)) return;
        boolean allowed = false;
        for (Kernels.InPlace p : inPlace) {
            if (p.output().equals(out.name()) && p.input().equals(other.name())) allowed = true;
        }
        if (allowed && out.sameMemory(other)) return;
        if (out.sameMemory(other)) {
            throw new IllegalArgumentException(out.name() + ": shares memory with " + other.name() + " (it is " + other.name()
                    + " itself); " + out.name() + " " + out.tensor().describe() + " must be a tensor of its own, not an input "
                    + "or another output of the call (it is written while they are read)");
        }
        throw new IllegalArgumentException(out.name() + ": shares memory with " + other.name() + "; use a separate tensor"
                + (allowed ? " (" + out.name() + " may be " + other.name() + " itself, the same memory exactly, for an in-place call)"
                : "") + "; " + out.name() + " " + out.tensor().describe() + " at bytes [0x" + Long.toHexString(out.address())
                + ", +" + out.bytes() + "), " + other.name() + " " + other.tensor().describe() + " at [0x"
                + Long.toHexString(other.address()) + ", +" + other.bytes() + ")");
    }
}
