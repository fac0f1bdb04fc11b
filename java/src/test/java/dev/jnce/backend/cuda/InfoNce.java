package dev.jnce.backend.cuda;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.CrossEntropyCall;
import dev.jnce.Reduction;

/**
 * InfoNCE forward and backward composed from the CUDA backend's kernels, for the PyTorch
 * comparison and the timings: q, k (N,D) -> normalize -> S = qn kn^T / t -> CE against targets
 * (MEAN) -> dS -> dqn = dS kn / t, dkn = dS^T qn / t -> normalize backward. Three GEMMs.
 */
final class InfoNce {
    private InfoNce() {
    }

    record Result(Tensor loss, Tensor dq, Tensor dk) {
    }

    static Result forwardBackward(CudaBackend gpu, Tensor q, Tensor k, Tensor targets, float t) {
        var dev = q.device();
        long n = q.size(0), d = q.size(1), m = k.size(0);
        var sim = gpu.similarity();
        Tensor qn = Tensor.zeros(dev, DType.FLOAT32, n, d), kn = Tensor.zeros(dev, DType.FLOAT32, m, d);
        Tensor s = Tensor.zeros(dev, DType.FLOAT32, n, m), loss = Tensor.zeros(dev, DType.FLOAT32);
        sim.normalize(q, 1e-12f, qn);
        sim.normalize(k, 1e-12f, kn);
        sim.gemm(false, true, 1 / t, qn, kn, 0f, s);
        gpu.crossEntropy().crossEntropy(new CrossEntropyCall(s, targets, null, null, null, -100, 0f, 0f, Reduction.MEAN,
                false, loss, s, null)); // the gradient overwrites S
        Tensor dqn = Tensor.zeros(dev, DType.FLOAT32, n, d), dkn = Tensor.zeros(dev, DType.FLOAT32, m, d);
        sim.gemm(false, false, 1 / t, s, kn, 0f, dqn);
        sim.gemm(true, false, 1 / t, s, qn, 0f, dkn);
        sim.normalizeBackward(q, dqn, 1e-12f, dqn);
        sim.normalizeBackward(k, dkn, 1e-12f, dkn);
        for (Tensor tmp : new Tensor[] {qn, kn, s}) tmp.close();
        return new Result(loss, dqn, dkn);
    }
}
