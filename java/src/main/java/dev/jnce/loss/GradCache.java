package dev.jnce.loss;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.internal.Outputs;

import java.util.ArrayList;
import java.util.List;

/**
 * Chunked large-batch training (GradCache, Gao et al. 2021, "Scaling Deep Contrastive Learning
 * Batch Size under Memory Limited Setup"): the batch's loss couples every row, but its gradient
 * with respect to the embeddings is all the encoders need. So: (1) compute the embeddings chunk
 * by chunk without keeping the encoders' activations; (2) hand the chunks here, which returns the
 * loss of the whole batch and d loss / d each embedding, cut into the same chunks; (3) re-run
 * each chunk's forward with activations and back-propagate its gradient chunk. The result equals
 * the one-shot gradient (up to float rounding).
 *
 * <pre>{@code
 * GradCache cache = GradCache.of(InfoNce.create().withTemperature(0.05f));
 * try (GradCache.Result r = cache.forwardBackward(queryChunks, keyChunks)) {    // lists of (n_c, D)
 *     r.loss().item();
 *     for (int c = 0; c < queryChunks.size(); c++) backpropagate(c, r.gradQueries().get(c), r.gradKeys().get(c));
 * }
 * }</pre>
 *
 * Memory: the batch's embeddings and their gradients (O(N·D)) and the loss's row block; never the
 * encoders' activations of more than one chunk. Every option of the two-tower {@link InfoNce}
 * applies (direction, margin, smoothing, logQ, accidental hits over the whole batch). Immutable.
 */
public final class GradCache {
    private final InfoNce loss;

    private GradCache(InfoNce loss) {
        this.loss = loss;
    }

    /**
     * A helper running this two-tower loss over chunked batches.
     *
     * @param loss the loss; not null
     * @return the helper
     * @throws IllegalArgumentException if loss is null
     */
    public static GradCache of(InfoNce loss) {
        if (loss == null) throw new IllegalArgumentException("loss: must not be null");
        return new GradCache(loss);
    }

    /**
     * The loss of the whole batch and its gradients, chunk by chunk; closing it closes every tensor.
     *
     * @param loss            the loss: (N) for NONE, else shape ()
     * @param gradQueries     d loss / d each query chunk, shaped as the chunk
     * @param gradKeys        d loss / d each key chunk, shaped as the chunk
     * @param gradTemperature d loss / d tau
     */
    public record Result(Tensor loss, List<Tensor> gradQueries, List<Tensor> gradKeys, float gradTemperature)
            implements AutoCloseable {
        @Override
        public void close() {
            loss.close();
            gradQueries.forEach(Tensor::close);
            gradKeys.forEach(Tensor::close);
        }
    }

    /**
     * Runs the loss on the concatenated chunks (query chunk c pairs with key chunk c, row by row)
     * and returns the gradients cut as the chunks are.
     *
     * @param queryChunks the queries in chunks, each (n_c, D) float32; not empty
     * @param keyChunks   the keys in chunks of the same row counts, each (n_c, D) float32
     * @return the loss and the per-chunk gradients in new tensors; close it
     * @throws IllegalArgumentException if a list is null or empty, the lists differ in length, or a
     *   chunk's shape, dtype, device or values are not as stated (naming the chunk)
     * @throws IllegalStateException if a tensor is closed or its memory freed
     */
    public Result forwardBackward(List<Tensor> queryChunks, List<Tensor> keyChunks) {
        if (queryChunks == null || queryChunks.isEmpty()) throw new IllegalArgumentException("queryChunks: must not be null or empty");
        if (keyChunks == null || keyChunks.size() != queryChunks.size()) {
            throw new IllegalArgumentException("keyChunks: expected " + queryChunks.size() + " chunks (one per query chunk), got "
                    + (keyChunks == null ? "null" : keyChunks.size()));
        }
        int chunks = queryChunks.size();
        Object[] args = new Object[4 * chunks];
        for (int c = 0; c < chunks; c++) {
            args[4 * c] = "queryChunks[" + c + "]";
            args[4 * c + 1] = queryChunks.get(c);
            args[4 * c + 2] = "keyChunks[" + c + "]";
            args[4 * c + 3] = keyChunks.get(c);
        }
        Kernels k = loss.kernels(args);
        long n = 0, d = -1;
        for (int c = 0; c < chunks; c++) {
            Tensor qc = queryChunks.get(c), kc = keyChunks.get(c);
            long dq = Contrastive.embeddings("queryChunks[" + c + "]", qc, k, 1, "expected n_c >= 1");
            Contrastive.embeddings("keyChunks[" + c + "]", kc, k, 1, "expected n_c >= 1");
            if (d >= 0) Contrastive.sameWidth("queryChunks[" + c + "]", qc, "queryChunks[0]", d);
            d = dq;
            if (kc.size(0) != qc.size(0) || kc.size(1) != d) {
                throw new IllegalArgumentException("keyChunks[" + c + "]: expected shape " + Tensor.formatShape(qc.shape())
                        + " of queryChunks[" + c + "], got " + Tensor.formatShape(kc.shape()));
            }
            n += qc.size(0);
        }
        List<Tensor> gq = new ArrayList<>(chunks), gk = new ArrayList<>(chunks);
        Tensor q = null, keys = null, dqAll = null, dkAll = null, lossT = null;
        try {
            q = Contrastive.scratch(k, n, d);
            keys = Contrastive.scratch(k, n, d);
            dqAll = Contrastive.scratch(k, n, d);
            dkAll = Contrastive.scratch(k, n, d);
            for (long c = 0, at = 0; c < chunks; c++) {
                long rows = queryChunks.get((int) c).size(0);
                k.similarity().copy(queryChunks.get((int) c), q.rows(at, rows));
                k.similarity().copy(keyChunks.get((int) c), keys.rows(at, rows));
                at += rows;
            }
            lossT = Contrastive.newLoss(k, loss.reduction(), n);
            float gradTau = loss.forwardBackward(q, keys, lossT, dqAll, dkAll);
            for (long c = 0, at = 0; c < chunks; c++) {
                long rows = queryChunks.get((int) c).size(0);
                Tensor a = Tensor.zeros(k.device(), DType.FLOAT32, rows, d);
                gq.add(a);
                k.similarity().copy(dqAll.rows(at, rows), a);
                Tensor b = Tensor.zeros(k.device(), DType.FLOAT32, rows, d);
                gk.add(b);
                k.similarity().copy(dkAll.rows(at, rows), b);
                at += rows;
            }
            return new Result(lossT, gq, gk, gradTau);
        } catch (RuntimeException | Error e) {
            List<Tensor> all = new ArrayList<>(gq);
            all.addAll(gk);
            all.add(lossT);
            throw Outputs.closeAndRethrow(e, all.toArray(new Tensor[0]));
        } finally {
            for (Tensor t : new Tensor[] {q, keys, dqAll, dkAll}) if (t != null) t.close();
        }
    }
}
