package dev.jnce.distributed;

import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.loss.ClipLoss;
import dev.jnce.loss.EmbeddingResult;
import dev.jnce.loss.InfoNce;
import dev.jnce.loss.NtXent;
import dev.jnce.loss.PairedResult;

import java.util.Arrays;

/**
 * One rank of MpiProcessTest's job (mpirun -np P): every rank draws the same global batch (shard r
 * of rank r: 2 + 3r mod 5 rows), runs ShardedInfoNce (both directions), ShardedClip, ShardedSigLip
 * and ShardedNtXent (NT-Xent, SupCon) over MpiCollective, computes the single-process losses on the
 * whole batch itself, and prints "rank R ok ..." when its loss, scalar gradient and rows' gradients agree, else "rank R MISMATCH"
 * and exits 1. With the argument "die", rank 1 exits (code 3) before the first collective; with "odd",
 * rank 1 passes an odd number of NT-Xent views and every rank prints the refusal it got; with "throw",
 * rank 1 throws between two collectives and ends the job through MpiCollective.abort (MPI_Abort).
 */
public final class MpiMain {
    private MpiMain() {
    }

    public static void main(String[] args) {
        MpiCollective c = MpiCollective.world();
        int p = c.size(), rank = c.rank(), d = 6;
        if (args.length > 0 && args[0].equals("die") && rank == 1) {
            System.out.println("rank 1 exits before the collective");
            System.exit(3);
        }
        if (args.length > 0 && args[0].equals("throw")) { // rank 1 fails between collectives; the others wait in the next one
            try {
                c.allReduceSum(1.0);
                if (rank == 1) throw new IllegalStateException("rank 1's encoder failed");
                c.allReduceSum(2.0);
                System.out.println("rank " + rank + " passed the collective rank 1 never reached");
            } catch (RuntimeException e) {
                System.out.println("rank " + rank + " failed: " + e.getMessage() + "; MPI_Abort");
                c.abort(4);
            }
            c.close();
            return;
        }
        if (args.length > 0 && args[0].equals("odd")) { // rank 1 passes 3 views, the others 4: every rank learns of it
            try (TensorScope scope = TensorScope.open()) {
                int rows = rank == 1 ? 3 : 4;
                ShardedNtXent.create(c).forwardBackward(Tensor.of(ShardedLossesTest.gaussian(rank, rows * d), rows, d));
                System.out.println("rank " + rank + " was not refused");
            } catch (IllegalArgumentException e) {
                System.out.println("rank " + rank + " refused: " + e.getMessage());
            }
            c.close();
            return;
        }
        long[] shards = new long[p];
        for (int r = 0; r < p; r++) shards[r] = 2 + (3L * r) % 5;
        long n = Arrays.stream(shards).sum(), offset = 0;
        for (int r = 0; r < rank; r++) offset += shards[r];
        float[] q = ShardedLossesTest.gaussian(1, (int) n * d), k = ShardedLossesTest.gaussian(2, (int) n * d);
        int from = (int) (offset * d), to = (int) ((offset + shards[rank]) * d);
        double worst = 0;
        try (TensorScope scope = TensorScope.open()) {
            Tensor lq = Tensor.of(Arrays.copyOfRange(q, from, to), shards[rank], d), lk = Tensor.of(Arrays.copyOfRange(k, from, to), shards[rank], d);
            Tensor gq = Tensor.of(q, n, d), gk = Tensor.of(k, n, d);
            InfoNce.Result one = InfoNce.create().withTemperature(0.2f).withDirection(InfoNce.Direction.SYMMETRIC).forwardBackward(gq, gk);
            ShardedInfoNce.Result sharded = ShardedInfoNce.create(c).withTemperature(0.2f).withSymmetric(true).forwardBackward(lq, lk);
            worst = Math.max(worst, Math.abs(one.loss().item() - sharded.loss()));
            worst = Math.max(worst, Math.abs(one.gradTemperature() - sharded.gradTemperature()) / Math.max(1, Math.abs(one.gradTemperature())));
            worst = Math.max(worst, rowsDiff(one.gradQueries().toFloatArray(), sharded.gradQueries().toFloatArray(), from));
            worst = Math.max(worst, rowsDiff(one.gradKeys().toFloatArray(), sharded.gradKeys().toFloatArray(), from));
            PairedResult clip = ClipLoss.create().withLogitScale(5f).forwardBackward(gq, gk);
            ShardedClip.Result sc = ShardedClip.create(c).withLogitScale(5f).forwardBackward(lq, lk);
            worst = Math.max(worst, Math.abs(clip.loss().item() - sc.loss()));
            worst = Math.max(worst, Math.abs(clip.gradLogitScale() - sc.gradLogitScale()));
            worst = Math.max(worst, rowsDiff(clip.gradA().toFloatArray(), sc.gradA().toFloatArray(), from));
            worst = Math.max(worst, rowsDiff(clip.gradB().toFloatArray(), sc.gradB().toFloatArray(), from));
            PairedResult sig = dev.jnce.loss.SigLipLoss.create().forwardBackward(gq, gk);
            ShardedSigLip.Result ss = ShardedSigLip.create(c).forwardBackward(lq, lk);
            worst = Math.max(worst, Math.abs(sig.loss().item() - ss.loss()));
            worst = Math.max(worst, Math.abs(sig.gradLogitScale() - ss.gradLogitScale()));
            worst = Math.max(worst, Math.abs(sig.gradBias() - ss.gradBias()));
            worst = Math.max(worst, rowsDiff(sig.gradA().toFloatArray(), ss.gradA().toFloatArray(), from));
            worst = Math.max(worst, rowsDiff(sig.gradB().toFloatArray(), ss.gradB().toFloatArray(), from));
            // NT-Xent: q's rows are view 1, k's view 2 (this rank passes [its q rows; its k rows]); SupCon on q with labels i mod 3
            EmbeddingResult nt = NtXent.create().withTemperature(0.3f).forwardBackward(Tensor.of(concat(q, k), 2 * n, d));
            float[] mineViews = concat(Arrays.copyOfRange(q, from, to), Arrays.copyOfRange(k, from, to));
            ShardedNtXent.Result sn = ShardedNtXent.create(c).withTemperature(0.3f).forwardBackward(Tensor.of(mineViews, 2 * shards[rank], d));
            worst = Math.max(worst, Math.abs(nt.loss().item() - sn.loss()));
            worst = Math.max(worst, Math.abs(nt.gradTemperature() - sn.gradTemperature()) / Math.max(1, Math.abs(nt.gradTemperature())));
            float[] ntGrad = nt.grad().toFloatArray(), snGrad = sn.grad().toFloatArray();
            worst = Math.max(worst, rowsDiff(ntGrad, Arrays.copyOfRange(snGrad, 0, to - from), from));
            worst = Math.max(worst, rowsDiff(ntGrad, Arrays.copyOfRange(snGrad, to - from, 2 * (to - from)), (int) (n * d) + from));
            long[] labels = new long[(int) n];
            for (int i = 0; i < n; i++) labels[i] = i % 3;
            EmbeddingResult sup = InfoNce.create().withTemperature(0.2f).forwardBackwardLabels(gq, Tensor.of(labels, n));
            ShardedNtXent.Result ssup = ShardedNtXent.create(c).withTemperature(0.2f)
                    .forwardBackwardLabels(lq, Tensor.of(Arrays.copyOfRange(labels, (int) offset, (int) (offset + shards[rank])), shards[rank]));
            worst = Math.max(worst, Math.abs(sup.loss().item() - ssup.loss()));
            worst = Math.max(worst, Math.abs(sup.gradTemperature() - ssup.gradTemperature()) / Math.max(1, Math.abs(sup.gradTemperature())));
            worst = Math.max(worst, rowsDiff(sup.grad().toFloatArray(), ssup.grad().toFloatArray(), from));
            System.out.println(String.format("rank %d %s of %d: rows %d, InfoNCE loss %.6f (single process %.6f), CLIP loss %.6f, "
                    + "NT-Xent loss %.6f, SupCon loss %.6f, worst difference %.2e", rank, worst <= 2e-5 ? "ok" : "MISMATCH", p, shards[rank],
                    sharded.loss(), one.loss().item(), sc.loss(), sn.loss(), ssup.loss(), worst)); // one line, one write: mpirun interleaves the ranks' writes
        } catch (RuntimeException e) {
            System.out.println("rank " + rank + " failed: " + e);
            c.abort(2);
        }
        c.close();
        if (worst > 2e-5) System.exit(1);
    }

    private static float[] concat(float[] a, float[] b) {
        float[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static double rowsDiff(float[] whole, float[] local, int from) {
        double w = 0;
        for (int i = 0; i < local.length; i++) w = Math.max(w, Math.abs(whole[from + i] - local[i]));
        return w;
    }
}
