package dev.jnce;

import dev.jnce.loss.BinaryCrossEntropy;
import dev.jnce.loss.BinaryCrossEntropyWithLogits;
import dev.jnce.loss.ClipLoss;
import dev.jnce.loss.CrossEntropy;
import dev.jnce.loss.Entropy;
import dev.jnce.loss.InfoNce;
import dev.jnce.loss.KlDiv;
import dev.jnce.loss.NllLoss;
import dev.jnce.loss.NtXent;
import dev.jnce.loss.Perplexity;
import dev.jnce.loss.SigLipLoss;
import dev.jnce.loss.SigmoidFocalLoss;
import dev.jnce.loss.SoftmaxFocalLoss;
import dev.jnce.loss.TripletMarginLoss;
import dev.jnce.metrics.ItemSets;
import dev.jnce.metrics.Ranking;
import dev.jnce.metrics.TopK;
import dev.jnce.ops.CosineSimilarity;
import dev.jnce.ops.HardNegatives;
import dev.jnce.ops.Matmul;
import dev.jnce.ops.Normalize;
import dev.jnce.ops.Similarity;
import dev.jnce.ops.Softmax;
import dev.jnce.testutil.FailingKernels;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A call that fails leaks nothing: for every form of every loss and op that allocates (its outputs,
 * its scratch, a borrowed logit buffer), pinned to a backend whose kernel call number j fails
 * ({@link FailingKernels}), for every j the call reaches, with a RuntimeException and with an
 * Error, the memory of every tensor the call handed to a kernel — except the caller's inputs — is
 * freed when the exception reaches the caller; and a call that succeeds keeps only the outputs it
 * returns, freed when they are closed. Host memory is the test's measure: a tensor's memory is
 * freed exactly when the arena behind its segment (shared by its views) is no longer alive. This
 * is exact where a count of allocations over many rejected calls is approximate, and it reaches
 * failures (a native error, an out-of-memory in the middle of a call) that no input provokes.
 */
class FailedCallsTest {
    private static final int N = 6, C = 4, D = 3;
    private static final Map<String, Function<Backend, Object>> FORMS = new LinkedHashMap<>();
    private static final List<Tensor> INPUTS = new ArrayList<>();

    private static Tensor in(Tensor t) {
        INPUTS.add(t);
        return t;
    }

    private static float[] gaussian(Random r, int count) {
        float[] v = new float[count];
        for (int i = 0; i < count; i++) v[i] = (float) r.nextGaussian();
        return v;
    }

    /** Rows of positive values summing to 1. */
    private static float[] distributions(Random r, int rows, int cols) {
        float[] v = new float[rows * cols];
        for (int i = 0; i < rows; i++) {
            double sum = 0;
            for (int j = 0; j < cols; j++) sum += v[i * cols + j] = 0.1f + r.nextFloat();
            for (int j = 0; j < cols; j++) v[i * cols + j] /= (float) sum;
        }
        return v;
    }

    @BeforeAll
    static void forms() {
        Random r = new Random(7);
        Tensor logits = in(Tensor.of(gaussian(r, N * C), N, C));
        Tensor targets = in(Tensor.of(new long[] {0, 1, 2, 3, 1, 0}));
        float[] probs = distributions(r, N, C);
        Tensor p = in(Tensor.of(probs, N, C)), q = in(Tensor.of(distributions(r, N, C), N, C));
        float[] logProbs = new float[N * C];
        for (int i = 0; i < logProbs.length; i++) logProbs[i] = (float) Math.log(probs[i]);
        Tensor logP = in(Tensor.of(logProbs, N, C));
        Tensor unit = in(Tensor.of(distributions(r, N, C), N, C));
        float[] bits = new float[N * C];
        for (int i = 0; i < bits.length; i++) bits[i] = r.nextBoolean() ? 1f : 0f;
        Tensor binary = in(Tensor.of(bits, N, C));
        Tensor a = in(Tensor.of(gaussian(r, N * D), N, D)), b = in(Tensor.of(gaussian(r, N * D), N, D));
        Tensor f = in(Tensor.of(gaussian(r, N * D), N, D)), c = in(Tensor.of(gaussian(r, N * D), N, D));
        Tensor shared = in(Tensor.of(gaussian(r, 2 * D), 2, D));
        Tensor explicit = in(Tensor.of(gaussian(r, N * 2 * D), N, 2, D));
        Tensor labels = in(Tensor.of(new long[] {0, 0, 1, 1, 2, 2}));
        int[] maskValues = new int[N * N];
        for (int i = 0; i < N; i++) maskValues[i * N + i] = 1;
        Tensor mask = in(Tensor.of(maskValues, N, N));
        Tensor tokenLosses = in(Tensor.of(new float[] {0.5f, 1f, 2f, 0.1f, 3f, 0.7f}, N));
        Tensor tokenMask = in(Tensor.of(new long[] {1, 0, 1, 1, 0, 1}));
        Tensor sim = in(Tensor.of(gaussian(r, N * N), N, N)), dS = in(Tensor.of(gaussian(r, N * N), N, N));
        Tensor dOut = in(Tensor.of(gaussian(r, N), N)), gradOut = in(Tensor.of(gaussian(r, N * C), N, C));
        Tensor rowSums = in(Tensor.of(gaussian(r, N), N));
        Tensor bMatrix = in(Tensor.of(gaussian(r, D * C), D, C));
        Tensor lossN = in(Tensor.of(new float[N], N)), loss1 = in(Tensor.of(new float[1], 1));
        Tensor g1 = in(Tensor.of(new float[N * D], N, D)), g2 = in(Tensor.of(new float[N * D], N, D));
        Tensor sOut = in(Tensor.of(new float[N * N], N, N));

        FORMS.put("CrossEntropy.forward", k -> CrossEntropy.create().withBackend(k).forward(logits, targets));
        FORMS.put("CrossEntropy.forwardBackward", k -> CrossEntropy.create().withBackend(k).forwardBackward(logits, targets));
        FORMS.put("CrossEntropy.forwardBackward(lse, probabilities)",
                k -> CrossEntropy.create().withLogSumExp(true).withBackend(k).forwardBackward(logits, p));
        FORMS.put("NllLoss.forward", k -> NllLoss.create().withBackend(k).forward(logP, targets));
        FORMS.put("NllLoss.forwardBackward", k -> NllLoss.create().withBackend(k).forwardBackward(logP, targets));
        FORMS.put("BinaryCrossEntropy.forward", k -> BinaryCrossEntropy.create().withBackend(k).forward(unit, binary));
        FORMS.put("BinaryCrossEntropy.forwardBackward", k -> BinaryCrossEntropy.create().withBackend(k).forwardBackward(unit, binary));
        FORMS.put("BinaryCrossEntropyWithLogits.forward",
                k -> BinaryCrossEntropyWithLogits.create().withBackend(k).forward(logits, binary));
        FORMS.put("BinaryCrossEntropyWithLogits.forwardBackward",
                k -> BinaryCrossEntropyWithLogits.create().withBackend(k).forwardBackward(logits, binary));
        FORMS.put("SigmoidFocalLoss.forward", k -> SigmoidFocalLoss.create().withBackend(k).forward(logits, binary));
        FORMS.put("SigmoidFocalLoss.forwardBackward", k -> SigmoidFocalLoss.create().withBackend(k).forwardBackward(logits, binary));
        FORMS.put("SoftmaxFocalLoss.forward", k -> SoftmaxFocalLoss.create().withBackend(k).forward(logits, targets));
        FORMS.put("SoftmaxFocalLoss.forwardBackward", k -> SoftmaxFocalLoss.create().withBackend(k).forwardBackward(logits, targets));
        FORMS.put("KlDiv.forward", k -> KlDiv.create().withBackend(k).forward(logP, q));
        FORMS.put("KlDiv.forwardBackward", k -> KlDiv.create().withBackend(k).forwardBackward(logP, q));
        FORMS.put("Entropy.forward", k -> Entropy.create().withBackend(k).forward(p));
        FORMS.put("Entropy.forwardBackward", k -> Entropy.create().withBackend(k).forwardBackward(p));
        FORMS.put("Entropy.cross", k -> Entropy.create().withBackend(k).cross(p, q));
        FORMS.put("Entropy.crossForwardBackward", k -> Entropy.create().withBackend(k).crossForwardBackward(p, q));
        FORMS.put("Perplexity.forward", k -> Perplexity.create().withBackend(k).forward(tokenLosses, targets));
        FORMS.put("Perplexity.forwardBackward", k -> Perplexity.create().withBackend(k).forwardBackward(tokenLosses, targets));
        FORMS.put("Perplexity.forwardMasked", k -> Perplexity.create().withBackend(k).forwardMasked(tokenLosses, tokenMask));
        FORMS.put("Perplexity.forwardBackwardMasked",
                k -> Perplexity.create().withBackend(k).forwardBackwardMasked(tokenLosses, tokenMask));
        FORMS.put("Perplexity.forwardBackwardLogits", k -> Perplexity.create().withBackend(k).forwardBackwardLogits(logits, targets));
        FORMS.put("TripletMarginLoss.forward", k -> TripletMarginLoss.create().withBackend(k).forward(a, b, c));
        FORMS.put("TripletMarginLoss.forwardBackward", k -> TripletMarginLoss.create().withBackend(k).forwardBackward(a, b, c));

        FORMS.put("InfoNce.forward", k -> InfoNce.create().withBackend(k).forward(a, b));
        FORMS.put("InfoNce.forwardBackward(q, k)", k -> InfoNce.create().withBackend(k).forwardBackward(a, b));
        FORMS.put("InfoNce.forwardBackward(q, k) decoupled", k -> InfoNce.create().withDecoupled(true).withBackend(k).forwardBackward(a, b));
        FORMS.put("InfoNce.forwardBackward(q, k, shared)", k -> InfoNce.create().withBackend(k).forwardBackward(a, b, shared));
        FORMS.put("InfoNce.forwardBackward(f)", k -> InfoNce.create().withBackend(k).forwardBackward(f));
        FORMS.put("InfoNce.forwardBackward(f) in blocks", k -> InfoNce.create().withBlockRows(2).withBackend(k).forwardBackward(f));
        FORMS.put("InfoNce.forwardBackwardLabels(q, k, ql, kl)",
                k -> InfoNce.create().withBackend(k).forwardBackwardLabels(a, b, labels, labels));
        FORMS.put("InfoNce.forwardBackwardLabels(f, labels)", k -> InfoNce.create().withBackend(k).forwardBackwardLabels(f, labels));
        FORMS.put("InfoNce.forwardBackwardMask", k -> InfoNce.create().withBackend(k).forwardBackwardMask(a, b, mask));
        FORMS.put("InfoNce.forwardBackwardNegatives", k -> InfoNce.create().withBackend(k).forwardBackwardNegatives(a, b, explicit));
        FORMS.put("InfoNce.forwardBackwardNegatives decoupled",
                k -> InfoNce.create().withDecoupled(true).withBackend(k).forwardBackwardNegatives(a, b, explicit));
        FORMS.put("InfoNce.forwardBackwardInto", k -> InfoNce.create().withBackend(k).forwardBackwardInto(f, loss1, g1));
        FORMS.put("InfoNce.forwardBackward into (q, k)",
                k -> InfoNce.create().withReduction(Reduction.NONE).withBackend(k).forwardBackward(a, b, lossN, g1, g2));
        FORMS.put("NtXent.forwardBackward", k -> NtXent.create().withBackend(k).forwardBackward(f));
        FORMS.put("NtXent.forwardBackward in blocks", k -> NtXent.create().withBlockRows(2).withBackend(k).forwardBackward(f));
        FORMS.put("ClipLoss.forwardBackward", k -> ClipLoss.create().withBackend(k).forwardBackward(a, b));
        FORMS.put("ClipLoss.forwardBackward into", k -> ClipLoss.create().withBackend(k).forwardBackward(a, b, loss1, g1, g2));
        FORMS.put("SigLipLoss.forwardBackward", k -> SigLipLoss.create().withBlockRows(4).withBackend(k).forwardBackward(a, b));
        FORMS.put("SigLipLoss.forwardBackward into", k -> SigLipLoss.create().withBackend(k).forwardBackward(a, b, loss1, g1, g2));

        FORMS.put("Similarity.dot().forward", k -> Similarity.dot().withBackend(k).forward(a, b));
        FORMS.put("Similarity.cosine().forward", k -> Similarity.cosine().withBackend(k).forward(a, b));
        FORMS.put("Similarity.cosine().forward into", k -> {
            Similarity.cosine().withBackend(k).forward(a, b, sOut);
            return null;
        });
        FORMS.put("Similarity.cosine().backward", k -> Similarity.cosine().withBackend(k).backward(a, b, dS));
        FORMS.put("CosineSimilarity.forward", k -> CosineSimilarity.create().withBackend(k).forward(a, b));
        FORMS.put("CosineSimilarity.backward", k -> CosineSimilarity.create().withBackend(k).backward(a, b, dOut));
        FORMS.put("Matmul.multiply", k -> Matmul.create().withBackend(k).multiply(a, bMatrix));
        FORMS.put("Normalize.forward", k -> Normalize.create().withBackend(k).forward(a));
        FORMS.put("Normalize.backward", k -> Normalize.create().withBackend(k).backward(a, b));
        FORMS.put("Softmax.forward", k -> Softmax.create().withBackend(k).forward(logits));
        FORMS.put("Softmax.backward", k -> Softmax.create().withBackend(k).backward(p, gradOut));
        FORMS.put("Softmax.forwardBackward", k -> Softmax.create().withBackend(k).forwardBackward(logits, gradOut));
        FORMS.put("Softmax.logsumexp().forwardBackward", k -> Softmax.logsumexp().withBackend(k).forwardBackward(logits, rowSums));
        FORMS.put("HardNegatives.mine", k -> HardNegatives.create(2).withBackend(k).mine(sim));
        FORMS.put("HardNegatives.mine(labels)", k -> HardNegatives.create(2).withBackend(k).mine(sim, labels, labels));
        FORMS.put("HardNegatives.mineMasked", k -> HardNegatives.create(2).withBackend(k).mineMasked(sim, mask));
        ItemSets seen = ItemSets.of(new int[][] {{0}, {}, {1, 2}, {}, {5}, {3}});
        FORMS.put("TopK.select", k -> TopK.of(2).withBackend(k).select(sim, seen));
        FORMS.put("TopK.fromEmbeddings", k -> TopK.of(2).withBackend(k).withBlockRows(4).fromEmbeddings(a, b, seen));
        FORMS.put("Ranking.evaluate(embeddings)", k -> Ranking.atK(2).withBackend(k).withBlockRows(4).evaluate(a, b, seen, null));
    }

    @AfterAll
    static void closeInputs() {
        for (Tensor t : INPUTS) t.close();
        INPUTS.clear();
        FORMS.clear();
    }

    static Stream<Arguments> cases() {
        List<Arguments> cases = new ArrayList<>();
        for (Backend b : TestBackends.all()) {
            for (String form : FORMS.keySet()) cases.add(Arguments.of(b, form));
        }
        return cases.stream();
    }

    /**
     * The tensors handed to kernels that are still open (their memory allocated, the tensor and its
     * base not closed) and not an input's memory. Open means usable: a small tensor's memory lies
     * in a shared slab that outlives its close, so the slab's liveness alone says nothing.
     */
    private static List<String> alive(List<FailingKernels.Seen> seen) {
        List<String> alive = new ArrayList<>();
        Set<Tensor> reported = Collections.newSetFromMap(new IdentityHashMap<>());
        for (FailingKernels.Seen s : seen) {
            if (!s.memory().isAlive()) continue;
            try {
                s.handle().requireOpen("t");
            } catch (IllegalStateException closed) {
                continue;
            }
            if (!insideAnInput(s.handle()) && reported.add(s.handle())) alive.add(s.tensor());
        }
        return alive;
    }

    private static boolean insideAnInput(Tensor t) {
        long at = t.segment().address();
        for (Tensor in : INPUTS) {
            long from = in.segment().address();
            if (at >= from && at < from + Math.max(1, in.segment().byteSize())) return true;
        }
        return false;
    }

    private static void closeResult(Object result) throws Exception {
        if (result instanceof AutoCloseable c) c.close();
    }

    @ParameterizedTest(name = "{1} on {0}")
    @MethodSource("cases")
    void everyFailurePointFreesWhatTheCallAllocated(Backend backend, String form) throws Exception {
        Function<Backend, Object> run = FORMS.get(form);
        FailingKernels kernels = new FailingKernels(backend);
        Backend pinned = kernels.backend();

        // the call as it succeeds: what it keeps is its outputs, freed when the caller closes them
        InfoNce.releaseWorkspace();
        kernels.failNever();
        Object result = run.apply(pinned);
        int calls = kernels.calls();
        assertTrue(calls > 0, form + " should call a kernel");
        closeResult(result);
        InfoNce.releaseWorkspace();
        assertEquals(List.of(), alive(kernels.seen()), form + ": tensors left allocated after a successful call, once closed");

        for (int j = 1; j <= calls; j++) {
            for (boolean asError : new boolean[] {false, true}) {
                kernels.failAt(j, asError);
                try {
                    closeResult(run.apply(pinned));
                    fail(form + ": kernel call " + j + " of " + calls + " failed, but the call returned");
                } catch (FailingKernels.InjectedFailure | OutOfMemoryError e) {
                    if (asError) assertInstanceOf(OutOfMemoryError.class, e, "the Error itself reaches the caller");
                    else assertInstanceOf(FailingKernels.InjectedFailure.class, e, "the exception itself reaches the caller");
                }
                InfoNce.releaseWorkspace(); // the logit buffers a call borrowed are back in the pool: free them
                assertEquals(List.of(), alive(kernels.seen()), form + ": tensors left allocated when kernel call " + j + " of "
                        + calls + " failed with " + (asError ? "an Error" : "a RuntimeException"));
            }
        }
    }
}
