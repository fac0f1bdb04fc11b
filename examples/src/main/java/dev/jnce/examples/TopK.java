package dev.jnce.examples;

/** The indices of the k largest scores of a row, best first, skipping excluded indices. */
final class TopK {
    private TopK() {
    }

    /**
     * The indices j of the k largest {@code scores[offset + j]}, j in [0, n), best first (ties:
     * the lower index first), with {@code excluded[j]} ones left out; fewer when fewer remain.
     */
    static int[] of(float[] scores, int offset, int n, int k, boolean[] excluded) {
        int[] best = new int[k];
        int size = 0;
        for (int j = 0; j < n; j++) {
            if (excluded != null && excluded[j]) continue;
            float s = scores[offset + j];
            if (size == k && !(s > scores[offset + best[k - 1]])) continue;
            // insertion into the sorted list of the best so far: k is small
            int pos = Math.min(size, k - 1);
            while (pos > 0 && s > scores[offset + best[pos - 1]]) {
                best[pos] = best[pos - 1];
                pos--;
            }
            best[pos] = j;
            if (size < k) size++;
        }
        return size == k ? best : java.util.Arrays.copyOf(best, size);
    }
}
