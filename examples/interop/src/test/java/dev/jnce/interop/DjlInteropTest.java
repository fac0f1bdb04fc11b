package dev.jnce.interop;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.loss.InfoNce;
import org.junit.jupiter.api.Test;

import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The README's DJL recipe (PyTorch engine on the CPU): an NDArray's memory handed to jnce and
 * jnce's memory handed to DJL, both without copying, and jnce's InfoNCE gradient fed back into
 * DJL's autograd, checked against the float64 chain rule.
 */
class DjlInteropTest {
    private static final double TAU = 0.5;

    /** DJL to jnce: {@code toByteBuffer(true)} is a direct buffer over libtorch's memory. */
    @Test
    void anNdArrayIsWrappedWithoutACopy() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.create(new float[] {1, 2, 3, 4, 5, 6}, new Shape(2, 3));
            ByteBuffer b = x.toByteBuffer(true);
            assertTrue(b.isDirect(), "the PyTorch engine hands out its own memory");
            try (Tensor t = Tensor.wrap(b, DType.FLOAT32, 2, 3)) {
                t.segment().setAtIndex(ValueLayout.JAVA_FLOAT, 4, 42f);
                assertEquals(42f, x.getFloat(1, 1), "written through jnce, read by DJL: the same memory");
                x.set(new ai.djl.ndarray.index.NDIndex(0, 0), 7f);
                assertEquals(7f, t.toFloatArray()[0], "written by DJL, read through jnce");
            }
        }
    }

    /**
     * A non-contiguous NDArray (a transpose) is copied: {@code toByteBuffer(true)} makes a
     * contiguous array in the same manager and hands out its memory, so values read right but
     * what jnce writes there does not reach the original. Wrap only contiguous arrays as outputs.
     */
    @Test
    void aNonContiguousNdArrayIsReadThroughACopy() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.create(new float[] {1, 2, 3, 4, 5, 6}, new Shape(2, 3));
            NDArray xt = x.transpose();
            try (Tensor t = Tensor.wrap(xt.toByteBuffer(true), DType.FLOAT32, 3, 2)) {
                assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6}, t.toFloatArray(), "the transpose's values, row-major");
                t.segment().setAtIndex(ValueLayout.JAVA_FLOAT, 1, 42f);
                assertEquals(4f, xt.getFloat(0, 1), "the write went to the copy, not to the transpose");
                assertEquals(4f, x.getFloat(1, 0));
            }
        }
    }

    /** jnce to DJL: {@code manager.create(directBuffer, ...)} keeps the buffer's memory. */
    @Test
    void aTensorIsHandedToDjlWithoutACopy() {
        try (NDManager m = NDManager.newBaseManager(); Tensor t = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3)) {
            NDArray y = m.create(t.asByteBuffer(), new Shape(2, 3), DataType.FLOAT32);
            t.segment().setAtIndex(ValueLayout.JAVA_FLOAT, 5, -9f);
            assertEquals(-9f, y.getFloat(1, 2), "written through jnce, read by DJL: the same memory");
        }
    }

    /**
     * A training step: embeddings q = xq W and k = xk W from DJL (W a parameter), InfoNCE and its
     * gradients from jnce written straight into DJL arrays, then DJL's autograd on the surrogate
     * sum(q * dq) + sum(k * dk), whose gradient with respect to q and k is jnce's: W's gradient
     * must be xqᵀ dq + xkᵀ dk, with dq and dk from the float64 reference.
     */
    @Test
    void jncesGradientFlowsIntoDjlsAutograd() {
        int n = 8, in = 5, d = 4;
        float[] xq = InfoNceReference.gaussian(1, n * in), xk = InfoNceReference.gaussian(2, n * in);
        float[] w0 = InfoNceReference.gaussian(3, in * d);
        InfoNce loss = InfoNce.create().withTemperature((float) TAU).withNormalize(false);
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x1 = m.create(xq, new Shape(n, in)), x2 = m.create(xk, new Shape(n, in));
            NDArray w = m.create(w0, new Shape(in, d));
            w.setRequiresGradient(true);
            NDArray dq = m.zeros(new Shape(n, d)), dk = m.zeros(new Shape(n, d)), value = m.zeros(new Shape(1));
            float[] qv, kv;
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                NDArray q = x1.matMul(w), k = x2.matMul(w);
                qv = q.toFloatArray();
                kv = k.toFloatArray();
                // jnce reads q and k and writes the loss and both gradients into DJL's arrays
                try (Tensor tq = Tensor.wrap(q.toByteBuffer(true), DType.FLOAT32, n, d);
                     Tensor tk = Tensor.wrap(k.toByteBuffer(true), DType.FLOAT32, n, d);
                     Tensor tl = Tensor.wrap(value.toByteBuffer(true), DType.FLOAT32, 1);
                     Tensor tdq = Tensor.wrap(dq.toByteBuffer(true), DType.FLOAT32, n, d);
                     Tensor tdk = Tensor.wrap(dk.toByteBuffer(true), DType.FLOAT32, n, d)) {
                    loss.forwardBackward(tq, tk, tl, tdq, tdk);
                }
                collector.backward(q.mul(dq).sum().add(k.mul(dk).sum()));
            }
            InfoNceReference ref = new InfoNceReference(qv, kv, n, d, TAU);
            assertEquals(ref.loss, value.getFloat(0), 1e-5 * Math.max(1, ref.loss), "loss, written into DJL's array");
            float[] dqv = dq.toFloatArray();
            for (int i = 0; i < n * d; i++) assertEquals(ref.dq[i], dqv[i], 1e-5, "d q[" + i + "]");
            float[] dw = w.getGradient().toFloatArray();
            for (int r = 0; r < in; r++) {
                for (int c = 0; c < d; c++) {
                    double expected = 0;
                    for (int i = 0; i < n; i++) expected += (double) xq[i * in + r] * ref.dq[i * d + c] + (double) xk[i * in + r] * ref.dk[i * d + c];
                    assertEquals(expected, dw[r * d + c], 1e-4, "d W[" + r + "," + c + "] from DJL's autograd");
                }
            }
        }
    }
}
