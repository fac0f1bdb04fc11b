package dev.jnce.examples;

import dev.jnce.Backend;
import dev.jnce.Tensor;
import dev.jnce.metrics.ItemSets;
import dev.jnce.metrics.Ranking;
import dev.jnce.metrics.RankingMetrics;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Trains the {@link TwoTower} recommender on {@link SyntheticData} and measures it: shuffled
 * batches of training interactions each epoch (the last partial batch dropped), then Recall@K
 * and NDCG@K on the held-out interactions ({@link Ranking}: every item ranked but the user's
 * training items). Everything follows from {@link Options#seed}; the same seed and
 * backend give the same numbers.
 */
public final class Recommender {
    private Recommender() {
    }

    /** The run's sizes and hyper-parameters. */
    public record Options(long seed, int epochs, int users, int items, int perUser, int heldOut, int batch, int dim,
                          float temperature, double lr, int k) {
        public Options {
            if (epochs < 1 || batch < 2 || k < 1 || !(temperature > 0) || !(lr > 0)) {
                throw new IllegalArgumentException("options: need epochs >= 1, batch >= 2, k >= 1, temperature > 0 and "
                        + "lr > 0, got epochs " + epochs + ", batch " + batch + ", k " + k + ", temperature " + temperature
                        + ", lr " + lr);
            }
        }

        /** The demo's run: 2000 users, 1000 items, 20 interactions each (4 held out), 8 epochs. */
        public static Options defaults() {
            return new Options(42, 8, 2000, 1000, 20, 4, 256, 128, 0.1f, 3e-4, 10);
        }

        public Options withSeed(long seed) {
            return new Options(seed, epochs, users, items, perUser, heldOut, batch, dim, temperature, lr, k);
        }

        public Options withEpochs(int epochs) {
            return new Options(seed, epochs, users, items, perUser, heldOut, batch, dim, temperature, lr, k);
        }

        public Options withSize(int users, int items, int batch) {
            return new Options(seed, epochs, users, items, perUser, heldOut, batch, dim, temperature, lr, k);
        }
    }

    /** One epoch: its mean training loss and the Recall@K and NDCG@K after it. */
    public record Epoch(int epoch, double loss, double recall, double ndcg, double seconds) {
    }

    /** What a run reports as it goes; every method may be left empty. */
    public interface Listener {
        default void started(SyntheticData data, int stepsPerEpoch, Run baseline) {
        }

        default void step(int epoch, int step, int steps, double meanLoss) {
        }

        default void epoch(Epoch epoch) {
        }
    }

    /**
     * The epochs of a run and three Recall@K to judge them by: of the untrained model, of a
     * random ranking (chance), and of ranking by the planted affinity (the ceiling).
     */
    public record Run(List<Epoch> epochs, double recallBefore, double chance, double ceiling) {
        public Epoch last() {
            return epochs.getLast();
        }
    }

    public static Run train(Options o, Backend backend, Listener listener) {
        SplittableRandom random = new SplittableRandom(o.seed());
        SyntheticData data = SyntheticData.generate(random.nextLong(), o.users(), o.items(), o.perUser(), o.heldOut());
        int pairs = data.pairUsers.length, steps = pairs / o.batch();
        if (steps == 0) throw new IllegalArgumentException("batch: " + o.batch() + " exceeds the " + pairs + " training interactions");
        ItemSets heldOut = ItemSets.of(data.heldOut), train = ItemSets.of(data.train);
        Ranking ranking = Ranking.atK(o.k()).withBackend(backend);
        double chance = Recall.chance(data, o.k()), ceiling;
        try (Tensor planted = Tensor.of(data.plantedAffinity(), data.users, data.items)) {
            ceiling = ranking.evaluate(planted, heldOut, train).recall();
        }
        List<Epoch> epochs = new ArrayList<>();
        try (TwoTower model = new TwoTower(SyntheticData.FEATURES, o.dim(), o.batch(), o.temperature(), o.lr(), random, backend)) {
            double before = evaluate(model, data, heldOut, train, o.k()).recall();
            listener.started(data, steps, new Run(List.of(), before, chance, ceiling));
            int[] order = new int[pairs], users = new int[o.batch()], items = new int[o.batch()];
            for (int p = 0; p < pairs; p++) order[p] = p;
            for (int e = 1; e <= o.epochs(); e++) {
                long start = System.nanoTime();
                shuffle(order, random);
                double sum = 0;
                for (int s = 0; s < steps; s++) {
                    for (int i = 0; i < o.batch(); i++) {
                        users[i] = data.pairUsers[order[s * o.batch() + i]];
                        items[i] = data.pairItems[order[s * o.batch() + i]];
                    }
                    sum += model.step(data.userFeatures, users, data.itemFeatures, items);
                    listener.step(e, s + 1, steps, sum / (s + 1));
                }
                RankingMetrics m = evaluate(model, data, heldOut, train, o.k());
                Epoch epoch = new Epoch(e, sum / steps, m.recall(), m.ndcg(), (System.nanoTime() - start) / 1e9);
                epochs.add(epoch);
                listener.epoch(epoch);
            }
            return new Run(List.copyOf(epochs), before, chance, ceiling);
        }
    }

    private static RankingMetrics evaluate(TwoTower model, SyntheticData data, ItemSets heldOut, ItemSets train, int k) {
        return model.evaluate(data.userFeatures, data.users, data.itemFeatures, data.items, heldOut, train, k);
    }

    private static void shuffle(int[] a, SplittableRandom random) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1), t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }
}
