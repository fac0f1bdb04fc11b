package dev.jnce.examples;

import dev.jnce.Tensor;
import dev.jnce.metrics.TopK;

import java.util.SplittableRandom;

/**
 * A seeded synthetic user-item data set with planted structure, for the two-tower demo.
 *
 * <ul>
 * <li>Tastes: {@value #CLUSTERS} cluster centres, N(0, I), in a {@value #LATENT}-d latent space.
 *     Every user and every item belongs to a cluster; its latent vector is the centre plus
 *     N(0, I) noise, so members of a cluster share a taste but differ in detail.</li>
 * <li>Features: what a model sees, {@value #FEATURES}-d: the latent vector through a random
 *     projection (one for users, another for items) plus N(0, 0.5^2) noise. A linear map
 *     recovers most of the latent vector, so linear towers can learn the affinity.</li>
 * <li>Interactions: each user takes {@code perUser} distinct items, drawn without replacement
 *     with probability proportional to exp(20 affinity), the affinity the cosine of the two
 *     latent vectors (the Gumbel top-k trick). They are shuffled and the last {@code heldOut} are held out.</li>
 * </ul>
 * Everything follows from the seed: the same seed gives the same data.
 */
public final class SyntheticData {
    public static final int FEATURES = 64;
    public static final int LATENT = 16;
    public static final int CLUSTERS = 12;
    /** How strongly the affinity decides: exp(20 cos) makes a user's tastes sharp but not certain. */
    private static final double SHARPNESS = 20;

    public final int users, items;
    /** (users, 64) and (items, 64), row-major. */
    public final float[] userFeatures, itemFeatures;
    /** Per user: the item ids of its training and its held-out interactions. */
    public final int[][] train, heldOut;
    /** The training interactions as pairs: pairUsers[p] interacted with pairItems[p]. */
    public final int[] pairUsers, pairItems;
    private final double[][] userLatent, itemLatent;

    private SyntheticData(double[][] userLatent, double[][] itemLatent, float[] userFeatures, float[] itemFeatures,
                          int[][] train, int[][] heldOut) {
        this.userLatent = userLatent;
        this.itemLatent = itemLatent;
        users = userLatent.length;
        items = itemLatent.length;
        this.userFeatures = userFeatures;
        this.itemFeatures = itemFeatures;
        this.train = train;
        this.heldOut = heldOut;
        int pairs = 0;
        for (int[] t : train) pairs += t.length;
        pairUsers = new int[pairs];
        pairItems = new int[pairs];
        for (int u = 0, p = 0; u < users; u++) {
            for (int i : train[u]) {
                pairUsers[p] = u;
                pairItems[p++] = i;
            }
        }
    }

    /** Generates the data set; 0 < heldOut < perUser <= items. */
    public static SyntheticData generate(long seed, int users, int items, int perUser, int heldOut) {
        if (!(0 < heldOut && heldOut < perUser && perUser <= items)) {
            throw new IllegalArgumentException("need 0 < heldOut < perUser <= items, got heldOut " + heldOut
                    + ", perUser " + perUser + ", items " + items);
        }
        SplittableRandom random = new SplittableRandom(seed);
        double[][] centres = new double[CLUSTERS][];
        for (int c = 0; c < CLUSTERS; c++) centres[c] = gaussian(random, LATENT, 1);
        double[][] userLatent = latents(random, centres, users), itemLatent = latents(random, centres, items);
        float[] userFeatures = features(random, userLatent), itemFeatures = features(random, itemLatent);

        int[][] train = new int[users][], held = new int[users][];
        float[] keys = new float[items];
        for (int u = 0; u < users; u++) {
            for (int i = 0; i < items; i++) {
                double gumbel = -Math.log(-Math.log(random.nextDouble(Double.MIN_NORMAL, 1)));
                keys[i] = (float) (SHARPNESS * cos(userLatent[u], itemLatent[i]) + gumbel);
            }
            int[] chosen;
            try (Tensor row = Tensor.of(keys, 1, items); Tensor top = TopK.of(perUser).select(row, null)) {
                chosen = java.util.Arrays.stream(top.toLongArray()).mapToInt(Math::toIntExact).toArray();
            }
            for (int j = chosen.length - 1; j > 0; j--) swap(chosen, j, random.nextInt(j + 1));
            train[u] = java.util.Arrays.copyOf(chosen, perUser - heldOut);
            held[u] = java.util.Arrays.copyOfRange(chosen, perUser - heldOut, perUser);
        }
        return new SyntheticData(userLatent, itemLatent, userFeatures, itemFeatures, train, held);
    }

    /**
     * The planted affinity of every user with every item, (users, items) row-major: the scores
     * of a model that knew the hidden tastes, the ceiling a learned model can approach.
     */
    public float[] plantedAffinity() {
        float[] s = new float[users * items];
        for (int u = 0; u < users; u++) {
            for (int i = 0; i < items; i++) s[u * items + i] = (float) cos(userLatent[u], itemLatent[i]);
        }
        return s;
    }

    private static double[][] latents(SplittableRandom random, double[][] centres, int n) {
        double[][] z = new double[n][];
        for (int r = 0; r < n; r++) {
            double[] centre = centres[random.nextInt(CLUSTERS)];
            z[r] = gaussian(random, LATENT, 1);
            for (int d = 0; d < LATENT; d++) z[r][d] += centre[d];
        }
        return z;
    }

    /** rows (n, LATENT) . P (LATENT, FEATURES) with P ~ N(0, 1/LATENT), plus N(0, 0.5^2) noise. */
    private static float[] features(SplittableRandom random, double[][] rows) {
        double[][] projection = new double[LATENT][];
        for (int d = 0; d < LATENT; d++) projection[d] = gaussian(random, FEATURES, 1 / Math.sqrt(LATENT));
        float[] x = new float[rows.length * FEATURES];
        for (int r = 0; r < rows.length; r++) {
            for (int f = 0; f < FEATURES; f++) {
                double s = 0.5 * random.nextGaussian();
                for (int d = 0; d < LATENT; d++) s += rows[r][d] * projection[d][f];
                x[r * FEATURES + f] = (float) s;
            }
        }
        return x;
    }

    private static double[] gaussian(SplittableRandom random, int n, double std) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = std * random.nextGaussian();
        return v;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    private static double cos(double[] a, double[] b) {
        return dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b));
    }

    private static void swap(int[] a, int i, int j) {
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}
