package dev.jnce.loss;

import dev.jnce.Reduction;
import dev.jnce.Backend;
import dev.jnce.Tensor;
import dev.jnce.ops.HardNegatives;
import dev.jnce.ops.Similarity;
import dev.jnce.testutil.Approx;
import dev.jnce.testutil.ScopedTest;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.SplittableRandom;

import static dev.jnce.testutil.Approx.assertClose;

/**
 * Mining, gather, InfoNCE with explicit negatives, and the scatter-add back: when the negatives
 * are rows of the same keys that serve as positives, gradKeys after
 * {@link HardNegatives#gatherBackward} is the whole d loss / d keys — checked against finite
 * differences of the float64 reference with the mined indices held fixed.
 */
class MinedNegativesGradientTest extends ScopedTest {
    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jnce.testutil.TestBackends#backends")
    void gradKeysPlusScatteredNegativesIsTheKeysGradient(Backend backend) {
        int n = 6, d = 4, k = 3;
        float tau = 0.3f;
        SplittableRandom random = new SplittableRandom(21);
        float[] q = new float[n * d], keys = new float[n * d];
        for (int i = 0; i < q.length; i++) {
            q[i] = (float) random.nextGaussian();
            keys[i] = (float) random.nextGaussian();
        }
        Tensor qt = Tensor.of(q, n, d), kt = Tensor.of(keys, n, d);
        Tensor idx = HardNegatives.create(k).withBackend(backend).mine(Similarity.cosine().withBackend(backend).forward(qt, kt));
        long[] picked = idx.toLongArray();

        InfoNce loss = InfoNce.create().withTemperature(tau).withBackend(backend);
        float[] got;
        try (InfoNce.Result r = loss.forwardBackwardNegatives(qt, kt, HardNegatives.gather(kt, idx))) {
            HardNegatives.gatherBackward(r.gradNegatives(), idx, r.gradKeys());
            got = r.gradKeys().toFloatArray();
        }

        InfoNceReference.Spec spec = InfoNceReference.Spec.of(InfoNceReference.Form.EXPLICIT, d, k, true, false, Reduction.MEAN);
        double[] qd = Approx.toDouble(q);
        double[] want = Approx.finiteDifferences(kd -> InfoNceReference.scalar(spec, qd, kd, gather(kd, picked, d), tau),
                Approx.toDouble(keys), 1e-6);
        assertClose(want, got, 1e-5, backend + ": d loss / d keys through positives and mined negatives");
    }

    private static double[] gather(double[] keys, long[] idx, int d) {
        double[] out = new double[idx.length * d];
        for (int r = 0; r < idx.length; r++) System.arraycopy(keys, (int) idx[r] * d, out, r * d, d);
        return out;
    }
}
