package dev.jnce.harness;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.loss.CrossEntropy;
import dev.jnce.loss.InfoNce;
import dev.jnce.loss.KlDiv;
import dev.jnce.ops.HardNegatives;
import dev.jnce.ops.Matmul;
import dev.jnce.ops.Normalize;
import dev.jnce.ops.Softmax;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Fuzz cases of {@link Tensor}'s shape-taking API: zeros, of, wrap, rows, reshape, size, the
 * readers, with shapes that are negative, overflow the element or byte count, or hold a zero
 * beside a huge dimension; and ops handed such empty-but-huge tensors.
 */
final class TensorFuzz implements Family {
    private static final long[] HUGE = {Long.MAX_VALUE, Long.MAX_VALUE / 2, 1L << 31, 1L << 40, 1L << 62, Integer.MAX_VALUE};

    @Override
    public int weight() {
        return 4;
    }

    @Override
    public void run(Case c) {
        Gen g = c.g;
        switch (g.nextInt(7)) {
            case 0 -> zeros(c);
            case 1 -> of(c);
            case 2 -> wrap(c);
            case 3 -> rowsAndReshape(c);
            case 4 -> readers(c);
            default -> emptyButHuge(c);
        }
    }

    /** A shape of rank 0..4: small, or with a negative dimension, or whose element or byte count overflows. */
    private static long[] shape(Gen g, String[] kind) {
        int rank = g.nextInt(5);
        long[] s = new long[rank];
        for (int i = 0; i < rank; i++) s[i] = g.pick(0L, 1L, 2L, 3L, 5L, 7L);
        kind[0] = "valid";
        if (rank > 0 && g.chance(0.6)) {
            int d = g.nextInt(rank);
            switch (g.nextInt(3)) {
                case 0 -> {
                    s[d] = g.pick(-1L, Long.MIN_VALUE, -7L);
                    kind[0] = "negative";
                }
                case 1 -> {
                    s[d] = HUGE[g.nextInt(HUGE.length)];
                    if (rank > 1) s[(d + 1) % rank] = Math.max(2, s[(d + 1) % rank]) * g.pick(1L, 1L << 33);
                    kind[0] = overflows(s) ? "overflow" : "huge";
                }
                default -> {
                    s[d] = HUGE[g.nextInt(HUGE.length)];
                    if (rank > 1) s[(d + 1) % rank] = 0;
                    kind[0] = overflows(s) ? "overflow" : "huge";
                }
            }
        }
        if (kind[0].equals("huge") && numel(s) != 0) { // countable but too large to allocate: keep the huge size, add an empty one
            s = Arrays.copyOf(s, s.length + 1);
            kind[0] = "huge-empty";
        }
        return s;
    }

    /** Whether numel * 8 overflows a long (or a dimension is negative). */
    private static boolean overflows(long[] s) {
        try {
            long n = 1;
            for (long d : s) {
                if (d < 0) return true;
                n = Math.multiplyExact(n, d);
            }
            Math.multiplyExact(n, 8L);
            return false;
        } catch (ArithmeticException e) {
            return true;
        }
    }

    private static long numel(long[] s) {
        long n = 1;
        for (long d : s) n *= d;
        return n;
    }

    private static void zeros(Case c) {
        Gen g = c.g;
        String[] kind = new String[1];
        long[] s = shape(g, kind);
        DType dtype = g.chance(0.05) ? null : g.pick(DType.values());
        boolean unscoped = g.chance(0.3), nullShape = g.chance(0.03);
        c.op("Tensor.zeros").note("shape=" + Arrays.toString(s) + " kind=" + kind[0] + " dtype=" + dtype + " unscoped=" + unscoped
                + " nullShape=" + nullShape);
        if (dtype == null) c.reject(IllegalArgumentException.class, null, "dtype");
        else if (nullShape) c.reject(IllegalArgumentException.class, null, "shape");
        else if (kind[0].equals("negative") || kind[0].equals("overflow")) c.reject(IllegalArgumentException.class, null, "shape");
        c.run(() -> {
            long[] shape = nullShape ? null : s;
            Tensor t = unscoped ? Tensor.zerosUnscoped(dtype, shape) : Tensor.zeros(dtype, shape);
            try {
                if (!Arrays.equals(t.shape(), s) || t.numel() != numel(s)) throw new AssertionError("shape " + Arrays.toString(t.shape()));
                float[] asFloats = new float[(int) t.numel()];
                if (dtype == DType.FLOAT32) asFloats = t.toFloatArray();
                else for (long v : t.toLongArray()) if (v != 0) throw new AssertionError("not zero-filled");
                c.got("values", asFloats);
                c.expect("values", new double[asFloats.length], 0);
            } finally {
                if (unscoped) t.close();
            }
        });
    }

    private static void of(Case c) {
        Gen g = c.g;
        int length = g.pick(0, 1, 3, 6, 12);
        String[] kind = new String[1];
        long[] s = g.chance(0.5) ? new long[] {length} : shape(g, kind);
        boolean fits = s.length == 0 || !overflows(s) && numel(s) == length; // no shape: (length)
        long[] made = s.length == 0 ? new long[] {length} : s;
        int which = g.nextInt(4);
        c.op("Tensor.of").note("length=" + length + " shape=" + Arrays.toString(s) + " which=" + which);
        float[] data = g.gaussians(length, false);
        if (which == 3) {
            c.note("ragged");
            c.reject(IllegalArgumentException.class, null, "data");
        } else if (g.chance(0.05)) {
            data = null;
            c.reject(IllegalArgumentException.class, null, "data");
        } else if (!fits) {
            c.reject(IllegalArgumentException.class, null, "data", "shape");
        } else {
            c.expect("values", Numeric.toDouble(data), 0);
        }
        final float[] d = data;
        c.run(() -> {
            Tensor t = switch (which) {
                case 0 -> Tensor.of(d, s);
                case 1 -> {
                    long[] l = new long[d == null ? 0 : d.length];
                    for (int i = 0; i < l.length; i++) l[i] = (long) d[i];
                    Tensor ints = Tensor.of(d == null ? null : l, s);
                    c.expect("values", Numeric.toDouble(toFloats(l)), 0);
                    yield ints;
                }
                case 2 -> Tensor.of(d == null ? null : java.nio.FloatBuffer.wrap(d), s);
                default -> Tensor.of(new float[][] {new float[2], new float[3]});
            };
            if (!Arrays.equals(t.shape(), made)) throw new AssertionError("shape " + Arrays.toString(t.shape()));
            c.got("values", t.dtype() == DType.FLOAT32 ? t.toFloatArray() : toFloats(t.toLongArray()));
        });
    }

    private static float[] toFloats(long[] l) {
        float[] f = new float[l.length];
        for (int i = 0; i < l.length; i++) f[i] = l[i];
        return f;
    }

    private static void wrap(Case c) {
        Gen g = c.g;
        String[] kind = new String[1];
        long[] s = shape(g, kind);
        DType dtype = g.pick(DType.values());
        long need = overflows(s) ? -1 : numel(s) * dtype.byteSize();
        String fault = g.pick("none", "none", "size", "heap", "misaligned", "null", "readonly");
        c.op("Tensor.wrap").note("shape=" + Arrays.toString(s) + " kind=" + kind[0] + " dtype=" + dtype + " fault=" + fault);
        switch (fault) {
            case "null", "heap", "misaligned" -> c.reject(IllegalArgumentException.class, null, "segment");
            case "size" -> c.reject(IllegalArgumentException.class, null, "segment", "shape");
            default -> {
            }
        }
        if (need < 0) c.reject(IllegalArgumentException.class, null, "shape");
        c.run(() -> {
            try (Arena arena = Arena.ofConfined()) {
                long bytes = Math.max(0, need) + (fault.equals("size") ? g.pick(1, 4, 8) : 0);
                MemorySegment seg = switch (fault) {
                    case "null" -> null;
                    case "heap" -> MemorySegment.ofArray(new byte[(int) bytes]);
                    case "misaligned" -> arena.allocate(bytes + 8, 8).asSlice(1, bytes);
                    case "readonly" -> arena.allocate(Math.max(1, bytes), 8).asSlice(0, bytes).asReadOnly();
                    default -> arena.allocate(Math.max(1, bytes), 8).asSlice(0, bytes);
                };
                Tensor t = Tensor.wrap(seg, dtype, s);
                c.got("numel", t.numel());
                c.expect("numel", numel(s), 0);
                t.close();
                if (!seg.scope().isAlive()) throw new AssertionError("closing a wrapped tensor freed the caller's segment");
            }
        });
    }

    private static void rowsAndReshape(Case c) {
        Gen g = c.g;
        long n = g.pick(0L, 1L, 3L, 5L), d = g.pick(0L, 1L, 2L, 7L);
        boolean reshape = g.chance(0.4), closed = g.chance(0.08), scalar = !reshape && g.chance(0.05);
        long from = g.pick(0L, 1L, -1L, n, n + 1, Long.MAX_VALUE, Long.MIN_VALUE);
        long count = g.pick(0L, 1L, n, -1L, Long.MAX_VALUE, n - from);
        String[] kind = new String[1];
        long[] newShape = g.chance(0.5) ? new long[] {d, n} : shape(g, kind);
        c.op(reshape ? "Tensor.reshape" : "Tensor.rows").note("n=" + n + " d=" + d + " from=" + from + " count=" + count
                + " newShape=" + Arrays.toString(newShape) + " closed=" + closed + " scalar=" + scalar);
        float[] data = g.gaussians((int) (n * d), false);
        if (closed) {
            c.reject(IllegalStateException.class, null, "tensor");
        } else if (reshape) {
            if (overflows(newShape) || numel(newShape) != n * d) c.reject(IllegalArgumentException.class, null, "shape");
            else c.expect("values", Numeric.toDouble(data), 0);
        } else if (scalar) {
            c.reject(IllegalArgumentException.class, null, "rows");
        } else if (from < 0 || count < 0 || from > n - count) {
            c.reject(IllegalArgumentException.class, null, "rows");
        } else {
            c.expect("values", Numeric.toDouble(Arrays.copyOfRange(data, (int) (from * d), (int) ((from + count) * d))), 0);
        }
        c.run(() -> {
            Tensor t = scalar ? Tensor.scalar(1f) : Tensor.zeros(DType.FLOAT32, n, d);
            if (!scalar) t.segment().copyFrom(MemorySegment.ofArray(data));
            if (closed) t.close();
            Tensor v = reshape ? t.reshape(newShape) : t.rows(from, count);
            c.got("values", v.toFloatArray());
        });
    }

    private static void readers(Case c) {
        Gen g = c.g;
        DType dtype = g.pick(DType.values());
        long[] s = g.pick(new long[0], new long[] {1}, new long[] {3}, new long[] {2, 2}, new long[] {0});
        String what = g.pick("toFloatArray", "toIntArray", "toLongArray", "item", "size", "closed");
        int dim = g.between(-3, 3);
        c.op("Tensor." + what).note("dtype=" + dtype + " shape=" + Arrays.toString(s) + " dim=" + dim);
        switch (what) {
            case "toFloatArray" -> { if (dtype != DType.FLOAT32) c.reject(IllegalStateException.class, null, "tensor"); }
            case "toIntArray" -> { if (dtype != DType.INT32) c.reject(IllegalStateException.class, null, "tensor"); }
            case "toLongArray" -> { if (dtype == DType.FLOAT32) c.reject(IllegalStateException.class, null, "tensor"); }
            case "item" -> {
                if (dtype != DType.FLOAT32 || numel(s) != 1) c.reject(IllegalStateException.class, null, "tensor", "item");
            }
            case "size" -> {
                int dd = dim < 0 ? dim + s.length : dim;
                if (dd < 0 || dd >= s.length) c.reject(IllegalArgumentException.class, null, "dim");
                else c.expect("size", s[dd], 0);
            }
            default -> c.reject(IllegalStateException.class, null, "tensor");
        }
        c.run(() -> {
            Tensor t = Tensor.zeros(dtype, s);
            switch (what) {
                case "toFloatArray" -> c.got("n", t.toFloatArray().length);
                case "toIntArray" -> c.got("n", t.toIntArray().length);
                case "toLongArray" -> c.got("n", t.toLongArray().length);
                case "item" -> c.got("n", t.item());
                case "size" -> c.got("size", t.size(dim));
                default -> {
                    t.close();
                    t.segment();
                }
            }
        });
    }

    /** Ops handed tensors with no elements but a huge dimension must name them, never allocate from the huge size. */
    private static void emptyButHuge(Case c) {
        Gen g = c.g;
        long huge = HUGE[g.nextInt(HUGE.length)];
        boolean leading = g.chance(0.5);
        long[] s = leading ? new long[] {huge, 0} : new long[] {0, huge};
        String op = g.pick("Softmax.forward", "CrossEntropy.forward", "Normalize.forward", "Matmul.multiply", "KlDiv.forward",
                "InfoNce.forward", "HardNegatives.mine", "HardNegatives.gather");
        c.op("EmptyHuge." + op).note("shape=" + Arrays.toString(s));
        String name = switch (op) {
            case "Softmax.forward", "KlDiv.forward" -> "input";
            case "CrossEntropy.forward" -> "logits";
            case "Normalize.forward" -> "x";
            case "Matmul.multiply" -> "a";
            case "InfoNce.forward" -> "embeddings";
            case "HardNegatives.mine" -> "sim";
            default -> "indices";
        };
        if (op.equals("HardNegatives.gather")) {
            c.expect("numel", 0, 0); // (0, huge) or (huge, 0) indices gather nothing: no allocation
            c.mayReject("indices");
        } else {
            c.reject(IllegalArgumentException.class, null, name);
        }
        c.run(() -> {
            Tensor t = Tensor.zeros(DType.FLOAT32, s);
            switch (op) {
                case "Softmax.forward" -> c.on(Softmax.create(), Softmax.create()::withBackend).forward(t);
                case "CrossEntropy.forward" -> c.on(CrossEntropy.create(), CrossEntropy.create()::withBackend)
                        .forward(t, Tensor.zeros(DType.INT64, 1));
                case "Normalize.forward" -> c.on(Normalize.create(), Normalize.create()::withBackend).forward(t);
                case "Matmul.multiply" -> c.on(Matmul.create(), Matmul.create()::withBackend).multiply(t, false, t, true);
                case "KlDiv.forward" -> c.on(KlDiv.create(), KlDiv.create()::withBackend).forward(t, t);
                case "InfoNce.forward" -> c.on(InfoNce.create(), InfoNce.create()::withBackend).forward(t);
                case "HardNegatives.mine" -> c.on(HardNegatives.create(1), HardNegatives.create(1)::withBackend).mine(t);
                default -> {
                    Tensor keys = Tensor.zeros(DType.FLOAT32, 3, 2);
                    Tensor idx = Tensor.zeros(DType.INT64, s);
                    c.got("numel", HardNegatives.gather(keys, idx).numel());
                }
            }
        });
    }
}
