package dev.jnce.examples;

/**
 * Recall@K on held-out interactions: per user, rank every item it has not trained on by score,
 * and count the share of its held-out items among the first K; then average over users.
 */
public final class Recall {
    private Recall() {
    }

    /** Mean Recall@K for scores (users, items) row-major. */
    public static double atK(float[] scores, SyntheticData data, int k) {
        double total = 0;
        for (int u = 0; u < data.users; u++) {
            boolean[] candidate = new boolean[data.items];
            for (int i : data.heldOut[u]) candidate[i] = true;
            int hits = 0;
            for (int i : TopK.of(scores, u * data.items, data.items, k, data.trainMask(u))) {
                if (candidate[i]) hits++;
            }
            total += (double) hits / data.heldOut[u].length;
        }
        return total / data.users;
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
