package dev.jnce.loss;

import dev.jnce.Backend;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.loss.InfoNce.Direction;
import dev.jnce.loss.RetrievalReference.Form;
import dev.jnce.loss.RetrievalReference.Spec;
import dev.jnce.testutil.Approx;
import dev.jnce.testutil.Golden;
import dev.jnce.testutil.ScopedTest;
import dev.jnce.testutil.TestBackends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static dev.jnce.testutil.Approx.assertClose;
import static dev.jnce.testutil.Approx.toDouble;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The retrieval training losses on every backend: InfoNCE's logQ correction, accidental hits,
 * margin, label smoothing and directions (GTE included), shared negatives with them, sampled
 * softmax and BPR, against PyTorch's golden data (TFRS and sentence-transformers semantics written
 * out in golden_retrieval.py) and the float64 reference, and their gradients against finite
 * differences of that reference. Bad input is in RetrievalArgumentsTest.
 */
class RetrievalTest extends ScopedTest {
    private static final Map<String, Golden.Case> GOLDEN = Golden.load("/golden/retrieval.txt");
    private static final String[] INPUTS = {"queries", "keys", "negatives"};

    /** One call: the spec, tau and the float32 inputs (neg null for the two-tower forms). */
    record Call(Spec spec, float tau, int n, float[] q, float[] k, float[] neg) {
        InfoNce.Result run(Backend backend) {
            int d = spec.d();
            Tensor tq = Tensor.of(q, n, d), tk = Tensor.of(k, n, d);
            Reduction red = spec.reduction();
            return switch (spec.form()) {
                case BPR -> BprLoss.create().withReduction(red).withBackend(backend).forwardBackward(tq, tk,
                        Tensor.of(neg, n, spec.k(), d));
                case SAMPLED_SOFTMAX -> {
                    SampledSoftmax ss = SampledSoftmax.create().withTemperature(tau).withNormalize(spec.normalize())
                            .withReduction(red).withBackend(backend);
                    Tensor tn = Tensor.of(neg, neg.length / d, d);
                    if (spec.logq() == null) yield ss.forwardBackward(tq, tk, tn);
                    float[] lq = toFloat(spec.logq());
                    float[] lp = java.util.Arrays.copyOfRange(lq, 0, n), ln = java.util.Arrays.copyOfRange(lq, n, lq.length);
                    yield ss.forwardBackward(tq, tk, tn, Tensor.of(lp, n), Tensor.of(ln, ln.length));
                }
                case TWO_TOWER -> loss(backend).forwardBackward(tq, tk);
                case SHARED -> loss(backend).forwardBackward(tq, tk, Tensor.of(neg, neg.length / d, d));
            };
        }

        InfoNce loss(Backend backend) {
            InfoNce l = InfoNce.create().withTemperature(tau).withNormalize(spec.normalize()).withReduction(spec.reduction())
                    .withDirection(spec.direction()).withMargin((float) spec.margin())
                    .withLabelSmoothing((float) spec.smoothing()).withBackend(backend);
            if (spec.logq() != null) {
                Tensor t = Tensor.of(toFloat(spec.logq()), spec.logq().length);
                l = spec.probability() ? l.withSamplingProbabilities(t) : l.withLogQCorrection(t);
            }
            if (spec.ids() != null) l = l.withAccidentalHits(Tensor.of(spec.ids(), spec.ids().length));
            return l;
        }

        double[] reference() {
            return RetrievalReference.loss(spec, toDouble(q), toDouble(k), neg == null ? null : toDouble(neg), tau);
        }

        static Call of(Golden.Case g) {
            Form form = Form.valueOf(g.text("form").toUpperCase());
            Direction dir = switch (g.text("direction")) {
                case "k2q" -> Direction.KEY_TO_QUERY;
                case "symmetric" -> Direction.SYMMETRIC;
                case "gte" -> Direction.BIDIRECTIONAL_GTE;
                default -> Direction.QUERY_TO_KEY;
            };
            boolean prob = g.fields().containsKey("probabilities");
            double[] logq = prob ? g.doubles("probabilities") : g.fields().containsKey("logq") ? g.doubles("logq") : null;
            Spec spec = new Spec(form, dir, (int) g.integer("D"), Boolean.parseBoolean(g.text("normalize")),
                    Reduction.valueOf(g.text("reduction").toUpperCase()), g.doubles("margin")[0], g.doubles("smoothing")[0],
                    logq, prob, g.fields().containsKey("ids") ? g.longs("ids") : null,
                    form == Form.BPR ? (int) g.integer("K") : 0);
            return new Call(spec, g.floats("temperature")[0], (int) g.integer("N"), g.floats("queries"), g.floats("keys"),
                    g.fields().containsKey("negatives") ? g.floats("negatives") : null);
        }
    }

    static Stream<Arguments> goldenCases() {
        return onEveryBackend(GOLDEN.values());
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("goldenCases")
    void matchesPyTorchAndTheFloat64Reference(Backend backend, Golden.Case g) {
        Call call = Call.of(g);
        assertClose(g.doubles("loss_f64"), toFloat(call.reference()), 1e-6, "the reference itself vs torch float64");
        try (InfoNce.Result r = call.run(backend)) {
            float[] loss = r.loss().toFloatArray();
            assertClose(g.doubles("loss_f64"), loss, 3e-6, "loss vs float64");
            assertClose(g.doubles("loss"), loss, 2e-5, "loss vs torch float32");
            Tensor[] grads = {r.gradQueries(), r.gradKeys(), r.gradNegatives()};
            for (int w = 0; w < 3; w++) {
                String key = "grad_" + INPUTS[w];
                if (!g.fields().containsKey(key)) continue;
                assertClose(g.doubles(key + "_f64"), grads[w].toFloatArray(), 3e-6, key + " vs float64");
                assertClose(g.doubles(key), grads[w].toFloatArray(), 3e-5, key + " vs torch float32");
            }
            if (g.fields().containsKey("grad_tau_f64")) {
                assertClose(g.doubles("grad_tau_f64"), new float[] {r.gradTemperature()}, 2e-5, "grad_tau vs float64");
            }
        }
    }

    /** Every option and direction, alone and together, for the finite-difference checks. */
    static Stream<Arguments> variants() {
        List<Object[]> v = new ArrayList<>();
        long[] ids = {4, 7, 4, 1, 7};
        double[] logq = {-1.2, -3.0, -0.4, -2.2, -0.9};
        for (Direction dir : Direction.values()) {
            boolean gte = dir == Direction.BIDIRECTIONAL_GTE, logqOk = dir == Direction.QUERY_TO_KEY || dir == Direction.SYMMETRIC;
            v.add(new Object[] {"margin", dir, 0.2, 0.0, null, null, Reduction.MEAN, true});
            v.add(new Object[] {"smoothing", dir, 0.0, 0.15, null, null, Reduction.SUM, false});
            if (!gte) v.add(new Object[] {"hits+smoothing", dir, 0.0, 0.1, null, ids, Reduction.NONE, true});
            if (logqOk) v.add(new Object[] {"logq+hits+margin", dir, 0.1, 0.05, logq, ids, Reduction.MEAN, true});
        }
        return TestBackends.all().stream().flatMap(b -> v.stream().map(o -> Arguments.of(b, o[0], o[1], o[2], o[3], o[4],
                o[5], o[6], o[7])));
    }

    @ParameterizedTest(name = "{0} {1} {2} {6} normalize={7}")
    @MethodSource("variants")
    void twoTowerGradientsMatchFiniteDifferences(Backend backend, String what, Direction dir, double margin, double eps,
                                                 double[] logq, long[] ids, Reduction red, boolean normalize) {
        Spec spec = new Spec(Form.TWO_TOWER, dir, 4, normalize, red, margin, eps, logq, false, ids, 0);
        checkGradients(backend, randomCall(spec, 5, 0, 0.3f, 17));
    }

    static Stream<Arguments> otherForms() {
        double[] logq = {-1.2, -3.0, -0.4, -2.2, -0.9, -1.5, -0.7, -2.6};
        long[] ids = {1, 2, 3, 4, 5, 2, 1, 9};
        List<Spec> specs = List.of(
                new Spec(Form.SHARED, Direction.QUERY_TO_KEY, 4, true, Reduction.MEAN, 0.1, 0.1, logq, false, ids, 0),
                new Spec(Form.SHARED, Direction.QUERY_TO_KEY, 4, false, Reduction.NONE, 0.0, 0.0, logq, true, null, 0),
                new Spec(Form.SAMPLED_SOFTMAX, Direction.QUERY_TO_KEY, 4, false, Reduction.MEAN, 0, 0, null, false, null, 0),
                new Spec(Form.SAMPLED_SOFTMAX, Direction.QUERY_TO_KEY, 4, false, Reduction.SUM, 0, 0, logq, false, null, 0),
                new Spec(Form.BPR, Direction.QUERY_TO_KEY, 4, false, Reduction.MEAN, 0, 0, null, false, null, 3),
                new Spec(Form.BPR, Direction.QUERY_TO_KEY, 4, false, Reduction.NONE, 0, 0, null, false, null, 1));
        return TestBackends.all().stream().flatMap(b -> specs.stream().map(s -> Arguments.of(b, s)));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("otherForms")
    void otherFormsGradientsMatchFiniteDifferences(Backend backend, Spec spec) {
        float[] probs = null;
        if (spec.probability()) { // probabilities in (0, 1], one below TFRS's 1e-6 clamp
            probs = new float[] {0.3f, 0.05f, 1e-8f, 0.9f, 1f, 0.2f, 0.6f, 0.01f};
            spec = new Spec(spec.form(), spec.direction(), spec.d(), spec.normalize(), spec.reduction(), spec.margin(),
                    spec.smoothing(), toDouble(probs), true, spec.ids(), spec.k());
        }
        int m = spec.form() == Form.BPR ? 0 : 3;
        checkGradients(backend, randomCall(spec, 5, m, 0.5f, 23));
    }

    private static void checkGradients(Backend backend, Call call) {
        try (InfoNce.Result r = call.run(backend)) {
            assertClose(call.reference(), r.loss().toFloatArray(), 3e-6, "loss vs the float64 reference");
            double[][] x = {toDouble(call.q()), toDouble(call.k()), call.neg() == null ? null : toDouble(call.neg())};
            Tensor[] grads = {r.gradQueries(), r.gradKeys(), r.gradNegatives()};
            for (int w = 0; w < 3; w++) {
                if (x[w] == null) continue;
                int which = w;
                double[] numeric = Approx.finiteDifferences(v -> {
                    double[][] in = x.clone();
                    in[which] = v;
                    return RetrievalReference.scalar(call.spec(), in[0], in[1], in[2], call.tau());
                }, x[w].clone(), 1e-6);
                assertClose(numeric, grads[w].toFloatArray(), 2e-5, "d loss / d " + INPUTS[w]);
            }
            if (call.spec().form() != Form.BPR) {
                double[] numericTau = Approx.finiteDifferences(
                        t -> RetrievalReference.scalar(call.spec(), x[0], x[1], x[2], t[0]), new double[] {call.tau()}, 1e-7);
                assertClose(numericTau, new float[] {r.gradTemperature()}, 2e-5, "d loss / d tau");
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.ScopedTest#backends")
    void blocksGiveTheWholeMatrixResult(Backend backend) {
        // GTE and the corrected sweep over blocks of 3 rows equal one block of all rows
        long[] ids = new long[20];
        for (int i = 0; i < ids.length; i++) ids[i] = i % 7;
        for (Direction dir : new Direction[] {Direction.BIDIRECTIONAL_GTE, Direction.QUERY_TO_KEY, Direction.SYMMETRIC}) {
            Spec spec = new Spec(Form.TWO_TOWER, dir, 8, true, Reduction.MEAN, 0.1, 0.1, null, false,
                    dir == Direction.BIDIRECTIONAL_GTE ? null : ids, 0);
            Call call = randomCall(spec, 20, 0, 0.1f, 5);
            Tensor q = Tensor.of(call.q(), 20, 8), k = Tensor.of(call.k(), 20, 8);
            try (InfoNce.Result whole = call.loss(backend).withBlockRows(20).forwardBackward(q, k);
                 InfoNce.Result blocks = call.loss(backend).withBlockRows(3).forwardBackward(q, k)) {
                assertClose(toDouble(whole.loss().toFloatArray()), blocks.loss().toFloatArray(), 1e-6, dir + " loss");
                assertClose(toDouble(whole.gradQueries().toFloatArray()), blocks.gradQueries().toFloatArray(), 1e-6, dir + " dq");
                assertClose(toDouble(whole.gradKeys().toFloatArray()), blocks.gradKeys().toFloatArray(), 1e-6, dir + " dk");
                assertClose(call.reference(), blocks.loss().toFloatArray(), 3e-6, dir + " vs reference");
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.ScopedTest#backends")
    void relationsBetweenTheOptions(Backend backend) {
        Call call = randomCall(new Spec(Form.TWO_TOWER, Direction.QUERY_TO_KEY, 6, true, Reduction.MEAN, 0, 0, null, false,
                null, 0), 8, 0, 0.1f, 3);
        Tensor q = Tensor.of(call.q(), 8, 6), k = Tensor.of(call.k(), 8, 6);
        InfoNce base = InfoNce.create().withBackend(backend);
        float plain = base.forward(q, k).item();
        // distinct ids remove nothing; a constant logQ shifts every logit alike; KEY_TO_QUERY is the swapped call
        long[] distinct = {0, 1, 2, 3, 4, 5, 6, 7};
        assertEquals(plain, base.withAccidentalHits(Tensor.of(distinct, 8)).forward(q, k).item(), 1e-6f);
        assertEquals(plain, base.withLogQCorrection(Tensor.of(new float[] {-2, -2, -2, -2, -2, -2, -2, -2}, 8))
                .forward(q, k).item(), 2e-6f);
        assertEquals(base.forward(k, q).item(), base.withDirection(Direction.KEY_TO_QUERY).forward(q, k).item(), 1e-6f);
        float sym = base.withDirection(Direction.SYMMETRIC).forward(q, k).item();
        assertEquals((plain + base.forward(k, q).item()) / 2, sym, 1e-6f);
        // the margin raises the loss; GTE's larger partition function too
        assertTrue(base.withMargin(0.2f).forward(q, k).item() > plain);
        assertTrue(base.withDirection(Direction.BIDIRECTIONAL_GTE).forward(q, k).item() > plain);
    }

    static Call randomCall(Spec spec, int n, int m, float tau, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int d = spec.d();
        float[] q = gaussian(rnd, n * d), k = gaussian(rnd, n * d);
        float[] neg = spec.form() == Form.BPR ? gaussian(rnd, n * spec.k() * d) : m > 0 ? gaussian(rnd, m * d) : null;
        return new Call(spec, tau, n, q, k, neg);
    }

    private static float[] gaussian(SplittableRandom rnd, int size) {
        float[] v = new float[size];
        for (int i = 0; i < size; i++) {
            double u1 = 1 - rnd.nextDouble(), u2 = rnd.nextDouble();
            v[i] = (float) (Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2));
        }
        return v;
    }

    static float[] toFloat(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) f[i] = (float) v[i];
        return f;
    }
}
