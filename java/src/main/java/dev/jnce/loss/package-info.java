/**
 * Losses with their gradients, one class per family, with PyTorch's names and meanings.
 *
 * <ul>
 *   <li>Cross-entropy family: {@link dev.jnce.loss.CrossEntropy}, {@link dev.jnce.loss.NllLoss},
 *   {@link dev.jnce.loss.BinaryCrossEntropy}, {@link dev.jnce.loss.BinaryCrossEntropyWithLogits},
 *   {@link dev.jnce.loss.SigmoidFocalLoss}, {@link dev.jnce.loss.SoftmaxFocalLoss},
 *   {@link dev.jnce.loss.KlDiv}, {@link dev.jnce.loss.Entropy} and
 *   {@link dev.jnce.loss.Perplexity}.</li>
 *   <li>Contrastive family: {@link dev.jnce.loss.InfoNce} (two towers, one tensor, shared or
 *   explicit negatives, several positives by labels or mask, SupCon),
 *   {@link dev.jnce.loss.NtXent}, {@link dev.jnce.loss.ClipLoss},
 *   {@link dev.jnce.loss.SigLipLoss} and {@link dev.jnce.loss.TripletMarginLoss}.</li>
 *   <li>Results: {@link dev.jnce.loss.LossResult}, {@link dev.jnce.loss.InputTargetResult},
 *   {@link dev.jnce.loss.CrossEntropy.Result}, {@link dev.jnce.loss.EmbeddingResult},
 *   {@link dev.jnce.loss.PairedResult} and the families' own {@code Result} records; closing one
 *   closes every tensor in it.</li>
 * </ul>
 *
 * <p>Every loss is an immutable, thread-safe object configured by {@code withX} methods that
 * return a copy. Each computes its value <em>and</em> the gradient of every float input in one
 * call, in two forms: one that allocates its outputs on the call's device, and one that writes
 * into tensors the caller keeps (so that a training step allocates nothing). Outputs must be
 * writable and share no memory with an input or another output, except the in-place forms each
 * method documents.
 *
 * <p>Shapes use N for rows, C for classes, D for features, M for keys and K for negatives.
 * Float inputs are float32; class indices and labels are int32 or int64. Shapes, dtypes and
 * devices are checked before any kernel runs, values (class indices, weights, probability rows)
 * by the kernels before anything is written; a mistake is an
 * {@link java.lang.IllegalArgumentException} naming the argument, a closed tensor an
 * {@link java.lang.IllegalStateException}.
 *
 * <p>Pitfalls: MEAN divides by what PyTorch divides by (the weighted count of rows not ignored
 * for the cross-entropy family; every element for {@code KlDiv}'s MEAN, where BATCHMEAN gives
 * the true KL); a NaN or +Inf in a row gives a NaN loss and NaN gradient row, as in PyTorch; the
 * contrastive losses keep one logit buffer per device between calls
 * ({@link dev.jnce.loss.InfoNce#releaseWorkspace()} frees it).
 */
package dev.jnce.loss;
