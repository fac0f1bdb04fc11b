package dev.jnce.bench;

import dev.jnce.Backend;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.loss.BinaryCrossEntropy;
import dev.jnce.loss.BinaryCrossEntropyWithLogits;
import dev.jnce.loss.BprLoss;
import dev.jnce.loss.ClipLoss;
import dev.jnce.loss.CrossEntropy;
import dev.jnce.loss.Entropy;
import dev.jnce.loss.InfoNce;
import dev.jnce.loss.KlDiv;
import dev.jnce.loss.NllLoss;
import dev.jnce.loss.NtXent;
import dev.jnce.loss.SampledSoftmax;
import dev.jnce.loss.SigLipLoss;
import dev.jnce.loss.SigmoidFocalLoss;
import dev.jnce.loss.SoftmaxFocalLoss;
import dev.jnce.loss.TripletMarginLoss;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;

/**
 * Small calls, where the fixed cost of a call shows: forward+backward of every loss family at 32
 * rows of 128 (a (32, 128) logit matrix; 32 query and key embeddings of D = 128), in the form that
 * returns new tensors, closed at once ({@code allocating}), and the form that writes into the
 * caller's tensors ({@code into}). The difference is what making and freeing the result tensors
 * costs. {@code onetensor}: InfoNCE over one (32, 128) tensor; {@code bpr}: 4 negatives a row;
 * {@code sampled_softmax}: 32 shared sampled negatives with their logQ correction.
 *
 * <pre>java -jar bench/target/benchmarks.jar SmallCallBench -p backend=cpu</pre>
 */
public class SmallCallBench extends OpBench {
    private static final int N = 32, C = 128;

    @Param({"ce", "nll", "bce", "bce_logits", "kl_div", "sigmoid_focal", "softmax_focal", "infonce", "ntxent",
            "clip", "siglip", "triplet", "entropy", "onetensor", "bpr", "sampled_softmax"})
    public String loss;

    private Tensor x, p, y, q, k, views, out, g1, g2, g3, negatives, gNeg, logQP, logQS, dist;
    private CrossEntropy ce;
    private NllLoss nll;
    private BinaryCrossEntropy bce;
    private BinaryCrossEntropyWithLogits bceLogits;
    private KlDiv kl;
    private SigmoidFocalLoss sigmoidFocal;
    private SoftmaxFocalLoss softmaxFocal;
    private InfoNce infoNce;
    private NtXent ntXent;
    private ClipLoss clip;
    private SigLipLoss sigLip;
    private TripletMarginLoss triplet;
    private Entropy entropy;
    private BprLoss bpr;
    private SampledSoftmax sampledSoftmax;

    @Setup(Level.Trial)
    public void setup() {
        Backend b = backend();
        if (b == null) return;
        x = fixture.gaussian(1f, N, C);
        p = fixture.uniform(0.05f, 0.95f, N, C);
        y = fixture.classIndices(N, C);
        q = fixture.gaussian(0.1f, N, C);
        k = fixture.gaussian(0.1f, N, C);
        views = fixture.gaussian(0.1f, 2 * N, C);
        out = fixture.zeros();
        g1 = fixture.zeros(N, C);
        g2 = fixture.zeros(N, C);
        g3 = fixture.zeros(2 * N, C);
        ce = CrossEntropy.create().withBackend(b);
        nll = NllLoss.create().withBackend(b);
        bce = BinaryCrossEntropy.create().withBackend(b);
        bceLogits = BinaryCrossEntropyWithLogits.create().withBackend(b);
        kl = KlDiv.create().withBackend(b);
        sigmoidFocal = SigmoidFocalLoss.create().withReduction(Reduction.MEAN).withBackend(b); // its default is NONE, as torchvision's
        softmaxFocal = SoftmaxFocalLoss.create().withBackend(b);
        infoNce = InfoNce.create().withBackend(b);
        ntXent = NtXent.create().withBackend(b);
        clip = ClipLoss.create().withBackend(b);
        sigLip = SigLipLoss.create().withBackend(b);
        triplet = TripletMarginLoss.create().withBackend(b);
        entropy = Entropy.create().withBackend(b);
        bpr = BprLoss.create().withBackend(b);
        sampledSoftmax = SampledSoftmax.create().withBackend(b);
        float[] rows = fixture.uniform(0.05f, 0.95f, N, C).toFloatArray(); // rows that sum to 1, for the entropy
        for (int i = 0; i < N; i++) {
            double sum = 0;
            for (int j = 0; j < C; j++) sum += rows[i * C + j];
            for (int j = 0; j < C; j++) rows[i * C + j] /= (float) sum;
        }
        dist = fixture.own(Tensor.of(rows, N, C));
        negatives = fixture.gaussian(0.1f, N, 4, C);
        gNeg = fixture.zeros(N, 4, C);
        logQP = fixture.uniform(-6f, -2f, N);
        logQS = fixture.uniform(-6f, -2f, N);
    }

    @Benchmark
    public Object allocating() throws Exception {
        if (ce == null) return null;
        AutoCloseable r = switch (loss) {
            case "ce" -> ce.forwardBackward(x, y);
            case "nll" -> nll.forwardBackward(x, y);
            case "bce" -> bce.forwardBackward(p, p);
            case "bce_logits" -> bceLogits.forwardBackward(x, p);
            case "kl_div" -> kl.forwardBackward(x, p);
            case "sigmoid_focal" -> sigmoidFocal.forwardBackward(x, p);
            case "softmax_focal" -> softmaxFocal.forwardBackward(x, y);
            case "infonce" -> infoNce.forwardBackward(q, k);
            case "ntxent" -> ntXent.forwardBackward(views);
            case "clip" -> clip.forwardBackward(q, k);
            case "siglip" -> sigLip.forwardBackward(q, k);
            case "triplet" -> triplet.forwardBackward(q, k, x);
            case "entropy" -> entropy.forwardBackward(dist);
            case "onetensor" -> infoNce.forwardBackward(q);
            case "bpr" -> bpr.forwardBackward(q, k, negatives);
            case "sampled_softmax" -> sampledSoftmax.forwardBackward(q, k, x, logQP, logQS);
            default -> throw new IllegalArgumentException("loss: " + loss);
        };
        r.close();
        return r;
    }

    @Benchmark
    public Object into() {
        if (ce == null) return null;
        switch (loss) {
            case "ce" -> ce.forwardBackward(x, y, out, g1);
            case "nll" -> nll.forwardBackward(x, y, out, g1);
            case "bce" -> bce.forwardBackward(p, p, out, g1, null);
            case "bce_logits" -> bceLogits.forwardBackward(x, p, out, g1, null);
            case "kl_div" -> kl.forwardBackward(x, p, out, g1, null);
            case "sigmoid_focal" -> sigmoidFocal.forwardBackward(x, p, out, g1, null);
            case "softmax_focal" -> softmaxFocal.forwardBackward(x, y, out, g1);
            case "infonce" -> infoNce.forwardBackward(q, k, out, g1, g2);
            case "ntxent" -> ntXent.forwardBackward(views, out, g3);
            case "clip" -> clip.forwardBackward(q, k, out, g1, g2);
            case "siglip" -> sigLip.forwardBackward(q, k, out, g1, g2);
            case "triplet" -> triplet.forwardBackward(q, k, x, out, g1, g2, g3.rows(0, N));
            case "entropy" -> entropy.forwardBackward(dist, out, g1);
            case "onetensor" -> infoNce.forwardBackwardInto(q, out, g1);
            case "bpr" -> bpr.forwardBackward(q, k, negatives, out, g1, g2, gNeg);
            case "sampled_softmax" -> sampledSoftmax.forwardBackward(q, k, x, logQP, logQS, out, g1, g2, g3.rows(0, N));
            default -> throw new IllegalArgumentException("loss: " + loss);
        }
        return out;
    }
}
