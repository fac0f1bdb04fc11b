package dev.jnce.distributed;

import dev.jnce.DType;
import dev.jnce.Tensor;

/**
 * One rank of MpiFaultsTest's job (mpirun -np P), in one of two modes:
 * <ul>
 *   <li>"stall": rank 1 sleeps for ten minutes before its first collective; the others wait in
 *   allGatherRows until their watchdog (jnce.mpi.timeout) ends the job.</li>
 *   <li>"refuse": rank 1 passes row counts to reduceScatterRows that split the rows differently
 *   from the others'; every rank prints "rank R refused: MESSAGE", then all gather again to show
 *   the job goes on, print "rank R after: SUM" and finalise.</li>
 * </ul>
 */
public final class MpiFaultsMain {
    private MpiFaultsMain() {
    }

    public static void main(String[] args) throws InterruptedException {
        MpiCollective c = MpiCollective.world();
        int rank = c.rank(), p = c.size();
        if (args[0].equals("stall")) {
            if (rank == 1) {
                System.out.println("rank 1 stalls");
                Thread.sleep(600_000);
            }
            c.allGatherRows(Tensor.zeros(DType.FLOAT32, 1, 2));
            System.out.println("rank " + rank + " MISSED the stall");
            c.close();
            return;
        }
        Tensor full = Tensor.zeros(DType.FLOAT32, p, 2);
        long[] counts = new long[p];
        java.util.Arrays.fill(counts, 1);
        if (rank == 1) {
            counts[0] = 2;
            counts[1] = 0;
        }
        try {
            c.reduceScatterRows(full, counts);
            System.out.println("rank " + rank + " MISSED the refusal");
        } catch (IllegalArgumentException e) {
            System.out.println("rank " + rank + " refused: " + e.getMessage());
        }
        Tensor all = c.allGatherRows(Tensor.of(new float[] {rank, 1}, 1, 2));
        double sum = 0;
        for (float v : all.toFloatArray()) sum += v;
        System.out.println("rank " + rank + " after: " + (long) sum);
        c.close();
    }
}
