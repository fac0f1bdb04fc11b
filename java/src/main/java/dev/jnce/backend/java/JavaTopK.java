package dev.jnce.backend.java;

import dev.jnce.Tensor;
import dev.jnce.internal.Parallel;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The top-k of ranking metrics in Java, the algorithm of native/src/cpu/topk.c: per row a
 * min-heap of the K best columns kept (root: the worst); once it is full a column enters only
 * if its score exceeds the root's (scanned in increasing index, a tie loses), so nearly every
 * score costs one compare. Exclusions are marked in a boolean map of M per slice, set and
 * cleared per row. A row holding NaN in a column it keeps is reported, not written.
 */
final class JavaTopK {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final ValueLayout.OfLong L = ValueLayout.JAVA_LONG;
    private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;

    private JavaTopK() {
    }

    static long run(Tensor scores, Tensor excludeOffsets, Tensor excludeItems, Tensor indices, Tensor values) {
        long n = scores.size(0);
        int m = Math.toIntExact(scores.size(1)), k = Math.toIntExact(indices.size(1));
        if (k == 0 || n == 0) return -1;
        MemorySegment s = scores.segment(), out = indices.segment();
        MemorySegment outValues = values == null ? null : values.segment();
        MemorySegment offsets = excludeOffsets == null ? null : excludeOffsets.segment();
        MemorySegment items = excludeItems == null ? null : excludeItems.segment();
        AtomicLong firstNan = new AtomicLong(Long.MAX_VALUE);
        Parallel.forRange(n, Math.max(1, 16384 / m), (begin, end) -> {
            long[] key = new long[k];
            float[] val = new float[k];
            boolean[] mark = new boolean[m];
            for (long i = begin; i < end; i++) {
                long from = offsets == null ? 0 : offsets.getAtIndex(L, i), to = offsets == null ? 0 : offsets.getAtIndex(L, i + 1);
                for (long e = from; e < to; e++) mark[items.getAtIndex(I, e)] = true;
                long row = i * m;
                int size = 0;
                boolean nan = false;
                for (int j = 0; j < m; j++) {
                    float v = s.getAtIndex(F, row + j);
                    if (size == k && v <= val[0]) continue; // the one compare nearly every score costs
                    if (mark[j]) continue;
                    if (Float.isNaN(v)) {
                        nan = true;
                        break;
                    }
                    if (size < k) {
                        key[size] = j;
                        val[size] = v;
                        siftUp(key, val, size++);
                    } else {
                        key[0] = j;
                        val[0] = v;
                        siftDown(key, val, k, 0);
                    }
                }
                for (long e = from; e < to; e++) mark[items.getAtIndex(I, e)] = false;
                if (nan) {
                    firstNan.accumulateAndGet(i, Math::min);
                    continue;
                }
                for (int last = size - 1; last > 0; last--) { // heap sort: the worst goes to the end, best first
                    swap(key, val, 0, last);
                    siftDown(key, val, last, 0);
                }
                for (int c = 0; c < k; c++) {
                    out.setAtIndex(L, i * k + c, c < size ? key[c] : -1);
                    if (outValues != null) outValues.setAtIndex(F, i * k + c, c < size ? val[c] : Float.NEGATIVE_INFINITY);
                }
            }
        });
        long row = firstNan.get();
        return row == Long.MAX_VALUE ? -1 : row;
    }

    /** Column (va, a) ranks below (vb, b): lower score, or equal and higher index. */
    private static boolean worse(float va, long a, float vb, long b) {
        return va < vb || (va == vb && a > b);
    }

    private static void siftUp(long[] key, float[] val, int at) {
        while (at > 0) {
            int parent = (at - 1) / 2;
            if (!worse(val[at], key[at], val[parent], key[parent])) return;
            swap(key, val, at, parent);
            at = parent;
        }
    }

    private static void siftDown(long[] key, float[] val, int size, int at) {
        for (;;) {
            int child = 2 * at + 1;
            if (child >= size) return;
            if (child + 1 < size && worse(val[child + 1], key[child + 1], val[child], key[child])) child++;
            if (!worse(val[child], key[child], val[at], key[at])) return;
            swap(key, val, at, child);
            at = child;
        }
    }

    private static void swap(long[] key, float[] val, int x, int y) {
        long kk = key[x];
        key[x] = key[y];
        key[y] = kk;
        float vv = val[x];
        val[x] = val[y];
        val[y] = vv;
    }
}
