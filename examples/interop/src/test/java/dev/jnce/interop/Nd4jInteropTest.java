package dev.jnce.interop;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.loss.InfoNce;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.indexer.FloatIndexer;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The README's ND4J recipe (CPU backend): an INDArray's memory handed to jnce without copying,
 * through its data buffer's address; jnce's loss and gradients written straight into INDArrays;
 * and a tensor jnce allocated (a gradient) handed to ND4J as an INDArray without copying, through
 * a javacpp pointer over its buffer. Values are checked against the float64 reference.
 */
class Nd4jInteropTest {
    /** A tensor over a c-ordered float INDArray's memory (its offset included). */
    static Tensor view(INDArray a) {
        if (a.ordering() != 'c' || a.dataType() != DataType.FLOAT || a.isView()) {
            throw new IllegalArgumentException("a: a c-ordered float array that is not a view, as dup('c') gives");
        }
        long bytes = a.length() * Float.BYTES;
        MemorySegment memory = MemorySegment.ofAddress(a.data().addressPointer().address() + a.offset() * Float.BYTES)
                .reinterpret(bytes);
        return Tensor.wrap(memory, DType.FLOAT32, a.shape());
    }

    /**
     * An INDArray over a float32 tensor's memory: a javacpp pointer over the tensor's direct buffer,
     * an ND4J data buffer over that pointer (ND4J does not own it, nor free it), C order. Valid while
     * the tensor is open.
     */
    static INDArray asIndArray(Tensor t) {
        if (t.dtype() != DType.FLOAT32) throw new IllegalArgumentException("t: a float32 tensor, not " + t.dtype());
        FloatPointer p = new FloatPointer(t.asFloatBuffer());
        DataBuffer buffer = Nd4j.createBuffer(p, DataType.FLOAT, t.numel(), FloatIndexer.create(p));
        return Nd4j.create(buffer, t.shape(), Nd4j.getStrides(t.shape(), 'c'), 0, 'c', DataType.FLOAT);
    }

    @Test
    void aTensorIsHandedToNd4jWithoutACopy() {
        try (Tensor t = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3)) {
            INDArray a = asIndArray(t);
            assertEquals(t.segment().address(), a.data().addressPointer().address(), "the tensor's own memory");
            assertEquals(2, a.rows());
            assertEquals(6f, a.getFloat(1, 2), "ND4J reads the tensor's values");
            t.segment().setAtIndex(ValueLayout.JAVA_FLOAT, 5, -9f);
            assertEquals(-9f, a.getFloat(1, 2), "written through jnce, read by ND4J: the same memory");
            a.putScalar(0, 1, 11f);
            assertEquals(11f, t.toFloatArray()[1], "written by ND4J, read through jnce");
            a.muli(2); // an in-place ND4J op lands in the tensor too
            assertEquals(22f, t.toFloatArray()[1]);
            assertEquals(-18f, t.toFloatArray()[5]);
        }
        try (Tensor ids = Tensor.of(new long[] {0, 1})) {
            assertThrows(IllegalArgumentException.class, () -> asIndArray(ids));
        }
    }

    /**
     * ND4J takes the tensor's memory as external (Nd4j.createBuffer over a pointer makes an
     * externalized data buffer): INDArrays over it, dropped and collected, leave the memory and its
     * values to jnce, which frees it once on close. A smoke check: had ND4J freed it, the values
     * could be overwritten by later allocations, and jnce's close would be a second free.
     */
    @Test
    void nd4jDoesNotFreeATensorsMemory() throws InterruptedException {
        float[] values = InfoNceReference.gaussian(31, 4096);
        try (Tensor t = Tensor.of(values, 64, 64)) {
            for (int i = 0; i < 200; i++) assertEquals(values[i], asIndArray(t).getFloat(i / 64, i % 64));
            for (int i = 0; i < 5; i++) {
                System.gc();
                Thread.sleep(100);
            }
            float[] big = new float[1 << 20]; // allocations that would reuse freed memory
            try (Tensor other = Tensor.of(big, 1 << 20)) {
                assertEquals(0f, other.toFloatArray()[0]);
            }
            assertArrayEquals(values, t.toFloatArray(), "the tensor's values, untouched");
            assertEquals(values[4095], asIndArray(t).getFloat(63, 63));
        }
    }

    /** The allocating forwardBackward: its gradients, tensors jnce owns, read by ND4J in place. */
    @Test
    void jncesOwnGradientsAreReadByNd4jWithoutACopy() {
        int n = 8, d = 4;
        double tau = 0.5;
        float[] q = InfoNceReference.gaussian(21, n * d), k = InfoNceReference.gaussian(22, n * d);
        INDArray iq = Nd4j.create(q, new long[] {n, d}, 'c'), ik = Nd4j.create(k, new long[] {n, d}, 'c');
        InfoNceReference ref = new InfoNceReference(q, k, n, d, tau);
        try (Tensor tq = view(iq); Tensor tk = view(ik);
             InfoNce.Result r = InfoNce.create().withTemperature((float) tau).withNormalize(false).forwardBackward(tq, tk)) {
            INDArray dq = asIndArray(r.gradQueries()), dk = asIndArray(r.gradKeys());
            assertEquals(r.gradQueries().segment().address(), dq.data().addressPointer().address());
            assertEquals(ref.loss, r.loss().item(), 1e-5 * Math.max(1, ref.loss), "loss");
            for (int i = 0; i < n; i++) {
                for (int c = 0; c < d; c++) {
                    assertEquals(ref.dq[i * d + c], dq.getFloat(i, c), 1e-5, "d q[" + i + "," + c + "]");
                    assertEquals(ref.dk[i * d + c], dk.getFloat(i, c), 1e-5, "d k[" + i + "," + c + "]");
                }
            }
            // an SGD step in ND4J from jnce's gradient: q -= 0.1 dq, on ND4J's and jnce's memory
            iq.subi(dq.mul(0.1));
            float[] stepped = tq.toFloatArray();
            for (int i = 0; i < n * d; i++) {
                assertEquals(q[i] - 0.1 * ref.dq[i], stepped[i], 1e-5, "q[" + i + "] after the step, read through jnce");
            }
        }
    }

    @Test
    void anIndArrayIsWrappedWithoutACopy() {
        INDArray x = Nd4j.create(new float[] {1, 2, 3, 4, 5, 6}, new long[] {2, 3}, 'c');
        try (Tensor t = view(x)) {
            t.segment().setAtIndex(ValueLayout.JAVA_FLOAT, 4, 42f);
            assertEquals(42f, x.getFloat(1, 1), "written through jnce, read by ND4J: the same memory");
            x.putScalar(0, 0, 7f);
            assertEquals(7f, t.toFloatArray()[0], "written by ND4J, read through jnce");
        }
    }

    @Test
    void jnceWritesItsLossAndGradientsIntoIndArrays() {
        int n = 8, d = 4;
        double tau = 0.5;
        float[] q = InfoNceReference.gaussian(11, n * d), k = InfoNceReference.gaussian(12, n * d);
        INDArray iq = Nd4j.create(q, new long[] {n, d}, 'c'), ik = Nd4j.create(k, new long[] {n, d}, 'c');
        INDArray loss = Nd4j.zeros(DataType.FLOAT, 1), dq = Nd4j.zeros(DataType.FLOAT, n, d), dk = Nd4j.zeros(DataType.FLOAT, n, d);
        try (Tensor tq = view(iq); Tensor tk = view(ik); Tensor tl = view(loss); Tensor tdq = view(dq); Tensor tdk = view(dk)) {
            InfoNce.create().withTemperature((float) tau).withNormalize(false).forwardBackward(tq, tk, tl, tdq, tdk);
        }
        InfoNceReference ref = new InfoNceReference(q, k, n, d, tau);
        assertEquals(ref.loss, loss.getFloat(0), 1e-5 * Math.max(1, ref.loss), "loss, in ND4J's array");
        for (int i = 0; i < n; i++) {
            for (int c = 0; c < d; c++) {
                assertEquals(ref.dq[i * d + c], dq.getFloat(i, c), 1e-5, "d q[" + i + "," + c + "]");
                assertEquals(ref.dk[i * d + c], dk.getFloat(i, c), 1e-5, "d k[" + i + "," + c + "]");
            }
        }
        // an ND4J op on jnce's result: the gradient is an ordinary INDArray
        assertEquals(sum(ref.dq), dq.sumNumber().doubleValue(), 1e-5, "ND4J reads jnce's gradient");
    }

    private static double sum(double[] v) {
        double s = 0;
        for (double x : v) s += x;
        return s;
    }
}
