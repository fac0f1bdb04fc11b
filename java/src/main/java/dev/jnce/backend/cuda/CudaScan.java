package dev.jnce.backend.cuda;

import dev.jnce.Device;
import dev.jnce.Tensor;
import dev.jnce.backend.ScanKernels;
import dev.jnce.internal.HostScan;

/**
 * Value scans of device tensors: for now a copy to the host and the host scan (one transfer and
 * a wait per checked tensor); a device-side reduction replaces it when the CUDA kernels are
 * verified on a GPU.
 */
final class CudaScan implements ScanKernels {
    static final CudaScan INSTANCE = new CudaScan();

    private CudaScan() {
    }

    @Override
    public long firstBreaking(Tensor t, Rule rule) {
        try (Tensor h = t.to(Device.HOST)) {
            return HostScan.INSTANCE.firstBreaking(h, rule);
        }
    }

    @Override
    public long firstOutside(Tensor indices, long bound, long except) {
        try (Tensor h = indices.to(Device.HOST)) {
            return HostScan.INSTANCE.firstOutside(h, bound, except);
        }
    }

    @Override
    public double valueAt(Tensor t, long index) {
        try (Tensor one = t.reshape(t.numel()).rows(index, 1).to(Device.HOST)) {
            return HostScan.INSTANCE.valueAt(one, 0);
        }
    }
}
