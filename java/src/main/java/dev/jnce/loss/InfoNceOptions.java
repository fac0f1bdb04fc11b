package dev.jnce.loss;

import dev.jnce.Reduction;

/**
 * The options of an InfoNCE call, handed down to the code that runs it (the row-block sweep,
 * the symmetric path, explicit negatives). Package-private.
 *
 * @param temperature the tau the similarities are divided by: finite, > 0 and a normal float32
 *                    (checked here, for every form that builds options)
 * @param normalize   cosine similarity of L2-normalised rows (else plain dot products)
 * @param decoupled   the positive left out of the denominator (Yeh et al. 2022)
 * @param reduction   NONE, MEAN or SUM over rows
 * @param skipEmpty   rows without positive left out (else an error naming the first)
 * @param blockRows   rows of logits per block; 0: about {@link Contrastive#BLOCK_BYTES} of them
 * @param retrieval   direction, margin, smoothing, logQ correction, accidental hits (two-tower forms)
 */
record InfoNceOptions(float temperature, boolean normalize, boolean decoupled, Reduction reduction, boolean skipEmpty,
                      long blockRows, RetrievalOptions retrieval) {
    InfoNceOptions {
        Contrastive.normalPositive("temperature", temperature,
                "the similarities are multiplied by 1/temperature, which overflows float32 below this range");
    }

    InfoNceOptions withRetrieval(RetrievalOptions r) {
        return new InfoNceOptions(temperature, normalize, decoupled, reduction, skipEmpty, blockRows, r);
    }
}
