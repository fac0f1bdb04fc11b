package dev.jnce.distributed;

/**
 * Where this rank's rows sit in the global batch: every rank's row count, this rank's first
 * global row and the total. Exchanged together with every rank's D and its verdict on its own
 * arguments, in one all-reduce before any data moves, so that a bad argument or a D that differs
 * on one rank ends every rank's call with an {@link IllegalArgumentException}, instead of
 * leaving the others waiting in a collective the failed rank never reaches (under MPI, forever).
 */
record Shards(long[] counts, long offset, long total) {

    /**
     * One all-reduce of (rows, D, refused) per rank.
     *
     * @param c        the group
     * @param argument the tensor named in the messages
     * @param rows     this rank's rows of that tensor
     * @param d        its D
     * @param refusal  this rank's exception about its own arguments (thrown here after the
     *                 exchange), or null
     */
    static Shards exchange(Collective c, String argument, long rows, long d, RuntimeException refusal) {
        int p = c.size(), me = c.rank();
        double[] mine = new double[3 * p];
        mine[3 * me] = rows;
        mine[3 * me + 1] = d;
        mine[3 * me + 2] = refusal == null ? 0 : 1;
        double[] all = c.allReduceSum(mine);
        if (refusal != null) throw refusal;
        long[] counts = new long[p];
        long offset = 0, total = 0;
        boolean sameD = true;
        StringBuilder shapes = new StringBuilder();
        for (int r = 0; r < p; r++) {
            if (all[3 * r + 2] != 0) {
                throw new IllegalArgumentException(argument + ": rank " + r + " refused its arguments (its exception says why); "
                        + "every rank's call ends");
            }
            counts[r] = Math.round(all[3 * r]);
            long dr = Math.round(all[3 * r + 1]);
            sameD &= dr == Math.round(all[1]);
            shapes.append(r == 0 ? "" : ", ").append("rank ").append(r).append(": (").append(counts[r]).append(", ").append(dr).append(')');
            if (r < me) offset += counts[r];
            total += counts[r];
        }
        if (!sameD) throw new IllegalArgumentException(argument + ": the ranks' D differ: " + shapes);
        return new Shards(counts, offset, total);
    }
}
