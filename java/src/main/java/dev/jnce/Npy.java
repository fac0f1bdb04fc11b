package dev.jnce;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * NumPy's {@code .npy} files: {@link #read} makes a tensor of one, {@link #write} saves a tensor
 * as one that {@code numpy.load} reads.
 *
 * <p>Read: format versions 1.0, 2.0 and 3.0; dtypes {@code '<f4'} (float32), {@code '<i4'}
 * (int32) and {@code '<i8'} (int64), little-endian, C order. Each of these is refused by name
 * otherwise: big-endian files ({@code '>f4'}, {@code '>i4'}, {@code '>i8'}; save
 * {@code a.astype('<f4')} instead), Fortran order unless it is the same layout as C order (at
 * most one dimension above 1), and any other dtype ({@code '<f8'}, {@code '|u1'}, {@code '|b1'},
 * structured). The header is
 * checked before anything is allocated: the file must hold exactly the bytes its shape needs, so
 * a truncated file or a shape larger than the file is an {@link IllegalArgumentException}, never
 * an allocation of that size.
 *
 * <p>Write: version 1.0 (2.0 when the header needs it), little-endian, C order, the header
 * padded to 64 bytes as NumPy writes it. A CUDA tensor is copied to the host first.
 *
 * <p>Both copy: a {@code .npy} file is not memory jnce can wrap. For zero-copy exchange in
 * memory, see {@link Tensor#wrap(java.nio.ByteBuffer, DType, long...)} and
 * {@link Tensor#asByteBuffer()}.
 */
public final class Npy {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    /** NumPy's own reader refuses headers over 10000 bytes unless told otherwise; ours is looser, still bounded. */
    private static final int MAX_HEADER_BYTES = 1 << 20;
    private static final int ALIGN = 64;
    private static final int GROWTH_DIGITS = 21; // NumPy's room for the first dimension to grow in place
    private static final int CHUNK = 1 << 30;

    private Npy() {
    }

    /**
     * The array in a {@code .npy} file, as a new host tensor (in the current {@link TensorScope}
     * if one is open, as {@link Tensor#zeros(DType, long...)}).
     *
     * @param path the {@code .npy} file; not null
     * @return a new host tensor of the file's dtype, shape and values
     * @throws IllegalArgumentException naming {@code path} if the file is not a {@code .npy} file
     *         jnce reads: its magic, version, header, dtype, byte order, Fortran order, or a size
     *         that does not match the shape, with what was found; naming {@code path} if it is null
     * @throws IOException if the file cannot be read
     */
    public static Tensor read(Path path) throws IOException {
        if (path == null) throw new IllegalArgumentException("path: must not be null");
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 10) throw bad(path, "truncated: " + size + " bytes, shorter than the 10-byte .npy preamble");
            ByteBuffer pre = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, pre.limit(10), 0);
            for (int i = 0; i < MAGIC.length; i++) {
                if (pre.get(i) != MAGIC[i]) {
                    throw bad(path, "not a .npy file: it starts with bytes " + HexFormat.ofDelimiter(" ")
                            .formatHex(pre.array(), 0, 6) + ", not the magic 93 4e 55 4d 50 59 (\\x93NUMPY)");
                }
            }
            int major = pre.get(6) & 0xff, minor = pre.get(7) & 0xff;
            long headerStart, headerBytes;
            if (major == 1 && minor == 0) {
                headerStart = 10;
                headerBytes = pre.getShort(8) & 0xffff;
            } else if ((major == 2 || major == 3) && minor == 0) {
                if (size < 12) throw bad(path, "truncated: " + size + " bytes, shorter than the 12-byte preamble of version " + major + ".0");
                readFully(ch, pre.limit(12).position(10), 10);
                headerStart = 12;
                headerBytes = pre.getInt(8) & 0xffffffffL;
            } else {
                throw bad(path, "format version " + major + "." + minor + "; jnce reads versions 1.0, 2.0 and 3.0");
            }
            if (headerBytes > MAX_HEADER_BYTES) {
                throw bad(path, "header of " + headerBytes + " bytes, more than the " + MAX_HEADER_BYTES + " jnce reads");
            }
            if (headerStart + headerBytes > size) {
                throw bad(path, "truncated: the header declares " + headerBytes + " bytes, but only " + (size - headerStart)
                        + " follow the preamble");
            }
            ByteBuffer hb = ByteBuffer.allocate((int) headerBytes);
            readFully(ch, hb, headerStart);
            String text = new String(hb.array(), major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
            Header h = Header.parse(path, text);

            long dataStart = headerStart + headerBytes, available = size - dataStart, needed;
            try {
                long n = 1;
                for (long d : h.shape) n = Math.multiplyExact(n, d);
                needed = Math.multiplyExact(n, h.dtype.byteSize());
            } catch (ArithmeticException e) {
                throw bad(path, "shape " + Tensor.formatShape(h.shape) + " of " + h.dtype + " has more bytes than a long counts");
            }
            if (available != needed) {
                throw bad(path, (available < needed ? "truncated: " : "") + available + " data bytes follow the header, but shape "
                        + Tensor.formatShape(h.shape) + " of " + h.dtype + " ('" + h.descr + "') needs " + needed);
            }
            Tensor t = Tensor.zeros(h.dtype, h.shape);
            try {
                MemorySegment data = t.segment().asSlice(0, needed);
                for (long off = 0; off < needed; off += CHUNK) {
                    readFully(ch, data.asSlice(off, Math.min(CHUNK, needed - off)).asByteBuffer(), dataStart + off);
                }
                if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) swapBytes(data, h.dtype.byteSize());
                return t;
            } catch (IOException | RuntimeException e) {
                t.close();
                throw e;
            }
        }
    }

    /**
     * Saves {@code tensor} to {@code path} as a {@code .npy} file (replacing a file there), as
     * {@code np.save(path, array)}: {@code numpy.load(path)} gives an array of the tensor's dtype,
     * shape and values.
     *
     * @param path the file to write; not null
     * @param tensor the tensor to save, open, on any device; not null
     * @throws IllegalArgumentException naming {@code path} or {@code tensor} if it is null
     * @throws IllegalStateException if the tensor is closed
     * @throws IOException if the file cannot be written
     */
    public static void write(Path path, Tensor tensor) throws IOException {
        if (path == null) throw new IllegalArgumentException("path: must not be null");
        if (tensor == null) throw new IllegalArgumentException("tensor: must not be null");
        tensor.requireOpen("tensor");
        boolean swap = ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN; // the file is little-endian on any machine
        if (!tensor.device().equals(Device.HOST) || swap) {
            try (Tensor host = tensor.to(Device.HOST)) {
                if (swap) swapBytes(host.segment().asSlice(0, host.numel() * host.dtype().byteSize()), host.dtype().byteSize());
                writeHost(path, host);
            }
        } else {
            writeHost(path, tensor);
        }
    }

    private static void writeHost(Path path, Tensor tensor) throws IOException {
        byte[] header = header(tensor.dtype(), tensor.shape());
        long bytes = tensor.numel() * tensor.dtype().byteSize();
        MemorySegment data = tensor.segment().asSlice(0, bytes);
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.WRITE, StandardOpenOption.CREATE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            writeFully(ch, ByteBuffer.wrap(header));
            for (long off = 0; off < bytes; off += CHUNK) {
                writeFully(ch, data.asSlice(off, Math.min(CHUNK, bytes - off)).asByteBuffer());
            }
        }
    }

    /**
     * Preamble and header byte for byte as NumPy (1.24) writes them: the dict, the spaces it keeps
     * for growing the first dimension in place, and padding with a newline to a multiple of 64 bytes.
     */
    static byte[] header(DType dtype, long[] shape) {
        StringBuilder dims = new StringBuilder("(");
        for (int i = 0; i < shape.length; i++) dims.append(i == 0 ? "" : ", ").append(shape[i]);
        if (shape.length == 1) dims.append(',');
        dims.append(')');
        String dict = "{'descr': '<" + descrCode(dtype) + "', 'fortran_order': False, 'shape': " + dims + ", }"
                + (shape.length == 0 ? "" : " ".repeat(GROWTH_DIGITS - Long.toString(shape[0]).length()));
        int preamble = dict.length() + 1 + ALIGN > 0xffff ? 12 : 10;
        int total = preamble + dict.length() + 1;
        total += ALIGN - total % ALIGN; // NumPy pads a full 64 when already aligned
        byte[] out = new byte[total];
        System.arraycopy(MAGIC, 0, out, 0, MAGIC.length);
        out[6] = (byte) (preamble == 10 ? 1 : 2);
        ByteBuffer len = ByteBuffer.wrap(out, 8, preamble - 8).order(ByteOrder.LITTLE_ENDIAN);
        if (preamble == 10) len.putShort((short) (total - preamble)); else len.putInt(total - preamble);
        byte[] d = dict.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(d, 0, out, preamble, d.length);
        for (int i = preamble + d.length; i < total - 1; i++) out[i] = ' ';
        out[total - 1] = '\n';
        return out;
    }

    private static String descrCode(DType dtype) {
        return switch (dtype) {
            case FLOAT32 -> "f4";
            case INT32 -> "i4";
            case INT64 -> "i8";
        };
    }

    private static void swapBytes(MemorySegment data, int width) {
        long n = data.byteSize() / width;
        if (width == 4) {
            for (long i = 0; i < n; i++) data.setAtIndex(ValueLayout.JAVA_INT, i, Integer.reverseBytes(data.getAtIndex(ValueLayout.JAVA_INT, i)));
        } else {
            for (long i = 0; i < n; i++) data.setAtIndex(ValueLayout.JAVA_LONG, i, Long.reverseBytes(data.getAtIndex(ValueLayout.JAVA_LONG, i)));
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer into, long position) throws IOException {
        long at = position;
        while (into.hasRemaining()) {
            int got = ch.read(into, at);
            if (got < 0) throw new IOException("the file ended at byte " + at + " while being read (changed by another process?)");
            at += got;
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer from) throws IOException {
        while (from.hasRemaining()) ch.write(from);
    }

    private static IllegalArgumentException bad(Path path, String why) {
        return new IllegalArgumentException("path: " + path + ": " + why);
    }

    /** The header dict: {@code {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }}, a Python literal. */
    private record Header(String descr, DType dtype, long[] shape) {
        static Header parse(Path path, String text) {
            Map<String, Object> dict = new Parser(path, text).dict();
            if (!dict.keySet().equals(java.util.Set.of("descr", "fortran_order", "shape"))) {
                throw bad(path, "header keys " + dict.keySet() + ", expected exactly descr, fortran_order and shape");
            }
            if (!(dict.get("descr") instanceof String descr)) {
                throw bad(path, "descr " + Parser.show(dict.get("descr")) + " is a structured dtype; jnce reads the plain "
                        + "dtypes '<f4' (float32), '<i4' (int32) and '<i8' (int64)");
            }
            if (!(dict.get("fortran_order") instanceof Boolean fortran)) {
                throw bad(path, "fortran_order " + Parser.show(dict.get("fortran_order")) + " is not True or False");
            }
            if (!(dict.get("shape") instanceof long[] shape)) {
                throw bad(path, "shape " + Parser.show(dict.get("shape")) + " is not a tuple of integers");
            }
            int above1 = 0;
            for (long d : shape) if (d > 1) above1++;
            if (fortran && above1 > 1) {
                throw bad(path, "fortran_order is True for shape " + Tensor.formatShape(shape) + ": column-major data; jnce "
                        + "reads C order only (save np.ascontiguousarray(a) instead)");
            }
            char prefix = descr.length() == 3 ? descr.charAt(0) : '?';
            DType dtype = prefix == '<' || prefix == '>' || prefix == '=' ? switch (descr.substring(1)) {
                case "f4" -> DType.FLOAT32;
                case "i4" -> DType.INT32;
                case "i8" -> DType.INT64;
                default -> null;
            } : null;
            if (dtype == null) {
                throw bad(path, "dtype '" + descr + "'" + numpyName(descr) + " is not one jnce holds: float32 ('<f4'), "
                        + "int32 ('<i4') or int64 ('<i8'); convert before saving, e.g. np.save(path, a.astype(np.float32))");
            }
            if (prefix != '<') {
                throw bad(path, "dtype '" + descr + "' is " + (prefix == '>' ? "big-endian" : "in the writer's unstated native order")
                        + "; jnce reads little-endian '<" + descr.substring(1) + "' only (save a.astype('<"
                        + descr.substring(1) + "') instead)");
            }
            return new Header(descr, dtype, shape);
        }

        private static String numpyName(String descr) {
            String s = descr.isEmpty() || "<>=|".indexOf(descr.charAt(0)) < 0 ? descr : descr.substring(1);
            if (s.length() < 2 || !s.substring(1).chars().allMatch(Character::isDigit) || s.length() > 4) return "";
            int bytes = Integer.parseInt(s.substring(1));
            String kind = switch (s.charAt(0)) {
                case 'f' -> "float";
                case 'i' -> "int";
                case 'u' -> "uint";
                case 'c' -> "complex";
                case 'b' -> bytes == 1 ? "bool" : null;
                default -> null;
            };
            if (kind == null) return "";
            return " (" + (kind.equals("bool") ? kind : kind + bytes * 8) + ")";
        }
    }

    /** A Python literal of dicts, strings, True/False and tuples of non-negative integers; nothing else. */
    private static final class Parser {
        private final Path path;
        private final String s;
        private int i;

        Parser(Path path, String s) {
            this.path = path;
            this.s = s;
        }

        Map<String, Object> dict() {
            skipSpace();
            expect('{');
            Map<String, Object> out = new LinkedHashMap<>();
            while (true) {
                skipSpace();
                if (peek() == '}') break;
                String key = string();
                skipSpace();
                expect(':');
                skipSpace();
                if (out.put(key, value()) != null) throw fail("key '" + key + "' appears twice");
                skipSpace();
                if (peek() == ',') i++;
                else if (peek() != '}') throw fail("expected ',' or '}'");
            }
            i++;
            skipSpace();
            if (i != s.length()) throw fail("text after the closing '}'");
            return out;
        }

        private Object value() {
            char c = peek();
            if (c == '\'' || c == '"') return string();
            if (c == '(') return tuple();
            if (c == '[') { // a structured dtype's list of fields: skipped, and named as such by the caller
                skipBracketed();
                return new Object();
            }
            if (s.startsWith("True", i)) {
                i += 4;
                return Boolean.TRUE;
            }
            if (s.startsWith("False", i)) {
                i += 5;
                return Boolean.FALSE;
            }
            throw fail("expected a string, a tuple, True or False");
        }

        private String string() {
            char q = peek();
            if (q != '\'' && q != '"') throw fail("expected a quoted string");
            int end = s.indexOf(q, i + 1);
            if (end < 0) throw fail("unterminated string");
            String out = s.substring(i + 1, end);
            i = end + 1;
            return out;
        }

        private long[] tuple() {
            expect('(');
            List<Long> dims = new ArrayList<>();
            while (true) {
                skipSpace();
                if (peek() == ')') break;
                int start = i;
                while (i < s.length() && Character.isDigit(s.charAt(i))) i++;
                if (i == start) throw fail("expected a non-negative integer in the shape");
                String digits = s.substring(start, i);
                if (peek() == 'L') i++; // Python 2 long
                try {
                    dims.add(Long.parseLong(digits));
                } catch (NumberFormatException e) {
                    throw fail("dimension " + digits + " is larger than a long");
                }
                skipSpace();
                if (peek() == ',') i++;
                else if (peek() != ')') throw fail("expected ',' or ')' in the shape");
            }
            i++;
            return dims.stream().mapToLong(Long::longValue).toArray();
        }

        private void skipBracketed() {
            int depth = 0;
            do {
                char c = peek();
                if (c == '\0') throw fail("unterminated list");
                if (c == '\'' || c == '"') {
                    string();
                    continue;
                }
                if (c == '[' || c == '(') depth++;
                if (c == ']' || c == ')') depth--;
                i++;
            } while (depth > 0);
        }

        private void expect(char c) {
            if (peek() != c) throw fail("expected '" + c + "'");
            i++;
        }

        private char peek() {
            return i < s.length() ? s.charAt(i) : '\0';
        }

        private void skipSpace() {
            while (i < s.length() && (s.charAt(i) == ' ' || s.charAt(i) == '\n' || s.charAt(i) == '\t' || s.charAt(i) == '\r')) i++;
        }

        private IllegalArgumentException fail(String why) {
            String shown = s.length() > 200 ? s.substring(0, 200) + "..." : s;
            return bad(path, "malformed header at character " + i + ": " + why + "; header: " + shown.strip());
        }

        static String show(Object v) {
            if (v instanceof long[] a) return Tensor.formatShape(a);
            if (v instanceof String str) return "'" + str + "'";
            if (v instanceof Boolean b) return b ? "True" : "False";
            return "[...]";
        }
    }
}
