package dev.jnce.loss;

import dev.jnce.Reduction;
import dev.jnce.testutil.Reductions;
import dev.jnce.Backend;
import dev.jnce.Tensor;
import dev.jnce.loss.InfoNceReference.Form;
import dev.jnce.loss.InfoNceReference.Spec;
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
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * InfoNce on every backend: PyTorch's golden data for every form (loss, the gradient of every
 * embedding input and of tau), finite differences of the float64 reference, agreement of the
 * backends on a larger batch, and the relations between the forms. Bad input is in
 * InfoNceArgumentsTest.
 */
class InfoNceTest extends ScopedTest {
    private static final Map<String, Golden.Case> GOLDEN = Golden.load("/golden/infonce.txt");
    private static final String[] INPUTS = {"queries", "keys", "negatives"};

    /** One call of a form: the spec, the float32 inputs (k, neg null where unused) and the temperature. */
    record Call(Spec spec, float tau, int n, float[] q, float[] k, float[] neg) {
        InfoNce loss(Backend backend) {
            return InfoNce.create().withTemperature(tau).withNormalize(spec.normalize()).withDecoupled(spec.decoupled())
                    .withReduction(spec.reduction()).withBackend(backend)
                    .withRowsWithoutPositive(spec.skip() ? InfoNce.RowsWithoutPositive.SKIP : InfoNce.RowsWithoutPositive.THROW);
        }

        /** The float inputs as tensors of the form's shapes: queries, keys (or null), negatives (or null). */
        Tensor[] tensors() {
            int d = spec.d();
            Tensor negatives = neg == null ? null
                    : spec.form() == Form.EXPLICIT ? Tensor.of(neg, n, spec.k(), d) : Tensor.of(neg, neg.length / d, d);
            return new Tensor[] {Tensor.of(q, n, d), k == null ? null : Tensor.of(k, k.length / d, d), negatives};
        }

        InfoNce.Result run(Backend backend) {
            return run(backend, tensors());
        }

        InfoNce.Result run(Backend backend, Tensor[] t) {
            InfoNce loss = loss(backend);
            return switch (spec.form()) {
                case TWO_TOWER -> loss.forwardBackward(t[0], t[1]);
                case ONE_TENSOR -> asResult(loss.forwardBackward(t[0]));
                case SHARED -> loss.forwardBackward(t[0], t[1], t[2]);
                case EXPLICIT -> loss.forwardBackwardNegatives(t[0], t[1], t[2]);
                case LABELS -> loss.forwardBackwardLabels(t[0], t[1], Tensor.of(spec.queryLabels()), Tensor.of(spec.keyLabels()));
                case MASK -> loss.forwardBackwardMask(t[0], t[1], Tensor.of(spec.mask(), n, t[1].size(0)));
            };
        }

        float[][] inputs() {
            return new float[][] {q, k, neg};
        }

        double[] reference() {
            return InfoNceReference.loss(spec, toDouble(q), k == null ? null : toDouble(k), neg == null ? null : toDouble(neg), tau);
        }

        static Call of(Golden.Case g) {
            Form form = Form.valueOf(g.text("form").toUpperCase());
            boolean labels = g.fields().containsKey("query_labels"), mask = g.fields().containsKey("mask");
            int[] m = mask ? toInts(g.longs("mask")) : null;
            Spec spec = new Spec(form, (int) g.integer("D"), form == Form.EXPLICIT ? (int) g.integer("K") : 0,
                    Boolean.parseBoolean(g.text("normalize")), Boolean.parseBoolean(g.text("decoupled")),
                    Reduction.valueOf(g.text("reduction").toUpperCase()), g.text("rows_without_positive").equals("skip"),
                    labels ? g.longs("query_labels") : null, labels ? g.longs("key_labels") : null, m);
            return new Call(spec, g.floats("temperature")[0], (int) g.integer("N"), g.floats("queries"),
                    field(g, "keys"), field(g, "negatives"));
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
            assertClose(g.doubles("loss_f64"), loss, 2e-6, "loss vs float64");
            assertClose(g.doubles("loss"), loss, 2e-5, "loss vs torch float32");
            Tensor[] grads = {r.gradQueries(), r.gradKeys(), r.gradNegatives()};
            for (int w = 0; w < 3; w++) {
                String key = "grad_" + INPUTS[w];
                if (!g.fields().containsKey(key)) {
                    assertNull(grads[w], key + " is null when the form has no such input");
                    continue;
                }
                assertClose(g.doubles(key + "_f64"), grads[w].toFloatArray(), 2e-6, key + " vs float64");
                assertClose(g.doubles(key), grads[w].toFloatArray(), 2e-5, key + " vs torch float32");
            }
            // d loss / d tau = -(1/tau) sum G∘S cancels (each row of G sums to 0): in float32 it is a few
            // 1e-6 off float64 where S is dominated by the diagonal (one-tensor), as torch float32 is.
            float[] gradTau = {r.gradTemperature()};
            assertClose(g.doubles("grad_tau_f64"), gradTau, 5e-6, "grad_tau vs float64");
            assertClose(g.doubles("grad_tau"), gradTau, 2e-5, "grad_tau vs torch float32");
        }
    }

    /**
     * Over every golden case: jnce's float32 error against PyTorch's float64 result is no worse
     * than PyTorch's own float32 error (loss and every embedding gradient), as for the
     * cross-entropy (CrossEntropyOptionsTest). Errors are max |a - e| / max(1, |e|).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void float32ErrorIsNoWorseThanPyTorchs(Backend backend) {
        double[] worst = new double[4]; // jnce loss, torch loss, jnce grads, torch grads
        for (Golden.Case g : GOLDEN.values()) {
            try (InfoNce.Result r = Call.of(g).run(backend)) {
                worst[0] = Math.max(worst[0], relError(g.doubles("loss_f64"), r.loss().toFloatArray()));
                worst[1] = Math.max(worst[1], relError(g.doubles("loss_f64"), toFloat(g.doubles("loss"))));
                Tensor[] grads = {r.gradQueries(), r.gradKeys(), r.gradNegatives()};
                for (int w = 0; w < 3; w++) {
                    String key = "grad_" + INPUTS[w];
                    if (!g.fields().containsKey(key)) continue;
                    worst[2] = Math.max(worst[2], relError(g.doubles(key + "_f64"), grads[w].toFloatArray()));
                    worst[3] = Math.max(worst[3], relError(g.doubles(key + "_f64"), toFloat(g.doubles(key))));
                }
            }
        }
        System.out.printf("InfoNCE float32 error vs float64 (%s): loss jnce %.3g torch %.3g; grads jnce %.3g torch %.3g%n",
                backend, worst[0], worst[1], worst[2], worst[3]);
        assertTrue(worst[0] <= worst[1] + 1e-7, "loss: jnce " + worst[0] + " vs torch " + worst[1]);
        assertTrue(worst[2] <= worst[3] + 1e-8, "grads: jnce " + worst[2] + " vs torch " + worst[3]);
    }

    private static double relError(double[] expected, float[] actual) {
        double worst = 0;
        for (int i = 0; i < expected.length; i++) {
            worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i])));
        }
        return worst;
    }

    /** (backend, form, normalize, decoupled, reduction) covering every form and option. */
    static Stream<Arguments> variants() {
        List<Object[]> v = new ArrayList<>();
        for (Form f : Form.values()) {
            for (Reduction red : Reductions.all()) v.add(new Object[] {f, true, false, red});
            v.add(new Object[] {f, false, false, Reduction.MEAN});
            if (f != Form.LABELS && f != Form.MASK) {
                v.add(new Object[] {f, true, true, Reduction.MEAN});
                v.add(new Object[] {f, false, true, Reduction.NONE});
            }
        }
        return TestBackends.all().stream().flatMap(b -> v.stream().map(o -> Arguments.of(b, o[0], o[1], o[2], o[3])));
    }

    @ParameterizedTest(name = "{0} {1} normalize={2} decoupled={3} {4}")
    @MethodSource("variants")
    void gradientsMatchFiniteDifferencesOfTheReference(Backend backend, Form form, boolean normalize, boolean decoupled,
                                                       Reduction red) {
        Call call = randomCall(form, normalize, decoupled, red, 5, 4, 0.3f, 11);
        try (InfoNce.Result r = call.run(backend)) {
            assertClose(call.reference(), r.loss().toFloatArray(), 2e-6, "loss vs the float64 reference");
            double[][] x = {toDouble(call.q()), call.k() == null ? null : toDouble(call.k()),
                    call.neg() == null ? null : toDouble(call.neg())};
            Tensor[] grads = {r.gradQueries(), r.gradKeys(), r.gradNegatives()};
            for (int w = 0; w < 3; w++) {
                if (x[w] == null) {
                    assertNull(grads[w], INPUTS[w] + " gradient of a form without them");
                    continue;
                }
                int which = w;
                double[] numeric = Approx.finiteDifferences(v -> {
                    double[][] in = x.clone();
                    in[which] = v;
                    return InfoNceReference.scalar(call.spec(), in[0], in[1], in[2], call.tau());
                }, x[w].clone(), 1e-6);
                assertClose(numeric, grads[w].toFloatArray(), 1e-5, "d loss / d " + INPUTS[w]);
            }
            double[] numericTau = Approx.finiteDifferences(
                    t -> InfoNceReference.scalar(call.spec(), x[0], x[1], x[2], t[0]), new double[] {call.tau()}, 1e-7);
            assertClose(numericTau, new float[] {r.gradTemperature()}, 1e-5, "d loss / d tau");
        }
    }

    static Stream<Arguments> largeBatches() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(Form.values()).flatMap(f ->
                f == Form.LABELS || f == Form.MASK ? Stream.of(Arguments.of(b, f, false))
                        : Stream.of(Arguments.of(b, f, false), Arguments.of(b, f, true))));
    }

    @ParameterizedTest(name = "{0} {1} decoupled={2}")
    @MethodSource("largeBatches")
    void backendsAgreeOnALargeBatch(Backend backend, Form form, boolean decoupled) {
        Call call = randomCall(form, true, decoupled, Reduction.MEAN, 200, 64, 0.07f, 21);
        try (InfoNce.Result mine = call.run(backend)) {
            assertClose(call.reference(), mine.loss().toFloatArray(), 2e-6, "loss vs the float64 reference");
            for (Backend other : TestBackends.all()) {
                try (InfoNce.Result theirs = call.run(other)) {
                    String what = form + " " + backend + " vs " + other;
                    assertEquals(theirs.loss().item(), mine.loss().item(), 1e-6, what + ": loss");
                    Tensor[] a = {mine.gradQueries(), mine.gradKeys(), mine.gradNegatives()};
                    Tensor[] b = {theirs.gradQueries(), theirs.gradKeys(), theirs.gradNegatives()};
                    for (int w = 0; w < 3; w++) {
                        if (a[w] != null) assertClose(toDouble(b[w].toFloatArray()), a[w].toFloatArray(), 1e-7, what + ": " + INPUTS[w]);
                    }
                    assertEquals(theirs.gradTemperature(), mine.gradTemperature(), 1e-5 * Math.max(1, Math.abs(theirs.gradTemperature())),
                            what + ": tau");
                }
            }
        }
    }

    /**
     * Two towers at N = 512: the cpu backend lays the logits 528 floats apart (its logit row
     * stride), whole and in row blocks of 200; both agree with the float64 reference and with the
     * other backends, for MEAN and NONE.
     */
    @org.junit.jupiter.api.Test
    void twoTowersInPaddedRowsMatchTheReferenceOnEveryBackend() {
        for (Backend b : TestBackends.all()) {
            if (b.name().equals("cpu")) assertEquals(528, ((dev.jnce.backend.Kernels) b).contrastive().logitRowStride(512), "cpu's stride");
        }
        for (Reduction red : new Reduction[] {Reduction.MEAN, Reduction.NONE}) {
            Call call = randomCall(Form.TWO_TOWER, true, false, red, 512, 16, 0.07f, 23);
            for (long blockRows : new long[] {0, 200}) {
                InfoNce.Result first = null;
                for (Backend backend : TestBackends.all()) {
                    Tensor[] t = call.tensors();
                    InfoNce.Result mine = call.loss(backend).withBlockRows(blockRows).forwardBackward(t[0], t[1]);
                    String what = backend + " " + red + " blocks " + blockRows;
                    assertClose(call.reference(), mine.loss().toFloatArray(), 2e-6, what + ": loss vs the float64 reference");
                    if (first == null) {
                        first = mine;
                        continue;
                    }
                    double tol = red == Reduction.NONE ? 5e-6 : 1e-7; // NONE: gradients of the sum, O(1)
                    assertClose(toDouble(first.gradQueries().toFloatArray()), mine.gradQueries().toFloatArray(), tol, what + ": queries");
                    assertClose(toDouble(first.gradKeys().toFloatArray()), mine.gradKeys().toFloatArray(), tol, what + ": keys");
                }
            }
        }
    }

    /**
     * Two towers at N = 700, D = 8, not normalised, where the cpu backend forms d loss / d logits
     * a tile at a time and multiplies it there (rows >= 8 threads D; the java backend writes it
     * and takes two GEMMs): whole (tiles of 256, 256 and 188 rows and columns, the last cutting a
     * vector) and in row blocks of 300 (300, 300 and 100 rows: on cpu the last takes the
     * cross-entropy rows and two GEMMs on a machine of up to 3 threads, its keys' gradient added to
     * what the tiles before it left), for MEAN and NONE. Every backend's
     * loss and gradients match float64 entry by entry: g_ij = (softmax_i(j) - [i = j]) w
     * (w = 1/N for MEAN, 1 for NONE's sum), dq_i = sum_j g_ij k_j / tau, dk_j = sum_i g_ij q_i / tau,
     * within 1e-5 of the magnitude of the terms (the probabilities' and, at a target, the 1 taken
     * off: float's p - 1 keeps 6e-8 of 1 where a row is confident, as PyTorch's does), plus what
     * the float32 logits' own rounding (|z| 6e-8) passes on; the forward pass alone gives the same
     * loss bit for bit. tau 0.25 and 0.05: the logits reach about 40 and 200.
     */
    @ParameterizedTest(name = "tau={0} {1} blocks {2}")
    @MethodSource("wideTwoTowers")
    void twoTowersGradientsOfAWideBatchMatchFloat64(float tau, Reduction red, long blockRows) {
        int n = 700, d = 8;
        SplittableRandom rnd = new SplittableRandom(97);
        float[] q = new float[n * d], k = new float[n * d];
        for (int e = 0; e < n * d; e++) {
            q[e] = (float) rnd.nextGaussian();
            k[e] = (float) rnd.nextGaussian();
        }
        double[][] z = new double[n][n];
        double[] lse = new double[n], rowLoss = new double[n];
        for (int i = 0; i < n; i++) {
            double m = Double.NEGATIVE_INFINITY, sum = 0;
            for (int j = 0; j < n; j++) {
                double dot = 0;
                for (int c = 0; c < d; c++) dot += (double) q[i * d + c] * k[j * d + c];
                z[i][j] = dot / tau;
                m = Math.max(m, z[i][j]);
            }
            for (int j = 0; j < n; j++) sum += Math.exp(z[i][j] - m);
            lse[i] = m + Math.log(sum);
            rowLoss[i] = lse[i] - z[i][i];
        }
        double w = red == Reduction.MEAN ? 1.0 / n : 1.0;
        double[] dq = new double[n * d], dk = new double[n * d], dqSize = new double[n * d], dkSize = new double[n * d];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double p = Math.exp(z[i][j] - lse[i]) * w / tau, g = p - (i == j ? w / tau : 0);
                for (int c = 0; c < d; c++) {
                    dq[i * d + c] += g * k[j * d + c];
                    dk[j * d + c] += g * q[i * d + c];
                    // the terms' magnitudes: the probability's and, at the target, the 1 it is taken from
                    // (in float p - 1 keeps 6e-8 of 1, not of p - 1, where the row is confident)
                    double unit = i == j ? w / tau : 0;
                    dqSize[i * d + c] += (Math.abs(p) + unit) * Math.abs(k[j * d + c]);
                    dkSize[j * d + c] += (Math.abs(p) + unit) * Math.abs(q[i * d + c]);
                }
            }
        }
        double mean = 0, zMax = 0;
        for (double l : rowLoss) mean += l / n;
        for (double[] row : z) for (double v : row) zMax = Math.max(zMax, Math.abs(v));
        // float32 logits carry their rounding, |z| 6e-8: the loss and the probabilities inherit it
        double lossTol = 1e-6 + 2e-7 * zMax, gradTol = 1e-5 + 2e-7 * zMax;
        for (Backend backend : TestBackends.all()) {
            InfoNce loss = InfoNce.create().withTemperature(tau).withNormalize(false).withReduction(red).withBlockRows(blockRows)
                    .withBackend(backend);
            String what = backend.name() + " tau " + tau + " " + red + " blocks " + blockRows;
            try (InfoNce.Result r = loss.forwardBackward(Tensor.of(q, n, d), Tensor.of(k, n, d));
                 Tensor alone = loss.forward(Tensor.of(q, n, d), Tensor.of(k, n, d))) {
                float[] got = r.loss().toFloatArray();
                if (red == Reduction.MEAN) {
                    assertEquals(mean, got[0], lossTol, what + ": loss");
                } else {
                    assertClose(rowLoss, got, lossTol, what + ": rows' losses");
                }
                assertArrayEquals(got, alone.toFloatArray(), what + ": the forward pass alone gives the same loss");
                float[] gq = r.gradQueries().toFloatArray(), gk = r.gradKeys().toFloatArray();
                double worst = 0;
                for (int e = 0; e < n * d; e++) {
                    worst = Math.max(worst, Math.abs(gq[e] - dq[e]) / (dqSize[e] + 1e-30));
                    worst = Math.max(worst, Math.abs(gk[e] - dk[e]) / (dkSize[e] + 1e-30));
                }
                assertTrue(worst < gradTol, what + ": largest error of d loss / d q or k, relative to its terms' magnitude: " + worst);
            }
        }
    }

    /**
     * The one-tensor forms at N = 1100 (the tiled backwards: `java`'s blocks of 256 rows, four whole
     * and a partial one, so blocks below the diagonal and their transposes take part; `cpu`'s
     * diagonal panel of 1024 rows and the fused tiles left of it) on every backend
     * against float64: the diagonal form (a row's positive is itself), NT-Xent (row i's positive is
     * i ± N/2, itself left out) and SupCon by labels (37 classes; the positives' mean, itself left
     * out). d loss / d f_i = sum_j (G_ij + G_ji) f_j / tau with G_ij = w (p_ij - [j in P(i)] / |P(i)|),
     * compared entry by entry relative to the terms' magnitude, as the two-tower test above does.
     */
    @ParameterizedTest(name = "{0} tau={1}")
    @MethodSource("wideOneTensor")
    void oneTensorGradientsOfAWideBatchMatchFloat64(String form, float tau) {
        int n = 1100, d = 8, half = n / 2;
        SplittableRandom rnd = new SplittableRandom(31);
        float[] f = new float[n * d];
        for (int e = 0; e < n * d; e++) f[e] = (float) rnd.nextGaussian();
        long[] labels = new long[n];
        for (int i = 0; i < n; i++) labels[i] = (i * 7L) % 37;
        boolean selfOut = !form.equals("diagonal");
        double[][] z = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double dot = 0;
                for (int c = 0; c < d; c++) dot += (double) f[i * d + c] * f[j * d + c];
                z[i][j] = dot / tau;
            }
        }
        double[][] target = new double[n][n]; // [j in P(i)] / |P(i)|
        double[] rowLoss = new double[n], lse = new double[n];
        for (int i = 0; i < n; i++) {
            List<Integer> pos = new ArrayList<>();
            for (int j = 0; j < n; j++) {
                boolean p = switch (form) {
                    case "diagonal" -> j == i;
                    case "ntxent" -> j == (i + half) % n;
                    default -> j != i && labels[j] == labels[i];
                };
                if (p) pos.add(j);
            }
            double m = Double.NEGATIVE_INFINITY, sum = 0, posMean = 0;
            for (int j = 0; j < n; j++) if (!(selfOut && j == i)) m = Math.max(m, z[i][j]);
            for (int j = 0; j < n; j++) if (!(selfOut && j == i)) sum += Math.exp(z[i][j] - m);
            lse[i] = m + Math.log(sum);
            for (int j : pos) {
                target[i][j] = 1.0 / pos.size();
                posMean += z[i][j] / pos.size();
            }
            rowLoss[i] = lse[i] - posMean;
        }
        double w = 1.0 / n, mean = 0, zMax = 0; // every row has a positive: MEAN divides by n
        for (double l : rowLoss) mean += l / n;
        for (double[] row : z) for (double v : row) zMax = Math.max(zMax, Math.abs(v));
        double[][] g = new double[n][n], gSize = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                if (selfOut && j == i) continue;
                double p = Math.exp(z[i][j] - lse[i]);
                g[i][j] = w * (p - target[i][j]);
                gSize[i][j] = w * (p + target[i][j]);
            }
        }
        double[] df = new double[n * d], dfSize = new double[n * d];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double h = (g[i][j] + g[j][i]) / tau, hSize = (gSize[i][j] + gSize[j][i]) / tau;
                for (int c = 0; c < d; c++) {
                    df[i * d + c] += h * f[j * d + c];
                    dfSize[i * d + c] += hSize * Math.abs(f[j * d + c]);
                }
            }
        }
        // float32 logits carry their rounding, |z| 6e-8: the loss and the probabilities inherit it
        double lossTol = 1e-6 + 2e-7 * zMax, gradTol = 1e-5 + 2e-7 * zMax;
        for (Backend backend : TestBackends.all()) {
            String what = backend.name() + " " + form + " tau " + tau;
            InfoNce loss = InfoNce.create().withTemperature(tau).withNormalize(false).withBackend(backend);
            try (Tensor ft = Tensor.of(f, n, d); Tensor lt = Tensor.of(labels);
                 EmbeddingResult r = switch (form) {
                     case "diagonal" -> loss.forwardBackward(ft);
                     case "ntxent" -> NtXent.create().withTemperature(tau).withNormalize(false).withBackend(backend).forwardBackward(ft);
                     default -> loss.forwardBackwardLabels(ft, lt);
                 }) {
                assertEquals(mean, r.loss().item(), lossTol, what + ": loss");
                float[] got = r.grad().toFloatArray();
                double worst = 0;
                for (int e = 0; e < n * d; e++) worst = Math.max(worst, Math.abs(got[e] - df[e]) / (dfSize[e] + 1e-30));
                assertTrue(worst < gradTol, what + ": largest error of d loss / d f, relative to its terms' magnitude: " + worst);
            }
        }
    }

    static Stream<Arguments> wideOneTensor() {
        return Stream.of("diagonal", "ntxent", "labels").flatMap(form -> Stream.of(Arguments.of(form, 0.25f), Arguments.of(form, 0.05f)));
    }

    static Stream<Arguments> wideTwoTowers() {
        return Stream.of(Arguments.of(0.25f, Reduction.MEAN, 0L), Arguments.of(0.05f, Reduction.MEAN, 0L),
                Arguments.of(0.25f, Reduction.MEAN, 300L), Arguments.of(0.25f, Reduction.NONE, 0L),
                Arguments.of(0.05f, Reduction.NONE, 300L));
    }

    /** Sizes 9 and 150: one tile of the symmetric kernels, and three (the last partial). */
    static Stream<Arguments> oneTensorOptions() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(Reductions.all()).flatMap(red -> Stream.of(9, 150).flatMap(n ->
                Stream.of(Arguments.of(b, red, true, false, n), Arguments.of(b, red, false, false, n), Arguments.of(b, red, true, true, n)))));
    }

    /**
     * The one-tensor form is the two-tower form with keys = queries for the value; its gradient
     * flows through both sides, so it is gradQueries + gradKeys of that call (and so is tau's).
     * The two run different code: SYRK and the symmetric cross-entropy against three GEMMs.
     */
    @ParameterizedTest(name = "{0} {1} normalize={2} decoupled={3} N={4}")
    @MethodSource("oneTensorOptions")
    void oneTensorIsTwoTowerWithKeysEqualToQueries(Backend backend, Reduction red, boolean normalize, boolean decoupled, int n) {
        int d = 6;
        Tensor f = Tensor.of(random(n * d, 31), n, d);
        InfoNce loss = InfoNce.create().withTemperature(0.2f).withNormalize(normalize).withDecoupled(decoupled)
                .withReduction(red).withBackend(backend);
        try (EmbeddingResult one = loss.forwardBackward(f); InfoNce.Result two = loss.forwardBackward(f, f)) {
            assertArrayEquals(f.shape(), one.grad().shape(), "d loss / d f: the one gradient, (N, D)");
            assertClose(toDouble(two.loss().toFloatArray()), one.loss().toFloatArray(), 1e-6, "loss");
            float[] gq = two.gradQueries().toFloatArray(), gk = two.gradKeys().toFloatArray();
            double[] sum = new double[gq.length];
            for (int i = 0; i < sum.length; i++) sum[i] = (double) gq[i] + gk[i];
            // float32 rounding of two different orders of summation over N terms of size up to 1/tau
            assertClose(sum, one.grad().toFloatArray(), n < 64 ? 1e-6 : 2e-5, "gradient = gradQueries + gradKeys");
            assertEquals(two.gradTemperature(), one.gradTemperature(), 1e-5 * Math.max(1, Math.abs(two.gradTemperature())), "tau");
        }
    }

    /**
     * Two orthonormal pairs, tau 1: logits are the identity. InfoNCE per row is log(1 + e) - 1,
     * d/dtau = 1 / (1 + e); decoupled it is log(exp 0) - 1 = -1 exactly, d/dtau = 1.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void handWorkedValuesWithAndWithoutDecoupling(Backend backend) {
        Tensor q = Tensor.of(new float[] {2, 0, 0, 3}, 2, 2);
        InfoNce loss = InfoNce.create().withTemperature(1f).withBackend(backend).withReduction(Reduction.NONE);
        try (InfoNce.Result r = loss.forwardBackward(q, q)) {
            double row = Math.log(1 + Math.E) - 1;
            assertClose(new double[] {row, row}, r.loss().toFloatArray(), 1e-7, "InfoNCE");
            assertEquals(2 / (1 + Math.E), r.gradTemperature(), 1e-6, "d/dtau of the sum");
        }
        try (InfoNce.Result r = loss.withDecoupled(true).forwardBackward(q, q)) {
            assertClose(new double[] {-1, -1}, r.loss().toFloatArray(), 1e-7, "decoupled");
            assertEquals(2, r.gradTemperature(), 1e-6, "decoupled d/dtau of the sum");
            // row 0: d/dq̂_0 of (-q̂_0·k̂_0 + q̂_0·k̂_1) = -e_0 + e_1; off q̂_0 = e_0 and over |q_0| = 2: (0, 1/2).
            // row 1 likewise: -e_1 + e_0, off e_1, over 3: (1/3, 0).
            assertClose(new double[] {0, 0.5, 1.0 / 3, 0}, r.gradQueries().toFloatArray(), 1e-7, "decoupled gradQueries");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void maskEqualsLabelsAndInt32LabelsEqualInt64(Backend backend) {
        int n = 6, m = 8, d = 5;
        long[] ql = {0, 1, 2, 1, 0, 3}, kl = {3, 0, 1, 2, 2, 1, 0, 3};
        int[] mask = new int[n * m];
        for (int i = 0; i < n; i++) for (int j = 0; j < m; j++) mask[i * m + j] = ql[i] == kl[j] ? 1 : 0;
        Tensor q = Tensor.of(random(n * d, 41), n, d), k = Tensor.of(random(m * d, 42), m, d);
        InfoNce loss = InfoNce.create().withTemperature(0.15f).withBackend(backend);
        try (InfoNce.Result byLabels = loss.forwardBackwardLabels(q, k, Tensor.of(ql), Tensor.of(kl));
             InfoNce.Result byInt32 = loss.forwardBackwardLabels(q, k, Tensor.of(toInts(ql)), Tensor.of(toInts(kl)));
             InfoNce.Result byMask = loss.forwardBackwardMask(q, k, Tensor.of(mask, n, m))) {
            for (InfoNce.Result other : new InfoNce.Result[] {byInt32, byMask}) {
                assertEquals(byLabels.loss().item(), other.loss().item(), 0f);
                assertClose(toDouble(byLabels.gradQueries().toFloatArray()), other.gradQueries().toFloatArray(), 0, "gradQueries");
                assertClose(toDouble(byLabels.gradKeys().toFloatArray()), other.gradKeys().toFloatArray(), 0, "gradKeys");
                assertEquals(byLabels.gradTemperature(), other.gradTemperature(), 0f);
            }
        }
    }

    /** A skipped row has loss 0 and its query gets no gradient; the mean is over the other rows. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void skippedRowsGetNoLossAndNoGradient(Backend backend) {
        int n = 4, m = 5, d = 3;
        long[] ql = {0, 9, 1, 0}, kl = {0, 1, 1, 2, 0};
        Tensor q = Tensor.of(random(n * d, 51), n, d), k = Tensor.of(random(m * d, 52), m, d);
        InfoNce loss = InfoNce.create().withBackend(backend).withRowsWithoutPositive(InfoNce.RowsWithoutPositive.SKIP);
        try (InfoNce.Result none = loss.withReduction(Reduction.NONE).forwardBackwardLabels(q, k, Tensor.of(ql), Tensor.of(kl));
             InfoNce.Result mean = loss.forwardBackwardLabels(q, k, Tensor.of(ql), Tensor.of(kl))) {
            float[] rows = none.loss().toFloatArray();
            assertEquals(0f, rows[1], "the row without positive");
            assertEquals((rows[0] + rows[2] + rows[3]) / 3, mean.loss().item(), 1e-6, "mean over the 3 counted rows");
            float[] g = mean.gradQueries().toFloatArray();
            for (int c = 0; c < d; c++) assertEquals(0f, g[d + c], "gradient of the skipped query");
        }
    }

    static Stream<Arguments> everyForm() {
        return TestBackends.all().stream().flatMap(b -> Stream.of(Form.values()).flatMap(f ->
                Stream.of(Arguments.of(b, f, true), Arguments.of(b, f, false))));
    }

    /** The caller's tensors are read, never written (the normalised copies are scratch). */
    @ParameterizedTest(name = "{0} {1} normalize={2}")
    @MethodSource("everyForm")
    void inputsAreLeftUntouched(Backend backend, Form form, boolean normalize) {
        Call call = randomCall(form, normalize, false, Reduction.MEAN, 6, 5, 0.1f, 91);
        float[][] before = call.inputs();
        Tensor[] inputs = call.tensors();
        try (InfoNce.Result r = call.run(backend, inputs)) {
            assertNotNull(r.loss());
            for (int w = 0; w < 3; w++) {
                if (before[w] != null) assertClose(toDouble(before[w]), inputs[w].toFloatArray(), 0, INPUTS[w] + " unchanged");
            }
        }
    }

    /** Every row skipped: NONE and SUM give 0, MEAN NaN (PyTorch's all-ignored cross-entropy); gradients 0. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void aBatchWithEveryRowSkippedHasZeroGradients(Backend backend) {
        Tensor q = Tensor.of(random(12, 81), 4, 3), k = Tensor.of(random(12, 82), 4, 3);
        Tensor ql = Tensor.of(new long[] {5, 5, 5, 5}), kl = Tensor.of(new long[] {1, 1, 1, 1});
        InfoNce loss = InfoNce.create().withBackend(backend).withRowsWithoutPositive(InfoNce.RowsWithoutPositive.SKIP);
        for (Reduction red : Reductions.all()) {
            try (InfoNce.Result r = loss.withReduction(red).forwardBackwardLabels(q, k, ql, kl)) {
                for (float v : r.loss().toFloatArray()) {
                    if (red == Reduction.MEAN) assertTrue(Float.isNaN(v), "mean of no rows");
                    else assertEquals(0f, v, red + "");
                }
                for (Tensor g : new Tensor[] {r.gradQueries(), r.gradKeys()}) for (float v : g.toFloatArray()) assertEquals(0f, v, 0f);
                assertEquals(0f, r.gradTemperature(), 0f);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void closingTheResultClosesEveryTensor(Backend backend) {
        int n = 3, d = 2;
        InfoNce.Result r = InfoNce.create().withBackend(backend).forwardBackwardNegatives(Tensor.of(random(n * d, 61), n, d),
                Tensor.of(random(n * d, 62), n, d), Tensor.of(random(n * 2 * d, 63), n, 2, d));
        assertNotNull(r.gradNegatives());
        assertEquals(List.of(3L, 2L, 2L), List.of(r.gradNegatives().size(0), r.gradNegatives().size(1), r.gradNegatives().size(2)));
        r.close();
        assertTrue(r.loss().isClosed() && r.gradQueries().isClosed() && r.gradKeys().isClosed() && r.gradNegatives().isClosed());
    }

    @Test
    void defaultsAndImmutability() {
        InfoNce base = InfoNce.create();
        assertEquals(0.1f, base.temperature());
        InfoNce cold = base.withTemperature(0.05f);
        assertEquals(0.05f, cold.temperature());
        assertEquals(0.1f, base.temperature(), "withX returns a new instance");
        Tensor q = Tensor.of(random(8, 71), 4, 2), k = Tensor.of(random(8, 72), 4, 2);
        try (InfoNce.Result a = base.forwardBackward(q, k); InfoNce.Result b = cold.forwardBackward(q, k)) {
            Spec spec = Spec.of(Form.TWO_TOWER, 2, 0, true, false, Reduction.MEAN);
            double[] qd = toDouble(q.toFloatArray()), kd = toDouble(k.toFloatArray());
            assertEquals(InfoNceReference.scalar(spec, qd, kd, null, 0.1f), a.loss().item(), 2e-6);
            assertEquals(InfoNceReference.scalar(spec, qd, kd, null, 0.05f), b.loss().item(), 2e-6);
        }
    }

    // ---- helpers ---------------------------------------------------------------------------

    /** A one-tensor result in the two-tensor shape (no keys, no negatives), so that one check covers every form; closing it closes both tensors. */
    static InfoNce.Result asResult(EmbeddingResult r) {
        return new InfoNce.Result(r.loss(), r.grad(), null, null, r.gradTemperature());
    }

    /** Random inputs of a form: N rows, D wide, 3 shared or explicit negatives, 7 keys with labels. */
    static Call randomCall(Form form, boolean normalize, boolean decoupled, Reduction red, int n, int d, float tau, long seed) {
        int k = 3, m = n + 2;
        int keyRows = switch (form) {
            case ONE_TENSOR -> 0;
            case LABELS, MASK -> m;
            default -> n;
        };
        float scale = normalize ? 1f : 0.4f;
        long[] ql = null, kl = null;
        int[] mask = null;
        if (form == Form.LABELS || form == Form.MASK) {
            ql = new long[n];
            kl = new long[m];
            for (int i = 0; i < n; i++) ql[i] = i % 3;
            for (int j = 0; j < m; j++) kl[j] = (j * 2) % 3;
            if (form == Form.MASK) {
                mask = new int[n * m];
                for (int i = 0; i < n; i++) for (int j = 0; j < m; j++) mask[i * m + j] = (i + j) % 3 == 0 || j == i ? 1 : 0;
                ql = kl = null;
            }
        }
        float[] neg = switch (form) {
            case SHARED -> scaled(random(k * d, seed + 2), scale);
            case EXPLICIT -> scaled(random(n * k * d, seed + 2), scale);
            default -> null;
        };
        Spec spec = new Spec(form, d, form == Form.EXPLICIT ? k : 0, normalize, decoupled, red, false, ql, kl, mask);
        return new Call(spec, tau, n, scaled(random(n * d, seed), scale),
                keyRows == 0 ? null : scaled(random(keyRows * d, seed + 1), scale), neg);
    }

    static float[] random(int count, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[count];
        for (int i = 0; i < count; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    private static float[] scaled(float[] x, float s) {
        for (int i = 0; i < x.length; i++) x[i] *= s;
        return x;
    }

    private static float[] field(Golden.Case g, String key) {
        return g.fields().containsKey(key) ? g.floats(key) : null;
    }

    private static int[] toInts(long[] v) {
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) out[i] = (int) v[i];
        return out;
    }

    private static float[] toFloat(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) f[i] = (float) v[i];
        return f;
    }
}
