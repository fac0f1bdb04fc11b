package dev.jnce.harness;

import dev.jnce.DType;
import dev.jnce.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Where a case's tensors live, and the memory it must free afterwards: scoped tensors, unscoped
 * ones, wrapped segments of shared, automatic, closed and read-only arenas, views of larger
 * tensors, and confined segments owned by another thread.
 */
final class Storage {
    /** The ways a valid tensor is made. */
    enum Kind { OF, ZEROS, UNSCOPED, WRAPPED, AUTO, VIEW, READ_ONLY }

    /** The thread that owns the confined arenas of wrong-thread cases. */
    private static final ExecutorService OWNER = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "fuzz-confined-owner");
        t.setDaemon(true);
        return t;
    });

    private final List<AutoCloseable> toClose = new ArrayList<>();
    private final List<Arena> confined = new ArrayList<>();

    /** Bytes of one element. */
    static long bytes(DType dtype, long numel) {
        return numel * dtype.byteSize();
    }

    static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    /** Writes data (float[], int[] or long[], converted to dtype) into seg from element 0. */
    static void fill(MemorySegment seg, DType dtype, Object data) {
        int n = length(data);
        for (int i = 0; i < n; i++) {
            switch (dtype) {
                case FLOAT32 -> seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) value(data, i));
                case INT32 -> seg.setAtIndex(ValueLayout.JAVA_INT, i, (int) longValue(data, i));
                case INT64 -> seg.setAtIndex(ValueLayout.JAVA_LONG, i, longValue(data, i));
            }
        }
    }

    static int length(Object data) {
        if (data instanceof float[] f) return f.length;
        if (data instanceof int[] a) return a.length;
        return ((long[]) data).length;
    }

    private static double value(Object data, int i) {
        if (data instanceof float[] f) return f[i];
        if (data instanceof int[] a) return a[i];
        return ((long[]) data)[i];
    }

    private static long longValue(Object data, int i) {
        if (data instanceof float[] f) return Float.isFinite(f[i]) ? (long) f[i] : 0;
        if (data instanceof int[] a) return a[i];
        return ((long[]) data)[i];
    }

    /** A tensor of dtype and shape holding data, made the given way. */
    Tensor make(Kind kind, DType dtype, long[] shape, Object data) {
        long numel = numel(shape);
        switch (kind) {
            case OF -> {
                if (shape.length > 0 && dtype == DType.FLOAT32 && data instanceof float[] f) return Tensor.of(f, shape);
                if (shape.length > 0 && dtype == DType.INT64 && data instanceof long[] l) return Tensor.of(l, shape);
                return make(Kind.ZEROS, dtype, shape, data);
            }
            case ZEROS -> {
                Tensor t = Tensor.zeros(dtype, shape);
                fill(t.segment(), dtype, data);
                return t;
            }
            case UNSCOPED -> {
                Tensor t = Tensor.zerosUnscoped(dtype, shape);
                toClose.add(t);
                fill(t.segment(), dtype, data);
                return t;
            }
            case WRAPPED, READ_ONLY -> {
                Arena arena = Arena.ofShared();
                toClose.add(arena);
                MemorySegment seg = arena.allocate(Math.max(1, bytes(dtype, numel)), Tensor.ALIGNMENT).asSlice(0, bytes(dtype, numel));
                fill(seg, dtype, data);
                return Tensor.wrap(kind == Kind.READ_ONLY ? seg.asReadOnly() : seg, dtype, shape);
            }
            case AUTO -> {
                MemorySegment seg = Arena.ofAuto().allocate(Math.max(1, bytes(dtype, numel)), 8).asSlice(0, bytes(dtype, numel));
                fill(seg, dtype, data);
                return Tensor.wrap(seg, dtype, shape);
            }
            case VIEW -> {
                long pad = 1 + (numel % 3);
                Tensor big = Tensor.zeros(dtype, numel + 2 * pad);
                Tensor view = big.rows(pad, numel).reshape(shape);
                fill(view.segment(), dtype, data);
                return view;
            }
        }
        throw new AssertionError(kind);
    }

    /** A tensor over a segment of an arena that is already closed. */
    Tensor closedArena(DType dtype, long[] shape, Object data) {
        Arena arena = Arena.ofShared();
        MemorySegment seg = arena.allocate(Math.max(1, bytes(dtype, numel(shape))), Tensor.ALIGNMENT)
                .asSlice(0, bytes(dtype, numel(shape)));
        fill(seg, dtype, data);
        Tensor t = Tensor.wrap(seg, dtype, shape);
        arena.close();
        return t;
    }

    /** A tensor over a confined segment owned by another thread (the arena stays open until cleanup). */
    Tensor otherThread(DType dtype, long[] shape, Object data) {
        long bytes = bytes(dtype, numel(shape));
        Future<MemorySegment> f = OWNER.submit(() -> {
            Arena arena = Arena.ofConfined();
            confined.add(arena);
            MemorySegment seg = arena.allocate(Math.max(1, bytes), Tensor.ALIGNMENT).asSlice(0, bytes);
            fill(seg, dtype, data);
            return seg;
        });
        try {
            return Tensor.wrap(f.get(), dtype, shape);
        } catch (InterruptedException | ExecutionException e) {
            throw new IllegalStateException("fuzz harness: the owner thread failed", e);
        }
    }

    /** A raw shared segment of this many bytes (zeroed), for tensors that overlap on purpose. */
    MemorySegment raw(long bytes) {
        Arena arena = Arena.ofShared();
        toClose.add(arena);
        return arena.allocate(Math.max(1, bytes), Tensor.ALIGNMENT).asSlice(0, bytes);
    }

    /** Frees everything; returns the first failure to close, or null. */
    Throwable close() {
        Throwable first = null;
        for (int i = toClose.size() - 1; i >= 0; i--) {
            try {
                toClose.get(i).close();
            } catch (Throwable t) {
                if (first == null) first = t;
            }
        }
        toClose.clear();
        if (!confined.isEmpty()) {
            List<Arena> mine = new ArrayList<>(confined);
            confined.clear();
            try {
                OWNER.submit(() -> mine.forEach(Arena::close)).get();
            } catch (InterruptedException | ExecutionException e) {
                if (first == null) first = e;
            }
        }
        return first;
    }
}
