package dev.jnce.examples;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.loss.InfoNce;
import dev.jnce.metrics.ItemSets;
import dev.jnce.metrics.Ranking;
import dev.jnce.metrics.RankingMetrics;
import dev.jnce.ops.Normalize;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A two-tower recommender: a user tower and an item tower, each a
 * {@link Linear} 64 -> 128, whose L2-normalised outputs are compared by cosine similarity,
 * trained with in-batch {@link InfoNce} and {@link Adam}.
 *
 * <p>One training step on a batch of N (user, item) interactions:
 * <pre>
 * q = userTower(userX) (N,128)    k = itemTower(itemX) (N,128)
 * loss = InfoNce(q, k)    cross-entropy of the logits cos(q_i, k_j) / tau (N,N) with the
 *                         diagonal as targets: user i's positive is its own item, the
 *                         other N-1 items of the batch are its negatives
 * </pre>
 * InfoNce returns dLoss/dq and dLoss/dk (through the normalisation); the towers' backward
 * GEMMs turn them into weight gradients, and Adam updates both towers. The batch inputs and
 * embeddings are allocated once.
 */
public final class TwoTower implements AutoCloseable {
    private final Linear userTower, itemTower;
    private final InfoNce infoNce;
    private final Normalize normalize;
    private final Backend backend;
    private final Adam adam;
    private final int batch;
    private final Tensor userX, itemX, queries, keys;

    /**
     * @param batch       interactions per step (N)
     * @param temperature tau of the logits
     * @param lr          Adam's learning rate
     */
    public TwoTower(int features, int dim, int batch, float temperature, double lr, SplittableRandom random, Backend backend) {
        this.batch = batch;
        userTower = new Linear(features, dim, random, backend);
        itemTower = new Linear(features, dim, random, backend);
        infoNce = InfoNce.create().withTemperature(temperature).withBackend(backend);
        normalize = Normalize.create().withBackend(backend);
        this.backend = backend;
        List<Tensor> params = new ArrayList<>(userTower.parameters()), grads = new ArrayList<>(userTower.gradients());
        params.addAll(itemTower.parameters());
        grads.addAll(itemTower.gradients());
        adam = new Adam(params, grads, lr);
        userX = Tensor.zeros(DType.FLOAT32, batch, features);
        itemX = Tensor.zeros(DType.FLOAT32, batch, features);
        queries = Tensor.zeros(DType.FLOAT32, batch, dim);
        keys = Tensor.zeros(DType.FLOAT32, batch, dim);
    }

    /**
     * One step on N interactions, user {@code users[i]} with item {@code items[i]}; features
     * are rows of the (rows, 64) arrays. Returns the batch's mean loss before the update.
     */
    public float step(float[] userFeatures, int[] users, float[] itemFeatures, int[] items) {
        if (users.length != batch || items.length != batch) {
            throw new IllegalArgumentException("users, items: expected " + batch + " ids each, got " + users.length
                    + " and " + items.length);
        }
        gather(userFeatures, users, userX);
        gather(itemFeatures, items, itemX);
        userTower.forward(userX, queries);
        itemTower.forward(itemX, keys);
        float loss;
        try (InfoNce.Result r = infoNce.forwardBackward(queries, keys)) {
            loss = r.loss().item();
            userTower.backward(userX, r.gradQueries(), null);
            itemTower.backward(itemX, r.gradKeys(), null);
        }
        adam.step();
        return loss;
    }

    /**
     * Ranking metrics at K of every user over every item by cosine similarity (the dot product
     * of the L2-normalised tower outputs), through jnce's fused top-k: the (users, items) scores
     * are computed and ranked a row block at a time, the training items excluded.
     */
    public RankingMetrics evaluate(float[] userFeatures, int users, float[] itemFeatures, int items, ItemSets relevant,
                                   ItemSets exclude, int k) {
        int features = userTower.inFeatures(), dim = userTower.outFeatures();
        try (Tensor ux = Tensor.of(userFeatures, users, features); Tensor ix = Tensor.of(itemFeatures, items, features);
             Tensor u = Tensor.zeros(DType.FLOAT32, users, dim); Tensor i = Tensor.zeros(DType.FLOAT32, items, dim)) {
            userTower.forward(ux, u);
            itemTower.forward(ix, i);
            normalize.forward(u, u);
            normalize.forward(i, i);
            return Ranking.atK(k).withBackend(backend).evaluate(u, i, relevant, exclude);
        }
    }

    public int batchSize() {
        return batch;
    }

    @Override
    public void close() {
        userTower.close();
        itemTower.close();
        for (Tensor t : List.of(userX, itemX, queries, keys)) t.close();
    }

    /** Copies rows {@code ids} of a (rows, F) array into x (N, F). */
    private static void gather(float[] rows, int[] ids, Tensor x) {
        int n = Math.toIntExact(x.size(0)), f = Math.toIntExact(x.size(1));
        MemorySegment xs = x.segment();
        for (int r = 0; r < n; r++) {
            MemorySegment.copy(rows, ids[r] * f, xs, ValueLayout.JAVA_FLOAT, (long) r * f * Float.BYTES, f);
        }
    }
}
