package dev.jnce;

import dev.jnce.loss.CrossEntropy;
import dev.jnce.testutil.ScopedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static dev.jnce.testutil.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * .npy files: NumPy's own files (java/src/test/python/golden_npy.py) read to their values, Npy.write
 * giving np.save's bytes, round trips, and malformed files refused by name without a crash or an
 * allocation of the size they claim.
 */
class NpyTest extends ScopedTest {
    private static final float[] F4 = {1.5f, -2.25f, 0f, 3e-8f, 1e30f, -7f};

    @TempDir
    Path dir;

    static Path golden(String name) {
        try {
            return Path.of(NpyTest.class.getResource("/npy/" + name).toURI());
        } catch (URISyntaxException | NullPointerException e) {
            throw new AssertionError("missing test resource /npy/" + name, e);
        }
    }

    private static void assertMessage(Throwable e, String... parts) {
        for (String p : parts) assertTrue(e.getMessage().contains(p), "'" + p + "' missing from: " + e.getMessage());
    }

    // ---- NumPy's files ---------------------------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"f4_2x3.npy", "f4_v2_2x3.npy", "f4_v3_2x3.npy"})
    void readsFloat32InEveryVersion(String file) throws IOException {
        Tensor t = Npy.read(golden(file));
        assertEquals(DType.FLOAT32, t.dtype());
        assertArrayEquals(new long[] {2, 3}, t.shape());
        assertArrayEquals(F4, t.toFloatArray());
    }

    @Test
    void readsIntegers() throws IOException {
        Tensor i4 = Npy.read(golden("i4_4.npy"));
        assertEquals(DType.INT32, i4.dtype());
        assertArrayEquals(new int[] {-1, 0, 7, Integer.MAX_VALUE}, i4.toIntArray());
        Tensor i8 = Npy.read(golden("i8_2x2.npy"));
        assertEquals(DType.INT64, i8.dtype());
        assertArrayEquals(new long[] {2, 2}, i8.shape());
        assertArrayEquals(new long[] {Long.MIN_VALUE, 1, 2, 1L << 40}, i8.toLongArray());
    }

    @Test
    void readsScalarAndEmpty() throws IOException {
        Tensor s = Npy.read(golden("f4_scalar.npy"));
        assertEquals(0, s.rank());
        assertEquals(0.25f, s.item());
        Tensor e = Npy.read(golden("f4_0x3.npy"));
        assertArrayEquals(new long[] {0, 3}, e.shape());
        assertEquals(0, e.toFloatArray().length);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"f4_2x3.npy", "i4_4.npy", "i8_2x2.npy", "f4_scalar.npy", "f4_0x3.npy", "ce_targets.npy"})
    void writeGivesNumPysBytes(String file) throws IOException {
        byte[] numpy = Files.readAllBytes(golden(file));
        Path mine = dir.resolve(file);
        Npy.write(mine, Npy.read(golden(file)));
        byte[] written = Files.readAllBytes(mine);
        assertArrayEquals(numpy, written, () -> "header written: "
                + new String(written, StandardCharsets.ISO_8859_1).lines().findFirst().orElse(""));
    }

    @Test
    void roundTripsEveryDTypeAndShape() throws IOException {
        Tensor[] tensors = {Tensor.of(F4, 3, 1, 2), Tensor.of(new int[] {5, -6}), Tensor.of(new long[] {Long.MAX_VALUE}, 1, 1),
                Tensor.scalar(-0f), Tensor.zeros(DType.INT64, 2, 0, 3)};
        for (Tensor t : tensors) {
            Path p = dir.resolve("t.npy");
            Npy.write(p, t);
            Tensor back = Npy.read(p);
            assertEquals(t.dtype(), back.dtype());
            assertArrayEquals(t.shape(), back.shape());
            int header = Npy.header(t.dtype(), t.shape()).length;
            assertEquals(0, header % 64, "data starts 64-byte aligned, as NumPy writes it");
            assertEquals(header + t.numel() * t.dtype().byteSize(), Files.size(p), "header then data, nothing more");
            if (t.dtype() == DType.FLOAT32) assertArrayEquals(t.toFloatArray(), back.toFloatArray());
            else assertArrayEquals(t.toLongArray(), back.toLongArray());
        }
    }

    @Test
    void writingAViewWritesOnlyItsRows() throws IOException {
        Tensor t = Tensor.of(F4, 3, 2);
        Path p = dir.resolve("rows.npy");
        Npy.write(p, t.rows(1, 2));
        assertArrayEquals(Arrays.copyOfRange(F4, 2, 6), Npy.read(p).toFloatArray());
    }

    @Test
    void readTensorsBelongToTheOpenScope() throws IOException {
        Tensor t;
        try (TensorScope scope = TensorScope.open()) {
            t = Npy.read(golden("f4_2x3.npy"));
        }
        assertTrue(t.isClosed());
    }

    // ---- refused dtypes and orders ---------------------------------------------------------

    @Test
    void fortranOrderIsRefusedByName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Npy.read(golden("f4_fortran_2x3.npy")));
        assertMessage(e, "path:", "f4_fortran_2x3.npy", "fortran_order is True", "(2, 3)", "np.ascontiguousarray");
    }

    @Test
    void fortranOrderOfOneDimensionReadsAsC() throws IOException {
        Path p = dir.resolve("f1.npy");
        write(p, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 3), }", 12, floats(1, 2, 3));
        assertArrayEquals(new float[] {1, 2, 3}, Npy.read(p).toFloatArray());
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"f4_be_2x3.npy:>f4", "i4_be_3.npy:>i4", "i8_be_2.npy:>i8"})
    void bigEndianIsRefusedByName(String fileAndDescr) {
        String[] fd = fileAndDescr.split(":");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Npy.read(golden(fd[0])));
        String code = fd[1].substring(1);
        assertMessage(e, "path:", fd[0], "dtype '" + fd[1] + "' is big-endian", "little-endian '<" + code + "'",
                "a.astype('<" + code + "')");
    }

    @Test
    void unstatedNativeOrderIsRefusedByName() throws IOException {
        Path p = dir.resolve("eq.npy");
        write(p, 1, "{'descr': '=f4', 'fortran_order': False, 'shape': (6,), }", 0, floats(F4));
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Npy.read(p)),
                "dtype '=f4'", "unstated native order", "little-endian '<f4'");
    }

    @Test
    void otherDTypesAreRefusedByName() {
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Npy.read(golden("f8_2.npy"))),
                "dtype '<f8' (float64)", "float32 ('<f4')", "astype(np.float32)");
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Npy.read(golden("u1_3.npy"))), "'|u1' (uint8)");
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Npy.read(golden("b1_2.npy"))), "'|b1' (bool)");
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Npy.read(golden("structured_2.npy"))),
                "structured dtype");
    }

    // ---- malformed files: refused by name, nothing absurd allocated -----------------------

    @Test
    void truncatedFilesAreRefused() throws IOException {
        byte[] good = Files.readAllBytes(golden("f4_2x3.npy"));
        for (int len : new int[] {0, 5, 9, 10, 40, good.length - 1}) {
            Path p = dir.resolve("cut" + len + ".npy");
            Files.write(p, Arrays.copyOf(good, len));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Npy.read(p), "length " + len);
            assertMessage(e, "path:", "cut" + len + ".npy", "truncated");
        }
        Path v2 = dir.resolve("cutv2.npy");
        Files.write(v2, Arrays.copyOf(Files.readAllBytes(golden("f4_v2_2x3.npy")), 11));
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Npy.read(v2)), "truncated", "12-byte preamble");
    }

    @Test
    void wrongMagicIsRefused() throws IOException {
        Path p = dir.resolve("png.npy");
        Files.write(p, new byte[] {(byte) 0x89, 'P', 'N', 'G', 13, 10, 26, 10, 0, 0, 0, 0});
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Npy.read(p)), "not a .npy file", "89 50 4e 47");
    }

    @Test
    void unknownVersionIsRefused() throws IOException {
        byte[] b = Files.readAllBytes(golden("f4_2x3.npy"));
        b[6] = 4;
        Path p = dir.resolve("v4.npy");
        Files.write(p, b);
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Npy.read(p)), "format version 4.0", "1.0, 2.0 and 3.0");
    }

    @Test
    void shapeNotMatchingTheDataIsRefused() throws IOException {
        Path more = dir.resolve("more.npy");
        write(more, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }", 0, floats(F4));
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Npy.read(more)),
                "truncated", "24 data bytes", "(2, 4) of float32 ('<f4') needs 32");
        Path less = dir.resolve("less.npy");
        write(less, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", 0, floats(F4));
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Npy.read(less)), "24 data bytes", "needs 20");
    }

    @Test
    void hugeShapesAreRefusedBeforeAnyAllocation() throws IOException {
        Path big = dir.resolve("big.npy");
        write(big, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }", 0, floats(1));
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Npy.read(big)), "more bytes than a long counts");
        Path large = dir.resolve("large.npy");
        write(large, 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (1000000000, 1000), }", 0, floats(1));
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Npy.read(large)), "4 data bytes", "needs 8000000000000");
        Path digits = dir.resolve("digits.npy");
        write(digits, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }", 0, floats(1));
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Npy.read(digits)), "larger than a long");
        Path header = dir.resolve("header.npy");
        ByteBuffer pre = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0})
                .putInt(Integer.MAX_VALUE);
        Files.write(header, pre.array());
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Npy.read(header)), "header of 2147483647 bytes");
    }

    @Test
    void malformedHeadersAreRefused() throws IOException {
        String[] headers = {
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), ",          // no closing brace
                "{'descr': '<f4', 'fortran_order': False}",                              // a key missing
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}",  // an unknown key (and value)
                "{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3), }",
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }",
                "{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3], }",
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } junk",
                "{'descr': '<f4, 'fortran_order': False, 'shape': (2, 3), }",
                "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                "",
        };
        for (String h : headers) {
            Path p = dir.resolve("h.npy");
            write(p, 1, h, 0, floats(F4));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Npy.read(p), h);
            assertMessage(e, "path:", "h.npy");
        }
    }

    @Test
    void aDirectoryOrMissingFileIsAnIOException() {
        assertThrows(IOException.class, () -> Npy.read(dir.resolve("absent.npy")));
        assertThrows(IOException.class, () -> Npy.read(dir));
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Npy.read(null)), "path:");
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Npy.write(dir.resolve("x.npy"), null)), "tensor:");
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Npy.write(null, Tensor.scalar(1f))), "path:");
    }

    @Test
    void writingAClosedTensorIsRefused() {
        Tensor t = Tensor.zerosUnscoped(DType.FLOAT32, 2);
        t.close();
        assertMessage(assertThrows(IllegalStateException.class, () -> Npy.write(dir.resolve("c.npy"), t)), "tensor:", "closed");
    }

    // ---- golden cross-entropy from NumPy, every backend ------------------------------------

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void crossEntropyOfNumPysArraysMatchesNumPysFloat64(Backend backend) throws IOException {
        CrossEntropy.Result r = CrossEntropy.create().withBackend(backend)
                .forwardBackward(Npy.read(golden("ce_logits.npy")), Npy.read(golden("ce_targets.npy")));
        assertEquals(Npy.read(golden("ce_loss.npy")).item(), r.loss().item(), 1e-6);
        float[] expected = Npy.read(golden("ce_grad.npy")).toFloatArray();
        assertClose(toDoubles(expected), r.grad().toFloatArray(), 1e-6, "grad vs NumPy float64");
    }

    private static double[] toDoubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    // ---- helpers ---------------------------------------------------------------------------

    private static byte[] floats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) b.putFloat(f);
        return b.array();
    }

    /** A version-1.0 file with this header text (padded with {@code pad} spaces and a newline) and these data bytes. */
    private static void write(Path p, int version, String header, int pad, byte[] data) throws IOException {
        byte[] h = (header + " ".repeat(pad) + "\n").getBytes(StandardCharsets.ISO_8859_1);
        ByteBuffer b = ByteBuffer.allocate(10 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) version, 0}).putShort((short) h.length).put(h).put(data);
        Files.write(p, b.array());
    }
}
