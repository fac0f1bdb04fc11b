package dev.jnce.djl;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.loss.Loss;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.loss.InfoNce;

import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * A DJL {@link Loss} whose value and gradient are jnce's two-tower {@link InfoNce}: the predictions
 * are {@code (queries, keys)}, each {@code (N, D)} float32 on the CPU, key i the positive of query
 * i; the labels are not read. jnce reads both arrays and writes the loss and both gradients into
 * arrays of the queries' manager, without copying; what {@link #evaluate} returns is the loss plus
 * a term that is zero in value and whose gradient over the queries and keys is jnce's (the surrogate
 * {@code s = sum(q * dq) + sum(k * dk)}, returned as {@code loss + s - stopGradient(s)}), so that
 * {@code GradientCollector.backward} on it carries jnce's gradient into DJL's autograd.
 *
 * <p>Pitfalls: every call runs jnce's forward and backward, also where DJL only wants the value
 * (validation, the loss accumulators); only the CPU is supported (the PyTorch engine hands out its
 * memory there); the InfoNce's options apply as set (temperature, normalisation, direction, ...).
 */
public final class InfoNceLoss extends Loss {
    private final InfoNce loss;

    /**
     * A loss named {@code "InfoNceLoss"}.
     *
     * @param loss the jnce loss to compute, with its options
     * @throws NullPointerException if {@code loss} is null
     */
    public InfoNceLoss(InfoNce loss) {
        this("InfoNceLoss", loss);
    }

    /**
     * A loss with a name of its own (DJL's accumulators are keyed by it).
     *
     * @param name the name DJL reports the loss under
     * @param loss the jnce loss to compute, with its options
     * @throws NullPointerException if {@code loss} is null
     */
    public InfoNceLoss(String name, InfoNce loss) {
        super(name);
        this.loss = Objects.requireNonNull(loss, "loss");
    }

    /**
     * The mean InfoNCE of the queries against the keys, a scalar whose gradient is jnce's.
     *
     * @param labels not read (key i is the positive of query i)
     * @param predictions {@code (queries, keys)}, each {@code (N, D)} float32 on the CPU
     * @return the loss, shape {@code ()}
     * @throws IllegalArgumentException if {@code predictions} is not two float32 CPU arrays, or
     *     their shapes do not fit (jnce's message names them)
     */
    @Override
    public NDArray evaluate(NDList labels, NDList predictions) {
        if (predictions == null || predictions.size() != 2) {
            throw new IllegalArgumentException("predictions: (queries, keys) expected, got "
                    + (predictions == null ? "null" : predictions.size() + " arrays"));
        }
        NDArray q = predictions.get(0), k = predictions.get(1);
        NDManager m = q.getManager();
        NDArray value = m.zeros(new Shape(1)), dq = m.zeros(q.getShape()), dk = m.zeros(k.getShape());
        try (Tensor tq = wrap(q, "queries"); Tensor tk = wrap(k, "keys"); Tensor tl = wrap(value, "loss");
             Tensor tdq = wrap(dq, "gradQueries"); Tensor tdk = wrap(dk, "gradKeys")) {
            loss.forwardBackward(tq, tk, tl, tdq, tdk);
        }
        NDArray s = q.mul(dq).sum().add(k.mul(dk).sum());
        return value.reshape(new Shape()).add(s.sub(s.stopGradient()));
    }

    /** The array's own memory as a tensor: the PyTorch engine's direct little-endian buffer. */
    private static Tensor wrap(NDArray a, String name) {
        if (a.getDataType() != DataType.FLOAT32 || !Device.Type.CPU.equals(a.getDevice().getDeviceType())) {
            throw new IllegalArgumentException(name + ": a float32 array on the CPU expected, got "
                    + a.getDataType() + " on " + a.getDevice() + ", shape " + a.getShape());
        }
        ByteBuffer memory = a.toByteBuffer(true);
        return Tensor.wrap(memory, DType.FLOAT32, a.getShape().getShape());
    }
}
