package dev.jnce.bench;

import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.distributed.Collective;
import dev.jnce.distributed.MpiCollective;
import dev.jnce.distributed.ShardedClip;
import dev.jnce.distributed.ShardedNtXent;
import dev.jnce.distributed.ShardedSigLip;

import java.util.SplittableRandom;

/**
 * One rank of bench/scripts/mpi_step.sh: a sharded step over MpiCollective at global batch N, D,
 * N/P rows a rank, timing the collectives apart from the rest (a collective's time includes
 * waiting for the slowest rank). FORM: clip (ShardedClip, both InfoNCE directions; the default),
 * siglip (ShardedSigLip), ntxent (ShardedNtXent on N views, N/2 samples) or supcon (ShardedNtXent
 * with 16 labels). Rank 0 prints
 * {@code mpi P N D step_s comm_s compute_s bytes_gathered bytes_reduced} (per rank, best step of REPS).
 *
 * <pre>mpirun -np P java -cp benchmarks.jar dev.jnce.bench.MpiStepProbe N D REPS [FORM]</pre>
 */
public final class MpiStepProbe {
    private MpiStepProbe() {
    }

    /** A Collective that adds up the time spent in the delegate's calls and the bytes they receive or send. */
    static final class Timed implements Collective {
        final Collective c;
        long nanos, gathered, reduced;

        Timed(Collective c) {
            this.c = c;
        }

        @Override
        public int rank() {
            return c.rank();
        }

        @Override
        public int size() {
            return c.size();
        }

        @Override
        public Tensor allGatherRows(Tensor local) {
            long t = System.nanoTime();
            Tensor out = c.allGatherRows(local);
            nanos += System.nanoTime() - t;
            gathered += out.numel() * 4;
            return out;
        }

        @Override
        public Tensor reduceScatterRows(Tensor full, long[] rowCounts) {
            long t = System.nanoTime();
            Tensor out = c.reduceScatterRows(full, rowCounts);
            nanos += System.nanoTime() - t;
            reduced += full.numel() * 4;
            return out;
        }

        @Override
        public double[] allReduceSum(double... values) {
            long t = System.nanoTime();
            double[] out = c.allReduceSum(values);
            nanos += System.nanoTime() - t;
            return out;
        }

        @Override
        public void close() {
            c.close();
        }
    }

    public static void main(String[] args) {
        int n = Integer.parseInt(args[0]), d = Integer.parseInt(args[1]), reps = Integer.parseInt(args[2]);
        String form = args.length > 3 ? args[3] : "clip";
        MpiCollective world = MpiCollective.world();
        Timed timed = new Timed(world);
        int p = world.size(), local = n / p + (world.rank() < n % p ? 1 : 0);
        if (form.equals("ntxent")) local += local % 2; // whole samples: [view1; view2]
        SplittableRandom random = new SplittableRandom(world.rank() + 1);
        float[] a = new float[local * d], b = new float[local * d];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) random.nextGaussian();
            b[i] = (float) random.nextGaussian();
        }
        double best = Double.MAX_VALUE, comm = 0;
        long gathered = 0, reduced = 0;
        try (TensorScope scope = TensorScope.open()) {
            Tensor ta = Tensor.of(a, local, d), tb = Tensor.of(b, local, d);
            long[] labels = new long[local];
            for (int i = 0; i < local; i++) labels[i] = random.nextInt(16);
            Tensor tl = Tensor.of(labels, local);
            ShardedClip clip = ShardedClip.create(timed);
            ShardedSigLip sig = ShardedSigLip.create(timed);
            ShardedNtXent nt = ShardedNtXent.create(timed);
            for (int r = 0; r < reps; r++) {
                timed.nanos = timed.gathered = timed.reduced = 0;
                long start = System.nanoTime();
                try (TensorScope step = TensorScope.open()) { // frees the step's gradients
                    Record unused = switch (form) {
                        case "clip" -> clip.forwardBackward(ta, tb);
                        case "siglip" -> sig.forwardBackward(ta, tb);
                        case "ntxent" -> nt.forwardBackward(ta);
                        case "supcon" -> nt.forwardBackwardLabels(ta, tl);
                        default -> throw new IllegalArgumentException("FORM: " + form + "; expected clip, siglip, ntxent or supcon");
                    };
                    double seconds = (System.nanoTime() - start) / 1e9;
                    if (seconds < best) {
                        best = seconds;
                        comm = timed.nanos / 1e9;
                        gathered = timed.gathered;
                        reduced = timed.reduced;
                    }
                }
            }
        }
        if (world.rank() == 0) {
            System.out.println(String.format("mpi %d %d %d %.4f %.4f %.4f %d %d", p, n, d, best, comm, best - comm, gathered, reduced));
        }
        world.close();
    }
}
