package dev.jnce.backend;

import dev.jnce.Tensor;
import dev.jnce.Reduction;

/**
 * KL divergence, entropy, cross-entropy of distributions and perplexity
 * (native/src/cpu/divergence.c and its Java twin). Every gradient argument may be null to skip it.
 */
public interface DivergenceKernels {

    /**
     * F.kl_div, pointwise over the values of input and target seen as {@code (N,C)}.
     *
     * @param n          N, the size of dimension 0 (1 for a scalar); 'batchmean' divides by it
     * @param c          C, the number of values divided by N
     * @param loss       N*C float32 values for NONE, else one
     * @param gradInput  d(reduced loss)/d(input), shaped like input, or null
     * @param gradTarget d(reduced loss)/d(target), shaped like target, or null
     */
    void klDiv(Tensor input, Tensor target, long n, long c, boolean logTarget, Reduction reduction,
               Tensor loss, Tensor gradInput, Tensor gradTarget);

    /** Row entropies of (N,C) probabilities p; loss (N) for NONE, else one value. */
    void entropy(Tensor p, Reduction reduction, Tensor loss, Tensor grad);

    /** Row cross-entropies -sum p log q of (N,C) p and q; loss (N) for NONE, else one value. */
    void distributionCrossEntropy(Tensor p, Tensor q, Reduction reduction, Tensor loss, Tensor gradP, Tensor gradQ);

    /**
     * Where the rows of a (N,C) float32 tensor stop being probability distributions: the first
     * row that has an entry that is NaN, negative or +Inf, or else whose sum (in double, in
     * order) is off 1 by more than {@code tolerance}; null when every row is a distribution.
     */
    RowFault firstNonDistribution(Tensor rows, double tolerance);

    /**
     * A row that is not a distribution: {@code column} is the first bad entry and {@code value}
     * its value, or {@code column} is -1 and {@code value} the row's sum.
     */
    record RowFault(long row, long column, double value) {
    }

    /**
     * exp(mean of the kept token losses); token k is kept iff keys[k] != ignoreKey.
     *
     * @param keys       int32 or int64, as many values as tokenLosses
     * @param allIgnored the value written when no token is kept
     * @param perplexity one float32 value, written
     * @param grad       d perplexity / d tokenLosses (ppl/count kept, 0 ignored), or null
     */
    void perplexity(Tensor tokenLosses, Tensor keys, long ignoreKey, float allIgnored, Tensor perplexity, Tensor grad);
}
