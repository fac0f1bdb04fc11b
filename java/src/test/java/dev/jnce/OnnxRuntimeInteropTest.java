package dev.jnce;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.jnce.loss.CrossEntropy;
import dev.jnce.ops.Softmax;
import dev.jnce.testutil.ScopedTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.util.Map;
import java.util.SplittableRandom;

import static dev.jnce.testutil.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ONNX Runtime (Maven Central's com.microsoft.onnxruntime, natives in the jar) runs a model over
 * jnce tensors' memory: the input is a tensor's asFloatBuffer(), the output a pinned OnnxTensor over
 * another tensor's buffer, so that nothing is copied either way; the model is one Softmax node
 * (java/src/test/python/onnx_softmax_model.py), checked against jnce's softmax on every backend.
 */
class OnnxRuntimeInteropTest extends ScopedTest {
    private static OrtEnvironment env;
    private static OrtSession session;

    @BeforeAll
    static void openSession() throws IOException, OrtException {
        byte[] model;
        try (InputStream in = OnnxRuntimeInteropTest.class.getResourceAsStream("/onnx/softmax.onnx")) {
            model = in.readAllBytes();
        }
        env = OrtEnvironment.getEnvironment();
        session = env.createSession(model, new OrtSession.SessionOptions());
    }

    @AfterAll
    static void closeSession() throws OrtException {
        session.close();
    }

    private static float[] randomLogits(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (rnd.nextGaussian() * 3);
        return v;
    }

    private static long address(OnnxTensor t) {
        return MemorySegment.ofBuffer(t.getBufferRef().orElseThrow()).address();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void onnxRuntimeReadsAndWritesTensorMemoryWithoutCopying(Backend backend) throws OrtException {
        long[] shape = {5, 7};
        Tensor logits = Tensor.of(randomLogits(35, 11), shape);
        Tensor probs = Tensor.zeros(DType.FLOAT32, shape);
        try (OnnxTensor x = OnnxTensor.createTensor(env, logits.asFloatBuffer(), shape);
             OnnxTensor y = OnnxTensor.createTensor(env, probs.asFloatBuffer(), shape);
             OrtSession.Result r = session.run(Map.of("X", x), Map.of("Y", y))) {
            assertFalse(x.ownsBuffer(), "ONNX Runtime uses the direct native-order buffer as it is");
            assertEquals(logits.segment().address(), address(x));
            assertEquals(probs.segment().address(), address(y));
            assertEquals(1, r.size());
        }
        // the pinned output was written into probs' memory
        float[] expected = Softmax.create().withBackend(backend).forward(logits).toFloatArray();
        assertClose(toDoubles(expected), probs.toFloatArray(), 1e-6, "ONNX Runtime softmax vs jnce " + backend);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void aBufferOnnxRuntimeReadsWrapsIntoALoss(Backend backend) throws OrtException {
        // memory the caller made for ONNX Runtime, handed to jnce without copying
        FloatBuffer shared = ByteBuffer.allocateDirect(2 * 3 * 4).order(java.nio.ByteOrder.nativeOrder()).asFloatBuffer()
                .put(new float[] {2.0f, 1.0f, 0.1f, 0.5f, 2.5f, 0.0f}).flip();
        try (OnnxTensor x = OnnxTensor.createTensor(env, shared, new long[] {2, 3})) {
            Tensor logits = Tensor.wrap((FloatBuffer) x.getBufferRef().orElseThrow(), 2, 3);
            assertEquals(address(x), logits.segment().address());
            assertEquals(0.306882, CrossEntropy.create().withBackend(backend).forward(logits, Tensor.of(new long[] {0, 1})).item(),
                    1e-6);
        }
    }

    @Test
    void onnxRuntimeCopiesHeapBuffersAndTrustsTheByteOrderOfDirectOnes() throws OrtException {
        FloatBuffer bigEndian = ByteBuffer.allocateDirect(8).asFloatBuffer().put(new float[] {1.5f, 2f}).flip();
        try (OnnxTensor heap = OnnxTensor.createTensor(env, FloatBuffer.wrap(new float[] {1.5f, 2f}), new long[] {1, 2});
             OnnxTensor big = OnnxTensor.createTensor(env, bigEndian, new long[] {1, 2});
             OrtSession.Result fromHeap = session.run(Map.of("X", heap));
             OrtSession.Result fromBig = session.run(Map.of("X", big))) {
            assertTrue(heap.ownsBuffer(), "a heap buffer is copied");
            float[] right = ((float[][]) fromHeap.get(0).getValue())[0];
            assertArrayEquals(new float[] {0.37754068f, 0.62245935f}, right, 1e-6f);
            // A direct buffer is used as it is, whatever its order: the model sees big-endian 1.5f
            // and 2f as about 6.9e-41 and 8.9e-44, and gives an even softmax. Hence the rule that
            // buffers handed over be in native order (Tensor.wrap refuses others).
            assertFalse(big.ownsBuffer());
            assertArrayEquals(new float[] {0.5f, 0.5f}, ((float[][]) fromBig.get(0).getValue())[0], 1e-6f);
        }
    }

    private static double[] toDoubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }
}
