package dev.jnce.bench;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;
import java.util.concurrent.CountDownLatch;

/**
 * The cores' float32 multiply-add peak as the JIT reaches it: each thread runs twelve independent
 * chains of fused multiply-adds on the preferred vector width ({@code a = a * b + c}, no loads),
 * enough chains to cover the FMA latency on every x86 core of the last decade. A GEMM's rate over
 * this is the fraction of the hardware it uses; no GEMM on these cores can go above it.
 *
 * <pre>java --add-modules jdk.incubator.vector -cp benchmarks.jar dev.jnce.bench.FmaPeakProbe [THREADS] [REPEATS]</pre>
 * Prints {@code fma-peak THREADS GFLOP/s} (the best of REPEATS timed rounds, default 9) and the
 * vector width.
 */
public final class FmaPeakProbe {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final long STEPS = 20_000_000L;

    private FmaPeakProbe() {
    }

    /** Twelve chains of STEPS multiply-adds each; returns a lane sum so that nothing is dead code. */
    static float chains(long steps) {
        FloatVector b = FloatVector.broadcast(S, 0.999999f), c = FloatVector.broadcast(S, 1e-7f);
        FloatVector a0 = FloatVector.broadcast(S, 1f), a1 = a0.add(1), a2 = a0.add(2), a3 = a0.add(3);
        FloatVector a4 = a0.add(4), a5 = a0.add(5), a6 = a0.add(6), a7 = a0.add(7);
        FloatVector a8 = a0.add(8), a9 = a0.add(9), a10 = a0.add(10), a11 = a0.add(11);
        for (long i = 0; i < steps; i++) {
            a0 = a0.fma(b, c); a1 = a1.fma(b, c); a2 = a2.fma(b, c); a3 = a3.fma(b, c);
            a4 = a4.fma(b, c); a5 = a5.fma(b, c); a6 = a6.fma(b, c); a7 = a7.fma(b, c);
            a8 = a8.fma(b, c); a9 = a9.fma(b, c); a10 = a10.fma(b, c); a11 = a11.fma(b, c);
        }
        return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11)
                .reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }

    public static void main(String[] args) throws InterruptedException {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 1, repeats = args.length > 1 ? Integer.parseInt(args[1]) : 9;
        for (int w = 0; w < 3; w++) chains(STEPS / 10); // compiled before timing
        double[] rates = new double[repeats];
        float[] sink = new float[threads];
        for (int r = 0; r < repeats; r++) {
            CountDownLatch start = new CountDownLatch(1);
            Thread[] pool = new Thread[threads];
            for (int t = 0; t < threads; t++) {
                int id = t;
                pool[t] = new Thread(() -> {
                    try {
                        start.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    sink[id] += chains(STEPS);
                });
                pool[t].start();
            }
            long t0 = System.nanoTime();
            start.countDown();
            for (Thread t : pool) t.join();
            double s = (System.nanoTime() - t0) / 1e9;
            rates[r] = threads * STEPS * 12.0 * S.length() * 2 / s / 1e9;
        }
        Arrays.sort(rates);
        System.out.printf("fma-peak %d %.1f lanes=%d sink=%s%n", threads, rates[repeats - 1], S.length(), sink[0] != 0);
    }
}
