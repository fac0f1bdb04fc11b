package dev.jnce.backend.java;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.PairKernels.MiningOutcome;
import dev.jnce.internal.Parallel;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Hard-negative mining in Java, the algorithm of native/src/cpu/mining.c: per row a min-heap
 * of the K best non-positive keys (root: the worst kept), then a heap sort. Callers have
 * checked for NaN. A row whose heap never fills has fewer than K negatives, all of them
 * counted on the way: the first such row is reported and its indices are not written.
 */
final class JavaMining {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final ValueLayout.OfLong L = ValueLayout.JAVA_LONG;

    private JavaMining() {
    }

    static MiningOutcome run(Tensor sim, Tensor queryLabels, Tensor keyLabels, Tensor mask, Tensor indices) {
        long n = sim.size(0), m = sim.size(1);
        int k = Math.toIntExact(indices.size(1));
        if (k == 0) return MiningOutcome.COMPLETE;
        MemorySegment s = sim.segment(), out = indices.segment();
        AtomicLong firstShort = new AtomicLong(Long.MAX_VALUE);
        long[] negativesOf = new long[Math.toIntExact(n)];
        Parallel.forRange(n, Math.max(1, 16384 / m), (begin, end) -> {
            long[] heap = new long[k];
            for (long i = begin; i < end; i++) {
                long row = i * m;
                int size = 0;
                for (long j = 0; j < m; j++) {
                    // once the heap is full, a key at or below the worst kept one (scanned in
                    // increasing j, a tie loses on index) is out: one compare for nearly every key
                    if (size == k && !(s.getAtIndex(F, row + j) > s.getAtIndex(F, row + heap[0]))) continue;
                    if (isPositive(queryLabels, keyLabels, mask, i, j, m)) continue;
                    if (size < k) {
                        heap[size] = j;
                        for (int at = size++; at > 0 && better(s, row, heap[(at - 1) / 2], heap[at]); at = (at - 1) / 2) {
                            swap(heap, at, (at - 1) / 2);
                        }
                    } else if (better(s, row, j, heap[0])) {
                        heap[0] = j;
                        siftDown(heap, size, s, row);
                    }
                }
                if (size < k) { // the heap never filled: every negative was taken, size counts them
                    negativesOf[(int) i] = size;
                    firstShort.accumulateAndGet(i, Math::min);
                    continue;
                }
                for (int last = size - 1; last > 0; last--) { // heap sort: the worst goes to the end
                    swap(heap, 0, last);
                    siftDown(heap, last, s, row);
                }
                MemorySegment.copy(heap, 0, out, L, i * k * 8, k);
            }
        });
        long row = firstShort.get();
        return row == Long.MAX_VALUE ? MiningOutcome.COMPLETE : new MiningOutcome(row, negativesOf[(int) row]);
    }

    static boolean isPositive(Tensor queryLabels, Tensor keyLabels, Tensor mask, long i, long j, long m) {
        if (queryLabels != null) return index(queryLabels, i) == index(keyLabels, j);
        if (mask != null) return index(mask, i * m + j) != 0;
        return i == j;
    }

    static long index(Tensor t, long at) {
        MemorySegment s = t.segment();
        return t.dtype() == DType.INT64 ? s.getAtIndex(L, at) : s.getAtIndex(ValueLayout.JAVA_INT, at);
    }

    /** Key j ranks above key q: higher similarity, or equal and lower index. */
    private static boolean better(MemorySegment s, long row, long j, long q) {
        float sj = s.getAtIndex(F, row + j), sq = s.getAtIndex(F, row + q);
        return sj > sq || (sj == sq && j < q);
    }

    private static void siftDown(long[] heap, int size, MemorySegment s, long row) {
        int at = 0;
        for (;;) {
            int child = 2 * at + 1;
            if (child >= size) return;
            if (child + 1 < size && better(s, row, heap[child], heap[child + 1])) child++;
            if (!better(s, row, heap[at], heap[child])) return;
            swap(heap, at, child);
            at = child;
        }
    }

    private static void swap(long[] heap, int x, int y) {
        long t = heap[x];
        heap[x] = heap[y];
        heap[y] = t;
    }
}
