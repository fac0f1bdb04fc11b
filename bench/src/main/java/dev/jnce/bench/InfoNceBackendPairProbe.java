package dev.jnce.bench;

import dev.jnce.Backends;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.loss.ClipLoss;
import dev.jnce.loss.InfoNce;
import dev.jnce.loss.NtXent;
import dev.jnce.loss.SigLipLoss;

import java.util.Arrays;

/**
 * One InfoNCE-family step (forward and backward, allocating its results, as {@link InfoNceProbe}
 * times it) on two backends in one JVM, in turns, for the ratio of their speeds
 * (bench/scripts/infonce_backends.sh). Two probes in separate JVMs minutes apart compare two
 * states of a shared virtual machine: in one such run the same OpenBLAS calls took 18% longer in
 * the second JVM than in the first. Here pair k times A then B (k even) or B then A (k odd), so
 * both see the same state, and the ratio is the median over the pairs.
 *
 * <pre>java -cp benchmarks.jar dev.jnce.bench.InfoNceBackendPairProbe A B FORM N D [PAIRS]</pre>
 * FORM as {@link InfoNceProbe}'s (infonce, onetensor, ntxent, supcon, labels, clip, siglip);
 * default 9 pairs after untimed turns (at least two steps on each backend and 10 s in all). The inputs are InfoNceProbe's
 * (N(0, 1) rows, seeds 1 and 2, labels i mod N/8; temperature 0.07). Prints one line per pair
 * ({@code pair k A_s B_s A/B}) and a summary,
 * {@code infonce-backends FORM N D A B median_A_s median_B_s median_ratio min_ratio max_ratio}.
 */
public final class InfoNceBackendPairProbe {
    /**
     * Untimed turns for at least this long before the pairs: on a 2-core VM a fresh JVM's `java`
     * two towers at 512×128 took 4-5 s of its own calls to reach its speed (C2's compilations run
     * beside them), and with 4 s in all one JVM of two still read its steps 1.6-1.9 times slower.
     */
    private static final long WARMUP_NS = 10_000_000_000L;

    private InfoNceBackendPairProbe() {
    }

    /** The form's step on one backend. */
    private record Side(InfoNce loss, NtXent ntXent, ClipLoss clip, SigLipLoss sigLip) {
        static Side on(String backend) {
            Kernels k = (Kernels) Backends.get(backend);
            return new Side(InfoNce.create().withTemperature(0.07f).withBackend(k),
                    NtXent.create().withTemperature(0.07f).withBackend(k),
                    ClipLoss.create().withLogitScale(1 / 0.07f).withBackend(k), SigLipLoss.create().withBackend(k));
        }
    }

    public static void main(String[] args) {
        String a = args[0], b = args[1], form = args[2];
        int n = Integer.parseInt(args[3]), d = Integer.parseInt(args[4]);
        int pairs = args.length > 5 ? Integer.parseInt(args[5]) : 9;
        if (form.equals("negatives")) throw new IllegalArgumentException("FORM: the negatives form is not paired here");
        boolean twoTowers = form.equals("infonce") || form.equals("labels") || form.equals("clip") || form.equals("siglip");
        Tensor q = InfoNceProbe.random(n, d, 1), keys = twoTowers ? InfoNceProbe.random(n, d, 2) : q;
        long[] labels = new long[n];
        for (int i = 0; i < n; i++) labels[i] = i % (n / 8);
        Tensor classes = Tensor.of(labels);
        Side[] side = {Side.on(a), Side.on(b)};
        // untimed turns first, at least two a side and 10 s in all: the JIT's code and the workspace
        long warmEnd = System.nanoTime() + WARMUP_NS;
        for (int w = 0; w < 2 || System.nanoTime() < warmEnd; w++) {
            for (Side s : side) time(s, form, q, keys, classes);
        }
        double[] ta = new double[pairs], tb = new double[pairs], ratio = new double[pairs];
        for (int p = 0; p < pairs; p++) {
            if (p % 2 == 0) {
                ta[p] = time(side[0], form, q, keys, classes);
                tb[p] = time(side[1], form, q, keys, classes);
            } else {
                tb[p] = time(side[1], form, q, keys, classes);
                ta[p] = time(side[0], form, q, keys, classes);
            }
            ratio[p] = ta[p] / tb[p];
            System.out.printf("pair %d %.6f %.6f %.4f%n", p, ta[p], tb[p], ratio[p]);
        }
        double[] sorted = ratio.clone();
        Arrays.sort(sorted);
        System.out.printf("infonce-backends %s %d %d %s %s %.6f %.6f %.4f %.4f %.4f%n", form, n, d, a, b, median(ta), median(tb),
                median(ratio), sorted[0], sorted[pairs - 1]);
        q.close();
        if (keys != q) keys.close();
        classes.close();
    }

    private static double time(Side s, String form, Tensor q, Tensor keys, Tensor classes) {
        return InfoNceProbe.step(form, s.loss(), s.ntXent(), s.clip(), s.sigLip(), q, keys, classes, null);
    }

    private static double median(double[] v) {
        double[] c = v.clone();
        Arrays.sort(c);
        return c.length % 2 == 1 ? c[c.length / 2] : (c[c.length / 2 - 1] + c[c.length / 2]) / 2;
    }
}
