package dev.jnce.harness;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * The one place that lists the expectations the library does not meet yet. A case of such a
 * class still runs (unless running it can take the JVM down), but its failure is tallied apart,
 * as "known-open", instead of failing the run. {@code -Djnce.fuzz.enforce=NAME,NAME} (or
 * {@code all}) enforces classes again, and runs the ones that crash: do it once the fix is in.
 * The summary lists, per class, how many cases failed and how many passed, so a class whose
 * cases all pass is ready to be enforced.
 */
public enum KnownOpen {
    /**
     * CrossEntropy and NllLoss (and Perplexity from logits, which runs CrossEntropy into the
     * caller's buffers): an output that shares memory with an input or with another output is an
     * IllegalArgumentException naming it; the only aliasing allowed is grad being the logits
     * (input) tensor itself.
     */
    XENT_OUTPUT_OVERLAP(false),
    /**
     * Any op: an output that overlaps an integer input (class-index targets, labels, indices,
     * masks) is an IllegalArgumentException naming it. Unchecked, a kernel reads indices the
     * output has overwritten and the JVM dies (SIGSEGV; seen with CrossEntropy and
     * SoftmaxFocalLoss on cpu) instead.
     */
    OUTPUT_OVER_INDICES(true),
    /**
     * Every other op's into-buffer form: an output that shares memory with an input or with
     * another output, other than the in-place aliases the op documents, is an
     * IllegalArgumentException naming it. Unchecked, the outputs hold wrong numbers silently.
     */
    OUTPUT_OVERLAP(false),
    /** A tensor over a read-only segment passed as an output is an IllegalArgumentException naming that argument. */
    READ_ONLY_OUTPUT(false),
    /**
     * A tensor whose wrapped segment belongs to a closed arena is an IllegalStateException naming
     * the argument, checked up front by every op before any kernel reads or writes it (today the
     * segment access throws an unnamed IllegalStateException "Already closed").
     */
    CLOSED_ARENA(false),
    /**
     * The same rule where the cpu kernel takes addresses from a struct rather than segments
     * (jnce_xent_args: CrossEntropy, Perplexity from logits, and the InfoNCE forms, whose
     * cross-entropy writes the caller's loss): unchecked, it reads and writes freed memory, the C
     * heap is corrupted and the JVM aborts later, in another case (an AddressSanitizer build of
     * libjnce reports the heap-use-after-free in jnce_cross_entropy_fwd_bwd).
     */
    CLOSED_ARENA_USE_AFTER_FREE(true),
    /**
     * A tensor over a confined segment owned by another thread is an IllegalStateException naming
     * the argument, checked up front by every op before any kernel reads or writes it.
     */
    WRONG_THREAD(false),
    /** NllLoss class weights must be finite: NaN or an infinity is an IllegalArgumentException naming weight. */
    NLL_NONFINITE_WEIGHT(false),
    /**
     * A temperature whose reciprocal overflows float32 (Float.MIN_VALUE and other values below
     * 1 / Float.MAX_VALUE) is an IllegalArgumentException naming temperature; never a NaN loss.
     */
    TINY_TEMPERATURE(false),
    /**
     * CrossEntropy with probability targets: a row that is not a distribution is an
     * IllegalArgumentException naming targets, the public argument (the kernels name it probs).
     */
    XENT_PROBS_NAMED_TARGETS(false),
    /**
     * CrossEntropy's lse output of a row holding +Inf (and no NaN) is +Inf, the log-sum-exp that
     * Softmax.logsumexp and torch.logsumexp give (the kernels write NaN).
     */
    XENT_LSE_POS_INF(false),
    /**
     * Perplexity.forwardBackwardLogits with every target ignored and AllIgnored.NAN: the gradient
     * is all zeros, as the class documents for every form (the kernels write NaN, exp(NaN) times
     * the cross-entropy's zero gradient).
     */
    PERPLEXITY_LOGITS_ALL_IGNORED_GRAD(false),
    /**
     * cpu: the L2 normalisation (Normalize, Similarity.cosine) of a row holding NaN is NaN, as
     * x / max(NaN, eps) is in PyTorch; the kernel's fmax drops the NaN and returns x / eps.
     */
    NORMALIZE_NAN_ROW(false),
    /**
     * Matmul.gemm with alpha = 0 and Similarity with scale = 0: NaN or Inf in a or b give NaN,
     * as the formula alpha * op(a) op(b) does and the java backend gives; cpu (OpenBLAS) skips
     * the product and returns beta * c.
     */
    GEMM_ZERO_ALPHA(false),
    /**
     * InfoNCE forms that leave logits out of a softmax (decoupled, self-exclusion of the one-tensor
     * sweeps, NT-Xent, SupCon) give the float64 reference's loss also when logits reach 1e30 in
     * magnitude (a tiny temperature, or embeddings near 1e15 without normalisation): the excluded
     * entries are set to the finite -1e30, which then competes with the real logits instead of
     * leaving the softmax.
     */
    EXCLUDED_LOGIT_SENTINEL(false),
    /**
     * ClipLoss and SigLipLoss with a logit scale in float32's denormal range (Float.MIN_VALUE):
     * d loss / d scale is the float64 reference's, or the scale is an IllegalArgumentException
     * naming logitScale. The losses recover it as dot(a, scale G b) / scale, and the product has
     * underflowed: 0 or noise.
     */
    DENORMAL_LOGIT_SCALE(false),
    /** Backends.setThreads(n) with n at least twice the cores runs, never crashes inside OpenBLAS 0.3.28. */
    THREADS_OVERSUBSCRIBED(true),
    /** Backends.setThreads lowering the thread count after raising it runs, never aborts the JVM (double free). */
    THREADS_LOWERED(true);

    /** Whether a case of this class can take the JVM down: such cases run only when the class is enforced. */
    public final boolean crashes;

    KnownOpen(boolean crashes) {
        this.crashes = crashes;
    }

    /** The classes -Djnce.fuzz.enforce names (comma-separated, or "all"). */
    static Set<KnownOpen> enforced(String property) {
        Set<KnownOpen> set = EnumSet.noneOf(KnownOpen.class);
        if (property == null || property.isBlank()) return set;
        for (String name : property.split(",")) {
            String n = name.trim().toUpperCase(Locale.ROOT).replace('-', '_');
            if (n.isEmpty()) continue;
            if (n.equals("ALL")) return EnumSet.allOf(KnownOpen.class);
            set.add(KnownOpen.valueOf(n));
        }
        return set;
    }
}
