package dev.jnce.metrics;

import java.util.Arrays;

/**
 * One set of item indices per query row, held compressed (CSR: row i's items are
 * {@code items[offsets[i] .. offsets[i+1])}): the relevant items of ranking metrics (a user's
 * held-out interactions) and the items to exclude from its ranking (its training interactions).
 * Each row is kept sorted without repeats. Immutable and thread-safe.
 *
 * <pre>{@code
 * ItemSets heldOut = ItemSets.of(new int[][] {{3, 17}, {}, {5}});   // query 1 has none
 * }</pre>
 */
public final class ItemSets {
    private final long[] offsets;
    private final int[] items;
    private final int maxItem;

    private ItemSets(long[] offsets, int[] items) {
        this.offsets = offsets;
        this.items = items;
        int max = -1;
        for (int item : items) max = Math.max(max, item);
        this.maxItem = max;
    }

    /**
     * One row per query, each an array of item indices (any order; repeats count once).
     *
     * @param rows the item indices of each query, each &ge; 0; a null or empty row is an empty set
     * @return the sets
     * @throws IllegalArgumentException if rows is null or an item is negative (the message names the row)
     */
    public static ItemSets of(int[][] rows) {
        if (rows == null) throw new IllegalArgumentException("rows: must not be null");
        long[] offsets = new long[rows.length + 1];
        int total = 0;
        for (int[] r : rows) total = Math.addExact(total, r == null ? 0 : r.length);
        int[] items = new int[total];
        int at = 0;
        for (int i = 0; i < rows.length; i++) {
            at = append(rows[i], i, items, at, "rows");
            offsets[i + 1] = at;
        }
        return new ItemSets(offsets, Arrays.copyOf(items, at));
    }

    /**
     * Sets in CSR form: row i holds {@code items[offsets[i] .. offsets[i+1])}.
     *
     * @param offsets (N+1) positions into items: offsets[0] = 0, non-decreasing, offsets[N] = items.length
     * @param items the item indices, each &ge; 0
     * @return the sets (copies of the arrays, rows sorted without repeats)
     * @throws IllegalArgumentException if an array is null, the offsets are not as stated, or an item is negative
     */
    public static ItemSets csr(long[] offsets, int[] items) {
        if (offsets == null) throw new IllegalArgumentException("offsets: must not be null");
        if (items == null) throw new IllegalArgumentException("items: must not be null");
        if (offsets.length == 0 || offsets[0] != 0 || offsets[offsets.length - 1] != items.length) {
            throw new IllegalArgumentException("offsets: expected (N+1) positions from 0 to items.length = " + items.length
                    + ", got " + offsets.length + " positions" + (offsets.length == 0 ? ""
                    : " from " + offsets[0] + " to " + offsets[offsets.length - 1]));
        }
        int n = offsets.length - 1;
        int[][] rows = new int[n][];
        for (int i = 0; i < n; i++) {
            if (offsets[i + 1] < offsets[i]) {
                throw new IllegalArgumentException("offsets: decrease at row " + i + " (" + offsets[i] + " > " + offsets[i + 1] + ")");
            }
            rows[i] = Arrays.copyOfRange(items, (int) offsets[i], (int) offsets[i + 1]);
        }
        try {
            return of(rows);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(e.getMessage().replaceFirst("^rows", "items"), e);
        }
    }

    private static int append(int[] row, int i, int[] items, int at, String argument) {
        if (row == null || row.length == 0) return at;
        int[] sorted = row.clone();
        Arrays.sort(sorted);
        if (sorted[0] < 0) {
            throw new IllegalArgumentException(argument + ": row " + i + " holds item " + sorted[0] + "; items must be >= 0");
        }
        for (int k = 0; k < sorted.length; k++) {
            if (k == 0 || sorted[k] != sorted[k - 1]) items[at++] = sorted[k];
        }
        return at;
    }

    /**
     * The number of query rows.
     *
     * @return N
     */
    public int rows() {
        return offsets.length - 1;
    }

    /**
     * The number of distinct items of row i.
     *
     * @param i the row, in [0, rows())
     * @return its set's size
     * @throws IndexOutOfBoundsException if i is outside [0, rows())
     */
    public int size(int i) {
        return (int) (offsets[i + 1] - offsets[i]);
    }

    /**
     * Row i's items, ascending.
     *
     * @param i the row, in [0, rows())
     * @return a copy of its items
     * @throws IndexOutOfBoundsException if i is outside [0, rows())
     */
    public int[] row(int i) {
        return Arrays.copyOfRange(items, (int) offsets[i], (int) offsets[i + 1]);
    }

    /**
     * Whether row i holds item.
     *
     * @param i the row, in [0, rows())
     * @param item an item index
     * @return true if item is in row i's set
     * @throws IndexOutOfBoundsException if i is outside [0, rows())
     */
    public boolean contains(int i, long item) {
        if (item < 0 || item > Integer.MAX_VALUE) return false;
        return Arrays.binarySearch(items, (int) offsets[i], (int) offsets[i + 1], (int) item) >= 0;
    }

    /**
     * The largest item of any row.
     *
     * @return the largest item index, or -1 when every row is empty
     */
    public int maxItem() {
        return maxItem;
    }

    /**
     * The total number of items over all rows.
     *
     * @return the sum of the set sizes
     */
    public long total() {
        return items.length;
    }

    /** The CSR positions (N+1), not copied: callers only read it. */
    long[] offsetsView() {
        return offsets;
    }

    /** The CSR items, not copied: callers only read it. */
    int[] itemsView() {
        return items;
    }
}
