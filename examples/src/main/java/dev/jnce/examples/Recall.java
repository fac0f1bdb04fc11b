package dev.jnce.examples;

/**
 * Recall@K of a random ranking, the yardstick of the demo's Recall@K (computed by
 * {@link dev.jnce.metrics.Ranking}).
 */
public final class Recall {
    private Recall() {
    }

    /**
     * The expected Recall@K of a random ranking: a user with C candidate items (all but its
     * training items) finds each held-out item in its top K with probability min(K, C) / C.
     */
    public static double chance(SyntheticData data, int k) {
        double total = 0;
        for (int u = 0; u < data.users; u++) {
            int candidates = data.items - data.train[u].length;
            total += (double) Math.min(k, candidates) / candidates;
        }
        return total / data.users;
    }
}
