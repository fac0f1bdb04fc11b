package dev.jnce;

import dev.jnce.loss.BprLoss;
import dev.jnce.loss.ClipLoss;
import dev.jnce.loss.InfoNce;
import dev.jnce.loss.LinearCrossEntropy;
import dev.jnce.loss.NtXent;
import dev.jnce.loss.SigLipLoss;
import dev.jnce.testutil.TestBackends;

import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;

/**
 * Run by {@link OverwrittenResultsProcessTest} in a JVM in normal use (no poisoned results): the
 * contrastive losses' allocating forms on every backend, hundreds of times over, each call's
 * results compared bit for bit with the same call's results made inside a {@link TensorScope}
 * (zeroed memory), then filled with 0xFF bytes (NaN) before they are closed. Their small results
 * come from slabs that are not zeroed, which malloc hands out again once freed: after a few slabs
 * the results start in memory that held the NaNs of earlier ones, so an element a kernel left
 * unwritten would show as a NaN or a stale value. Prints one line per loss and backend, then
 * "done"; exits 1 at the first difference, naming it.
 */
public final class OverwrittenResultsMain {
    private static final int N = 32, D = 128, K = 4, C = 96, CALLS = 200;

    private OverwrittenResultsMain() {
    }

    public static void main(String[] args) {
        Random random = new Random(7);
        Tensor q = gaussian(random, 0.1f, N, D), k = gaussian(random, 0.1f, N, D), views = gaussian(random, 0.1f, 2 * N, D);
        Tensor negatives = gaussian(random, 0.1f, N, K, D), classifier = gaussian(random, 0.1f, C, D), bias = gaussian(random, 0.1f, C);
        long[] labels = new long[N];
        for (int i = 0; i < N; i++) labels[i] = random.nextInt(C);
        Tensor targets = Tensor.of(labels);
        for (Backend b : TestBackends.all()) {
            Map<String, Supplier<Record>> calls = new LinkedHashMap<>();
            calls.put("bpr", () -> BprLoss.create().withBackend(b).forwardBackward(q, k, negatives));
            calls.put("bpr none", () -> BprLoss.create().withReduction(Reduction.NONE).withBackend(b).forwardBackward(q, k, negatives));
            calls.put("infonce", () -> InfoNce.create().withBackend(b).forwardBackward(q, k));
            calls.put("infonce none", () -> InfoNce.create().withReduction(Reduction.NONE).withBackend(b).forwardBackward(q, k));
            calls.put("onetensor", () -> InfoNce.create().withBackend(b).forwardBackward(q));
            calls.put("ntxent", () -> NtXent.create().withBackend(b).forwardBackward(views));
            calls.put("clip", () -> ClipLoss.create().withBackend(b).forwardBackward(q, k));
            calls.put("siglip", () -> SigLipLoss.create().withBackend(b).forwardBackward(q, k));
            calls.put("linear xent", () -> LinearCrossEntropy.create().withBackend(b).forwardBackward(q, classifier, bias, targets));
            for (Map.Entry<String, Supplier<Record>> call : calls.entrySet()) {
                List<float[]> expected;
                try (TensorScope scope = TensorScope.open()) {
                    expected = values(call.getValue().get());
                }
                for (int c = 0; c < CALLS; c++) {
                    Record result = call.getValue().get();
                    List<float[]> got = values(result);
                    for (int t = 0; t < got.size(); t++) {
                        if (!Arrays.equals(bits(expected.get(t)), bits(got.get(t)))) {
                            System.out.println(call.getKey() + " on " + b + ": result " + t + " of call " + c
                                    + " differs from the scoped call's: " + Arrays.toString(Arrays.copyOf(got.get(t), 8)));
                            System.exit(1);
                        }
                    }
                    for (Tensor t : tensors(result)) t.segment().fill((byte) 0xFF);
                    for (Tensor t : tensors(result)) t.close();
                }
                System.out.println(call.getKey() + " on " + b + ": " + CALLS + " calls equal");
            }
        }
        System.out.println("done");
    }

    private static Tensor gaussian(Random random, float scale, long... shape) {
        long n = 1;
        for (long s : shape) n *= s;
        float[] v = new float[(int) n];
        for (int i = 0; i < v.length; i++) v[i] = (float) random.nextGaussian() * scale;
        return Tensor.of(v, shape);
    }

    /** The record's tensor components that are not null, in order. */
    private static List<Tensor> tensors(Record r) {
        List<Tensor> out = new ArrayList<>();
        for (RecordComponent c : r.getClass().getRecordComponents()) {
            if (c.getType() != Tensor.class) continue;
            try {
                Tensor t = (Tensor) c.getAccessor().invoke(r);
                if (t != null) out.add(t);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
        }
        return out;
    }

    private static List<float[]> values(Record r) {
        List<float[]> out = new ArrayList<>();
        for (Tensor t : tensors(r)) out.add(t.toFloatArray());
        return out;
    }

    private static int[] bits(float[] v) {
        int[] b = new int[v.length];
        for (int i = 0; i < v.length; i++) b[i] = Float.floatToRawIntBits(v[i]);
        return b;
    }
}
