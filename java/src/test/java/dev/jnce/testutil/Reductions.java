package dev.jnce.testutil;

import dev.jnce.Reduction;

/** The reductions every loss takes (BATCHMEAN is kl_div's alone). */
public final class Reductions {
    private Reductions() {
    }

    public static Reduction[] all() {
        return new Reduction[] {Reduction.NONE, Reduction.MEAN, Reduction.SUM};
    }
}
